package server

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"canopy/auth"
)

// Users of the article tests.
const (
	alice = "a11ce000-0000-4000-8000-000000000001"
	bob   = "b0b00000-0000-4000-8000-000000000002"
)

type articlePageJSON struct {
	UserID     string        `json:"user_id"`
	Year       int           `json:"year"`
	Month      int           `json:"month"`
	TZ         string        `json:"tz"`
	Articles   []articleJSON `json:"articles"`
	NextCursor *string       `json:"next_cursor"`
}

type calendarJSON struct {
	Days []struct {
		Date   string `json:"date"`
		Count  int    `json:"count"`
		Unread int    `json:"unread"`
	} `json:"days"`
}

type bulkCounts struct {
	Received   int `json:"received"`
	Inserted   int `json:"inserted"`
	Duplicates int `json:"duplicates"`
}

// rec is a bulk record to user at the instant at, titled title.
func rec(user, title, at string) map[string]any {
	return map[string]any{"to_user_id": user, "from_name": "News", "from_domain": "news.example", "title": title, "created_at": at}
}

// postArticles stores records through the API and returns the counts.
func postArticles(t *testing.T, ts *testServer, token string, records []map[string]any) bulkCounts {
	t.Helper()
	r := ts.do("POST", "/api/v1/articles/bulk", records, bearer(token)...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("bulk: %d %s", r.StatusCode, r.Body)
	}
	var c bulkCounts
	r.decode(t, &c)
	return c
}

// month lists a user's articles of a month through the API.
func listMonth(t *testing.T, ts *testServer, token, user, query string) articlePageJSON {
	t.Helper()
	r := ts.do("GET", "/api/v1/users/"+user+"/articles?"+query, nil, bearer(token)...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("list %s: %d %s", query, r.StatusCode, r.Body)
	}
	var p articlePageJSON
	r.decode(t, &p)
	return p
}

func titles(p articlePageJSON) []string {
	out := make([]string, len(p.Articles))
	for i, a := range p.Articles {
		out[i] = a.Title
	}
	return out
}

