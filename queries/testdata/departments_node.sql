-- Node: node 42 (departments).
-- $1 = 42
WITH RECURSIVE up(start, id, parent_id, depth) AS (
    SELECT n.id, n.id, n.parent_id, n.depth FROM departments n WHERE n.id = $1
    UNION ALL
    SELECT u.start, p.id, p.parent_id, p.depth FROM up u CROSS JOIN LATERAL (SELECT p.id, p.parent_id, p.depth FROM departments p WHERE p.id = u.parent_id AND p.depth < u.depth OFFSET 0) p
),
top(id, path) AS (
    SELECT start, array_agg(id ORDER BY depth) FROM up GROUP BY start
)
SELECT false, n.id, n.parent_id, n.name, n.position, cardinality(r.path) - 1, r.path, (SELECT count(*) FROM departments c WHERE c.parent_id = n.id) + (SELECT count(*) FROM wards w WHERE w.department_id = n.id), n.code, NULL::int, NULL::int, false FROM top r CROSS JOIN LATERAL (SELECT * FROM departments n WHERE n.id = r.id OFFSET 0) n;
