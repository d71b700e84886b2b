-- DeleteNode: node 42 and everything below it (departments).
-- $1 = 42
-- $2 = 42
WITH RECURSIVE down(id, path, lvl, depth) AS (
    SELECT id, NULL::bigint[], 0, 0 FROM departments WHERE id = $1
    UNION ALL
    SELECT n.id, NULL::bigint[], d.lvl + 1, d.depth + 1 FROM down d CROSS JOIN LATERAL (SELECT c.id FROM departments c WHERE c.parent_id = d.id ORDER BY c.position, c.name, c.id OFFSET 0) n WHERE n.id <> $2
),
gone AS (
    DELETE FROM departments WHERE id IN (SELECT id FROM down) RETURNING 1
),
gone_leaves AS (
    DELETE FROM wards WHERE department_id IN (SELECT id FROM down) RETURNING 1
)
SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM gone_leaves);
