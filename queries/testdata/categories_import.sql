-- ImportTree: the stored nodes, then per batch upsert, detach, attach.
SELECT id, parent_id, legacy_id, NULL::text FROM categories;

INSERT INTO categories AS t (legacy_id, parent_id, name, position)
SELECT s.legacy_id, p.id, s.name, s.position FROM import_tree_stage s
LEFT JOIN categories p ON p.legacy_id = s.parent_legacy_id
WHERE s.seq >= $1 AND s.seq < $2
ORDER BY s.legacy_id
ON CONFLICT (legacy_id) DO UPDATE SET name = excluded.name, position = excluded.position, updated_at = now()
WHERE (t.name, t.position) IS DISTINCT FROM (excluded.name, excluded.position)
RETURNING t.legacy_id, t.xmax = 0;

UPDATE categories AS t SET parent_id = NULL, updated_at = now()
FROM import_tree_stage s LEFT JOIN categories p ON p.legacy_id = s.parent_legacy_id
WHERE s.seq >= $1 AND s.seq < $2 AND t.legacy_id = s.legacy_id
  AND t.parent_id IS NOT NULL AND t.parent_id IS DISTINCT FROM p.id
RETURNING t.legacy_id;

UPDATE categories AS t SET parent_id = p.id, updated_at = now()
FROM import_tree_stage s JOIN categories p ON p.legacy_id = s.parent_legacy_id
WHERE s.seq >= $1 AND s.seq < $2 AND t.legacy_id = s.legacy_id AND t.parent_id IS DISTINCT FROM p.id
RETURNING t.legacy_id;
