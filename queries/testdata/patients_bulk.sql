-- UpsertPatients: a batch of patient records.
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::bigint[],
            $6::timestamptz[], $7::timestamptz[], $8::timestamptz[],
            $9::bool[], $10::bool[], $11::bool[], $12::bool[], $13::bool[], $14::bool[], $15::bool[])
        AS i(uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at,
            has_name, has_sex, has_birth_date, has_ward_id, has_admitted_at, has_discharged_at, has_died_at)
),
unknown_wards AS (
    SELECT w.id FROM unnest($16::bigint[]) w(id)
    WHERE NOT EXISTS (SELECT FROM wards WHERE wards.id = w.id)
),
written AS (
    INSERT INTO patients AS p (uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at)
    SELECT uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at FROM input
    WHERE NOT EXISTS (SELECT FROM unknown_wards)
    ORDER BY uid
    ON CONFLICT (uid) DO UPDATE SET
        name = CASE WHEN excluded.uid IN (SELECT uid FROM input WHERE has_name) THEN excluded.name ELSE p.name END,
        sex = CASE WHEN excluded.uid IN (SELECT uid FROM input WHERE has_sex) THEN excluded.sex ELSE p.sex END,
        birth_date = CASE WHEN excluded.uid IN (SELECT uid FROM input WHERE has_birth_date) THEN excluded.birth_date ELSE p.birth_date END,
        ward_id = CASE WHEN excluded.uid IN (SELECT uid FROM input WHERE has_ward_id) THEN excluded.ward_id ELSE p.ward_id END,
        admitted_at = CASE WHEN excluded.uid IN (SELECT uid FROM input WHERE has_admitted_at) THEN excluded.admitted_at ELSE p.admitted_at END,
        discharged_at = CASE WHEN excluded.uid IN (SELECT uid FROM input WHERE has_discharged_at) THEN excluded.discharged_at ELSE p.discharged_at END,
        died_at = CASE WHEN excluded.uid IN (SELECT uid FROM input WHERE has_died_at) THEN excluded.died_at ELSE p.died_at END,
        updated_at = now()
    RETURNING p.xmax = 0 AS inserted
),
audit AS (
    INSERT INTO audit_log (token_id, request_id, action, record_count, inserted, updated, client_request_id)
    SELECT $17::bigint, $18::text, 'patients.bulk', $19::int, (SELECT count(*) FROM written WHERE inserted), (SELECT count(*) FROM written WHERE NOT inserted), $20::text
    WHERE NOT EXISTS (SELECT FROM unknown_wards)
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    ARRAY(SELECT id FROM unknown_wards ORDER BY id)
FROM written
