-- CreateNode: under node 42, after its last child (categories).
-- $1 = 42
-- $2 = 'new'
-- $3 = 42
INSERT INTO categories (parent_id,name,position) VALUES ($1,$2,(SELECT least(coalesce(max(position)::bigint + 1, 0), 2147483647) FROM categories WHERE parent_id = $3)) RETURNING id;
