-- DeleteNode: node 42 alone (departments).
-- $1 = 42
DELETE FROM departments WHERE id = $1 RETURNING 1;
