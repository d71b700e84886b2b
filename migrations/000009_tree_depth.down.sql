-- Back to migration 000002's triggers: no stored depth, no maximum depth.
DROP TRIGGER categories_lock ON categories;
DROP TRIGGER categories_place ON categories;
DROP TRIGGER categories_placed ON categories;
DROP TRIGGER categories_move ON categories;
DROP TRIGGER categories_moved ON categories;
DROP TRIGGER departments_lock ON departments;
DROP TRIGGER departments_place ON departments;
DROP TRIGGER departments_placed ON departments;
DROP TRIGGER departments_move ON departments;
DROP TRIGGER departments_moved ON departments;
DROP FUNCTION tree_place_row();
DROP FUNCTION tree_place_rows();
DROP FUNCTION tree_refuse_cycle();
DROP FUNCTION tree_move_depth();
DROP FUNCTION tree_lock_moves();
DROP FUNCTION tree_too_deep(text, bigint, integer);
ALTER TABLE categories DROP COLUMN depth;
ALTER TABLE departments DROP COLUMN depth;
DROP TABLE tree_settings;

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
