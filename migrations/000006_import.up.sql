-- What `canopy import` needs: the tree kinds name their rows by the source
-- system's ids, kept here so that importing a file again updates the rows it
-- wrote instead of adding them twice. Rows created through the API have none.
ALTER TABLE categories ADD COLUMN legacy_id text UNIQUE CHECK (legacy_id <> '');
ALTER TABLE departments ADD COLUMN legacy_id text UNIQUE CHECK (legacy_id <> '');
