-- Ancestors: the path to node 42 (categories).
-- $1 = 42
WITH RECURSIVE up(start, id, parent_id, depth) AS (
    SELECT n.id, n.id, n.parent_id, n.depth FROM categories n WHERE n.id = $1
    UNION ALL
    SELECT u.start, p.id, p.parent_id, p.depth FROM up u CROSS JOIN LATERAL (SELECT p.id, p.parent_id, p.depth FROM categories p WHERE p.id = u.parent_id AND p.depth < u.depth OFFSET 0) p
),
top(id, path) AS (
    SELECT start, array_agg(id ORDER BY depth) FROM up GROUP BY start
)
SELECT false, n.id, n.parent_id, n.name, n.position, 0, NULL::bigint[], (SELECT count(*) FROM categories c WHERE c.parent_id = n.id), '', NULL::int, NULL::int, false FROM up r CROSS JOIN LATERAL (SELECT * FROM categories n WHERE n.id = r.id OFFSET 0) n ORDER BY r.depth;
