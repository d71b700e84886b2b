-- Tree: the forest down to depth 2 (categories).
-- $1 = 2
-- $2 = 2
-- $3 = 'categories'
WITH RECURSIVE down(id, path, lvl, depth, parent_id, name, position) AS (
    SELECT n.id, ARRAY[n.id], 0, 0, n.parent_id, n.name, n.position FROM categories n WHERE n.parent_id IS NULL
    UNION ALL
    SELECT n.id, NULL::bigint[], d.lvl + 1, d.depth + 1, n.parent_id, n.name, n.position FROM down d CROSS JOIN LATERAL (SELECT c.id, c.parent_id, c.name, c.position FROM categories c WHERE c.parent_id = d.id ORDER BY c.position, c.name, c.id OFFSET 0) n WHERE d.lvl < $1
),
result AS (
    SELECT false, r.id, r.parent_id, r.name, r.position, r.depth, r.path, CASE WHEN r.lvl = $2 THEN (SELECT count(*) FROM categories c WHERE c.parent_id = r.id) ELSE -1 END, '', NULL::int, NULL::int, false FROM down r
)
SELECT r.*, v.version FROM tree_versions v LEFT JOIN result r ON true WHERE v.tree = $3;
