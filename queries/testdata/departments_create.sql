-- CreateNode: under node 42, after its last child (departments).
-- $1 = 42
-- $2 = 'new'
-- $3 = 42
-- $4 = 'NEW'
INSERT INTO departments (parent_id,name,position,code) VALUES ($1,$2,(SELECT least(coalesce(max(position)::bigint + 1, 0), 2147483647) FROM departments WHERE parent_id = $3),$4) RETURNING id;
