-- Patients, as far as the department tree needs them: a ward's occupancy is
-- the count of its patients admitted and neither discharged nor dead.
CREATE TABLE patients (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid           text NOT NULL UNIQUE CHECK (char_length(uid) BETWEEN 1 AND 64),
    name          text,
    sex           text CHECK (sex IN ('F', 'M', 'O', 'U')),
    birth_date    date,
    ward_id       bigint REFERENCES wards (id) ON DELETE SET NULL,
    admitted_at   timestamptz,
    discharged_at timestamptz,
    died_at       timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Current inpatients by ward: what occupancy counts.
CREATE INDEX patients_inpatients ON patients (ward_id)
    WHERE admitted_at IS NOT NULL AND discharged_at IS NULL AND died_at IS NULL;

-- Occupancy is shown in the department tree, so patient writes change its version.
SELECT tree_version_triggers('patients', 'departments');
