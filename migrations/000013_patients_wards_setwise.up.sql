-- Patient batches without a foreign key check per row.
--
-- The foreign key from patients to wards checked every inserted row, and
-- every row whose ward changed, on its own: an index probe and a row lock
-- per row, about a third of a 10,000-record batch of the feed (half of it
-- new patients), although a batch names a few dozen wards. The same
-- guarantee is kept set-wise instead, as for observations (000007): after
-- each statement that writes patients, one query locks every ward the
-- written rows name (FOR KEY SHARE, the lock a foreign key check takes, so
-- that a concurrent delete of the ward waits for the writer or makes it
-- fail) and refuses the statement with SQLSTATE 23503, under the foreign
-- key's name, if one is missing. Deleting wards (or emptying the table)
-- takes their patients out of them, as ON DELETE SET NULL did, and says so
-- in updated_at. Any writer is held to it, not only canopy. Like the
-- foreign key it relies on READ COMMITTED for writers that delete wards,
-- canopy's isolation level: a REPEATABLE READ delete would not see patients
-- committed after its snapshot.
ALTER TABLE patients DROP CONSTRAINT patients_ward_id_fkey;

CREATE FUNCTION patients_require_wards() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT w.ward_id INTO missing
    FROM (SELECT DISTINCT ward_id FROM written WHERE ward_id IS NOT NULL) w
    LEFT JOIN LATERAL (SELECT x.id FROM wards x WHERE x.id = w.ward_id FOR KEY SHARE) x ON true
    WHERE x.id IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('ward %s does not exist', missing),
            CONSTRAINT = 'patients_ward_id_fkey', TABLE = 'patients', COLUMN = 'ward_id';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER patients_wards_insert AFTER INSERT ON patients
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION patients_require_wards();
CREATE TRIGGER patients_wards_update AFTER UPDATE ON patients
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION patients_require_wards();

CREATE FUNCTION wards_release_patients() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE patients SET ward_id = NULL, updated_at = now() WHERE ward_id IS NOT NULL;
    ELSE
        UPDATE patients SET ward_id = NULL, updated_at = now() WHERE ward_id IN (SELECT id FROM gone);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER wards_patients_delete AFTER DELETE ON wards
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION wards_release_patients();
CREATE TRIGGER wards_patients_truncate AFTER TRUNCATE ON wards
    FOR EACH STATEMENT EXECUTE FUNCTION wards_release_patients();
