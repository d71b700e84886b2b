-- Tree: the subtree of node 42 (categories).
-- $1 = 42
-- $2 = 42
-- $3 = 'categories'
WITH RECURSIVE up(start, id, parent_id, depth) AS (
    SELECT n.id, n.id, n.parent_id, n.depth FROM categories n WHERE n.id = $1
    UNION ALL
    SELECT u.start, p.id, p.parent_id, p.depth FROM up u CROSS JOIN LATERAL (SELECT p.id, p.parent_id, p.depth FROM categories p WHERE p.id = u.parent_id AND p.depth < u.depth OFFSET 0) p
),
top(id, path) AS (
    SELECT start, array_agg(id ORDER BY depth) FROM up GROUP BY start
),
down(id, path, lvl, depth, parent_id, name, position) AS (
    SELECT n.id, top.path, 0, cardinality(top.path) - 1, n.parent_id, n.name, n.position FROM categories n JOIN top ON top.id = n.id WHERE n.id = $2
    UNION ALL
    SELECT n.id, NULL::bigint[], d.lvl + 1, d.depth + 1, n.parent_id, n.name, n.position FROM down d CROSS JOIN LATERAL (SELECT c.id, c.parent_id, c.name, c.position FROM categories c WHERE c.parent_id = d.id ORDER BY c.position, c.name, c.id OFFSET 0) n WHERE n.id NOT IN (SELECT unnest(path) FROM top)
),
result AS (
    SELECT false, r.id, r.parent_id, r.name, r.position, r.depth, r.path, -1, '', NULL::int, NULL::int, false FROM down r
)
SELECT r.*, v.version FROM tree_versions v LEFT JOIN result r ON true WHERE v.tree = $3;
