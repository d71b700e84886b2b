-- ImportTree: the stored nodes, then per batch upsert, detach, attach.
SELECT id, parent_id, legacy_id, code FROM departments;

INSERT INTO departments AS t (legacy_id, parent_id, name, position, code)
SELECT s.legacy_id, p.id, s.name, s.position, s.code FROM import_tree_stage s
LEFT JOIN departments p ON p.legacy_id = s.parent_legacy_id
WHERE s.seq >= $1 AND s.seq < $2
ORDER BY s.legacy_id
ON CONFLICT (legacy_id) DO UPDATE SET name = excluded.name, position = excluded.position, code = excluded.code, updated_at = now()
WHERE (t.name, t.position, t.code) IS DISTINCT FROM (excluded.name, excluded.position, excluded.code)
RETURNING t.legacy_id, t.xmax = 0;

UPDATE departments AS t SET parent_id = NULL, updated_at = now()
FROM import_tree_stage s LEFT JOIN departments p ON p.legacy_id = s.parent_legacy_id
WHERE s.seq >= $1 AND s.seq < $2 AND t.legacy_id = s.legacy_id
  AND t.parent_id IS NOT NULL AND t.parent_id IS DISTINCT FROM p.id
RETURNING t.legacy_id;

UPDATE departments AS t SET parent_id = p.id, updated_at = now()
FROM import_tree_stage s JOIN departments p ON p.legacy_id = s.parent_legacy_id
WHERE s.seq >= $1 AND s.seq < $2 AND t.legacy_id = s.legacy_id AND t.parent_id IS DISTINCT FROM p.id
RETURNING t.legacy_id;