func TestArticleListing(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeArticlesWrite)
	read := ts.token(auth.ScopeArticlesRead)
	for _, body := range []string{
		`{"name":"Weekly","mailing_list":"weekly@lists.example","image_url":"https://img.example/weekly.png"}`,
		`{"name":"News","domain":"news.example","image_url":"https://img.example/news.png"}`,
		`{"name":"News again","domain":"news.example","mailing_list":null,"image_url":"https://img.example/news-2.png"}`,
	} {
		if r := ts.do("POST", "/api/v1/newsletters", body, bearer(w)...); r.StatusCode != http.StatusCreated {
			t.Fatalf("newsletter %s: %d %s", body, r.StatusCode, r.Body)
		}
	}
	listed := rec(alice, "from the weekly list", "2024-11-05T09:00:00Z")
	listed["mailing_list"] = "weekly@lists.example"
	listed["id"] = "11111111-1111-4111-8111-111111111111"
	unknown := rec(alice, "from nowhere", "2024-11-06T09:00:00Z")
	unknown["from_domain"] = "nowhere.example"
	counts := postArticles(t, ts, w, []map[string]any{
		rec(alice, "Oct 31 in UTC, Nov 1 in Seoul", "2024-10-31T20:00:00Z"),
		listed, unknown,
		rec(alice, "Dec 1 in Seoul", "2024-11-30T15:00:00Z"),
		rec(bob, "bob's", "2024-11-10T00:00:00Z"),
	})
	if counts != (bulkCounts{Received: 5, Inserted: 5}) {
		t.Errorf("counts %+v", counts)
	}

	seoul := listMonth(t, ts, read, alice, "year=2024&month=11&tz=Asia/Seoul")
	if got := titles(seoul); !slices.Equal(got, []string{"from nowhere", "from the weekly list", "Oct 31 in UTC, Nov 1 in Seoul"}) {
		t.Errorf("Seoul November: %q", got)
	}
	if seoul.TZ != "Asia/Seoul" || seoul.Year != 2024 || seoul.Month != 11 || seoul.UserID != alice || seoul.NextCursor != nil {
		t.Errorf("page %+v", seoul)
	}
	if _, offset := seoul.Articles[2].CreatedAt.Zone(); offset != 9*3600 || !seoul.Articles[2].CreatedAt.Equal(time.Date(2024, 10, 31, 20, 0, 0, 0, time.UTC)) {
		t.Errorf("created_at %v, want 2024-11-01T05:00:00+09:00", seoul.Articles[2].CreatedAt)
	}
	images := map[string]string{}
	for _, a := range seoul.Articles {
		images[a.Title] = deref(a.ImageURL)
	}
	if want := map[string]string{"from the weekly list": "https://img.example/weekly.png", "from nowhere": "<nil>",
		"Oct 31 in UTC, Nov 1 in Seoul": "https://img.example/news.png"}; !maps.Equal(images, want) {
		t.Errorf("images %v, want %v", images, want)
	}
	utc := listMonth(t, ts, read, alice, "year=2024&month=11")
	if got := titles(utc); !slices.Equal(got, []string{"Dec 1 in Seoul", "from nowhere", "from the weekly list"}) || utc.TZ != "UTC" {
		t.Errorf("UTC November: %q, tz %q", got, utc.TZ)
	}

	r := ts.do("PATCH", "/api/v1/articles/11111111-1111-4111-8111-111111111111", `{"is_read":true}`, bearer(w)...)
	var marked articleJSON
	r.decode(t, &marked)
	if r.StatusCode != http.StatusOK || !marked.IsRead || marked.ToUserID != alice || deref(marked.ImageURL) != "https://img.example/weekly.png" {
		t.Errorf("patch: %d %s", r.StatusCode, r.Body)
	}

	var cal calendarJSON
	ts.do("GET", "/api/v1/users/"+alice+"/articles/calendar?year=2024&month=11&tz=Asia/Seoul", nil, bearer(read)...).decode(t, &cal)
	if len(cal.Days) != 30 || cal.Days[0].Date != "2024-11-01" || cal.Days[29].Date != "2024-11-30" {
		t.Fatalf("calendar %+v", cal)
	}
	want := map[string][2]int{"2024-11-01": {1, 1}, "2024-11-05": {1, 0}, "2024-11-06": {1, 1}}
	for _, d := range cal.Days {
		if w := want[d.Date]; d.Count != w[0] || d.Unread != w[1] {
			t.Errorf("%s: %d articles, %d unread; want %v", d.Date, d.Count, d.Unread, w)
		}
	}
	ts.do("GET", "/api/v1/users/"+alice+"/articles/calendar?year=2024&month=2", nil, bearer(read)...).decode(t, &cal)
	if len(cal.Days) != 29 {
		t.Errorf("February 2024 has %d days", len(cal.Days))
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// Pages of 7 over a month of 50 articles, many sharing a created_at, cover
// the month exactly once and in order, each page one statement.
func TestArticleCursorPages(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeArticlesWrite)
	read := ts.token(auth.ScopeArticlesRead)
	var records []map[string]any
	for i := range 50 {
		at := time.Date(2024, 3, 1, 5, 0, 0, 0, time.UTC).Add(time.Duration(i/4) * 61 * time.Hour)
		records = append(records, rec(alice, fmt.Sprintf("march %02d", i), at.Format(time.RFC3339)))
	}
	records = append(records,
		rec(alice, "February in New York", "2024-03-01T04:59:59Z"),
		rec(alice, "April in New York", "2024-04-01T04:00:00Z"),
		rec(bob, "bob's", "2024-03-10T00:00:00Z"))
	postArticles(t, ts, w, records)
	all := listMonth(t, ts, read, alice, "year=2024&month=3&tz=America/New_York&limit=1000")
	if len(all.Articles) != 50 {
		t.Fatalf("March holds %d articles, want 50: %q", len(all.Articles), titles(all))
	}
	for i := 1; i < len(all.Articles); i++ {
		a, b := all.Articles[i-1], all.Articles[i]
		if a.CreatedAt.Before(b.CreatedAt.Time) || a.CreatedAt.Equal(b.CreatedAt.Time) && a.ID <= b.ID {
			t.Fatalf("not newest first, then id descending: %+v before %+v", a, b)
		}
	}

	var got []string
	query := "year=2024&month=3&tz=America/New_York&limit=7"
	for pages := 1; ; pages++ {
		r := ts.do("GET", "/api/v1/users/"+alice+"/articles?"+query, nil, bearer(read)...)
		r.wantQueries(t, 1)
		var p articlePageJSON
		r.decode(t, &p)
		for _, a := range p.Articles {
			got = append(got, a.ID)
		}
		if p.NextCursor == nil {
			if pages != 8 || len(p.Articles) != 1 {
				t.Errorf("last page is page %d with %d articles; want page 8 with 1", pages, len(p.Articles))
			}
			break
		}
		if len(p.Articles) != 7 || pages > 8 {
			t.Fatalf("page %d: %d articles and a next cursor", pages, len(p.Articles))
		}
		query = "year=2024&month=3&tz=America/New_York&limit=7&cursor=" + url.QueryEscape(*p.NextCursor)
	}
	want := make([]string, len(all.Articles))
	for i, a := range all.Articles {
		want[i] = a.ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages:\n%v\nwant the month once each:\n%v", got, want)
	}
}

