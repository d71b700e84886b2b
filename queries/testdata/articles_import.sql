-- Import: the staging tables, the batch statement, what runs after the last batch.
DROP TABLE IF EXISTS import_stage, import_seen;
CREATE TEMP TABLE import_stage (line bigint NOT NULL, key text NOT NULL, id uuid, to_user_id uuid, from_name text, from_domain text, mailing_list text, title text, created_at timestamptz, is_read bool) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE import_seen (key text PRIMARY KEY);

WITH fresh AS (
    INSERT INTO import_seen (key) SELECT key FROM import_stage ORDER BY key ON CONFLICT DO NOTHING RETURNING key
),
src AS MATERIALIZED (
    SELECT s.* FROM import_stage s WHERE s.key IN (SELECT key FROM fresh)
),
changed AS (
    SELECT s.id FROM src s JOIN articles a ON a.id = s.id
    WHERE (a.to_user_id, a.from_name, a.from_domain, a.mailing_list, a.title, a.created_at)
          IS DISTINCT FROM (s.to_user_id, s.from_name, s.from_domain, s.mailing_list, s.title, s.created_at)
       OR s.is_read <> a.is_read
),
written AS (
    INSERT INTO articles AS a (id, to_user_id, from_name, from_domain, mailing_list, title, created_at, is_read)
    SELECT id, to_user_id, from_name, from_domain, mailing_list, title, created_at, coalesce(is_read, false) FROM src
    ORDER BY id
    ON CONFLICT (id) DO UPDATE SET
        to_user_id = excluded.to_user_id, from_name = excluded.from_name, from_domain = excluded.from_domain, mailing_list = excluded.mailing_list, title = excluded.title, created_at = excluded.created_at,
        is_read = CASE WHEN excluded.id IN (SELECT id FROM src WHERE is_read IS NOT NULL) THEN excluded.is_read ELSE a.is_read END
    WHERE excluded.id IN (SELECT id FROM changed)
    RETURNING a.xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    ARRAY(SELECT line FROM import_stage WHERE key NOT IN (SELECT key FROM fresh) ORDER BY line)
FROM written;
