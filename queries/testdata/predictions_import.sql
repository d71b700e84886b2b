-- Import: the staging tables, the batch statement, what runs after the last batch.
DROP TABLE IF EXISTS import_stage, import_seen;
CREATE TEMP TABLE import_stage (line bigint NOT NULL, key text NOT NULL, patient_id bigint, model text, target text, predicted_at timestamptz, horizon_hours integer, probability float8) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE import_seen (key text PRIMARY KEY);

WITH fresh AS (
    INSERT INTO import_seen (key) SELECT key FROM import_stage ORDER BY key ON CONFLICT DO NOTHING RETURNING key
),
src AS MATERIALIZED (
    SELECT s.* FROM import_stage s WHERE s.key IN (SELECT key FROM fresh)
),
written AS (
    INSERT INTO predictions AS p (patient_id, model, target, predicted_at, horizon_hours, probability)
    SELECT patient_id, model, target, predicted_at, horizon_hours, probability FROM src
    ORDER BY patient_id, model, target, predicted_at
    ON CONFLICT (patient_id, model, target, predicted_at) DO UPDATE
        SET horizon_hours = excluded.horizon_hours, probability = excluded.probability
    WHERE (p.horizon_hours, p.probability) IS DISTINCT FROM (excluded.horizon_hours, excluded.probability)
    RETURNING p.xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    ARRAY(SELECT line FROM import_stage WHERE key NOT IN (SELECT key FROM fresh) ORDER BY line)
FROM written;
