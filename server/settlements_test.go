package server

import (
	"context"
	"net/http"
	"testing"

	"canopy/auth"
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
	r.wantQueries(t, 1)
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
