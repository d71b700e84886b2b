DROP INDEX observations_time;
CREATE INDEX observations_time ON observations (observed_at);

DROP TRIGGER patients_observations_truncate ON patients;
DROP TRIGGER patients_observations_delete ON patients;
DROP FUNCTION patients_delete_observations();
DROP TRIGGER observations_patients_update ON observations;
DROP TRIGGER observations_patients_insert ON observations;
DROP FUNCTION observations_require_patients();

ALTER TABLE observations ADD CONSTRAINT observations_patient_id_fkey
    FOREIGN KEY (patient_id) REFERENCES patients (id) ON DELETE CASCADE;
