-- UpsertPatients: a batch of patient records.
WITH input AS (
    SELECT unnest($6::text[]) AS uid,
        unnest($7::text[]) AS name,
        unnest($8::text[]) AS sex,
        unnest($9::date[]) AS birth_date,
        unnest($10::bigint[]) AS ward_id,
        unnest($11::timestamptz[]) AS admitted_at,
        unnest($12::timestamptz[]) AS discharged_at,
        unnest($13::timestamptz[]) AS died_at,
        unnest($14::bool[]) AS has_name,
        unnest($15::bool[]) AS has_sex,
        unnest($16::bool[]) AS has_birth_date,
        unnest($17::bool[]) AS has_ward_id,
        unnest($18::bool[]) AS has_admitted_at,
        unnest($19::bool[]) AS has_discharged_at,
        unnest($20::bool[]) AS has_died_at
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
    FROM input
    WHERE (has_name AND name IS NULL)
       OR (has_sex AND sex IS NULL)
       OR (has_birth_date AND birth_date IS NULL)
       OR (has_ward_id AND ward_id IS NULL)
       OR (has_admitted_at AND admitted_at IS NULL)
       OR (has_discharged_at AND discharged_at IS NULL)
       OR (has_died_at AND died_at IS NULL)
),
unknown_wards AS (
    SELECT w.id FROM unnest($1::bigint[]) w(id)
    WHERE NOT EXISTS (SELECT FROM wards WHERE wards.id = w.id)
),
written AS (
    INSERT INTO patients AS p (uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at)
    SELECT uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at FROM input
    WHERE NOT EXISTS (SELECT FROM unknown_wards)
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
),
inserted AS (
    SELECT count(*) AS n FROM written WHERE inserted
),
audit AS (
    INSERT INTO audit_log (token_id, request_id, action, record_count, inserted, updated, client_request_id)
    SELECT $2::bigint, $3::text, 'patients.bulk', $4::int, (SELECT n FROM inserted), cardinality($6::text[]) - (SELECT n FROM inserted), $5::text
    WHERE NOT EXISTS (SELECT FROM unknown_wards)
)
SELECT n, cardinality($6::text[]) - n, ARRAY(SELECT id FROM unknown_wards ORDER BY id)
FROM inserted
