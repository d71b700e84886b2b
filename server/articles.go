package server

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
)

// Limits on article requests.
const (
	articlesBulkMax = 10_000
	tzNameMax       = 64
)

type articleJSON struct {
	ID          string  `json:"id"`
	ToUserID    string  `json:"to_user_id"`
	FromName    string  `json:"from_name"`
	FromDomain  string  `json:"from_domain"`
	MailingList *string `json:"mailing_list"`
	Title       string  `json:"title"`
	IsRead      bool    `json:"is_read"`
	CreatedAt   instant `json:"created_at"`
	ImageURL    *string `json:"image_url"`
}

// toArticleJSON shows an article with its time in loc.
func toArticleJSON(a queries.Article, loc *time.Location) articleJSON {
	return articleJSON{ID: a.ID, ToUserID: a.ToUserID, FromName: a.FromName, FromDomain: a.FromDomain,
		MailingList: a.MailingList, Title: a.Title, IsRead: a.IsRead, CreatedAt: instant{a.CreatedAt.In(loc)}, ImageURL: a.ImageURL}
}

// listArticles serves a page of a user's articles of a month, newest first,
// from one statement. Times are shown in the month's time zone.
func (s *Server) listArticles(c *gin.Context) error {
	userID, month, err := userMonth(c)
	if err != nil {
		return err
	}
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	var after *queries.ArticleKey
	if raw, ok := c.GetQuery("cursor"); ok {
		if after, err = decodeCursor(raw, month); err != nil {
			return err
		}
	}
	articles, next, err := s.store.MonthArticles(c.Request.Context(), queries.ArticlePage{UserID: userID, Month: month, Limit: limit, After: after})
	if err != nil {
		return err
	}
	out := make([]articleJSON, len(articles))
	for i, a := range articles {
		out[i] = toArticleJSON(a, month.Loc)
	}
	var nextCursor *string
	if next != nil {
		nextCursor = new(encodeCursor(*next))
	}
	c.JSON(http.StatusOK, struct {
		UserID     string        `json:"user_id"`
		Year       int           `json:"year"`
		Month      int           `json:"month"`
		TZ         string        `json:"tz"`
		Articles   []articleJSON `json:"articles"`
		NextCursor *string       `json:"next_cursor"`
	}{userID, month.Year, int(month.Month), month.Zone(), out, nextCursor})
	return nil
}

// articleCalendar serves a month's per-day article and unread counts, every
// day of the month present, from one statement.
func (s *Server) articleCalendar(c *gin.Context) error {
	userID, month, err := userMonth(c)
	if err != nil {
		return err
	}
	days, err := s.store.ArticleCalendar(c.Request.Context(), userID, month)
	if err != nil {
		return err
	}
	type dayJSON struct {
		Date   string `json:"date"`
		Count  int    `json:"count"`
		Unread int    `json:"unread"`
	}
	out := make([]dayJSON, len(days))
	for i, d := range days {
		out[i] = dayJSON{Date: d.Date.Format(time.DateOnly), Count: d.Count, Unread: d.Unread}
	}
	c.JSON(http.StatusOK, struct {
		UserID string    `json:"user_id"`
		Year   int       `json:"year"`
		Month  int       `json:"month"`
		TZ     string    `json:"tz"`
		Days   []dayJSON `json:"days"`
	}{userID, month.Year, int(month.Month), month.Zone(), out})
	return nil
}

// articleRecord is one record of an articles batch, as sent.
type articleRecord struct {
	ID          optional.Field[string] `json:"id"`
	ToUserID    optional.Field[string] `json:"to_user_id"`
	FromName    optional.Field[string] `json:"from_name"`
	FromDomain  optional.Field[string] `json:"from_domain"`
	MailingList optional.Field[string] `json:"mailing_list"`
	Title       optional.Field[string] `json:"title"`
	CreatedAt   optional.Field[string] `json:"created_at"`
}

