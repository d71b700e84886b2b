-- Import: the staging tables, the batch statement, what runs after the last batch.
DROP TABLE IF EXISTS import_stage, import_seen;
CREATE TEMP TABLE import_stage (line bigint NOT NULL, key text NOT NULL, name text, domain text, mailing_list text, image_url text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE import_seen (key text PRIMARY KEY);

WITH fresh AS (
    INSERT INTO import_seen (key) SELECT key FROM import_stage ORDER BY key ON CONFLICT DO NOTHING RETURNING key
),
src AS MATERIALIZED (
    SELECT s.* FROM import_stage s WHERE s.key IN (SELECT key FROM fresh)
),
updated AS (
    UPDATE newsletters n SET domain = s.domain, mailing_list = s.mailing_list, image_url = s.image_url
    FROM src s
    WHERE n.name = s.name
      AND (n.domain, n.mailing_list, n.image_url) IS DISTINCT FROM (s.domain, s.mailing_list, s.image_url)
    RETURNING n.name
),
inserted AS (
    INSERT INTO newsletters (name, domain, mailing_list, image_url)
    SELECT s.name, s.domain, s.mailing_list, s.image_url FROM src s
    WHERE NOT EXISTS (SELECT FROM newsletters n WHERE n.name = s.name)
    ORDER BY s.line
    RETURNING name
),
written AS (
    SELECT true AS inserted FROM inserted
    UNION ALL
    SELECT false FROM (SELECT DISTINCT name FROM updated) u
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    ARRAY(SELECT line FROM import_stage WHERE key NOT IN (SELECT key FROM fresh) ORDER BY line)
FROM written;
