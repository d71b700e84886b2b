-- Two hierarchies stored as adjacency lists: categories, and departments with
-- their wards as leaves. Both trees are read with WITH RECURSIVE queries
-- (queries/trees.go), guarded against cycles here, in the database, so that
-- no writer (canopy, psql, a bulk import) can close a loop.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE categories (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id  bigint REFERENCES categories (id),
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    position   integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE departments (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id  bigint REFERENCES departments (id),
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    position   integer NOT NULL DEFAULT 0,
    code       text NOT NULL UNIQUE CHECK (char_length(code) BETWEEN 1 AND 64),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wards (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    department_id bigint NOT NULL REFERENCES departments (id),
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    beds          integer NOT NULL CHECK (beds >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (department_id, name)
);

-- Children in sibling order, read by the recursive step and by child counts;
-- it also serves the foreign key on parent_id.
CREATE INDEX categories_children ON categories (parent_id, position, name, id);
CREATE INDEX departments_children ON departments (parent_id, position, name, id);
CREATE INDEX wards_department ON wards (department_id);

-- Substring search: pg_trgm's GIN operator class serves name ILIKE '%text%'
-- directly, so no lower(name) expression is needed.
CREATE INDEX categories_name_trgm ON categories USING gin (name gin_trgm_ops);
CREATE INDEX departments_name_trgm ON departments USING gin (name gin_trgm_ops);
CREATE INDEX wards_name_trgm ON wards USING gin (name gin_trgm_ops);

-- One version per tree, bumped in the same transaction as every write that
-- changes what the tree shows: an ETag derived from it changes exactly when
-- the data does, whoever the writer is.
CREATE TABLE tree_versions (
    tree    text PRIMARY KEY,
    version bigint NOT NULL
);
INSERT INTO tree_versions (tree, version) VALUES ('categories', 1), ('departments', 1);

-- tree_bump_version bumps the version named by the trigger's argument when
-- the statement changed at least one row (a statement trigger fires even for
-- a DELETE that matched nothing, which must not invalidate caches).
CREATE FUNCTION tree_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Two branches: a TRUNCATE trigger has no transition table to look at.
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE tree_versions SET version = version + 1 WHERE tree = TG_ARGV[0];
    ELSIF EXISTS (SELECT FROM changed) THEN
        UPDATE tree_versions SET version = version + 1 WHERE tree = TG_ARGV[0];
    END IF;
    RETURN NULL;
END
$$;

-- tree_version_triggers makes every write to table bump tree's version: one
-- trigger per event, since a trigger with a transition table has one event.
CREATE FUNCTION tree_version_triggers(tbl regclass, tree text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    name text := (SELECT relname FROM pg_class WHERE oid = tbl);
BEGIN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION tree_bump_version(%L)', name || '_version_insert', tbl, tree);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION tree_bump_version(%L)', name || '_version_update', tbl, tree);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION tree_bump_version(%L)', name || '_version_delete', tbl, tree);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s
        FOR EACH STATEMENT EXECUTE FUNCTION tree_bump_version(%L)', name || '_version_truncate', tbl, tree);
END
$$;

SELECT tree_version_triggers('categories', 'categories');
SELECT tree_version_triggers('departments', 'departments');
SELECT tree_version_triggers('wards', 'departments');

-- tree_refuse_cycle refuses a row whose parent chain leads back to the row
-- itself, raising SQLSTATE CY001. Its argument is the tree's advisory lock
-- key. It runs as two triggers per tree:
--
-- - BEFORE UPDATE OF parent_id, for each row (a move): it first takes the
--   tree's transaction advisory lock, so that moves in a tree take turns;
--   the walk up from the new parent then runs as a new statement which, at
--   READ COMMITTED, sees every move committed before the lock was granted.
--   So two concurrent moves can never together close a loop that neither
--   closes alone. A REPEATABLE READ or SERIALIZABLE snapshot could predate
--   such a move, so moves at those isolation levels are refused.
-- - AFTER INSERT, once per statement: one walk up from all the inserted rows,
--   so that a bulk import does not pay for a walk per row. An insert needs no
--   lock: no other transaction can refer to a row it has not yet seen, and
--   rows of the same statement that refer to each other are walked together.
--
-- The walk stops where it has already been, so a loop written by hand with
-- the triggers disabled cannot hang it.
CREATE FUNCTION tree_refuse_cycle() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    starts text := 'SELECT id, parent_id FROM new_rows WHERE parent_id IS NOT NULL';
    looped bigint;
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        IF NEW.parent_id IS NULL OR NEW.parent_id IS NOT DISTINCT FROM OLD.parent_id THEN
            RETURN NEW;
        END IF;
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'moving a row of % needs READ COMMITTED isolation', TG_TABLE_NAME
                USING ERRCODE = 'feature_not_supported';
        END IF;
        PERFORM pg_advisory_xact_lock(TG_ARGV[0]::bigint);
        starts := 'SELECT $1, $2';
    END IF;
    -- up(start, id): id is on the parent chain of start.
    EXECUTE format($walk$
        WITH RECURSIVE up(start, id) AS (
            %s
          UNION
            SELECT up.start, t.parent_id FROM up JOIN %I t ON t.id = up.id
            WHERE up.id <> up.start AND t.parent_id IS NOT NULL
        )
        SELECT start FROM up WHERE id = start LIMIT 1$walk$, starts, TG_TABLE_NAME)
        INTO looped USING NEW.id, NEW.parent_id;
    IF looped IS NOT NULL THEN
        RAISE EXCEPTION '% %: its parent is itself or one of its descendants', TG_TABLE_NAME, looped
            USING ERRCODE = 'CY001';
    END IF;
    RETURN NEW;
END
$$;

-- The advisory lock keys are arbitrary constants, one per tree.
CREATE TRIGGER categories_move BEFORE UPDATE OF parent_id ON categories
    FOR EACH ROW EXECUTE FUNCTION tree_refuse_cycle('7310001');
CREATE TRIGGER categories_insert AFTER INSERT ON categories REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tree_refuse_cycle('7310001');
CREATE TRIGGER departments_move BEFORE UPDATE OF parent_id ON departments
    FOR EACH ROW EXECUTE FUNCTION tree_refuse_cycle('7310002');
CREATE TRIGGER departments_insert AFTER INSERT ON departments REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tree_refuse_cycle('7310002');
