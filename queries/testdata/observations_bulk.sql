-- InsertObservations: a batch COPY refused.
WITH inserted AS (
    INSERT INTO observations (patient_id, code, observed_at, value)
    SELECT * FROM unnest($5::bigint[], $6::text[], $7::timestamptz[], $8::float8[]) AS i(patient_id, code, observed_at, value)
    ORDER BY patient_id, observed_at, code
    ON CONFLICT (patient_id, observed_at, code) DO NOTHING
    RETURNING 1
),
audit AS (
    INSERT INTO audit_log (token_id, request_id, action, record_count, inserted, updated, client_request_id)
    SELECT $1::bigint, $2::text, 'observations.bulk', $3::int, (SELECT count(*) FROM inserted), NULL, $4::text
    WHERE true
)
SELECT count(*) FROM inserted
