package importer

import (
	"context"
	"crypto/sha1"
	"time"

	"canopy/queries"
	"canopy/rules"
)

// The listing kinds: newsletters by name, articles by id.

// newslettersKind names a newsletter by its name, which the table does not
// hold unique: see queries.ImportNewsletters.
var newslettersKind = &kind{
	name:    "newsletters",
	keyName: "name",
	columns: []column{
		{name: "name", required: true}, {name: "domain"}, {name: "mailing_list"},
		{name: "image_url", required: true},
	},
	write: queries.ImportNewsletters,
	prepare: func(context.Context, *queries.Import) (parser, error) {
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
	columns: []column{
		{name: "id"}, {name: "to_user_id", required: true}, {name: "from_name", required: true},
		{name: "from_domain", required: true}, {name: "mailing_list"}, {name: "title", required: true},
		{name: "created_at", required: true}, {name: "is_read"},
	},
	write: queries.ImportArticles,
	prepare: func(context.Context, *queries.Import) (parser, error) {
		return func(c *checker) ([]any, string, *rejection) {
			id, hasID := c.uuid(articleID)
			user, _ := c.uuid(articleToUserID)
			fromName := c.str(articleFromName, rules.NameMax)
			domain := c.str(articleFromDomain, rules.NameMax)
			list := c.text(articleMailingList, rules.NameMax)
			title := c.str(articleTitle, rules.TitleMax)
			created := c.time(articleCreatedAt)
			read := c.boolean(articleIsRead)
			if c.err != nil {
				return nil, "", nil
			}
			if !hasID {
				id = articleContentID(user, fromName, domain, list, title, created)
			}
			return []any{id, user, fromName, domain, list, title, created, read}, formatUUID(id), nil
		}, nil
	},
}

// articleContentID is the id of an article that came without one: a SHA-1 of
// everything the file says about it but is_read, shaped as a version 5 UUID.
func articleContentID(user queries.UUID, fromName, domain string, list *string, title string, created time.Time) queries.UUID {
	h := sha1.New()
	h.Write([]byte("canopy article\x00"))
	h.Write(user[:])
	for _, s := range []string{fromName, domain, deref(list), title, created.UTC().Format(time.RFC3339Nano)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if list == nil {
		h.Write([]byte{1})
	}
	var id queries.UUID
	copy(id[:], h.Sum(nil))
	id[6] = id[6]&0x0f | 0x50
	id[8] = id[8]&0x3f | 0x80
	return id
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
