-- Search: up to 100 matches of "apple" and their ancestors (categories).
-- $1 = '%apple%'
-- $2 = 101
-- $3 = 100
-- $4 = 100
-- $5 = 'categories'
WITH RECURSIVE found AS (
    SELECT 'category' AS kind, n.id, n.id AS node, n.name FROM categories n WHERE n.name ILIKE $1 ESCAPE '\'
    ORDER BY name, kind, id LIMIT $2
),
m AS (
    SELECT kind, id, node FROM found ORDER BY name, kind, id LIMIT $3
),
anc(id, parent_id, depth) AS (
    SELECT n.id, n.parent_id, n.depth FROM categories n WHERE n.id IN (SELECT node FROM m)
    UNION
    SELECT p.id, p.parent_id, p.depth FROM anc a CROSS JOIN LATERAL (SELECT p.id, p.parent_id, p.depth FROM categories p WHERE p.id = a.parent_id OFFSET 0) p
),
result AS (
    SELECT false, n.id, n.parent_id, n.name, n.position, n.depth, CASE WHEN n.parent_id IS NULL THEN ARRAY[n.id] END, (SELECT count(*) FROM categories c WHERE c.parent_id = n.id), '', NULL::int, NULL::int, n.id IN (SELECT id FROM m WHERE kind = 'category') FROM anc r CROSS JOIN LATERAL (SELECT * FROM categories n WHERE n.id = r.id OFFSET 0) n
)
SELECT r.*, v.version, (SELECT count(*) FROM found) > $4 FROM tree_versions v LEFT JOIN result r ON true WHERE v.tree = $5;
