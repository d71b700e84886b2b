-- One version for every settlement, bumped in the same transaction as every
-- write to a table a settlement reads: a rendered settlement cached under a
-- version is the answer for as long as that version is current, whoever the
-- writer is (canopy's import, seed, or plain SQL). The one row is the lock
-- writers of these tables take turns on, as the trees' writers do.
CREATE TABLE settlement_version (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL
);
INSERT INTO settlement_version (version) VALUES (1);

-- settlement_bump_version bumps the version when the statement changed at
-- least one row: a statement trigger fires even for a write that matched
-- nothing (an import's unchanged rows), which must not empty the cache.
CREATE FUNCTION settlement_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Two branches: a TRUNCATE trigger has no transition table to look at,
    -- and one condition naming it would fail to plan there.
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE settlement_version SET version = version + 1;
    ELSIF EXISTS (SELECT FROM changed) THEN
        UPDATE settlement_version SET version = version + 1;
    END IF;
    RETURN NULL;
END
$$;

-- One trigger per table and event, since a trigger with a transition table
-- has one event. package_courses is among the tables: a package's courses
-- decide how its sales are split.
DO $$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['teachers', 'courses', 'packages', 'package_courses', 'kits', 'purchases'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION settlement_bump_version()', tbl || '_settlement_insert', tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION settlement_bump_version()', tbl || '_settlement_update', tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION settlement_bump_version()', tbl || '_settlement_delete', tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I
            FOR EACH STATEMENT EXECUTE FUNCTION settlement_bump_version()', tbl || '_settlement_truncate', tbl);
    END LOOP;
END
$$;
