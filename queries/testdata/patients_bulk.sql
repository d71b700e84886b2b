-- UpsertPatients: a batch of patient records.
WITH input AS (
    SELECT * FROM unnest($6::text[], $7::text[], $8::text[], $9::date[], $10::bigint[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::bool[], $15::bool[], $16::bool[], $17::bool[], $18::bool[], $19::bool[], $20::bool[])
        AS i(uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at, has_name, has_sex, has_birth_date, has_ward_id, has_admitted_at, has_discharged_at, has_died_at)
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
    SELECT $2::bigint, $3::text, 'patients.bulk', $4::int, (SELECT count(*) FROM written WHERE inserted), (SELECT count(*) FROM written WHERE NOT inserted), $5::text
    WHERE NOT EXISTS (SELECT FROM unknown_wards)
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    ARRAY(SELECT id FROM unknown_wards ORDER BY id)
FROM written
