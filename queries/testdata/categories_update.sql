-- UpdateNode: node 42 renamed, reordered and moved to the roots (categories).
-- $1 = 'renamed'
-- $2 = 3
-- $3 = NULL
-- $4 = 42
UPDATE categories SET updated_at = now(), name = $1, position = $2, parent_id = $3 WHERE id = $4 RETURNING id;
