package importer

import (
	"context"
	"crypto/sha1"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"canopy/rules"
)

// The listing kinds: newsletters by name, articles by id.

// newslettersKind names a newsletter by its name. The table has no unique
// name (the API may store two alike), so the batch updates every stored
// newsletter of a name in the file and inserts the names not stored.
var newslettersKind = &kind{
	name:    "newsletters",
	keyName: "name",
	columns: []column{{"name", true}, {"domain", false}, {"mailing_list", false}, {"image_url", true}},
	stage:   []string{"name text", "domain text", "mailing_list text", "image_url text"},
	upsert: batchSQL(`updated AS (
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
)`),
	prepare: func(context.Context, *pgx.Conn) (parser, error) {
		return func(c *checker) ([]any, string, *rejection) {
			name := c.str(0, rules.NameMax)
			domain := c.text(1, rules.NameMax)
			list := c.text(2, rules.NameMax)
			image := c.imageURL(3)
			if domain == nil && list == nil && c.err == nil {
				c.fail(1, "%v", rules.ErrNewsletterTarget)
			}
			if c.err != nil {
				return nil, "", nil
			}
			return []any{name, domain, list, image}, name, nil
		}, nil
	},
}

const (
	articleID = iota
	articleToUserID
	articleFromName
	articleFromDomain
	articleMailingList
	articleTitle
	articleCreatedAt
	articleIsRead
)

// articlesKind names an article by its id. A file without ids gets ids
// derived from the article's content (a name-based, version 5 style UUID),
// so that importing it again finds the same rows. is_read left empty keeps
// the stored flag (false for a new article): a re-import does not undo what
// readers marked.
var articlesKind = &kind{
	name:    "articles",
	keyName: "id",
	columns: []column{{"id", false}, {"to_user_id", true}, {"from_name", true}, {"from_domain", true},
		{"mailing_list", false}, {"title", true}, {"created_at", true}, {"is_read", false}},
	stage: []string{"id uuid", "to_user_id uuid", "from_name text", "from_domain text", "mailing_list text",
		"title text", "created_at timestamptz", "is_read bool"},
	upsert: batchSQL(`changed AS (
    SELECT s.id FROM src s JOIN articles a ON a.id = s.id
    WHERE (a.to_user_id, a.from_name, a.from_domain, a.mailing_list, a.title, a.created_at)
          IS DISTINCT FROM (s.to_user_id, s.from_name, s.from_domain, s.mailing_list, s.title, s.created_at)
       OR s.is_read <> a.is_read
),
written AS (
    INSERT INTO articles AS a (id, to_user_id, from_name, from_domain, mailing_list, title, is_read, created_at)
    SELECT id, to_user_id, from_name, from_domain, mailing_list, title, coalesce(is_read, false), created_at FROM src
    ORDER BY id
    ON CONFLICT (id) DO UPDATE SET
        to_user_id = excluded.to_user_id, from_name = excluded.from_name, from_domain = excluded.from_domain,
        mailing_list = excluded.mailing_list, title = excluded.title, created_at = excluded.created_at,
        is_read = CASE WHEN excluded.id IN (SELECT id FROM src WHERE is_read IS NOT NULL) THEN excluded.is_read ELSE a.is_read END
    WHERE excluded.id IN (SELECT id FROM changed)
    RETURNING a.xmax = 0 AS inserted
)`),
	prepare: func(context.Context, *pgx.Conn) (parser, error) {
		return func(c *checker) ([]any, string, *rejection) {
			id := c.uuid(articleID)
			user := c.uuid(articleToUserID)
			fromName := c.str(articleFromName, rules.NameMax)
			domain := c.str(articleFromDomain, rules.NameMax)
			list := c.text(articleMailingList, rules.NameMax)
			title := c.str(articleTitle, rules.TitleMax)
			created := c.time(articleCreatedAt)
			read := c.boolean(articleIsRead)
			if c.err != nil {
				return nil, "", nil
			}
			if !id.Valid {
				id = articleContentID(user, fromName, domain, list, title, created)
			}
			return []any{id, user, fromName, domain, list, title, created, read}, formatUUID(id), nil
		}, nil
	},
}

// articleContentID is the id of an article that came without one: a SHA-1 of
// everything the file says about it but is_read, shaped as a version 5 UUID.
func articleContentID(user pgtype.UUID, fromName, domain string, list *string, title string, created time.Time) pgtype.UUID {
	h := sha1.New()
	h.Write([]byte("canopy article\x00"))
	h.Write(user.Bytes[:])
	for _, s := range []string{fromName, domain, deref(list), title, created.UTC().Format(time.RFC3339Nano)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if list == nil {
		h.Write([]byte{1})
	}
	var id pgtype.UUID
	copy(id.Bytes[:], h.Sum(nil))
	id.Bytes[6] = id.Bytes[6]&0x0f | 0x50
	id.Bytes[8] = id.Bytes[8]&0x3f | 0x80
	id.Valid = true
	return id
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
