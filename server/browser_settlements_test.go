package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"canopy/auth"
)

// seedDemoAcademy writes an academy's catalogue and two months of sales in
// SQL, as the import command would: six teachers, their courses, packages
// of courses by several teachers, kits, and purchases with full and partial
// refunds.
func seedDemoAcademy(t *testing.T, ts *testServer) {
	t.Helper()
	statements := []string{
		`INSERT INTO teachers (id, name, commission_rate) VALUES
			(1, 'Kim Seo-yeon', 0.15), (2, 'Lee Ji-hoon', 0.2), (3, 'Park Min-seo', 0.3),
			(4, 'Choi Woo-jin', 0.1), (5, 'Jung Ha-na', 0.25), (6, 'Kang Tae-yang', 0.18)`,
		`INSERT INTO courses (id, teacher_id, title, price) VALUES
			(11, 1, 'SQL from zero', 129000), (12, 1, 'Window functions', 89000),
			(21, 2, 'Go for backend developers', 249000), (22, 2, 'Concurrency patterns', 159000),
			(31, 3, 'Statistics for product teams', 189000),
			(41, 4, 'Drawing with light', 99000), (42, 4, 'Portrait photography', 139000),
			(51, 5, 'Korean for travellers', 59000),
			(61, 6, 'Home barista', 79000)`,
		`INSERT INTO packages (id, title, price) VALUES (1, 'Data bundle', 299000), (2, 'Backend bundle', 379000), (3, 'Creative bundle', 199000)`,
		`INSERT INTO package_courses (package_id, course_id) VALUES (1, 11), (1, 12), (1, 31), (2, 21), (2, 22), (2, 11), (3, 41), (3, 42), (3, 61)`,
		`INSERT INTO kits (id, course_id, title, price) VALUES (1, 41, 'Light kit', 45000), (2, 61, 'Pour-over kit', 38000)`,
	}
	type product struct {
		kind  string
		id    int
		price int
	}
	products := []product{{"course", 11, 129000}, {"course", 12, 89000}, {"course", 21, 249000}, {"course", 22, 159000},
		{"course", 31, 189000}, {"course", 41, 99000}, {"course", 42, 139000}, {"course", 51, 59000}, {"course", 61, 79000},
		{"package", 1, 299000}, {"package", 2, 379000}, {"package", 3, 199000}, {"kit", 1, 45000}, {"kit", 2, 38000}}
	var values []string
	for i := range 240 {
		p := products[(i*7+i/5)%len(products)]
		refund, status := 0, "paid"
		switch {
		case i%17 == 3:
			refund, status = p.price, "refunded"
		case i%23 == 5:
			refund, status = p.price/2, "partially_refunded"
		}
		month := 11 - i%3/2 // two thirds in November, the rest in October
		values = append(values, fmt.Sprintf("('%s', %d, 'buyer%d', %d, %d, '%s', '2024-%02d-%02dT%02d:%02d:00Z')",
			p.kind, p.id, i, p.price, refund, status, month, 1+i%28, i%24, i%60))
	}
	statements = append(statements, `INSERT INTO purchases (product_type, product_id, buyer, price, refund, status, purchased_at) VALUES `+
		strings.Join(values, ",\n"))
	for _, sql := range statements {
		if _, err := ts.db.Pool.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// won formats money as the front end does.
func won(n int64) string {
	s := strconv.FormatInt(max(n, -n), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if n < 0 {
		return "−₩" + s
	}
	return "₩" + s
}

func TestBrowserSettlements(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	seedDemoAcademy(t, ts)
	reader := ts.token(auth.ScopeSettlementsRead)
	settlement := func(month int) settlementJSON {
		var st settlementJSON
		r := ts.do("GET", fmt.Sprintf("/api/v1/settlements?year=2024&month=%d", month), nil, bearer(reader)...)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("settlement: %d %s", r.StatusCode, r.Body)
		}
		r.decode(t, &st)
		return st
	}
	november := settlement(11)
	if len(november.Teachers) != 6 || november.Totals.Refunds == 0 || november.Totals.PackageSales == 0 {
		t.Fatalf("demo settlement %+v", november)
	}
	// sortedNames is the teachers in the order of less.
	sortedNames := func(st settlementJSON, less func(a, b teacherSettlementJSON) int) string {
		ts := slices.Clone(st.Teachers)
		slices.SortStableFunc(ts, func(a, b teacherSettlementJSON) int {
			if c := less(a, b); c != 0 {
				return c
			}
			return int(a.TeacherID - b.TeacherID)
		})
		names := make([]string, len(ts))
		for i, t := range ts {
			names[i] = t.TeacherName
		}
		return strings.Join(names, " | ")
	}
	sign := func(d int64) int { return int(max(-1, min(1, d))) }

	p := ts.openPage(t, reader)
	p.visit("settlements?month=2024-11")
	p.waitFor(`document.querySelectorAll('table.settlements tbody tr').length === 6`, "six teachers")
	p.wantTiming("settlement")
	rows := `table.settlements tbody th`

	t.Run("sorted by payout, highest first, at first", func(t *testing.T) {
		p := p.in(t)
		want := sortedNames(november, func(a, b teacherSettlementJSON) int { return sign(b.Payout - a.Payout) })
		if got := join(p.texts(rows)); got != want {
			t.Errorf("rows %q, want %q", got, want)
		}
		if got := p.texts(`table.settlements thead th[aria-sort=descending]`); join(got) != "Payout\n▼" && join(got) != "Payout▼" && join(got) != "Payout ▼" {
			t.Errorf("descending headers %q", got)
		}
		if n := p.count(`table.settlements thead th[aria-sort=none]`); n != 8 {
			t.Errorf("%d unsorted headers, want 8", n)
		}
	})

	t.Run("money in won, with a totals row", func(t *testing.T) {
		p := p.in(t)
		first := november.Teachers[0]
		cells := p.texts(fmt.Sprintf(`table.settlements tbody tr[data-teacher="%d"] td`, first.TeacherID))
		want := []string{fmt.Sprintf("%g%%", math.Round(first.CommissionRate*1e4)/100), won(first.CourseSales), won(first.PackageSales), won(first.KitSales),
			won(first.Refunds), won(first.Gross), won(first.Commission), won(first.Payout)}
		if join(cells) != join(want) {
			t.Errorf("%s's row %q, want %q", first.TeacherName, cells, want)
		}
		tot := november.Totals
		want = []string{"", won(tot.CourseSales), won(tot.PackageSales), won(tot.KitSales), won(tot.Refunds), won(tot.Gross), won(tot.Commission), won(tot.Payout)}
		if got := p.texts(`table.settlements tfoot td`); join(got) != join(want) {
			t.Errorf("totals %q, want %q", got, want)
		}
		if got := p.text(`table.settlements tfoot th`); got != "Total" {
			t.Errorf("totals row header %q", got)
		}
	})

	t.Run("sort by clicking the headers", func(t *testing.T) {
		p := p.in(t)
		for _, tc := range []struct {
			column, sort string
			less         func(a, b teacherSettlementJSON) int
		}{
			{"teacher_name", "ascending", func(a, b teacherSettlementJSON) int { return strings.Compare(a.TeacherName, b.TeacherName) }},
			{"teacher_name", "descending", func(a, b teacherSettlementJSON) int { return strings.Compare(b.TeacherName, a.TeacherName) }},
			{"refunds", "descending", func(a, b teacherSettlementJSON) int { return sign(b.Refunds - a.Refunds) }},
			{"refunds", "ascending", func(a, b teacherSettlementJSON) int { return sign(a.Refunds - b.Refunds) }},
			{"commission_rate", "descending", func(a, b teacherSettlementJSON) int {
				return sign(int64(b.CommissionRate*1e4) - int64(a.CommissionRate*1e4))
			}},
		} {
			p.click(fmt.Sprintf(`button.sort[data-key=%q]`, tc.column))
			th := fmt.Sprintf(`document.querySelector('button.sort[data-key=%q]').closest('th').getAttribute('aria-sort')`, tc.column)
			p.waitFor(th+` === `+jsString(tc.sort), tc.column+" "+tc.sort)
			if got, want := join(p.texts(rows)), sortedNames(november, tc.less); got != want {
				t.Errorf("by %s %s: %q, want %q", tc.column, tc.sort, got, want)
			}
			if n := p.count(`table.settlements thead th:not([aria-sort=none])`); n != 1 {
				t.Errorf("%d sorted headers", n)
			}
			if got := p.focused(); got != tc.column {
				t.Errorf("focus on %s after sorting, want the header's button", got)
			}
		}
		if !strings.Contains(p.eval(`location.hash`).(string), "sort=commission_rate") {
			t.Errorf("route %v does not keep the sort", p.eval(`location.hash`))
		}
	})

	t.Run("CSV download", func(t *testing.T) {
		p := p.in(t)
		dir := t.TempDir()
		bctx := chromedp.FromContext(p.ctx).BrowserContextID
		if _, err := chromedp.CallBrowser(p.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: bctx, DownloadPath: dir, EventsEnabled: new(true),
		}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(p.ctx, browserWait)
		defer cancel()
		progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
		p.clickButton(`button`, "Download CSV")
		for ev, err := range progress {
			if err != nil {
				t.Fatalf("waiting for the download: %v", err)
			}
			if ev.State == browser.DownloadProgressStateCompleted {
				break
			}
			if ev.State == browser.DownloadProgressStateCanceled {
				t.Fatal("download canceled")
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, "settlements-2024-11.csv"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\r\n"), "\r\n")
		if len(lines) != 8 {
			t.Fatalf("CSV has %d lines, want a header, 6 teachers and totals:\n%s", len(lines), data)
		}
		if lines[0] != "teacher_id,teacher_name,commission_rate,course_sales,package_sales,kit_sales,refunds,gross,commission,payout" {
			t.Errorf("CSV header %q", lines[0])
		}
		tot := november.Totals
		if want := fmt.Sprintf(",Total,,%d,%d,%d,%d,%d,%d,%d", tot.CourseSales, tot.PackageSales, tot.KitSales, tot.Refunds, tot.Gross, tot.Commission, tot.Payout); lines[7] != want {
			t.Errorf("CSV totals %q, want %q", lines[7], want)
		}
		for _, tr := range november.Teachers {
			want := fmt.Sprintf("%d,%s,%g,%d,%d,%d,%d,%d,%d,%d", tr.TeacherID, tr.TeacherName, tr.CommissionRate, tr.CourseSales,
				tr.PackageSales, tr.KitSales, tr.Refunds, tr.Gross, tr.Commission, tr.Payout)
			if !slices.Contains(lines, want) {
				t.Errorf("CSV lacks %q:\n%s", want, data)
			}
		}
	})

	p.screenshot("settlements", "")
	p.checkA11y("settlements")
	p.checkNarrow("settlements")

	t.Run("month navigation", func(t *testing.T) {
		p := p.in(t)
		october := settlement(10)
		p.click(`button[aria-label="Previous month"]`)
		p.waitFor(`document.querySelector('table.settlements caption').innerText.startsWith('October 2024')`, "October")
		if got := p.eval(`document.querySelector('#settlement-month').value`); got != "2024-10" {
			t.Errorf("month picker shows %v", got)
		}
		if got := p.text(`table.settlements tfoot td.payout`); got != won(october.Totals.Payout) {
			t.Errorf("October's payout %q, want %s", got, won(october.Totals.Payout))
		}
		if october.Totals.Payout == november.Totals.Payout {
			t.Error("the demo's months do not differ")
		}
	})

	t.Run("a token without the scope gets the server's reason", func(t *testing.T) {
		other := ts.openPage(t, ts.token(auth.ScopeArticlesRead))
		other.visit("settlements?month=2024-11")
		other.waitFor(`document.querySelector('.table-box [role=alert]')`, "the refusal")
		if got := other.text(`.table-box .error-title`); got != "Forbidden (403)" {
			t.Errorf("error title %q", got)
		}
		if got := other.text(`.table-box .error-detail`); got != "the token lacks the settlements:read scope" {
			t.Errorf("error detail %q", got)
		}
		if got := other.text(`.status .entry[data-label=settlement] .timing`); !strings.HasPrefix(got, "0 queries") {
			t.Errorf("a refused request's timing %q", got)
		}
	})
}