// record validates the record at index i of a batch and returns it as an
// article to store. An id or mailing_list sent as null is one not sent.
func (r *articleRecord) record(i int, errs *batchErrors) queries.NewArticle {
	text := func(field string, f optional.Field[string], max int) string {
		if !required(f, i, field, errs) {
			return ""
		}
		if err := rules.Text(f.Value, max); err != nil {
			errs.add(i, field, "%v", err)
			return ""
		}
		return f.Value
	}
	a := queries.NewArticle{
		FromName:   text("from_name", r.FromName, rules.NameMax),
		FromDomain: text("from_domain", r.FromDomain, rules.NameMax),
		Title:      text("title", r.Title, rules.TitleMax),
	}
	if r.ID.Present() {
		if !rules.ValidUUID(r.ID.Value) {
			errs.add(i, "id", "must be a UUID")
		}
		a.ID = r.ID.Value
	}
	if required(r.ToUserID, i, "to_user_id", errs) {
		if rules.ValidUUID(r.ToUserID.Value) {
			a.ToUserID = strings.ToLower(r.ToUserID.Value)
		} else {
			errs.add(i, "to_user_id", "must be a UUID")
		}
	}
	if r.MailingList.Present() {
		a.MailingList = new(text("mailing_list", r.MailingList, rules.NameMax))
	}
	if required(r.CreatedAt, i, "created_at", errs) {
		a.CreatedAt = timestamp(r.CreatedAt.Value, i, "created_at", errs)
	}
	return a
}

// bulkArticles stores up to articlesBulkMax articles, all or nothing, in one
// statement. Every invalid record is reported with its index; an id already
// stored (or repeated in the body) is counted as a duplicate and not stored
// again.
//
// A token bound to a user writes only that user's articles, and may not
// choose their ids: whether an id it sent was a duplicate would tell it
// whether another user's article has that id.
func (s *Server) bulkArticles(c *gin.Context) error {
	batch, err := decodeBatch(c.Request, articlesBulkMax, (*articleRecord).record)
	if err != nil {
		return err
	}
	if bound := strings.ToLower(principalOf(c).UserID); bound != "" {
		for i, a := range batch {
			switch {
			case a.ToUserID != bound:
				return forbidden("record %d: the token may write only its own user's articles", i)
			case a.ID != "":
				return forbidden("record %d: a token bound to a user cannot choose article ids; leave id out and canopy assigns one", i)
			}
		}
	}
	result, err := s.store.InsertArticles(c.Request.Context(), batch)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"received": result.Received, "inserted": result.Inserted, "duplicates": result.Duplicates})
	return nil
}

// updateArticle marks an article read or unread. A token bound to a user may
// change only that user's articles; another's is 404, as an unknown id is.
func (s *Server) updateArticle(c *gin.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req struct {
		IsRead optional.Field[bool] `json:"is_read"`
	}
	if err := decodeJSON(c.Request, &req); err != nil {
		return err
	}
	if !req.IsRead.Present() {
		return invalid("is_read", "is required and must be true or false")
	}
	a, err := s.store.MarkArticle(c.Request.Context(), id, req.IsRead.Value, principalOf(c).UserID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toArticleJSON(a, time.UTC))
	return nil
}

type newsletterJSON struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Domain      *string `json:"domain"`
	MailingList *string `json:"mailing_list"`
	ImageURL    string  `json:"image_url"`
}

