-- The hospital feed: observations (vital signs, lab values) and model
-- predictions per patient, both written in bulk and idempotently, so that a
-- feed that resends a batch stores nothing twice.

-- Patients by ward, whatever their status: the hourly means of a ward read
-- its patients through it, and deleting a ward (ON DELETE SET NULL) finds
-- its patients without a scan. patients_inpatients only holds inpatients.
CREATE INDEX patients_ward ON patients (ward_id);

-- One row per measurement. The key is (patient_id, code, observed_at), with
-- its columns ordered so that the one index also serves every time-range read
-- of a patient (and, through patients_ward, of a ward): patient_id = $1 AND
-- observed_at >= $2 AND observed_at < $3 is a single range in it. INCLUDE
-- (value) makes the hourly means an index-only scan. There is no surrogate
-- id: the feed never refers to one observation, and one index less is faster
-- ingest.
CREATE TABLE observations (
    patient_id  bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    code        text NOT NULL CHECK (char_length(code) BETWEEN 1 AND 64),
    observed_at timestamptz NOT NULL,
    value       double precision NOT NULL,
    CONSTRAINT observations_pkey PRIMARY KEY (patient_id, observed_at, code) INCLUDE (value)
);

-- Time-range reads across every patient (the ML feed over the whole hospital).
CREATE INDEX observations_time ON observations (observed_at);

-- One row per prediction a model made for a patient. The key also serves
-- "latest per model and target": DISTINCT ON (model, target) ... ORDER BY
-- model, target, predicted_at DESC reads one patient's range of it.
CREATE TABLE predictions (
    patient_id    bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    model         text NOT NULL CHECK (char_length(model) BETWEEN 1 AND 64),
    target        text NOT NULL CHECK (char_length(target) BETWEEN 1 AND 64),
    predicted_at  timestamptz NOT NULL,
    horizon_hours integer NOT NULL CHECK (horizon_hours BETWEEN 0 AND 8760),
    probability   double precision NOT NULL CHECK (probability BETWEEN 0 AND 1),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT predictions_pkey PRIMARY KEY (patient_id, model, target, predicted_at)
);
