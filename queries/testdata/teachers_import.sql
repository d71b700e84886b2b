-- Import: the staging tables, the batch statement, what runs after the last batch.
DROP TABLE IF EXISTS import_stage, import_seen;
CREATE TEMP TABLE import_stage (line bigint NOT NULL, key text NOT NULL, id bigint, name text, commission_rate numeric) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE import_seen (key text PRIMARY KEY);

WITH fresh AS (
    INSERT INTO import_seen (key) SELECT key FROM import_stage ORDER BY key ON CONFLICT DO NOTHING RETURNING key
),
src AS MATERIALIZED (
    SELECT s.* FROM import_stage s WHERE s.key IN (SELECT key FROM fresh)
),
written AS (
    INSERT INTO teachers (id, name, commission_rate)
    SELECT id, name, commission_rate FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, commission_rate = excluded.commission_rate
    WHERE (teachers.name, teachers.commission_rate)
          IS DISTINCT FROM (excluded.name, excluded.commission_rate)
    RETURNING teachers.xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    ARRAY(SELECT line FROM import_stage WHERE key NOT IN (SELECT key FROM fresh) ORDER BY line)
FROM written;

SELECT setval(pg_get_serial_sequence('teachers', 'id'), coalesce(max(id), 1), max(id) IS NOT NULL) FROM teachers;
