-- Observations at the speed of COPY.
--
-- The foreign key from observations to patients checked every inserted row on
-- its own: an index lookup and a row lock on the patient, per row. At 50,000
-- rows a batch that was two thirds of the ingest time (measured: 260 ms of
-- 400 ms), although a batch names a few dozen patients. The same guarantee is
-- kept set-wise instead: after each statement that writes observations, one
-- query locks every patient the written rows name (FOR KEY SHARE, the lock a
-- foreign key check takes, so a concurrent delete of the patient waits for
-- the writer or makes it fail) and refuses the statement with SQLSTATE 23503
-- if one is missing; deleting patients deletes their observations, as ON
-- DELETE CASCADE did. Any writer is held to it, not only canopy. Like the
-- foreign key it relies on READ COMMITTED for writers that delete patients,
-- canopy's isolation level: a REPEATABLE READ delete would not see
-- observations committed after its snapshot.
ALTER TABLE observations DROP CONSTRAINT observations_patient_id_fkey;

CREATE FUNCTION observations_require_patients() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT w.patient_id INTO missing
    FROM (SELECT DISTINCT patient_id FROM written) w
    LEFT JOIN LATERAL (SELECT p.id FROM patients p WHERE p.id = w.patient_id FOR KEY SHARE) p ON true
    WHERE p.id IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('patient %s does not exist', missing),
            CONSTRAINT = 'observations_patient_id_fkey', TABLE = 'observations', COLUMN = 'patient_id';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER observations_patients_insert AFTER INSERT ON observations
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION observations_require_patients();
CREATE TRIGGER observations_patients_update AFTER UPDATE ON observations
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION observations_require_patients();

CREATE FUNCTION patients_delete_observations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE observations;
    ELSE
        DELETE FROM observations o USING gone g WHERE o.patient_id = g.id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER patients_observations_delete AFTER DELETE ON patients
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION patients_delete_observations();
CREATE TRIGGER patients_observations_truncate AFTER TRUNCATE ON patients
    FOR EACH STATEMENT EXECUTE FUNCTION patients_delete_observations();

-- Time-range reads across every patient (the hospital-wide ML feed) use a
-- BRIN index instead of a B-tree: observations arrive roughly in time order,
-- so block ranges summarise well, and a BRIN index costs next to nothing per
-- inserted row where the B-tree was a third of the insert. Reads of one
-- patient or ward use observations_pkey.
DROP INDEX observations_time;
CREATE INDEX observations_time ON observations USING brin (observed_at);
