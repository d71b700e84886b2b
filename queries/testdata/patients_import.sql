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
cleared AS (
    SELECT uid,
        (has_name AND name IS NULL) AS name,
        (has_sex AND sex IS NULL) AS sex,
        (has_birth_date AND birth_date IS NULL) AS birth_date,
        (has_ward_id AND ward_id IS NULL) AS ward_id,
        (has_admitted_at AND admitted_at IS NULL) AS admitted_at,
        (has_discharged_at AND discharged_at IS NULL) AS discharged_at,
        (has_died_at AND died_at IS NULL) AS died_at
    FROM src
    WHERE (has_name AND name IS NULL)
       OR (has_sex AND sex IS NULL)
       OR (has_birth_date AND birth_date IS NULL)
       OR (has_ward_id AND ward_id IS NULL)
       OR (has_admitted_at AND admitted_at IS NULL)
       OR (has_discharged_at AND discharged_at IS NULL)
       OR (has_died_at AND died_at IS NULL)
),
written AS (
    INSERT INTO patients AS p (uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at)
    SELECT uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at FROM src
    ORDER BY uid
    ON CONFLICT (uid) DO UPDATE SET
        name = CASE WHEN excluded.uid IN (SELECT uid FROM cleared WHERE name) THEN NULL ELSE coalesce(excluded.name, p.name) END,
        sex = CASE WHEN excluded.uid IN (SELECT uid FROM cleared WHERE sex) THEN NULL ELSE coalesce(excluded.sex, p.sex) END,
        birth_date = CASE WHEN excluded.uid IN (SELECT uid FROM cleared WHERE birth_date) THEN NULL ELSE coalesce(excluded.birth_date, p.birth_date) END,
        ward_id = CASE WHEN excluded.uid IN (SELECT uid FROM cleared WHERE ward_id) THEN NULL ELSE coalesce(excluded.ward_id, p.ward_id) END,
        admitted_at = CASE WHEN excluded.uid IN (SELECT uid FROM cleared WHERE admitted_at) THEN NULL ELSE coalesce(excluded.admitted_at, p.admitted_at) END,
        discharged_at = CASE WHEN excluded.uid IN (SELECT uid FROM cleared WHERE discharged_at) THEN NULL ELSE coalesce(excluded.discharged_at, p.discharged_at) END,
        died_at = CASE WHEN excluded.uid IN (SELECT uid FROM cleared WHERE died_at) THEN NULL ELSE coalesce(excluded.died_at, p.died_at) END,
        updated_at = now()
    WHERE coalesce(excluded.name, p.name) IS DISTINCT FROM p.name OR (p.name IS NOT NULL AND excluded.uid IN (SELECT uid FROM cleared WHERE name))
       OR coalesce(excluded.sex, p.sex) IS DISTINCT FROM p.sex OR (p.sex IS NOT NULL AND excluded.uid IN (SELECT uid FROM cleared WHERE sex))
       OR coalesce(excluded.birth_date, p.birth_date) IS DISTINCT FROM p.birth_date OR (p.birth_date IS NOT NULL AND excluded.uid IN (SELECT uid FROM cleared WHERE birth_date))
       OR coalesce(excluded.ward_id, p.ward_id) IS DISTINCT FROM p.ward_id OR (p.ward_id IS NOT NULL AND excluded.uid IN (SELECT uid FROM cleared WHERE ward_id))
       OR coalesce(excluded.admitted_at, p.admitted_at) IS DISTINCT FROM p.admitted_at OR (p.admitted_at IS NOT NULL AND excluded.uid IN (SELECT uid FROM cleared WHERE admitted_at))
       OR coalesce(excluded.discharged_at, p.discharged_at) IS DISTINCT FROM p.discharged_at OR (p.discharged_at IS NOT NULL AND excluded.uid IN (SELECT uid FROM cleared WHERE discharged_at))
       OR coalesce(excluded.died_at, p.died_at) IS DISTINCT FROM p.died_at OR (p.died_at IS NOT NULL AND excluded.uid IN (SELECT uid FROM cleared WHERE died_at))
    RETURNING p.xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    ARRAY(SELECT line FROM import_stage WHERE key NOT IN (SELECT key FROM fresh) ORDER BY line)
FROM written;
