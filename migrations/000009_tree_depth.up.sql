-- Deep trees: every tree node stores its depth, and the trees have a maximum
-- depth, both kept here, in the database, for every writer (canopy, psql,
-- the importer).
--
-- Migration 000002's cycle trigger walked from every inserted row to its
-- root, so a chain built row by row cost O(depth²) (2,000 levels: 65 s), and
-- its walk joined the table by a plan that could scan it once per level. Now:
--
-- - An insert reads its parent's stored depth: one index probe, whatever the
--   depth. Its rows cannot close a loop: a parent must exist, and no stored
--   row can name a row that did not exist before the statement (a move
--   naming it is checked by the move triggers below).
-- - A move walks up from the new parent once (linear in its depth) and then
--   shifts the depth of the moved subtree (linear in its size).
-- - tree_settings.max_depth bounds the depth of every node (a root is at
--   depth 0): an insert or a move that would put a node deeper is refused
--   with SQLSTATE DP001.
CREATE TABLE tree_settings (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    max_depth integer NOT NULL CHECK (max_depth >= 0)
);
INSERT INTO tree_settings (max_depth) VALUES (1000);

ALTER TABLE categories ADD COLUMN depth integer NOT NULL DEFAULT 0;
ALTER TABLE departments ADD COLUMN depth integer NOT NULL DEFAULT 0;

-- A walk down from the roots cannot meet a loop written by hand, so it ends;
-- rows on such a loop keep depth 0.
WITH RECURSIVE down(id, depth) AS (
    SELECT id, 0 FROM categories WHERE parent_id IS NULL
  UNION ALL
    SELECT c.id, d.depth + 1 FROM down d JOIN categories c ON c.parent_id = d.id
)
UPDATE categories t SET depth = down.depth FROM down WHERE t.id = down.id AND t.depth <> down.depth;
WITH RECURSIVE down(id, depth) AS (
    SELECT id, 0 FROM departments WHERE parent_id IS NULL
  UNION ALL
    SELECT c.id, d.depth + 1 FROM down d JOIN departments c ON c.parent_id = d.id
)
UPDATE departments t SET depth = down.depth FROM down WHERE t.id = down.id AND t.depth <> down.depth;

DROP TRIGGER categories_move ON categories;
DROP TRIGGER categories_insert ON categories;
DROP TRIGGER departments_move ON departments;
DROP TRIGGER departments_insert ON departments;
DROP FUNCTION tree_refuse_cycle();

