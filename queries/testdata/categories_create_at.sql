-- CreateNode: a root at position 3 (categories).
-- $1 = NULL
-- $2 = 'new'
-- $3 = 3
INSERT INTO categories (parent_id,name,position) VALUES ($1,$2,$3) RETURNING id;
