-- Search: up to 100 matches of "apple" and their ancestors (departments).
-- $1 = '%apple%'
-- $2 = '%apple%'
-- $3 = 101
-- $4 = 100
-- $5 = 100
-- $6 = 'departments'
WITH RECURSIVE found AS (
    SELECT 'department' AS kind, n.id, n.id AS node, n.name FROM departments n WHERE n.name ILIKE $1 ESCAPE '\'
    UNION ALL
    SELECT 'ward', w.id, w.department_id, w.name FROM wards w WHERE w.name ILIKE $2 ESCAPE '\'
    ORDER BY name, kind, id LIMIT $3
),
m AS (
    SELECT kind, id, node FROM found ORDER BY name, kind, id LIMIT $4
),
anc(id, parent_id, depth) AS (
    SELECT n.id, n.parent_id, n.depth FROM departments n WHERE n.id IN (SELECT node FROM m)
    UNION
    SELECT p.id, p.parent_id, p.depth FROM anc a CROSS JOIN LATERAL (SELECT p.id, p.parent_id, p.depth FROM departments p WHERE p.id = a.parent_id OFFSET 0) p
),
result AS (
    SELECT false, n.id, n.parent_id, n.name, n.position, n.depth, CASE WHEN n.parent_id IS NULL THEN ARRAY[n.id] END, (SELECT count(*) FROM departments c WHERE c.parent_id = n.id) + (SELECT count(*) FROM wards w WHERE w.department_id = n.id), n.code, NULL::int, NULL::int, n.id IN (SELECT id FROM m WHERE kind = 'department') FROM anc r CROSS JOIN LATERAL (SELECT * FROM departments n WHERE n.id = r.id OFFSET 0) n
    UNION ALL
    SELECT true, w.id, w.department_id, w.name, 0, r.depth + 1, NULL, 0, '', w.beds, (SELECT count(*) FROM patients p WHERE p.ward_id = w.id
        AND p.admitted_at IS NOT NULL AND p.discharged_at IS NULL AND p.died_at IS NULL), true FROM anc r JOIN wards w ON w.department_id = r.id JOIN m ON m.kind = 'ward' AND m.id = w.id
)
SELECT r.*, v.version, (SELECT count(*) FROM found) > $5 FROM tree_versions v LEFT JOIN result r ON true WHERE v.tree = $6;
