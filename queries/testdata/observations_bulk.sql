-- InsertObservations: a batch COPY refused.
WITH inserted AS (
    INSERT INTO observations (patient_id, code, observed_at, value)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::float8[])
    ORDER BY 1, 3, 2
    ON CONFLICT (patient_id, code, observed_at) DO NOTHING
    RETURNING 1
),
audit AS (
    INSERT INTO audit_log (token_id, request_id, action, record_count, inserted, updated, client_request_id)
    SELECT $5::bigint, $6::text, 'observations.bulk', $7::int, (SELECT count(*) FROM inserted), NULL, $8::text
    WHERE true
)
SELECT count(*) FROM inserted
