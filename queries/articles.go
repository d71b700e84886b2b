package queries

import (
	"context"
	"fmt"
	"time"
)

// Month is a calendar month in a time zone. Its instants are the half-open
// range [Start, End), computed here rather than by a function on a column,
// so that a query can hand the range to an index on the timestamp.
type Month struct {
	Year  int
	Month time.Month
	// Loc is the time zone the month is read in; nil is UTC.
	Loc *time.Location
}

func (m Month) loc() *time.Location {
	if m.Loc == nil {
		return time.UTC
	}
	return m.Loc
}

// Start is the first instant of the month in its time zone.
func (m Month) Start() time.Time { return firstInstant(m.Year, m.Month, 1, m.loc()) }

// End is the first instant of the next month: the month's exclusive end.
func (m Month) End() time.Time { return firstInstant(m.Year, m.Month+1, 1, m.loc()) }

// Days is the number of days in the month.
func (m Month) Days() int { return time.Date(m.Year, m.Month+1, 0, 0, 0, 0, 0, time.UTC).Day() }

// Zone is the name of the month's time zone.
func (m Month) Zone() string { return m.loc().String() }

// dayStarts is the first instant of each day of the month, in order; a day
// that the zone skipped (Pacific/Apia's 2011-12-30) starts where the next does.
func (m Month) dayStarts() []time.Time {
	starts := make([]time.Time, m.Days())
	for i := range starts {
		starts[i] = firstInstant(m.Year, m.Month, i+1, m.loc())
	}
	return starts
}

// firstInstant is the first instant of a day (month may be 13: January of
// the next year). Where clocks jump forward at midnight (America/Asuncion on
// 2023-10-01) the day has no 00:00, and time.Date answers a time on one side
// of the jump: 23:00 of the day before, whose zone period ends at the jump,
// the day's first instant; or, where a whole day was skipped, a time on a
// later day, whose zone period starts at the jump, where the skipped day
// starts and ends at once.
func firstInstant(year int, month time.Month, day int, loc *time.Location) time.Time {
	t := time.Date(year, month, day, 0, 0, 0, 0, loc)
	got, want := civilDay(t), civilDay(time.Date(year, month, day, 0, 0, 0, 0, time.UTC))
	switch {
	case got < want:
		_, t = t.ZoneBounds()
	case got > want:
		t, _ = t.ZoneBounds()
	}
	return t
}

// civilDay orders the dates of times in their own locations.
func civilDay(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}

// Article is an article a user received. ImageURL is that of the newsletter
// whose mailing list is the article's, else of one whose domain is the
// article's sender domain, else nil.
type Article struct {
	ID          string
	ToUserID    string
	FromName    string
	FromDomain  string
	MailingList *string
	Title       string
	IsRead      bool
	CreatedAt   time.Time
	ImageURL    *string
}

// ArticleKey is an article's place in a listing, newest first: the keyset a
// page continues after.
type ArticleKey struct {
	CreatedAt time.Time
	ID        string
}

// Key is the article's place in a listing.
func (a Article) Key() ArticleKey { return ArticleKey{CreatedAt: a.CreatedAt, ID: a.ID} }

// articleImageSQL is article a's image: two scalar subqueries, each one
// index probe taking the newsletter with the lowest id, so the precedence
// holds and an article is never repeated however many newsletters match it
// (a join ON mailing_list = ... OR domain = ... would repeat it for each).
const articleImageSQL = `coalesce(
        (SELECT n.image_url FROM newsletters n WHERE n.mailing_list = a.mailing_list ORDER BY n.id LIMIT 1),
        (SELECT n.image_url FROM newsletters n WHERE n.domain = a.from_domain ORDER BY n.id LIMIT 1))`

const articleColumns = `a.id, a.to_user_id, a.from_name, a.from_domain, a.mailing_list, a.title, a.is_read, a.created_at,
    ` + articleImageSQL

func scanArticle(row interface{ Scan(...any) error }) (Article, error) {
	var a Article
	err := row.Scan(&a.ID, &a.ToUserID, &a.FromName, &a.FromDomain, &a.MailingList, &a.Title, &a.IsRead, &a.CreatedAt, &a.ImageURL)
	return a, translate(err)
}

// ArticlePage asks for one page of a user's articles of a month.
type ArticlePage struct {
	UserID string
	Month  Month
	// Limit is the page size, at least 1.
	Limit int
	// After is the key of the last article of the previous page; nil asks
	// for the first page.
	After *ArticleKey
}

// nilUUID sorts before every other uuid: (End, nilUUID) as the keyset bound
// of a first page admits every instant before End and nothing at it.
const nilUUID = "00000000-0000-0000-0000-000000000000"

