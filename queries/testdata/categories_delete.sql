-- DeleteNode: node 42 alone (categories).
-- $1 = 42
DELETE FROM categories WHERE id = $1 RETURNING 1;
