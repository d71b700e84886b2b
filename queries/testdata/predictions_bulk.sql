-- InsertPredictions: a batch of predictions.
WITH input AS (
    SELECT * FROM unnest($6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::integer[], $11::float8[]) WITH ORDINALITY
        AS i(patient_uid, model, target, predicted_at, horizon_hours, probability, ord)
),
resolved AS (
    SELECT i.ord, p.id AS patient_id, i.model, i.target, i.predicted_at, i.horizon_hours, i.probability
    FROM input i LEFT JOIN patients p ON p.uid = i.patient_uid
),
unknown AS (
    SELECT ord FROM resolved WHERE patient_id IS NULL
),
inserted AS (
    INSERT INTO predictions (patient_id, model, target, predicted_at, horizon_hours, probability)
    SELECT patient_id, model, target, predicted_at, horizon_hours, probability FROM resolved
    WHERE NOT EXISTS (SELECT FROM unknown)
    ORDER BY patient_id, model, target, predicted_at
    ON CONFLICT (patient_id, model, target, predicted_at) DO NOTHING
    RETURNING 1
),
audit AS (
    INSERT INTO audit_log (token_id, request_id, action, record_count, inserted, updated, client_request_id)
    SELECT $2::bigint, $3::text, 'predictions.bulk', $4::int, (SELECT count(*) FROM inserted), NULL, $5::text
    WHERE NOT EXISTS (SELECT FROM unknown)
)
SELECT (SELECT count(*) FROM inserted), ARRAY(SELECT ord - 1 FROM unknown ORDER BY ord LIMIT $1)