// articleMonthSQL is one range scan of articles_user_created: equality on
// the user, the month as a range on created_at, and the keyset bound as a
// row comparison in the index's own order, so that the scan starts at the
// page and stops after limit rows with no sort.
const articleMonthSQL = `
SELECT ` + articleColumns + `
FROM articles a
WHERE a.to_user_id = $1
  AND a.created_at >= $2 AND a.created_at < $3
  AND (a.created_at, a.id) < ($4::timestamptz, $5::uuid)
ORDER BY a.created_at DESC, a.id DESC
LIMIT $6`

// MonthArticles reads a page of the articles a user received in a month,
// newest first (created_at desc, then id desc), in one statement. next is
// the key to continue after, nil on the last page.
func (s *Store) MonthArticles(ctx context.Context, q ArticlePage) (articles []Article, next *ArticleKey, err error) {
	if q.Limit < 1 {
		return nil, nil, invalidField("limit", "must be at least 1")
	}
	start, end := q.Month.Start(), q.Month.End()
	after := ArticleKey{CreatedAt: end, ID: nilUUID}
	if q.After != nil {
		after = *q.After
	}
	rows, err := s.db.Query(ctx, articleMonthSQL, q.UserID, start, end, after.CreatedAt, after.ID, q.Limit+1)
	if err != nil {
		return nil, nil, translate(err)
	}
	defer rows.Close()
	articles = []Article{}
	for rows.Next() {
		a, err := scanArticle(rows)
		if err != nil {
			return nil, nil, err
		}
		articles = append(articles, a)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, translate(err)
	}
	if len(articles) > q.Limit {
		articles = articles[:q.Limit]
		next = new(articles[q.Limit-1].Key())
	}
	return articles, next, nil
}

// CalendarDay is one day of a month's calendar: the articles received that
// day in the month's time zone, and how many of them are unread.
type CalendarDay struct {
	Date   time.Time // midnight UTC of the day: only the date counts
	Count  int
	Unread int
}

// articleCalendarSQL reads the month by the same range scan as a listing
// and buckets each article by the first instants of the month's days ($4,
// computed in Go), in the select list only. Days come from Go rather than
// from created_at AT TIME ZONE: PostgreSQL reads a zone name that is also an
// abbreviation (CET, EET, MET, WET) as the abbreviation's fixed offset, with
// no summer time, and its zone data may differ from the server's; from Go,
// the days partition exactly the month a listing shows. Every day of the
// month comes out, counted or not.
const articleCalendarSQL = `
WITH counted AS (
    SELECT width_bucket(a.created_at, $4::timestamptz[]) AS day,
           count(*) AS articles,
           count(*) FILTER (WHERE NOT a.is_read) AS unread
    FROM articles a
    WHERE a.to_user_id = $1 AND a.created_at >= $2 AND a.created_at < $3
    GROUP BY 1
)
SELECT $5::date + (d.day - 1), coalesce(c.articles, 0), coalesce(c.unread, 0)
FROM generate_series(1, cardinality($4::timestamptz[])) AS d(day)
LEFT JOIN counted c ON c.day = d.day
ORDER BY d.day`

// ArticleCalendar counts a user's articles and unread articles on each day
// of a month in its time zone, in one statement; days without articles
// count zero.
func (s *Store) ArticleCalendar(ctx context.Context, userID string, m Month) ([]CalendarDay, error) {
	first := fmt.Sprintf("%04d-%02d-01", m.Year, int(m.Month))
	rows, err := s.db.Query(ctx, articleCalendarSQL, userID, m.Start(), m.End(), m.dayStarts(), first)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	days := make([]CalendarDay, 0, m.Days())
	for rows.Next() {
		var d CalendarDay
		if err := rows.Scan(&d.Date, &d.Count, &d.Unread); err != nil {
			return nil, translate(err)
		}
		days = append(days, d)
	}
	return days, translate(rows.Err())
}

// NewArticle is an article to store; an empty ID has one generated.
type NewArticle struct {
	ID          string
	ToUserID    string
	FromName    string
	FromDomain  string
	MailingList *string
	Title       string
	CreatedAt   time.Time
}

// BulkResult counts what a bulk write did with the records it received.
type BulkResult struct {
	Received   int
	Inserted   int
	Duplicates int
}

// articleFields are the columns of an article but its id and is_read, as
// its two writers hand them over: the bulk endpoint (articleBulkSQL) and the
// import (ImportArticles).
var articleFields = columnList{{"to_user_id", "uuid"}, {"from_name", "text"}, {"from_domain", "text"}, {"mailing_list", "text"},
	{"title", "text"}, {"created_at", "timestamptz"}}

// articleBulkSQL inserts the whole batch from arrays (the ids, then one per
// articleFields), one statement whatever its size. An id already stored,
// or repeated in the batch, is skipped and counted as a duplicate.
var articleBulkSQL = `
WITH added AS (
    INSERT INTO articles (id, ` + articleFields.names("") + `)
    SELECT coalesce(i.id, gen_random_uuid()), ` + articleFields.names("i.") + `
    FROM unnest($1::uuid[], ` + articleFields.arrays(2) + `)
        AS i(id, ` + articleFields.names("") + `)
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM added`

