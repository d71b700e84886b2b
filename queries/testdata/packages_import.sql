-- Import: the staging tables, the batch statement, what runs after the last batch.
DROP TABLE IF EXISTS import_stage, import_seen;
CREATE TEMP TABLE import_stage (line bigint NOT NULL, key text NOT NULL, id bigint, title text, price bigint, course_ids bigint[]) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE import_seen (key text PRIMARY KEY);

WITH fresh AS (
    INSERT INTO import_seen (key) SELECT key FROM import_stage ORDER BY key ON CONFLICT DO NOTHING RETURNING key
),
src AS MATERIALIZED (
    SELECT s.* FROM import_stage s WHERE s.key IN (SELECT key FROM fresh)
),
packages_written AS (
    INSERT INTO packages AS p (id, title, price)
    SELECT id, title, price FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE SET title = excluded.title, price = excluded.price
    WHERE (p.title, p.price) IS DISTINCT FROM (excluded.title, excluded.price)
    RETURNING p.id, p.xmax = 0 AS inserted
),
unlinked AS (
    DELETE FROM package_courses pc USING src s
    WHERE pc.package_id = s.id AND pc.course_id <> ALL (s.course_ids)
    RETURNING pc.package_id
),
linked AS (
    INSERT INTO package_courses (package_id, course_id)
    SELECT s.id, c.course_id FROM src s, unnest(s.course_ids) AS c(course_id)
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING
    RETURNING package_id
),
written AS (
    SELECT id, inserted FROM packages_written
    UNION
    SELECT package_id, false FROM (SELECT package_id FROM unlinked UNION SELECT package_id FROM linked) l
    WHERE package_id NOT IN (SELECT id FROM packages_written)
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    ARRAY(SELECT line FROM import_stage WHERE key NOT IN (SELECT key FROM fresh) ORDER BY line)
FROM written;

SELECT setval(pg_get_serial_sequence('packages', 'id'), coalesce(max(id), 1), max(id) IS NOT NULL) FROM packages;
