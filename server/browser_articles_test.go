package server

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"canopy/auth"
)

// Readers of the article demo: hana gets most articles.
const (
	hana = "3f2b8c1e-7a4d-4e2b-9c1a-5d6e7f8a9b01"
	joon = "8d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c04"
)

type demoSender struct {
	name, domain, list string
	logo               string // "" for no newsletter; "missing" for one whose image fails to load
}

var demoSenders = []demoSender{
	{"Morning Brew", "morningbrew.com", "brew-daily", "brew"},
	{"The Verge", "theverge.com", "", "verge"},
	{"Hacker Newsletter", "hackernewsletter.com", "hn-weekly", "hn"},
	{"Korea Herald", "koreaherald.com", "", "missing"},
	{"Stratechery", "stratechery.com", "", ""},
	{"Go Weekly", "golangweekly.com", "go-weekly", "gopher"},
}

var demoTitles = []string{
	"The week in markets: rates hold, chips rally",
	"Hands-on with the new foldables",
	"Why PostgreSQL's recursive CTEs are underrated",
	"Seoul's subway adds late-night trains",
	"Aggregation theory, ten years on",
	"Go 1.24: what changed in the runtime",
	"Five tools for faster code review",
	"The quiet comeback of server-rendered HTML",
	"Inside the chip supply chain",
	"Weekend reads: long-form picks",
	"How a hospital cut alert fatigue in half",
	"Keyset pagination, explained with pictures",
}

// logoServer serves newsletter logos over TLS (the CSP admits https images):
// a generated 64×64 PNG per name, and 404 for "missing".
func logoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/logo/"), ".png")
		if name == "missing" || name == "" {
			http.NotFound(w, r)
			return
		}
		h := fnv.New32a()
		h.Write([]byte(name))
		sum := h.Sum32()
		bg := color.RGBA{uint8(40 + sum%140), uint8(60 + (sum>>8)%140), uint8(80 + (sum>>16)%140), 255}
		img := image.NewRGBA(image.Rect(0, 0, 64, 64))
		for y := range 64 {
			for x := range 64 {
				c := bg
				dx, dy := x-32, y-32
				if dx*dx+dy*dy < 18*18 {
					c = color.RGBA{255, 255, 255, 255}
				}
				if dx*dx+dy*dy < 10*10 {
					c = color.RGBA{bg.R / 2, bg.G / 2, bg.B / 2, 255}
				}
				img.SetRGBA(x, y, c)
			}
		}
		var buf bytes.Buffer
		_ = png.Encode(&buf, img)
		w.Header().Set("Content-Type", "image/png")
		w.Write(buf.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// demoArticle is an article as the demo stores it.
type demoArticle struct {
	user   string
	sender demoSender
	title  string
	at     time.Time
	read   bool
}

// demoArticles spreads hana's articles over October and November 2024
// (Seoul time), a few a day with quiet days between, the older ones read;
// joon gets fewer. One article lands at 01:30 in Seoul, which is the day
// before in UTC.
func demoArticles() []demoArticle {
	seoul, _ := time.LoadLocation("Asia/Seoul")
	var out []demoArticle
	n := 0
	add := func(user string, at time.Time, read bool) {
		out = append(out, demoArticle{user, demoSenders[n%len(demoSenders)], demoTitles[(n*5)%len(demoTitles)], at, read})
		n++
	}
	for _, month := range []time.Month{time.October, time.November} {
		days := time.Date(2024, month+1, 0, 0, 0, 0, 0, seoul).Day()
		for d := 1; d <= days; d++ {
			count := (d*7 + int(month)) % 9 // 0 to 8 a day
			if month == time.October {
				count /= 3
			}
			for i := range count {
				at := time.Date(2024, month, d, 7+(i*5)%15, (i*17)%60, 0, 0, seoul)
				add(hana, at, month == time.October || d < 10 || i%3 == 1)
			}
		}
	}
	for d := 1; d <= 20; d++ {
		add(joon, time.Date(2024, time.November, d, 12, 0, 0, 0, seoul), false)
	}
	add(hana, time.Date(2024, time.November, 6, 1, 30, 0, 0, seoul), false)
	return out
}

// storeArticles writes the newsletters and articles through the API, then
// marks the read ones read in SQL.
func storeArticles(t *testing.T, ts *testServer, logos string, articles []demoArticle) {
	t.Helper()
	writer := ts.token(auth.ScopeArticlesWrite)
	for _, s := range demoSenders {
		if s.logo == "" {
			continue
		}
		body := map[string]any{"name": s.name, "domain": s.domain, "image_url": logos + "/logo/" + s.logo + ".png"}
		if r := ts.do("POST", "/api/v1/newsletters", body, bearer(writer)...); r.StatusCode != http.StatusCreated {
			t.Fatalf("newsletter %s: %d %s", s.name, r.StatusCode, r.Body)
		}
	}
	var records []map[string]any
	for i, a := range articles {
		rec := map[string]any{"id": fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), "to_user_id": a.user,
			"from_name": a.sender.name, "from_domain": a.sender.domain, "title": a.title, "created_at": a.at.Format(time.RFC3339)}
		if a.sender.list != "" {
			rec["mailing_list"] = a.sender.list
		}
		records = append(records, rec)
	}
	postArticles(t, ts, writer, records)
	var read []string
	for i, a := range articles {
		if a.read {
			read = append(read, fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1))
		}
	}
	if _, err := ts.db.Pool.Exec(t.Context(), `UPDATE articles SET is_read = true WHERE id = ANY($1::uuid[])`, read); err != nil {
		t.Fatal(err)
	}
}

