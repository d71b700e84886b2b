-- Tree: the whole forest (departments).
-- $1 = 'departments'
WITH RECURSIVE down(id, path, lvl, depth, parent_id, name, position, code) AS (
    SELECT n.id, ARRAY[n.id], 0, 0, n.parent_id, n.name, n.position, n.code FROM departments n WHERE n.parent_id IS NULL
    UNION ALL
    SELECT n.id, NULL::bigint[], d.lvl + 1, d.depth + 1, n.parent_id, n.name, n.position, n.code FROM down d CROSS JOIN LATERAL (SELECT c.id, c.parent_id, c.name, c.position, c.code FROM departments c WHERE c.parent_id = d.id ORDER BY c.position, c.name, c.id OFFSET 0) n
),
result AS (
    SELECT false, r.id, r.parent_id, r.name, r.position, r.depth, r.path, -1, r.code, NULL::int, NULL::int, false FROM down r
    UNION ALL
    SELECT true, w.id, w.department_id, w.name, 0, r.depth + 1, NULL, 0, '', w.beds, (SELECT count(*) FROM patients p WHERE p.ward_id = w.id
        AND p.admitted_at IS NOT NULL AND p.discharged_at IS NULL AND p.died_at IS NULL), false FROM down r JOIN wards w ON w.department_id = r.id
)
SELECT r.*, v.version FROM tree_versions v LEFT JOIN result r ON true WHERE v.tree = $1;
