-- Import: the staging tables, the batch statement, what runs after the last batch.
DROP TABLE IF EXISTS import_stage, import_seen;
CREATE TEMP TABLE import_stage (line bigint NOT NULL, key text NOT NULL, id bigint, product_type text, product_id bigint, buyer text, price bigint, refund bigint, status text, purchased_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE import_seen (key text PRIMARY KEY);

WITH fresh AS (
    INSERT INTO import_seen (key) SELECT key FROM import_stage ORDER BY key ON CONFLICT DO NOTHING RETURNING key
),
src AS MATERIALIZED (
    SELECT s.* FROM import_stage s WHERE s.key IN (SELECT key FROM fresh)
),
written AS (
    INSERT INTO purchases (id, product_type, product_id, buyer, price, refund, status, purchased_at)
    SELECT id, product_type, product_id, buyer, price, refund, status, purchased_at FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE SET product_type = excluded.product_type, product_id = excluded.product_id, buyer = excluded.buyer, price = excluded.price, refund = excluded.refund, status = excluded.status, purchased_at = excluded.purchased_at
    WHERE (purchases.product_type, purchases.product_id, purchases.buyer, purchases.price, purchases.refund, purchases.status, purchases.purchased_at)
          IS DISTINCT FROM (excluded.product_type, excluded.product_id, excluded.buyer, excluded.price, excluded.refund, excluded.status, excluded.purchased_at)
    RETURNING purchases.xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
    ARRAY(SELECT line FROM import_stage WHERE key NOT IN (SELECT key FROM fresh) ORDER BY line)
FROM written;

SELECT setval(pg_get_serial_sequence('purchases', 'id'), coalesce(max(id), 1), max(id) IS NOT NULL) FROM purchases;