-- tree_too_deep raises DP001 when depth is past the maximum.
CREATE FUNCTION tree_too_deep(tbl text, id bigint, depth integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    max_depth integer := (SELECT s.max_depth FROM tree_settings s);
BEGIN
    IF depth > max_depth THEN
        RAISE EXCEPTION '% %: depth % is past the maximum depth of %', tbl, id, depth, max_depth
            USING ERRCODE = 'DP001',
                  DETAIL = format('would place a node at depth %s, past the maximum depth of %s', depth, max_depth);
    END IF;
END
$$;

-- tree_place_row, BEFORE INSERT for each row, sets the row's depth from its
-- parent's. Its argument is the tree's advisory lock key: an insert under a
-- parent takes it shared, so that it never runs alongside a move (which
-- takes it exclusive, and shifts the depths of the subtree it moves): the
-- parent's depth it reads stays right until it commits. For that it reads
-- the depth in a new statement, which at READ COMMITTED sees every move
-- committed before the lock was granted; a REPEATABLE READ or SERIALIZABLE
-- snapshot could predate one, so those isolation levels are refused.
--
-- A parent written later in the same statement is not visible yet: the row
-- gets depth -1, and tree_place_rows places it once the statement is done.
CREATE FUNCTION tree_place_row() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    parent_depth integer;
BEGIN
    IF NEW.parent_id IS NULL THEN
        NEW.depth := 0;
        RETURN NEW;
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'inserting a row of % under a parent needs READ COMMITTED isolation', TG_TABLE_NAME
            USING ERRCODE = 'feature_not_supported';
    END IF;
    PERFORM pg_advisory_xact_lock_shared(TG_ARGV[0]::bigint);
    EXECUTE format('SELECT depth FROM %I WHERE id = $1', TG_TABLE_NAME) INTO parent_depth USING NEW.parent_id;
    NEW.depth := CASE WHEN parent_depth >= 0 THEN parent_depth + 1 ELSE -1 END;
    RETURN NEW;
END
$$;

-- tree_place_rows, AFTER INSERT once per statement, places the rows that
-- came before their parent in the statement (depth -1), a level at a time;
-- rows it cannot place are on a loop of new rows (their own parent, or each
-- other's), refused with CY001. It then refuses the statement if a row is
-- too deep. The common statement, each parent stored or earlier in it,
-- costs one pass over the inserted rows.
CREATE FUNCTION tree_place_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    deepest_id bigint;
    deepest integer;
    unplaced bigint;
    placed bigint;
BEGIN
    SELECT count(*) FILTER (WHERE depth < 0) INTO unplaced FROM new_rows;
    WHILE unplaced > 0 LOOP
        EXECUTE format($place$
            UPDATE %1$I t SET depth = p.depth + 1 FROM %1$I p
            WHERE t.id IN (SELECT id FROM new_rows WHERE depth < 0) AND t.depth < 0
              AND p.id = t.parent_id AND p.depth >= 0$place$, TG_TABLE_NAME);
        GET DIAGNOSTICS placed = ROW_COUNT;
        IF placed = 0 THEN
            EXECUTE format('SELECT min(t.id) FROM %I t WHERE t.id IN (SELECT id FROM new_rows) AND t.depth < 0', TG_TABLE_NAME)
                INTO deepest_id;
            RAISE EXCEPTION '% %: its parent is itself or one of its descendants', TG_TABLE_NAME, deepest_id
                USING ERRCODE = 'CY001';
        END IF;
        unplaced := unplaced - placed;
    END LOOP;
    IF placed IS NULL THEN
        SELECT id, depth INTO deepest_id, deepest FROM new_rows ORDER BY depth DESC LIMIT 1;
    ELSE
        EXECUTE format($deepest$
            SELECT t.id, t.depth FROM %I t WHERE t.id IN (SELECT id FROM new_rows)
            ORDER BY t.depth DESC LIMIT 1$deepest$, TG_TABLE_NAME) INTO deepest_id, deepest;
    END IF;
    PERFORM tree_too_deep(TG_TABLE_NAME, deepest_id, deepest);
    RETURN NULL;
END
$$;

-- tree_lock_moves, BEFORE UPDATE OF parent_id once per statement, takes the
-- tree's advisory lock (its argument) before the statement locks any row. A
-- move shifts the depths of the subtree it moves, so it locks rows it does
-- not move; had it taken the lock only in its row trigger, after locking
-- its own row, a move waiting for the lock could hold a row that the move
-- holding the lock must shift: a deadlock.
CREATE FUNCTION tree_lock_moves() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(TG_ARGV[0]::bigint);
    RETURN NULL;
END
$$;

-- tree_refuse_cycle, BEFORE UPDATE OF parent_id for each row (a move),
-- refuses a row whose new parent is the row itself or one of its
-- descendants, raising CY001. Its argument is the tree's advisory lock key:
-- it makes sure it holds the lock (tree_lock_moves took it), so that moves
-- (and inserts under a parent) in a tree take turns; the walk up from the new parent then runs as a new
-- statement which, at READ COMMITTED, sees every move committed before the
-- lock was granted. So two concurrent moves can never together close a loop
-- that neither closes alone. A REPEATABLE READ or SERIALIZABLE snapshot
-- could predate such a move, so moves at those isolation levels are refused.
--
-- The walk reads each ancestor by one probe of the primary key (a LATERAL
-- subquery that OFFSET 0 keeps the planner from turning into a join that
-- scans the table at each level), and UNION ends it where it has already
-- been, so a loop written by hand with the triggers disabled cannot hang it.
CREATE FUNCTION tree_refuse_cycle() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    looped boolean;
BEGIN
    IF NEW.parent_id IS NULL OR NEW.parent_id IS NOT DISTINCT FROM OLD.parent_id THEN
        RETURN NEW;
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'moving a row of % needs READ COMMITTED isolation', TG_TABLE_NAME
            USING ERRCODE = 'feature_not_supported';
    END IF;
    PERFORM pg_advisory_xact_lock(TG_ARGV[0]::bigint);
    EXECUTE format($walk$
        WITH RECURSIVE up(id) AS (
            SELECT $2::bigint
          UNION
            SELECT p.parent_id FROM up
            CROSS JOIN LATERAL (SELECT t.parent_id FROM %I t WHERE t.id = up.id OFFSET 0) p
            WHERE up.id <> $1 AND p.parent_id IS NOT NULL
        )
        SELECT EXISTS (SELECT FROM up WHERE id = $1)$walk$, TG_TABLE_NAME)
        INTO looped USING NEW.id, NEW.parent_id;
    IF looped THEN
        RAISE EXCEPTION '% %: its parent is itself or one of its descendants', TG_TABLE_NAME, NEW.id
            USING ERRCODE = 'CY001';
    END IF;
    RETURN NEW;
END
$$;

-- tree_move_depth, AFTER UPDATE OF parent_id for each row, gives the moved
-- row its parent's depth plus one and shifts its whole subtree by as much,
-- then refuses the move if that puts a node past the maximum depth. It runs
-- after the statement has moved all its rows, and reads the depths as they
-- are then, so a statement moving several rows, some into the others'
-- subtrees, ends with every depth right whatever order the rows were moved
-- in: each shift makes the edge from the moved row to its parent right,
-- moves every row below it alike, and touches no other edge. (The depth
-- check sees the rows moved so far: a statement that moves nested rows from
-- deep to shallow places may be refused on the way; detach, then attach,
-- as the importer does.) The subtree walk, like the cycle walk, ends where
-- it has been, and reaching the new parent is a loop: the last line of
-- defence for a statement that moves a row under a row it inserts.
CREATE FUNCTION tree_move_depth() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    shift integer;
    moved bigint[];
    deepest_id bigint;
    deepest integer;
    looped boolean;
BEGIN
    IF NEW.parent_id IS NOT DISTINCT FROM OLD.parent_id THEN
        RETURN NULL;
    END IF;
    EXECUTE format($shift$
        SELECT coalesce((SELECT p.depth + 1 FROM %1$I p WHERE p.id = $2), 0) - n.depth
        FROM %1$I n WHERE n.id = $1$shift$, TG_TABLE_NAME)
        INTO shift USING NEW.id, NEW.parent_id;
    IF shift = 0 THEN
        RETURN NULL;
    END IF;
    EXECUTE format($walk$
        WITH RECURSIVE sub(id) AS (
            SELECT $1::bigint
          UNION
            SELECT c.id FROM sub
            CROSS JOIN LATERAL (SELECT c.id FROM %I c WHERE c.parent_id = sub.id OFFSET 0) c
        )
        SELECT array_agg(id), bool_or(id = $2) FROM sub$walk$, TG_TABLE_NAME)
        INTO moved, looped USING NEW.id, NEW.parent_id;
    IF looped THEN
        RAISE EXCEPTION '% %: its parent is itself or one of its descendants', TG_TABLE_NAME, NEW.id
            USING ERRCODE = 'CY001';
    END IF;
    -- By the array, so that a small subtree is shifted through the primary
    -- key, not by a join the planner may make a scan of the table.
    EXECUTE format($shift$
        WITH shifted AS (UPDATE %I t SET depth = t.depth + $2 WHERE t.id = ANY ($1) RETURNING t.id, t.depth)
        SELECT id, depth FROM shifted ORDER BY depth DESC LIMIT 1$shift$, TG_TABLE_NAME)
        INTO deepest_id, deepest USING moved, shift;
    IF shift > 0 THEN
        PERFORM tree_too_deep(TG_TABLE_NAME, deepest_id, deepest);
    END IF;
    RETURN NULL;
END
$$;

-- The advisory lock keys are migration 000002's, one per tree. Trigger
-- names sort after the foreign keys' (RI_...), which fire first, so an
-- unknown parent is reported as such.
CREATE TRIGGER categories_place BEFORE INSERT ON categories
    FOR EACH ROW EXECUTE FUNCTION tree_place_row('7310001');
CREATE TRIGGER categories_placed AFTER INSERT ON categories REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tree_place_rows();
CREATE TRIGGER categories_lock BEFORE UPDATE OF parent_id ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION tree_lock_moves('7310001');
CREATE TRIGGER categories_move BEFORE UPDATE OF parent_id ON categories
    FOR EACH ROW EXECUTE FUNCTION tree_refuse_cycle('7310001');
CREATE TRIGGER categories_moved AFTER UPDATE OF parent_id ON categories
    FOR EACH ROW EXECUTE FUNCTION tree_move_depth();
CREATE TRIGGER departments_place BEFORE INSERT ON departments
    FOR EACH ROW EXECUTE FUNCTION tree_place_row('7310002');
CREATE TRIGGER departments_placed AFTER INSERT ON departments REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tree_place_rows();
CREATE TRIGGER departments_lock BEFORE UPDATE OF parent_id ON departments
    FOR EACH STATEMENT EXECUTE FUNCTION tree_lock_moves('7310002');
CREATE TRIGGER departments_move BEFORE UPDATE OF parent_id ON departments
    FOR EACH ROW EXECUTE FUNCTION tree_refuse_cycle('7310002');
CREATE TRIGGER departments_moved AFTER UPDATE OF parent_id ON departments
    FOR EACH ROW EXECUTE FUNCTION tree_move_depth();