// calendarOf counts user's articles per day of a month in a time zone, as
// "date count unread" lines, the way the calendar cells carry them.
func calendarOf(articles []demoArticle, user string, year int, month time.Month, tz string) string {
	loc, _ := time.LoadLocation(tz)
	days := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
	count := make([]int, days+1)
	unread := make([]int, days+1)
	for _, a := range articles {
		at := a.at.In(loc)
		if a.user != user || at.Year() != year || at.Month() != month {
			continue
		}
		count[at.Day()]++
		if !a.read {
			unread[at.Day()]++
		}
	}
	var lines []string
	for d := 1; d <= days; d++ {
		lines = append(lines, fmt.Sprintf("%04d-%02d-%02d %d %d", year, month, d, count[d], unread[d]))
	}
	return strings.Join(lines, "\n")
}

// calendarJS is what the page's calendar cells say, in calendarOf's form.
const calendarJS = `[...document.querySelectorAll('table.calendar td.day')].map((td) =>
	td.dataset.date + ' ' + td.dataset.count + ' ' + td.dataset.unread).join('\n')`

// waitCalendar waits for the calendar to show want (calendarOf's form).
func (p *browserPage) waitCalendar(want, what string) {
	p.t.Helper()
	ctxWant := jsString(want)
	defer func() {
		if p.t.Failed() {
			got, _ := p.eval(calendarJS).(string)
			p.t.Logf("calendar shows:\n%s\nwant\n%s", got, want)
		}
	}()
	p.waitFor(calendarJS+` === `+ctxWant, what)
}

