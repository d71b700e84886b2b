-- InsertArticles: a batch of articles.
WITH added AS (
    INSERT INTO articles (id, to_user_id, from_name, from_domain, mailing_list, title, created_at)
    SELECT coalesce(i.id, gen_random_uuid()), i.to_user_id, i.from_name, i.from_domain, i.mailing_list, i.title, i.created_at
    FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
        AS i(id, to_user_id, from_name, from_domain, mailing_list, title, created_at)
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM added
