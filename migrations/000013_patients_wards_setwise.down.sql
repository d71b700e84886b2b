DROP TRIGGER wards_patients_truncate ON wards;
DROP TRIGGER wards_patients_delete ON wards;
DROP FUNCTION wards_release_patients();
DROP TRIGGER patients_wards_update ON patients;
DROP TRIGGER patients_wards_insert ON patients;
DROP FUNCTION patients_require_wards();

ALTER TABLE patients ADD CONSTRAINT patients_ward_id_fkey
    FOREIGN KEY (ward_id) REFERENCES wards (id) ON DELETE SET NULL;
