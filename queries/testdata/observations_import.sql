-- Import: the staging tables, the batch statement, what runs after the last batch.
DROP TABLE IF EXISTS import_stage, import_seen;
CREATE TEMP TABLE import_stage (line bigint NOT NULL, key text NOT NULL, patient_id bigint, code text, observed_at timestamptz, value float8) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE import_seen (key text PRIMARY KEY);

WITH fresh AS (
    INSERT INTO import_seen (key) SELECT key FROM import_stage ORDER BY key ON CONFLICT DO NOTHING RETURNING key
),
src AS MATERIALIZED (
    SELECT s.* FROM import_stage s WHERE s.key IN (SELECT key FROM fresh)
),
written AS (
    INSERT INTO observations AS o (patient_id, code, observed_at, value)
    SELECT patient_id, code, observed_at, value FROM src ORDER BY patient_id, observed_at, code
    ON CONFLICT (patient_id, observed_at, code) DO UPDATE SET value = excluded.value
    WHERE (o.value) IS DISTINCT FROM (excluded.value)
    RETURNING o.xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    ARRAY(SELECT line FROM import_stage WHERE key NOT IN (SELECT key FROM fresh) ORDER BY line)
FROM written;