// choose picks an option of a select, as the user's choice would.
func (p *browserPage) choose(selector, value string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(() => { const s = document.querySelector(%s); s.value = %s; s.dispatchEvent(new Event('change', {bubbles: true})); })()`,
		jsString(selector), jsString(value)))
}

func TestBrowserArticles(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	articles := demoArticles()
	storeArticles(t, ts, logoServer(t).URL, articles)
	hanaNovember := 0
	for _, a := range articles {
		if a.user == hana && a.at.Month() == time.November {
			hanaNovember++
		}
	}

	p := ts.openPage(t, ts.token(auth.ScopeArticlesRead, auth.ScopeArticlesWrite))
	// No user in the route: the page picks the one with the most articles.
	p.visit("articles?tz=Asia/Seoul&month=2024-11")
	p.waitFor(`document.querySelectorAll('#article-users option').length === 2`, "the user picker")
	p.wantTiming("users")
	if got := p.attr(`#article-users option`, "value"); got != hana {
		t.Errorf("first user %q, want %s (most articles)", got, hana)
	}
	p.waitFor(`document.querySelectorAll('table.calendar td.day').length === 30 && !document.querySelector('table.calendar.empty')`, "November's calendar")
	p.waitFor(`document.querySelector('#article-user').value === `+jsString(hana), "the user to be chosen")
	p.wantTiming("calendar")
	p.wantTiming("list")
	if got := p.text(`.month-label`); got != "November 2024" {
		t.Errorf("month label %q", got)
	}
	p.waitCalendar(calendarOf(articles, hana, 2024, time.November, "Asia/Seoul"), "the calendar in Seoul")
	if got := p.attr(`table.calendar td.day[data-date="2024-11-06"]`, "class"); !strings.Contains(got, "has-unread") {
		t.Errorf("Nov 6 (unread articles) has class %q", got)
	}
	if got := p.attr(`table.calendar td.day[data-date="2024-11-01"]`, "class"); strings.Contains(got, "has-unread") {
		t.Errorf("Nov 1 (all read) has class %q", got)
	}
	if n := p.count(`table.calendar td.day.heat-4`); n == 0 {
		t.Error("no day has the darkest shade")
	}
	if n := p.count(`table.calendar td.day.heat-0`); n == 0 {
		t.Error("no quiet day is unshaded")
	}
	if got := p.text(`.month-total`); !strings.HasPrefix(got, fmt.Sprintf("%d articles this month", hanaNovember)) {
		t.Errorf("month total %q, want %d articles", got, hanaNovember)
	}

	t.Run("newsletter images, with a placeholder when there is none", func(t *testing.T) {
		p := p.in(t)
		p.waitFor(`document.querySelectorAll('article.card').length === 50`, "the first page of 50")
		p.waitFor(`[...document.querySelectorAll('img.thumb')].filter((i) => i.getBoundingClientRect().top < innerHeight).every((i) => i.complete)`, "the images in view to load (the others load lazily)")
		if loaded := p.eval(`[...document.querySelectorAll('img.thumb')].filter((i) => i.naturalWidth === 64).length`).(float64); loaded == 0 {
			t.Error("no newsletter image in view loaded")
		}
		for _, tc := range []struct{ sender, want, why string }{
			{"The Verge", `img.thumb`, "its newsletter's image"},
			{"Morning Brew", `img.thumb`, "the image of its mailing list's newsletter"},
			{"Stratechery", `.thumb.placeholder`, "a placeholder: no newsletter"},
			{"Korea Herald", `.thumb.placeholder`, "a placeholder: its image fails to load"},
		} {
			card := fmt.Sprintf(`[...document.querySelectorAll('article.card')].find((c) => c.querySelector('.from').innerText === %s)`, jsString(tc.sender))
			p.eval(card + `.scrollIntoView({block: 'center'})`)
			p.waitFor(fmt.Sprintf(`(() => { const t = %s.querySelector('.thumb'); return t.matches(%s) && (t.tagName !== 'IMG' || (t.complete && t.naturalWidth === 64)); })()`,
				card, jsString(tc.want)), tc.sender+" to show "+tc.why)
		}
		p.eval(`window.scrollTo(0, 0)`)
	})

	t.Run("infinite scroll over the cursor", func(t *testing.T) {
		p := p.in(t)
		for shown := 50; shown < hanaNovember; shown += 50 {
			p.eval(`document.querySelector('.sentinel').scrollIntoView()`)
			want := min(shown+50, hanaNovember)
			p.waitFor(fmt.Sprintf(`document.querySelectorAll('article.card').length === %d`, want), fmt.Sprintf("%d articles after scrolling", want))
		}
		p.waitFor(`document.querySelector('.sentinel .end')`, "the end of the list")
		if got := p.text(`.sentinel .end`); got != fmt.Sprintf("That’s all: %d articles.", hanaNovember) {
			t.Errorf("end %q", got)
		}
		ids := p.eval(`new Set([...document.querySelectorAll('article.card')].map((c) => c.dataset.id)).size`).(float64)
		if int(ids) != hanaNovember {
			t.Errorf("%v distinct articles shown, want %d", ids, hanaNovember)
		}
		p.wantTiming("list")
		p.eval(`window.scrollTo(0, 0)`)
	})

	t.Run("mark read", func(t *testing.T) {
		p := p.in(t)
		card := `article.card[data-id="00000000-0000-4000-8000-` + fmt.Sprintf("%012d", len(articles)) + `"]`
		p.eval(fmt.Sprintf(`document.querySelector(%s).scrollIntoView({block: 'center'})`, jsString(card)))
		before := p.attr(`table.calendar td.day[data-date="2024-11-06"]`, "data-unread")
		p.click(card + ` .mark-read`)
		p.waitFor(fmt.Sprintf(`document.querySelector(%s).classList.contains('read')`, jsString(card)), "the card to turn read")
		after := p.attr(`table.calendar td.day[data-date="2024-11-06"]`, "data-unread")
		if before == "" || after == "" || before == after {
			t.Errorf("Nov 6 unread %s before, %s after", before, after)
		}
		p.wantTiming("mark read")
		var isRead bool
		if err := ts.db.Pool.QueryRow(t.Context(), `SELECT is_read FROM articles WHERE id = $1`,
			fmt.Sprintf("00000000-0000-4000-8000-%012d", len(articles))).Scan(&isRead); err != nil || !isRead {
			t.Errorf("stored is_read %v, %v", isRead, err)
		}
		p.eval(`window.scrollTo(0, 0)`)
	})
	articles[len(articles)-1].read = true

	t.Run("another time zone moves articles to other days", func(t *testing.T) {
		p := p.in(t)
		p.choose(`#article-tz`, "UTC")
		p.waitCalendar(calendarOf(articles, hana, 2024, time.November, "UTC"), "the calendar in UTC")
		if dayCount(articles, hana, "2024-11-05", "UTC") == dayCount(articles, hana, "2024-11-05", "Asia/Seoul") {
			t.Fatal("the demo has no article whose day differs between UTC and Seoul")
		}
		if !strings.Contains(p.eval(`location.hash`).(string), "tz=UTC") {
			t.Errorf("the route %v does not keep the time zone", p.eval(`location.hash`))
		}
		p.choose(`#article-tz`, "Asia/Seoul")
		p.waitCalendar(calendarOf(articles, hana, 2024, time.November, "Asia/Seoul"), "the calendar in Seoul again")
	})

	t.Run("month navigation", func(t *testing.T) {
		p := p.in(t)
		p.click(`.calendar-panel button[aria-label="Previous month"]`)
		p.waitCalendar(calendarOf(articles, hana, 2024, time.October, "Asia/Seoul"), "October's calendar")
		if got := p.text(`.month-label`); got != "October 2024" {
			t.Errorf("month label %q", got)
		}
		if !strings.Contains(p.eval(`location.hash`).(string), "month=2024-10") {
			t.Errorf("the route %v does not follow the month", p.eval(`location.hash`))
		}
		if n := p.count(`table.calendar td.has-unread`); n != 0 {
			t.Errorf("%d October days marked unread; all were read", n)
		}
		p.click(`.calendar-panel button[aria-label="Next month"]`)
		p.click(`.calendar-panel button[aria-label="Next month"]`)
		p.waitFor(`document.querySelector('.month-label').innerText === 'December 2024' && document.querySelector('.empty-list')`, "an empty December")
		if got := p.text(`.empty-list`); got != "No articles in December 2024." {
			t.Errorf("empty month says %q", got)
		}
		if n := p.count(`table.calendar td.day:not(.heat-0)`); n != 0 {
			t.Errorf("%d December days shaded", n)
		}
	})

	// The README's picture.
	p.visit("articles?user=" + hana + "&tz=Asia/Seoul&month=2024-11")
	p.waitFor(`document.querySelectorAll('article.card').length === 50 && [...document.querySelectorAll('img.thumb')].filter((i) => i.getBoundingClientRect().top < innerHeight).every((i) => i.complete)`, "November with its images")
	p.screenshot("articles", "calendar")
	p.checkA11y("articles")
	p.checkNarrow("articles")
}

// dayCount is how many of user's articles fall on date in time zone tz.
func dayCount(articles []demoArticle, user, date, tz string) int {
	loc, _ := time.LoadLocation(tz)
	n := 0
	for _, a := range articles {
		if a.user == user && a.at.In(loc).Format(time.DateOnly) == date {
			n++
		}
	}
	return n
}
