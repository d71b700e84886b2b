-- DeleteNode: node 42 and everything below it (categories).
-- $1 = 42
-- $2 = 42
WITH RECURSIVE down(id, path, lvl, depth) AS (
    SELECT id, NULL::bigint[], 0, 0 FROM categories WHERE id = $1
    UNION ALL
    SELECT n.id, NULL::bigint[], d.lvl + 1, d.depth + 1 FROM down d CROSS JOIN LATERAL (SELECT c.id FROM categories c WHERE c.parent_id = d.id ORDER BY c.position, c.name, c.id OFFSET 0) n WHERE n.id <> $2
),
gone AS (
    DELETE FROM categories WHERE id IN (SELECT id FROM down) RETURNING 1
)
SELECT (SELECT count(*) FROM gone);
