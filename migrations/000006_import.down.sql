ALTER TABLE departments DROP COLUMN legacy_id;
ALTER TABLE categories DROP COLUMN legacy_id;