// createNewsletter adds a newsletter, whose image then shows on the articles
// of its mailing list or, failing that, of its domain.
func (s *Server) createNewsletter(c *gin.Context) error {
	var req struct {
		Name        string  `json:"name"`
		Domain      *string `json:"domain"`
		MailingList *string `json:"mailing_list"`
		ImageURL    string  `json:"image_url"`
	}
	if principalOf(c).UserID != "" {
		return forbidden("a token bound to a user cannot write newsletters: they are shared by every user")
	}
	if err := decodeJSON(c.Request, &req); err != nil {
		return err
	}
	var errs []queries.FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, queries.FieldError{Index: -1, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	req.Name = strings.TrimSpace(req.Name)
	if err := rules.Text(req.Name, rules.NameMax); err != nil {
		bad("name", "%v", err)
	}
	for _, f := range []struct {
		name  string
		value *string
	}{{"domain", req.Domain}, {"mailing_list", req.MailingList}} {
		if f.value == nil {
			continue
		}
		if err := rules.Text(*f.value, rules.NameMax); err != nil {
			bad(f.name, "%v", err)
		}
	}
	if req.Domain == nil && req.MailingList == nil {
		bad("domain", "%v", rules.ErrNewsletterTarget)
	}
	if err := rules.ImageURL(req.ImageURL); err != nil {
		bad("image_url", "%v", err)
	}
	if len(errs) > 0 {
		return &queries.ValidationError{Errors: errs}
	}
	n, err := s.store.CreateNewsletter(c.Request.Context(), queries.Newsletter{
		Name: req.Name, Domain: req.Domain, MailingList: req.MailingList, ImageURL: req.ImageURL})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, newsletterJSON{ID: n.ID, Name: n.Name, Domain: n.Domain, MailingList: n.MailingList, ImageURL: n.ImageURL})
	return nil
}

// userMonth parses the user and month of a listing or calendar request and
// checks that the token may read that user's articles.
func userMonth(c *gin.Context) (userID string, month queries.Month, err error) {
	if userID, err = pathUUID(c, "user_id"); err != nil {
		return "", queries.Month{}, err
	}
	if err = mayReadArticlesOf(c, userID); err != nil {
		return "", queries.Month{}, err
	}
	month, err = monthQuery(c)
	return userID, month, err
}

// monthQuery parses the month a listing asks for: year and month, required,
// and tz, an IANA time zone name, UTC when absent. A value that does not
// parse is 400; a year outside 1..9999, a month outside 1..12 or an unknown
// zone is 422.
func monthQuery(c *gin.Context) (queries.Month, error) {
	year, err := queryInt(c, "year", 1, 9999)
	if err != nil {
		return queries.Month{}, err
	}
	month, err := queryInt(c, "month", 1, 12)
	if err != nil {
		return queries.Month{}, err
	}
	switch {
	case year == nil:
		return queries.Month{}, badRequest("year is required")
	case month == nil:
		return queries.Month{}, badRequest("month is required")
	}
	loc := time.UTC
	if name, ok := c.GetQuery("tz"); ok {
		// "Local" and "" would be the server's own zone and UTC: not IANA names.
		if name == "" || name == "Local" || len(name) > tzNameMax {
			return queries.Month{}, invalid("tz", "must be an IANA time zone name such as Asia/Seoul")
		}
		if loc, err = time.LoadLocation(name); err != nil {
			return queries.Month{}, invalid("tz", "unknown time zone %q", name)
		}
	}
	return queries.Month{Year: *year, Month: time.Month(*month), Loc: loc}, nil
}

// A cursor is the unpadded base64url form of 25 bytes: a version byte (1),
// the created_at of the last article shown as big-endian Unix microseconds
// (PostgreSQL's precision), and its id's 16 bytes. It is opaque to clients.
const cursorVersion = 1

func encodeCursor(k queries.ArticleKey) string {
	var b [25]byte
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(k.CreatedAt.UnixMicro()))
	_, _ = hex.Decode(b[9:], []byte(strings.ReplaceAll(k.ID, "-", ""))) // ids come from the database: valid
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeCursor reads a cursor of the listing of month: 400 unless it is one
// encodeCursor could have written for that month.
func decodeCursor(s string, m queries.Month) (*queries.ArticleKey, error) {
	bad := badRequest("cursor %q is not a cursor of this listing", s)
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 25 || b[0] != cursorVersion {
		return nil, bad
	}
	at := time.UnixMicro(int64(binary.BigEndian.Uint64(b[1:9]))).UTC()
	if at.Before(m.Start()) || !at.Before(m.End()) {
		return nil, bad
	}
	h := hex.EncodeToString(b[9:])
	id := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	return &queries.ArticleKey{CreatedAt: at, ID: id}, nil
}
