-- CreateNode: a root at position 3 (departments).
-- $1 = NULL
-- $2 = 'new'
-- $3 = 3
-- $4 = 'NEW'
INSERT INTO departments (parent_id,name,position,code) VALUES ($1,$2,$3,$4) RETURNING id;
