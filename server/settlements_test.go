package server

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"canopy/auth"
	"canopy/importer"
)

// seedAcademy writes the teachers, courses, packages and kits the
// settlement tests sell, as the import command would:
// teachers 1 Kim 15%, 2 Lee 20%, 3 Park 30%, 4 Choi 5%, 5 Jung 50%;
// courses 29 Jung, 30 Lee, 31 Kim, 32 Lee, 40 Choi;
// package 7 = {32, 31, 30}, package 8 = {40, 31, 29}; kit 5 of course 31.
func seedAcademy(t *testing.T, ts *testServer) {
	t.Helper()
	for _, sql := range []string{
		`INSERT INTO teachers (id, name, commission_rate) VALUES
			(1, 'Kim', 0.15), (2, 'Lee', 0.2), (3, 'Park', 0.3), (4, 'Choi', 0.05), (5, 'Jung', 0.5)`,
		`INSERT INTO courses (id, teacher_id, title, price) VALUES
			(29, 5, 'c29', 10000), (30, 2, 'c30', 10000), (31, 1, 'c31', 10000), (32, 2, 'c32', 10000), (40, 4, 'c40', 10000)`,
		`INSERT INTO packages (id, title, price) VALUES (7, 'p7', 1000), (8, 'p8', 3)`,
		`INSERT INTO package_courses (package_id, course_id) VALUES (7, 32), (7, 31), (7, 30), (8, 40), (8, 31), (8, 29)`,
		`INSERT INTO kits (id, course_id, title, price) VALUES (5, 31, 'k5', 5000)`,
	} {
		if _, err := ts.db.Pool.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

type settlementJSON struct {
	Year     int                     `json:"year"`
	Month    int                     `json:"month"`
	TZ       string                  `json:"tz"`
	Teachers []teacherSettlementJSON `json:"teachers"`
	Totals   amountsJSON             `json:"totals"`
}

// The settlement over HTTP, numbers computed by hand (queries' tests hold
// the full arithmetic): package 7 sold for 1000 splits 334 to course 30
// (Lee, the lowest id), 333 to 31 (Kim) and 333 to 32 (Lee); a sale of it
// refunded in full splits the refund the same way.
func TestSettlementEndpoint(t *testing.T) {
	ts := newTestServer(t)
	seedAcademy(t, ts)
	if _, err := ts.db.Pool.Exec(context.Background(), `
		INSERT INTO purchases (product_type, product_id, buyer, price, refund, status, purchased_at) VALUES
			('package', 7, 'a', 1000, 0, 'paid', '2024-11-04T09:00:00Z'),
			('package', 7, 'b', 1000, 1000, 'refunded', '2024-11-05T09:00:00Z'),
			('kit', 5, 'c', 5000, 0, 'paid', '2024-11-06T09:00:00Z'),
			('course', 40, 'd', 10, 0, 'paid', '2024-11-07T09:00:00Z'),
			('course', 40, 'e', 999, 0, 'paid', '2024-10-31T20:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	read := ts.token(auth.ScopeSettlementsRead)
	r := ts.do("GET", "/api/v1/settlements?year=2024&month=11", nil, bearer(read)...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	r.wantQueries(t, 2) // the version, then the month
	var st settlementJSON
	r.decode(t, &st)
	// Kim: package 333 + 333, kit 5000, refund 333: gross 5333,
	// commission 5333 × 0.15 = 799.95 → 800. Lee: package 667 + 667,
	// refund 667: gross 667, commission 133.4 → 133. Choi: 10 × 0.05 = 0.5 → 1.
	want := []teacherSettlementJSON{
		{1, "Kim", 0.15, amountsJSON{PackageSales: 666, KitSales: 5000, Refunds: 333, Gross: 5333, Commission: 800, Payout: 4533}},
		{2, "Lee", 0.2, amountsJSON{PackageSales: 1334, Refunds: 667, Gross: 667, Commission: 133, Payout: 534}},
		{3, "Park", 0.3, amountsJSON{}},
		{4, "Choi", 0.05, amountsJSON{CourseSales: 10, Gross: 10, Commission: 1, Payout: 9}},
		{5, "Jung", 0.5, amountsJSON{}},
	}
	if st.Year != 2024 || st.Month != 11 || st.TZ != "UTC" || len(st.Teachers) != len(want) {
		t.Fatalf("settlement %s", r.Body)
	}
	for i, w := range want {
		if st.Teachers[i] != w {
			t.Errorf("teacher %d: %+v\n   want %+v", w.TeacherID, st.Teachers[i], w)
		}
	}
	if totals := (amountsJSON{CourseSales: 10, PackageSales: 2000, KitSales: 5000, Refunds: 1000, Gross: 6010, Commission: 934, Payout: 5076}); st.Totals != totals {
		t.Errorf("totals %+v, want %+v", st.Totals, totals)
	}

	// In Seoul the sale of 999 at 2024-10-31T20:00Z is in November:
	// Choi 1009 × 0.05 = 50.45 → 50.
	ts.do("GET", "/api/v1/settlements?year=2024&month=11&tz=Asia/Seoul", nil, bearer(read)...).decode(t, &st)
	if choi := st.Teachers[3]; choi.CourseSales != 1009 || choi.Commission != 50 || choi.Payout != 959 || st.TZ != "Asia/Seoul" {
		t.Errorf("Choi in Seoul %+v", choi)
	}

	for _, tt := range []struct {
		name   string
		token  string
		status int
	}{
		{"no token", "", 401},
		{"articles scope only", ts.token(auth.ScopeArticlesRead), 403},
		{"admin", ts.token(auth.ScopeAdmin), 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.token != "" {
				headers = bearer(tt.token)
			}
			r := ts.do("GET", "/api/v1/settlements?year=2024&month=11", nil, headers...)
			if r.StatusCode != tt.status {
				t.Errorf("%d %s, want %d", r.StatusCode, r.Body, tt.status)
			}
		})
	}
}

// seedSales adds to seedAcademy a course 42 of Choi's and November 2024's
// sales, some of products not stored yet (course 41, kit 6), so that every
// write below changes the numbers it can change.
func seedSales(t *testing.T, ts *testServer) {
	t.Helper()
	seedAcademy(t, ts)
	for _, sql := range []string{
		`INSERT INTO courses (id, teacher_id, title, price) VALUES (42, 4, 'c42', 10000)`,
		`INSERT INTO purchases (product_type, product_id, buyer, price, refund, status, purchased_at) VALUES
			('package', 7, 'a', 1000, 0, 'paid', '2024-11-04T09:00:00Z'),
			('package', 8, 'b', 3, 0, 'paid', '2024-11-05T09:00:00Z'),
			('kit', 5, 'c', 5000, 1000, 'partially_refunded', '2024-11-06T09:00:00Z'),
			('kit', 6, 'd', 4000, 0, 'paid', '2024-11-06T10:00:00Z'),
			('course', 40, 'e', 10, 0, 'paid', '2024-11-07T09:00:00Z'),
			('course', 41, 'f', 700, 0, 'paid', '2024-11-08T09:00:00Z'),
			('course', 42, 'g', 20, 0, 'paid', '2024-11-09T09:00:00Z')`,
	} {
		if _, err := ts.db.Pool.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

const novemberSettlement = "/api/v1/settlements?year=2024&month=11"

// coldSettlement is the settlement at path as a server with nothing cached
// computes it, on ts's database.
func coldSettlement(t *testing.T, ts *testServer, token, path string) response {
	t.Helper()
	cold := newServerOn(t, ts.db, openPool(t, ts.db.URL))
	r := cold.do("GET", path, nil, bearer(token)...)
	r.wantQueries(t, 2)
	return r
}

// importCSV runs the import command's importer on ts's database, through a
// pool of its own.
func importCSV(kind, csv string) func(t *testing.T, ts *testServer) {
	return func(t *testing.T, ts *testServer) {
		sum, err := importer.Import(context.Background(), openPool(t, ts.db.URL), kind, strings.NewReader(csv), importer.Options{})
		if err != nil || sum.Rejected != 0 {
			t.Fatalf("import %s: %+v, %v", kind, sum, err)
		}
	}
}

// execSQL runs a statement as plain SQL from outside canopy: on the test's
// own pool, apart from the server's.
func execSQL(sql string) func(t *testing.T, ts *testServer) {
	return func(t *testing.T, ts *testServer) {
		if _, err := ts.db.Pool.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// Every writer of the tables a settlement reads empties the cache at once:
// plain SQL (each event on each table) and the import (which canopy seed
// also writes through; no API route writes these tables). The read after
// the write settles the month again (2 statements, a new ETag) and answers
// the same bytes as a server that never cached anything. A write to
// packages alone leaves the numbers as they were (the purchase holds what
// was paid) but not the cache; a write that changes no row, such as an
// import of what is stored already, keeps the cache (1 statement).
func TestSettlementCacheInvalidation(t *testing.T) {
	cases := []struct {
		name    string
		write   func(t *testing.T, ts *testServer)
		bumps   bool // the version
		changes bool // the numbers
	}{
		{"purchases insert", execSQL(`INSERT INTO purchases (product_type, product_id, buyer, price, purchased_at)
			VALUES ('course', 40, 'z', 90, '2024-11-20T00:00:00Z')`), true, true},
		{"purchases update", execSQL(`UPDATE purchases SET price = price + 1 WHERE product_type = 'course' AND product_id = 40`), true, true},
		{"purchases delete", execSQL(`DELETE FROM purchases WHERE product_type = 'kit' AND product_id = 5`), true, true},
		{"purchases truncate", execSQL(`TRUNCATE purchases`), true, true},
		{"teachers insert", execSQL(`INSERT INTO teachers (id, name, commission_rate) VALUES (6, 'Yoon', 0.1)`), true, true},
		{"teachers update", execSQL(`UPDATE teachers SET commission_rate = 0.25 WHERE id = 1`), true, true},
		{"teachers delete", execSQL(`DELETE FROM teachers WHERE id = 3`), true, true},
		{"teachers truncate", execSQL(`TRUNCATE teachers CASCADE`), true, true},
		{"courses insert", execSQL(`INSERT INTO courses (id, teacher_id, title, price) VALUES (41, 3, 'c41', 700)`), true, true},
		{"courses update", execSQL(`UPDATE courses SET teacher_id = 3 WHERE id = 40`), true, true},
		{"courses delete", execSQL(`DELETE FROM courses WHERE id = 42`), true, true},
		{"courses truncate", execSQL(`TRUNCATE courses CASCADE`), true, true},
		{"packages insert", execSQL(`INSERT INTO packages (id, title, price) VALUES (9, 'p9', 500)`), true, false},
		{"packages update", execSQL(`UPDATE packages SET price = 2000 WHERE id = 7`), true, false},
		{"packages delete", execSQL(`DELETE FROM packages WHERE id = 8`), true, true},
		{"packages truncate", execSQL(`TRUNCATE packages CASCADE`), true, true},
		{"package_courses insert", execSQL(`INSERT INTO package_courses (package_id, course_id) VALUES (7, 40)`), true, true},
		{"package_courses update", execSQL(`UPDATE package_courses SET course_id = 42 WHERE package_id = 8 AND course_id = 29`), true, true},
		{"package_courses delete", execSQL(`DELETE FROM package_courses WHERE package_id = 7 AND course_id = 32`), true, true},
		{"package_courses truncate", execSQL(`TRUNCATE package_courses`), true, true},
		{"kits insert", execSQL(`INSERT INTO kits (id, course_id, title, price) VALUES (6, 40, 'k6', 4000)`), true, true},
		{"kits update", execSQL(`UPDATE kits SET course_id = 40 WHERE id = 5`), true, true},
		{"kits delete", execSQL(`DELETE FROM kits WHERE id = 5`), true, true},
		{"kits truncate", execSQL(`TRUNCATE kits`), true, true},
		{"import teachers", importCSV("teachers", "id,name,commission_rate\n1,Kim,0.3\n"), true, true},
		{"import courses", importCSV("courses", "id,teacher_id,title,price\n41,3,c41,700\n"), true, true},
		{"import packages", importCSV("packages", "id,title,price,course_ids\n8,p8,3,40;31\n"), true, true},
		{"import kits", importCSV("kits", "id,course_id,title,price\n6,40,k6,4000\n"), true, true},
		{"import purchases", importCSV("purchases", "id,product_type,product_id,buyer,price,refund,status,purchased_at\n"+
			"9001,course,40,z,50,,,2024-11-21T00:00:00Z\n"), true, true},
		{"delete of nothing", execSQL(`DELETE FROM purchases WHERE id < 0`), false, false},
		{"update of nothing", execSQL(`UPDATE teachers SET name = 'x' WHERE id < 0`), false, false},
		{"import unchanged", importCSV("teachers", "id,name,commission_rate\n1,Kim,0.15\n2,Lee,0.2\n"), false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t)
			seedSales(t, ts)
			read := ts.token(auth.ScopeSettlementsRead)
			before := ts.do("GET", novemberSettlement, nil, bearer(read)...)
			before.wantQueries(t, 2)
			warm := ts.do("GET", novemberSettlement, nil, bearer(read)...)
			warm.wantQueries(t, 1)
			if !bytes.Equal(warm.Body, before.Body) || warm.Header.Get("ETag") != before.Header.Get("ETag") {
				t.Fatalf("warm read %s %s, cold %s %s", warm.Header.Get("ETag"), warm.Body, before.Header.Get("ETag"), before.Body)
			}

			c.write(t, ts)
			after := ts.do("GET", novemberSettlement, nil, bearer(read)...)
			if after.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", after.StatusCode, after.Body)
			}
			if c.bumps {
				after.wantQueries(t, 2)
			} else {
				after.wantQueries(t, 1)
			}
			if bumped := after.Header.Get("ETag") != before.Header.Get("ETag"); bumped != c.bumps {
				t.Errorf("ETag %s after %s: changed %v, want %v", after.Header.Get("ETag"), before.Header.Get("ETag"), bumped, c.bumps)
			}
			if changed := !bytes.Equal(after.Body, before.Body); changed != c.changes {
				t.Errorf("numbers changed: %v, want %v: %s", changed, c.changes, after.Body)
			}
			if cold := coldSettlement(t, ts, read, novemberSettlement); !bytes.Equal(after.Body, cold.Body) {
				t.Errorf("after the write\n%s\nnot what a cold server computes\n%s", after.Body, cold.Body)
			}
		})
	}
}

// Each month and zone is its own entry, each the bytes a cold server
// computes; If-None-Match with the current ETag is a 304 from the version
// read alone.
func TestSettlementCacheKeys(t *testing.T) {
	ts := newTestServer(t)
	seedSales(t, ts)
	if _, err := ts.db.Pool.Exec(context.Background(), `INSERT INTO purchases (product_type, product_id, buyer, price, purchased_at)
		VALUES ('course', 40, 'late', 999, '2024-10-31T20:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	read := ts.token(auth.ScopeSettlementsRead)
	bodies := map[string]string{}
	for _, path := range []string{
		novemberSettlement,
		novemberSettlement + "&tz=Asia/Seoul",
		novemberSettlement + "&tz=Asia/Tokyo", // Seoul's offset, another name in the body
		"/api/v1/settlements?year=2024&month=10",
		"/api/v1/settlements?year=2024&month=010", // the same month as month=10
	} {
		first := ts.do("GET", path, nil, bearer(read)...)
		second := ts.do("GET", path, nil, bearer(read)...)
		second.wantQueries(t, 1)
		if recomputed := coldSettlement(t, ts, read, path); !bytes.Equal(second.Body, recomputed.Body) {
			t.Errorf("%s: warm %s, recomputed %s", path, second.Body, recomputed.Body)
		}
		if !bytes.Equal(first.Body, second.Body) {
			t.Errorf("%s: cold %s, warm %s", path, first.Body, second.Body)
		}
		bodies[string(second.Body)] = path
		r := ts.do("GET", path, nil, append(bearer(read), "If-None-Match", second.Header.Get("ETag"))...)
		if r.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d", path, r.StatusCode)
		}
		r.wantQueries(t, 1)
	}
	if len(bodies) != 4 {
		t.Errorf("%d distinct bodies for 4 distinct settlements: %v", len(bodies), bodies)
	}
}