// Who may read and write articles.
func TestArticleAccess(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeArticlesWrite)
	postArticles(t, ts, w, []map[string]any{
		{"id": "11111111-1111-4111-8111-111111111111", "to_user_id": alice, "from_name": "N", "from_domain": "d.example", "title": "alice's", "created_at": "2024-11-01T00:00:00Z"},
		{"id": "22222222-2222-4222-8222-222222222222", "to_user_id": bob, "from_name": "N", "from_domain": "d.example", "title": "bob's", "created_at": "2024-11-01T00:00:00Z"},
	})
	aliceToken := ts.userToken(alice, auth.ScopeArticlesRead, auth.ScopeArticlesWrite)
	reader := ts.token(auth.ScopeArticlesRead)
	admin := ts.token(auth.ScopeAdmin)
	other := ts.token(auth.ScopeSettlementsRead)
	month := "/articles?year=2024&month=11"
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		token  string
		status int
		code   string
	}{
		{"no token", "GET", "/api/v1/users/" + alice + month, "", "", 401, "unauthorized"},
		{"token without the scope", "GET", "/api/v1/users/" + alice + month, "", other, 403, "forbidden"},
		{"reader", "GET", "/api/v1/users/" + alice + month, "", reader, 200, ""},
		{"admin", "GET", "/api/v1/users/" + bob + month, "", admin, 200, ""},
		{"user-bound token, own articles", "GET", "/api/v1/users/" + alice + month, "", aliceToken, 200, ""},
		{"user-bound token, own id in capitals", "GET", "/api/v1/users/" + strings.ToUpper(alice) + month, "", aliceToken, 200, ""},
		{"user-bound token, another user's articles", "GET", "/api/v1/users/" + bob + month, "", aliceToken, 403, "forbidden"},
		{"user-bound token, another user's calendar", "GET", "/api/v1/users/" + bob + "/articles/calendar?year=2024&month=11", "", aliceToken, 403, "forbidden"},
		{"user-bound token marks its own article", "PATCH", "/api/v1/articles/11111111-1111-4111-8111-111111111111", `{"is_read":true}`, aliceToken, 200, ""},
		{"user-bound token cannot see another's article", "PATCH", "/api/v1/articles/22222222-2222-4222-8222-222222222222", `{"is_read":true}`, aliceToken, 404, "not_found"},
		{"reader cannot write", "POST", "/api/v1/articles/bulk", `[]`, reader, 403, "forbidden"},
		{"reader cannot add newsletters", "POST", "/api/v1/newsletters", `{"name":"x","domain":"d","image_url":"https://x.example/i.png"}`, reader, 403, "forbidden"},
		{"user-bound token stores its own article", "POST", "/api/v1/articles/bulk",
			`[{"to_user_id":"` + strings.ToUpper(alice) + `","from_name":"N","from_domain":"d.example","title":"new","created_at":"2024-11-02T00:00:00Z"}]`, aliceToken, 200, ""},
		{"user-bound token cannot store another user's article", "POST", "/api/v1/articles/bulk",
			`[{"to_user_id":"` + alice + `","from_name":"N","from_domain":"d.example","title":"t","created_at":"2024-11-02T00:00:00Z"},` +
				`{"to_user_id":"` + bob + `","from_name":"N","from_domain":"d.example","title":"planted","created_at":"2024-11-02T00:00:00Z"}]`, aliceToken, 403, "forbidden"},
		// Were ids allowed, "duplicates" would tell whether another user's article has the id.
		{"user-bound token cannot choose an id", "POST", "/api/v1/articles/bulk",
			`[{"id":"22222222-2222-4222-8222-222222222222","to_user_id":"` + alice + `","from_name":"N","from_domain":"d.example","title":"t","created_at":"2024-11-02T00:00:00Z"}]`, aliceToken, 403, "forbidden"},
		{"user-bound token cannot choose a fresh id either", "POST", "/api/v1/articles/bulk",
			`[{"id":"44444444-4444-4444-8444-444444444444","to_user_id":"` + alice + `","from_name":"N","from_domain":"d.example","title":"t","created_at":"2024-11-02T00:00:00Z"}]`, aliceToken, 403, "forbidden"},
		{"user-bound token cannot add newsletters", "POST", "/api/v1/newsletters", `{"name":"pixel","domain":"d.example","image_url":"https://x.example/i.png"}`, aliceToken, 403, "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.token != "" {
				headers = bearer(tt.token)
			}
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := ts.do(tt.method, tt.path, body, headers...)
			if r.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", r.StatusCode, r.Body, tt.status)
			}
			if tt.code != "" && r.problem(t).Code != tt.code {
				t.Errorf("code %s, want %s", r.problem(t).Code, tt.code)
			}
		})
	}
	var stored struct {
		Newsletters, Bob, Alice int
	}
	if err := ts.db.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM newsletters),
		count(*) FILTER (WHERE to_user_id = $1), count(*) FILTER (WHERE to_user_id = $2) FROM articles`, bob, alice).
		Scan(&stored.Newsletters, &stored.Bob, &stored.Alice); err != nil {
		t.Fatal(err)
	}
	if stored.Newsletters != 0 || stored.Bob != 1 || stored.Alice != 2 {
		t.Errorf("stored %+v, want no newsletter, bob's one article and alice's two", stored)
	}
	var p articlePageJSON
	ts.do("GET", "/api/v1/users/"+strings.ToUpper(alice)+month, nil, bearer(aliceToken)...).decode(t, &p)
	if p.UserID != alice || len(p.Articles) != 2 || p.Articles[0].Title != "new" || !p.Articles[1].IsRead {
		t.Errorf("alice's month %+v", p)
	}
}

// Bad parameters are 400 (does not parse) or 422 (out of range), never 500.
func TestArticleBadParameters(t *testing.T) {
	ts := newTestServer(t)
	read := ts.token(auth.ScopeArticlesRead, auth.ScopeSettlementsRead)
	postArticles(t, ts, ts.token(auth.ScopeArticlesWrite), []map[string]any{
		rec(alice, "a", "2024-11-01T00:00:00Z"), rec(alice, "b", "2024-11-02T00:00:00Z"), rec(alice, "c", "2024-10-02T00:00:00Z")})
	p := listMonth(t, ts, read, alice, "year=2024&month=11&limit=1")
	if p.NextCursor == nil {
		t.Fatal("no next cursor")
	}
	novemberCursor := url.QueryEscape(*p.NextCursor)
	list := "/api/v1/users/" + alice + "/articles?"
	tests := []struct {
		name   string
		path   string
		status int
		field  string
	}{
		{"month 13", list + "year=2024&month=13", 422, "month"},
		{"month 0", list + "year=2024&month=0", 422, "month"},
		{"month not a number", list + "year=2024&month=nov", 400, ""},
		{"month missing", list + "year=2024", 400, ""},
		{"year 0", list + "year=0&month=1", 422, "year"},
		{"year 10000", list + "year=10000&month=1", 422, "year"},
		{"year missing", list + "month=1", 400, ""},
		{"year huge", list + "year=99999999999999999999&month=1", 400, ""},
		{"unknown time zone", list + "year=2024&month=11&tz=Mars/Olympus_Mons", 422, "tz"},
		{"Local is not a zone name", list + "year=2024&month=11&tz=Local", 422, "tz"},
		{"empty time zone", list + "year=2024&month=11&tz=", 422, "tz"},
		{"path in the time zone", list + "year=2024&month=11&tz=../../etc/passwd", 422, "tz"},
		{"limit 0", list + "year=2024&month=11&limit=0", 422, "limit"},
		{"limit 1001", list + "year=2024&month=11&limit=1001", 422, "limit"},
		{"limit not a number", list + "year=2024&month=11&limit=ten", 400, ""},
		{"garbage cursor", list + "year=2024&month=11&cursor=garbage!", 400, ""},
		{"cursor of the wrong length", list + "year=2024&month=11&cursor=AAAA", 400, ""},
		{"cursor with padding", list + "year=2024&month=11&cursor=" + novemberCursor + "%3D", 400, ""},
		{"cursor of another month", list + "year=2024&month=10&cursor=" + novemberCursor, 400, ""},
		{"cursor of another time zone's month", list + "year=2024&month=12&tz=Pacific/Kiritimati&cursor=" + novemberCursor, 400, ""},
		{"malformed user id", "/api/v1/users/not-a-uuid/articles?year=2024&month=11", 400, ""},
		{"user id with a stray character", "/api/v1/users/" + alice + "x/articles?year=2024&month=11", 400, ""},
		{"calendar month 13", "/api/v1/users/" + alice + "/articles/calendar?year=2024&month=13", 422, "month"},
		{"calendar unknown time zone", "/api/v1/users/" + alice + "/articles/calendar?year=2024&month=1&tz=Nowhere", 422, "tz"},
		{"calendar malformed user id", "/api/v1/users/12345/articles/calendar?year=2024&month=1", 400, ""},
		{"settlements month 13", "/api/v1/settlements?year=2024&month=13", 422, "month"},
		{"settlements unknown time zone", "/api/v1/settlements?year=2024&month=1&tz=Asia/Nowhere", 422, "tz"},
		{"settlements year missing", "/api/v1/settlements?month=1", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do("GET", tt.path, nil, bearer(read)...)
			if r.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", r.StatusCode, r.Body, tt.status)
			}
			p := r.problem(t)
			if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field || p.Code != "validation") {
				t.Errorf("problem %+v, want a validation error on %s", p, tt.field)
			}
			if tt.field == "" && p.Code != "bad_request" {
				t.Errorf("code %s, want bad_request", p.Code)
			}
		})
	}
	// The cursor is still good for its own month.
	if p := listMonth(t, ts, read, alice, "year=2024&month=11&cursor="+novemberCursor); len(p.Articles) != 1 || p.NextCursor != nil {
		t.Errorf("second page %+v", p)
	}
}

func TestArticleWrites(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeArticlesWrite)
	good := func() map[string]any { return rec(alice, "good", "2024-11-01T00:00:00Z") }
	with := func(field string, v any) []map[string]any {
		r := good()
		if v == nil {
			delete(r, field)
		} else {
			r[field] = v
		}
		return []map[string]any{good(), r}
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		field  string // the invalid field, at index 1 for a batch
	}{
		{"bulk without to_user_id", "POST", "/api/v1/articles/bulk", with("to_user_id", nil), 422, "to_user_id"},
		{"bulk with a malformed to_user_id", "POST", "/api/v1/articles/bulk", with("to_user_id", "alice"), 422, "to_user_id"},
		{"bulk with a malformed id", "POST", "/api/v1/articles/bulk", with("id", "1"), 422, "id"},
		{"bulk without title", "POST", "/api/v1/articles/bulk", with("title", nil), 422, "title"},
		{"bulk with a blank title", "POST", "/api/v1/articles/bulk", with("title", "  "), 422, "title"},
		{"bulk with NUL in the title", "POST", "/api/v1/articles/bulk", with("title", "a\x00b"), 422, "title"},
		{"bulk with a long from_name", "POST", "/api/v1/articles/bulk", with("from_name", strings.Repeat("n", 201)), 422, "from_name"},
		{"bulk without from_domain", "POST", "/api/v1/articles/bulk", with("from_domain", nil), 422, "from_domain"},
		{"bulk with an empty mailing_list", "POST", "/api/v1/articles/bulk", with("mailing_list", ""), 422, "mailing_list"},
		{"bulk with a date, not a timestamp", "POST", "/api/v1/articles/bulk", with("created_at", "2024-11-01"), 422, "created_at"},
		{"bulk with a timestamp without offset", "POST", "/api/v1/articles/bulk", with("created_at", "2024-11-01T00:00:00"), 422, "created_at"},
		{"bulk with a number for a title", "POST", "/api/v1/articles/bulk", with("title", 12), 422, "title"},
		{"bulk with an unknown field", "POST", "/api/v1/articles/bulk", with("colour", "red"), 422, "colour"},
		{"bulk record not an object", "POST", "/api/v1/articles/bulk", `[{"to_user_id":"` + alice + `","from_name":"N","from_domain":"d","title":"t","created_at":"2024-11-01T00:00:00Z"}, 7]`, 422, "(record)"},
		{"bulk not an array", "POST", "/api/v1/articles/bulk", `{"title":"x"}`, 422, ""},
		{"bulk over the row limit", "POST", "/api/v1/articles/bulk", "[" + strings.TrimSuffix(strings.Repeat("{},", 10_001), ",") + "]", 413, ""},
		{"patch without is_read", "PATCH", "/api/v1/articles/11111111-1111-4111-8111-111111111111", `{}`, 422, "is_read"},
		{"patch with is_read null", "PATCH", "/api/v1/articles/11111111-1111-4111-8111-111111111111", `{"is_read":null}`, 422, "is_read"},
		{"patch with is_read a string", "PATCH", "/api/v1/articles/11111111-1111-4111-8111-111111111111", `{"is_read":"yes"}`, 422, "is_read"},
		{"patch an unknown article", "PATCH", "/api/v1/articles/99999999-9999-4999-8999-999999999999", `{"is_read":true}`, 404, ""},
		{"patch a malformed id", "PATCH", "/api/v1/articles/42", `{"is_read":true}`, 400, ""},
		{"newsletter without image_url", "POST", "/api/v1/newsletters", `{"name":"N","domain":"d.example"}`, 422, "image_url"},
		{"newsletter with a relative image_url", "POST", "/api/v1/newsletters", `{"name":"N","domain":"d.example","image_url":"/i.png"}`, 422, "image_url"},
		{"newsletter with neither domain nor list", "POST", "/api/v1/newsletters", `{"name":"N","image_url":"https://x.example/i.png"}`, 422, "domain"},
		{"newsletter with a blank name", "POST", "/api/v1/newsletters", `{"name":" ","domain":"d.example","image_url":"https://x.example/i.png"}`, 422, "name"},
		{"newsletter with an empty domain", "POST", "/api/v1/newsletters", `{"name":"N","domain":"","image_url":"https://x.example/i.png"}`, 422, "domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(tt.method, tt.path, tt.body, bearer(w)...)
			if r.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", r.StatusCode, r.Body, tt.status)
			}
			p := r.problem(t)
			if tt.field != "" {
				if len(p.Errors) == 0 || p.Errors[0].Field != tt.field {
					t.Fatalf("errors %+v, want one on %s", p.Errors, tt.field)
				}
				if batch := tt.path == "/api/v1/articles/bulk"; batch && (p.Errors[0].Index == nil || *p.Errors[0].Index != 1) ||
					!batch && p.Errors[0].Index != nil {
					t.Errorf("error %+v: wrong index", p.Errors[0])
				}
			}
		})
	}
	var n int
	if err := ts.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM articles`).Scan(&n); err != nil || n != 0 {
		t.Errorf("refused batches stored %d articles (%v)", n, err)
	}

	// Every invalid record of a batch is reported.
	r := ts.do("POST", "/api/v1/articles/bulk", []map[string]any{good(), {"title": "t"}, good(), rec("x", "t", "now")}, bearer(w)...)
	var fields []string
	for _, e := range r.problem(t).Errors {
		fields = append(fields, fmt.Sprintf("%d:%s", *e.Index, e.Field))
	}
	if want := []string{"1:from_name", "1:from_domain", "1:to_user_id", "1:created_at", "3:to_user_id", "3:created_at"}; !slices.Equal(fields, want) {
		t.Errorf("errors %v, want %v", fields, want)
	}

	// Ids: given, generated, already stored, repeated in the body.
	first := good()
	first["id"] = "33333333-3333-4333-8333-333333333333"
	if c := postArticles(t, ts, w, []map[string]any{first, good()}); c != (bulkCounts{Received: 2, Inserted: 2}) {
		t.Errorf("first batch %+v", c)
	}
	again := good()
	again["id"] = "44444444-4444-4444-8444-444444444444"
	if c := postArticles(t, ts, w, []map[string]any{first, again, again, good()}); c != (bulkCounts{Received: 4, Inserted: 2, Duplicates: 2}) {
		t.Errorf("second batch %+v", c)
	}
	if c := postArticles(t, ts, w, []map[string]any{}); c != (bulkCounts{}) {
		t.Errorf("empty batch %+v", c)
	}
	var created newsletterJSON
	r = ts.do("POST", "/api/v1/newsletters", `{"name":"Weekly","mailing_list":"w@lists.example","image_url":"https://x.example/w.png"}`, bearer(w)...)
	r.decode(t, &created)
	if r.StatusCode != http.StatusCreated || created.ID < 1 || created.Domain != nil || deref(created.MailingList) != "w@lists.example" {
		t.Errorf("newsletter: %d %s", r.StatusCode, r.Body)
	}
}

