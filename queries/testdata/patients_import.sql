-- Import: the staging tables, the batch statement, what runs after the last batch.
DROP TABLE IF EXISTS import_stage, import_seen;
CREATE TEMP TABLE import_stage (line bigint NOT NULL, key text NOT NULL, uid text, name text, sex text, birth_date date, ward_id bigint, admitted_at timestamptz, discharged_at timestamptz, died_at timestamptz, has_name bool, has_sex bool, has_birth_date bool, has_ward_id bool, has_admitted_at bool, has_discharged_at bool, has_died_at bool) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE import_seen (key text PRIMARY KEY);

WITH fresh AS (
    INSERT INTO import_seen (key) SELECT key FROM import_stage ORDER BY key ON CONFLICT DO NOTHING RETURNING key
),
src AS MATERIALIZED (
    SELECT s.* FROM import_stage s WHERE s.key IN (SELECT key FROM fresh)
),
changed AS (
    SELECT s.uid FROM src s JOIN patients p ON p.uid = s.uid
    WHERE (s.has_name AND s.name IS DISTINCT FROM p.name)
       OR (s.has_sex AND s.sex IS DISTINCT FROM p.sex)
       OR (s.has_birth_date AND s.birth_date IS DISTINCT FROM p.birth_date)
       OR (s.has_ward_id AND s.ward_id IS DISTINCT FROM p.ward_id)
       OR (s.has_admitted_at AND s.admitted_at IS DISTINCT FROM p.admitted_at)
       OR (s.has_discharged_at AND s.discharged_at IS DISTINCT FROM p.discharged_at)
       OR (s.has_died_at AND s.died_at IS DISTINCT FROM p.died_at)
),
written AS (
    INSERT INTO patients AS p (uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at)
    SELECT uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at FROM src
    ORDER BY uid
    ON CONFLICT (uid) DO UPDATE SET
        name = CASE WHEN excluded.uid IN (SELECT uid FROM src WHERE has_name) THEN excluded.name ELSE p.name END,
        sex = CASE WHEN excluded.uid IN (SELECT uid FROM src WHERE has_sex) THEN excluded.sex ELSE p.sex END,
        birth_date = CASE WHEN excluded.uid IN (SELECT uid FROM src WHERE has_birth_date) THEN excluded.birth_date ELSE p.birth_date END,
        ward_id = CASE WHEN excluded.uid IN (SELECT uid FROM src WHERE has_ward_id) THEN excluded.ward_id ELSE p.ward_id END,
        admitted_at = CASE WHEN excluded.uid IN (SELECT uid FROM src WHERE has_admitted_at) THEN excluded.admitted_at ELSE p.admitted_at END,
        discharged_at = CASE WHEN excluded.uid IN (SELECT uid FROM src WHERE has_discharged_at) THEN excluded.discharged_at ELSE p.discharged_at END,
        died_at = CASE WHEN excluded.uid IN (SELECT uid FROM src WHERE has_died_at) THEN excluded.died_at ELSE p.died_at END,
        updated_at = now()
    WHERE excluded.uid IN (SELECT uid FROM changed)
    RETURNING p.xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    ARRAY(SELECT line FROM import_stage WHERE key NOT IN (SELECT key FROM fresh) ORDER BY line)
FROM written;