// InsertArticles stores a batch of articles, all or nothing, in one
// statement (none for an empty batch). The records are expected valid: a
// malformed uuid fails the whole batch.
func (s *Store) InsertArticles(ctx context.Context, batch []NewArticle) (BulkResult, error) {
	r := BulkResult{Received: len(batch)}
	if len(batch) == 0 {
		return r, nil
	}
	ids := make([]*string, len(batch))
	users := make([]string, len(batch))
	names := make([]string, len(batch))
	domains := make([]string, len(batch))
	lists := make([]*string, len(batch))
	titles := make([]string, len(batch))
	times := make([]time.Time, len(batch))
	for i, a := range batch {
		if a.ID != "" {
			ids[i] = &a.ID
		}
		users[i], names[i], domains[i], lists[i], titles[i], times[i] = a.ToUserID, a.FromName, a.FromDomain, a.MailingList, a.Title, a.CreatedAt
	}
	err := s.db.QueryRow(ctx, articleBulkSQL, ids, users, names, domains, lists, titles, times).Scan(&r.Inserted)
	if err != nil {
		return BulkResult{}, translate(err)
	}
	r.Duplicates = r.Received - r.Inserted
	return r, nil
}

const articleMarkSQL = `
UPDATE articles AS a SET is_read = $2
WHERE a.id = $1 AND ($3::uuid IS NULL OR a.to_user_id = $3::uuid)
RETURNING ` + articleColumns

// MarkArticle sets an article read or unread and returns it, in one
// statement. owner, when not empty, is the only user whose article may be
// changed: another's is ErrNotFound, as an unknown id is, so that a token
// bound to a user learns nothing of others' articles.
func (s *Store) MarkArticle(ctx context.Context, id string, isRead bool, owner string) (Article, error) {
	var ownerArg *string
	if owner != "" {
		ownerArg = &owner
	}
	a, err := scanArticle(s.db.QueryRow(ctx, articleMarkSQL, id, isRead, ownerArg))
	if err != nil {
		return Article{}, fmt.Errorf("article %s: %w", id, err)
	}
	return a, nil
}

// ImportArticles writes articles by id. A row's values: id, then those of
// articleFields (to_user_id, from_name, from_domain, mailing_list, title,
// created_at), then is_read; ids are UUID values. An is_read of null keeps
// the stored flag (false for a new article): a re-import does not undo
// what readers marked.
var ImportArticles = &FlatImport{
	columns: append(append(columnList{{"id", "uuid"}}, articleFields...), column{"is_read", "bool"}),
	upsert: batchSQL(`changed AS (
    SELECT s.id FROM src s JOIN articles a ON a.id = s.id
    WHERE (` + articleFields.names("a.") + `)
          IS DISTINCT FROM (` + articleFields.names("s.") + `)
       OR s.is_read <> a.is_read
),
written AS (
    INSERT INTO articles AS a (id, ` + articleFields.names("") + `, is_read)
    SELECT id, ` + articleFields.names("") + `, coalesce(is_read, false) FROM src
    ORDER BY id
    ON CONFLICT (id) DO UPDATE SET
        ` + articleFields.sets("excluded") + `,
        is_read = CASE WHEN excluded.id IN (SELECT id FROM src WHERE is_read IS NOT NULL) THEN excluded.is_read ELSE a.is_read END
    WHERE excluded.id IN (SELECT id FROM changed)
    RETURNING a.xmax = 0 AS inserted
)`),
}

// Newsletter gives its image to the articles of its mailing list or domain.
type Newsletter struct {
	ID          int64
	Name        string
	Domain      *string
	MailingList *string
	ImageURL    string
}

const newsletterCreateSQL = `
INSERT INTO newsletters (name, domain, mailing_list, image_url) VALUES ($1, $2, $3, $4)
RETURNING id, name, domain, mailing_list, image_url`

// CreateNewsletter stores a newsletter, which needs a domain or a mailing
// list or both.
func (s *Store) CreateNewsletter(ctx context.Context, n Newsletter) (Newsletter, error) {
	var out Newsletter
	err := s.db.QueryRow(ctx, newsletterCreateSQL, n.Name, n.Domain, n.MailingList, n.ImageURL).
		Scan(&out.ID, &out.Name, &out.Domain, &out.MailingList, &out.ImageURL)
	return out, translate(err)
}

// ImportNewsletters writes newsletters by name. A row's values: name,
// domain, mailing_list, image_url. The table has no unique name (the API may
// store two alike), so the batch updates every stored newsletter of a name
// in the file and inserts the names not stored.
var ImportNewsletters = &FlatImport{
	columns: columnList{{"name", "text"}, {"domain", "text"}, {"mailing_list", "text"}, {"image_url", "text"}},
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
}