// Every listing endpoint runs the same number of statements on 10 articles
// and 5 purchases as on 5,000 articles and 2,000 purchases: one, and the
// settlement one more to read its version.
func TestListingQueryBudgets(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeArticlesWrite)
	read := ts.token(auth.ScopeArticlesRead, auth.ScopeSettlementsRead)
	ctx := context.Background()
	seedAcademy(t, ts)
	seed := func(articles, purchases int) {
		t.Helper()
		if _, err := ts.db.Pool.Exec(ctx, `
			INSERT INTO articles (to_user_id, from_name, from_domain, mailing_list, title, created_at)
			SELECT CASE WHEN g % 2 = 0 THEN $2::uuid ELSE $3::uuid END, 'N', 'news.example', CASE WHEN g % 3 = 0 THEN 'weekly@lists.example' END,
			       'seeded ' || g, '2024-11-01T00:00:00Z'::timestamptz + g * interval '7 minutes'
			FROM generate_series(1, $1::int) g`, articles, alice, bob); err != nil {
			t.Fatal(err)
		}
		if _, err := ts.db.Pool.Exec(ctx, `
			INSERT INTO purchases (product_type, product_id, buyer, price, refund, status, purchased_at)
			SELECT (ARRAY['course', 'package', 'kit'])[g % 3 + 1], CASE g % 3 WHEN 0 THEN 30 WHEN 1 THEN 7 ELSE 5 END,
			       'buyer ' || g, 1000 + g, 0, 'paid', '2024-11-01T00:00:00Z'::timestamptz + g * interval '10 minutes'
			FROM generate_series(1, $1::int) g`, purchases); err != nil {
			t.Fatal(err)
		}
	}
	measure := func() map[string]int {
		counts := map[string]int{}
		run := func(name, method, path string, body any, status int) response {
			token := w
			if method == "GET" {
				token = read
			}
			r := ts.do(method, path, body, bearer(token)...)
			if r.StatusCode != status {
				t.Fatalf("%s: %d %s", name, r.StatusCode, r.Body)
			}
			counts[name] = r.queries(t)
			return r
		}
		var page articlePageJSON
		run("list", "GET", "/api/v1/users/"+alice+"/articles?year=2024&month=11&tz=Asia/Seoul&limit=3", nil, 200).decode(t, &page)
		run("list after a cursor", "GET", "/api/v1/users/"+alice+"/articles?year=2024&month=11&tz=Asia/Seoul&limit=3&cursor="+url.QueryEscape(*page.NextCursor), nil, 200)
		run("calendar", "GET", "/api/v1/users/"+alice+"/articles/calendar?year=2024&month=11&tz=Asia/Seoul", nil, 200)
		run("bulk", "POST", "/api/v1/articles/bulk", []map[string]any{rec(alice, "x", "2024-11-20T00:00:00Z"), rec(bob, "y", "2024-11-20T00:00:00Z")}, 200)
		run("patch", "PATCH", "/api/v1/articles/"+page.Articles[0].ID, `{"is_read":true}`, 200)
		run("newsletter", "POST", "/api/v1/newsletters", `{"name":"N","domain":"news.example","image_url":"https://x.example/n.png"}`, 201)
		run("settlements", "GET", "/api/v1/settlements?year=2024&month=11&tz=Asia/Seoul", nil, 200)
		return counts
	}
	seed(10, 5)
	small := measure()
	seed(5_000-10, 2_000-5)
	large := measure()
	for name, n := range small {
		budget := 1
		if name == "settlements" {
			budget = 2 // the settlement version, then the month (settled anew after the writes)
		}
		if n != budget || large[name] != n {
			t.Errorf("%s: %d statements at 10 articles and 5 purchases, %d at 5,000 and 2,000; budget %d", name, n, large[name], budget)
		}
	}
}
