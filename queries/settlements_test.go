package queries_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"canopy/internal/testdb"
	"canopy/queries"
)

// academy is a test database of teachers, courses, packages and kits, with
// the ids the tests name.
type academy struct {
	t  *testing.T
	db *testdb.DB
}

func newAcademy(t *testing.T) *academy {
	t.Helper()
	return &academy{t: t, db: testdb.New(t)}
}

func (a *academy) exec(sql string, args ...any) {
	a.t.Helper()
	if _, err := a.db.Pool.Exec(context.Background(), sql, args...); err != nil {
		a.t.Fatalf("%s: %v", sql, err)
	}
}

func (a *academy) teacher(id int64, name, rate string) {
	a.t.Helper()
	a.exec(`INSERT INTO teachers (id, name, commission_rate) VALUES ($1, $2, $3::numeric)`, id, name, rate)
}

func (a *academy) course(id, teacher int64) {
	a.t.Helper()
	a.exec(`INSERT INTO courses (id, teacher_id, title, price) VALUES ($1::bigint, $2, 'course ' || $1::bigint, 10000)`, id, teacher)
}

// pack makes a package of the courses, linked in the order given.
func (a *academy) pack(id int64, courses ...int64) {
	a.t.Helper()
	a.exec(`INSERT INTO packages (id, title, price) VALUES ($1::bigint, 'package ' || $1::bigint, 1000)`, id)
	for _, c := range courses {
		a.exec(`INSERT INTO package_courses (package_id, course_id) VALUES ($1, $2)`, id, c)
	}
}

func (a *academy) kit(id, course int64) {
	a.t.Helper()
	a.exec(`INSERT INTO kits (id, course_id, title, price) VALUES ($1::bigint, $2, 'kit ' || $1::bigint, 5000)`, id, course)
}

// buy records a purchase at the instant at; the status follows from the refund.
func (a *academy) buy(product string, id, price, refund int64, at string) {
	a.t.Helper()
	status := "paid"
	switch {
	case refund == price && refund > 0:
		status = "refunded"
	case refund > 0:
		status = "partially_refunded"
	}
	a.exec(`INSERT INTO purchases (product_type, product_id, buyer, price, refund, status, purchased_at)
		VALUES ($1, $2, 'buyer', $3, $4, $5, $6)`, product, id, price, refund, status, utc(at))
}

func (a *academy) settle(year int, month time.Month, tz string) queries.Settlement {
	a.t.Helper()
	st, err := queries.New(a.db.Pool).MonthSettlement(context.Background(), queries.Month{Year: year, Month: month, Loc: zone(a.t, tz)})
	if err != nil {
		a.t.Fatal(err)
	}
	return st
}

// The settlement arithmetic, every number computed by hand.
//
// Teachers: 1 Kim 15%, 2 Lee 20%, 3 Park 30% (never sells), 4 Choi 5%, 5 Jung 50%.
// Courses: 29 Jung, 30 Lee, 31 Kim, 32 Lee, 40 Choi. Package 7 = {32, 31, 30}
// (linked in that order; 30 is the lowest id), package 8 = {40, 31, 29}.
// Kit 5 belongs to course 31.
//
// November 2024 (UTC):
//   - course 31 for 20000: Kim course 20000.
//   - package 7 for 1000: 1000/3 = 333 r 1, so course 30 gets 334 (Lee),
//     31 gets 333 (Kim), 32 gets 333 (Lee): Lee 667, Kim 333.
//   - package 7 for 1000, refunded 1000: the same split as sales and as refunds.
//   - package 7 for 1000, 500 refunded: sales as above; refund 500/3 = 166 r 2,
//     so course 30 gets 168 (Lee), 31 and 32 166: Lee 334, Kim 166.
//   - kit 5 for 5000, 1000 refunded: Kim kit 5000, refund 1000.
//   - course 40 for 10: Choi 10, commission 10 × 0.05 = 0.5, rounded up to 1.
//   - outside the month: course 40 for 7 at 2024-10-31T20:00Z (November in
//     Seoul) and course 40 for 1000 at 2024-12-01T00:00Z (December in Seoul too).
//
// Kim: course 20000, package 3 × 333 = 999, kit 5000, refunds 333 + 1000 + 166
// = 1499, gross 24500, commission 24500 × 0.15 = 3675, payout 20825.
// Lee: package 3 × 667 = 2001, refunds 667 + 334 = 1001, gross 1000,
// commission 200, payout 800.
// Choi: course 10, gross 10, commission 1, payout 9. Park, Jung: zeros.
//
// January 2025: package 8 for 3, 2 refunded: sales 1 each; refund 2/3 = 0 r 2,
// all to course 29 (Jung). Jung: package 1, refunds 2, gross -1, commission
// floor(-0.5 + 0.5) = 0, payout -1. Kim and Choi: package 1, gross 1,
// commission floor(0.15 + 0.5) = floor(0.05 + 0.5) = 0, payout 1.
func TestMonthSettlement(t *testing.T) {
	a := newAcademy(t)
	a.teacher(1, "Kim", "0.15")
	a.teacher(2, "Lee", "0.2")
	a.teacher(3, "Park", "0.3")
	a.teacher(4, "Choi", "0.05")
	a.teacher(5, "Jung", "0.5")
	for _, c := range [][2]int64{{29, 5}, {30, 2}, {31, 1}, {32, 2}, {40, 4}} {
		a.course(c[0], c[1])
	}
	a.pack(7, 32, 31, 30)
	a.pack(8, 40, 31, 29)
	a.kit(5, 31)
	a.buy("course", 31, 20000, 0, "2024-11-03T09:00:00Z")
	a.buy("package", 7, 1000, 0, "2024-11-04T09:00:00Z")
	a.buy("package", 7, 1000, 1000, "2024-11-05T09:00:00Z")
	a.buy("package", 7, 1000, 500, "2024-11-06T09:00:00Z")
	a.buy("kit", 5, 5000, 1000, "2024-11-07T09:00:00Z")
	a.buy("course", 40, 10, 0, "2024-11-30T23:59:59.999999Z")
	a.buy("course", 40, 7, 0, "2024-10-31T20:00:00Z")
	a.buy("course", 40, 1000, 0, "2024-12-01T00:00:00Z")
	a.buy("package", 8, 3, 2, "2025-01-15T00:00:00Z")

	type row struct {
		id   int64
		name string
		queries.Amounts
	}
	tests := []struct {
		name   string
		year   int
		month  time.Month
		tz     string
		want   []row
		totals queries.Amounts
	}{
		{"November in UTC", 2024, time.November, "UTC", []row{
			{1, "Kim", queries.Amounts{CourseSales: 20000, PackageSales: 999, KitSales: 5000, Refunds: 1499, Gross: 24500, Commission: 3675, Payout: 20825}},
			{2, "Lee", queries.Amounts{PackageSales: 2001, Refunds: 1001, Gross: 1000, Commission: 200, Payout: 800}},
			{3, "Park", queries.Amounts{}},
			{4, "Choi", queries.Amounts{CourseSales: 10, Gross: 10, Commission: 1, Payout: 9}},
			{5, "Jung", queries.Amounts{}},
		}, queries.Amounts{CourseSales: 20010, PackageSales: 3000, KitSales: 5000, Refunds: 2500, Gross: 25510, Commission: 3876, Payout: 21634}},
		// In Seoul November starts at 2024-10-31T15:00Z and ends at
		// 2024-11-30T15:00Z: Choi's sale of 7 is in, the sale of 10 is not.
		// 7 × 0.05 = 0.35 rounds to 0.
		{"November in Seoul", 2024, time.November, "Asia/Seoul", []row{
			{1, "Kim", queries.Amounts{CourseSales: 20000, PackageSales: 999, KitSales: 5000, Refunds: 1499, Gross: 24500, Commission: 3675, Payout: 20825}},
			{2, "Lee", queries.Amounts{PackageSales: 2001, Refunds: 1001, Gross: 1000, Commission: 200, Payout: 800}},
			{3, "Park", queries.Amounts{}},
			{4, "Choi", queries.Amounts{CourseSales: 7, Gross: 7, Commission: 0, Payout: 7}},
			{5, "Jung", queries.Amounts{}},
		}, queries.Amounts{CourseSales: 20007, PackageSales: 3000, KitSales: 5000, Refunds: 2500, Gross: 25507, Commission: 3875, Payout: 21632}},
		{"January: a refund share above the sale share", 2025, time.January, "UTC", []row{
			{1, "Kim", queries.Amounts{PackageSales: 1, Gross: 1, Payout: 1}},
			{2, "Lee", queries.Amounts{}},
			{3, "Park", queries.Amounts{}},
			{4, "Choi", queries.Amounts{PackageSales: 1, Gross: 1, Payout: 1}},
			{5, "Jung", queries.Amounts{PackageSales: 1, Refunds: 2, Gross: -1, Commission: 0, Payout: -1}},
		}, queries.Amounts{PackageSales: 3, Refunds: 2, Gross: 1, Payout: 1}},
		{"a month without sales", 2024, time.September, "UTC", []row{
			{1, "Kim", queries.Amounts{}}, {2, "Lee", queries.Amounts{}}, {3, "Park", queries.Amounts{}},
			{4, "Choi", queries.Amounts{}}, {5, "Jung", queries.Amounts{}},
		}, queries.Amounts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := a.settle(tt.year, tt.month, tt.tz)
			if len(st.Teachers) != len(tt.want) {
				t.Fatalf("%d teachers, want %d: %+v", len(st.Teachers), len(tt.want), st.Teachers)
			}
			var sum queries.Amounts
			for i, w := range tt.want {
				got := st.Teachers[i]
				if got.TeacherID != w.id || got.TeacherName != w.name || got.Amounts != w.Amounts {
					t.Errorf("teacher %d %s: %+v\n want %+v", w.id, w.name, got.Amounts, w.Amounts)
				}
				sum.CourseSales += got.CourseSales
				sum.PackageSales += got.PackageSales
				sum.KitSales += got.KitSales
				sum.Refunds += got.Refunds
				sum.Gross += got.Gross
				sum.Commission += got.Commission
				sum.Payout += got.Payout
			}
			if st.Totals != tt.totals {
				t.Errorf("totals %+v\n  want %+v", st.Totals, tt.totals)
			}
			if st.Totals != sum {
				t.Errorf("totals %+v are not the sum of the teachers %+v", st.Totals, sum)
			}
		})
	}
	if rate := a.settle(2024, time.November, "UTC").Teachers[0].CommissionRate; rate != 0.15 {
		t.Errorf("Kim's commission rate %v, want 0.15", rate)
	}
}

// Round half up at every fraction that matters: exactly .5 of a won goes up,
// just under it goes down, and a negative half goes up to the larger integer.
func TestCommissionRounding(t *testing.T) {
	tests := []struct {
		name       string
		rate       string
		price      int64
		refund     int64
		commission int64
	}{
		{"exactly half a won rounds up", "0.5", 1, 0, 1},
		{"exactly 2.5 rounds up to 3", "0.5", 5, 0, 3},
		{"0.4999 of a won rounds down", "0.4999", 1, 0, 0},
		{"0.5001 of a won rounds up", "0.5001", 1, 0, 1},
		{"a large sale is exact", "0.1234", 123_456_789_012, 0, 15_234_567_764},
		{"rate 0", "0", 999, 0, 0},
		{"rate 1", "1", 999, 0, 999},
		{"a full refund leaves nothing", "0.3", 1000, 1000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAcademy(t)
			a.teacher(1, "T", tt.rate)
			a.course(1, 1)
			a.buy("course", 1, tt.price, tt.refund, "2024-11-10T00:00:00Z")
			got := a.settle(2024, time.November, "UTC").Teachers[0]
			if got.Commission != tt.commission || got.Payout != got.Gross-tt.commission || got.Gross != tt.price-tt.refund {
				t.Errorf("gross %d, commission %d, payout %d; want commission %d", got.Gross, got.Commission, got.Payout, tt.commission)
			}
		})
	}
}

// A month whose amounts pass a bigint is a ValidationError on month, not a
// failed statement: a teacher's own sums (two sales at the largest price),
// or only the totals of teachers whose rows each fit.
func TestSettlementTooLarge(t *testing.T) {
	const most = int64(math.MaxInt64)
	cases := []struct {
		name  string
		sales func(a *academy)
	}{
		{"one teacher's sums", func(a *academy) {
			a.buy("course", 31, most, 0, "2024-11-10T00:00:00Z")
			a.buy("course", 31, most, 0, "2024-11-11T00:00:00Z")
		}},
		{"the totals", func(a *academy) {
			a.buy("course", 31, most, 0, "2024-11-10T00:00:00Z")
			a.buy("course", 32, most, 0, "2024-11-11T00:00:00Z")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := newAcademy(t)
			a.teacher(1, "Kim", "0")
			a.teacher(2, "Lee", "0")
			a.course(31, 1)
			a.course(32, 2)
			c.sales(a)
			_, err := queries.New(a.db.Pool).MonthSettlement(context.Background(), queries.Month{Year: 2024, Month: time.November, Loc: time.UTC})
			var ve *queries.ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Field != "month" {
				t.Fatalf("got %v, want a ValidationError on month", err)
			}
			// Other months still settle.
			if st := a.settle(2024, time.December, "UTC"); len(st.Teachers) != 2 {
				t.Errorf("December: %+v", st)
			}
		})
	}
}

// A settlement says the settlement version its own snapshot read, the one
// SettlementVersion reads, which a write moves on; with no teachers there
// is no row to say it, and the version is 0.
func TestSettlementVersion(t *testing.T) {
	a := newAcademy(t)
	store := queries.New(a.db.Pool)
	version := func() int64 {
		t.Helper()
		v, err := store.SettlementVersion(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if st := a.settle(2024, time.November, "UTC"); st.Version != 0 {
		t.Errorf("no teachers: version %d, want 0", st.Version)
	}
	before := version()
	a.teacher(1, "Kim", "0.15")
	st := a.settle(2024, time.November, "UTC")
	if now := version(); now <= before || st.Version != now {
		t.Errorf("after a write: settlement at version %d, the version %d, before it %d", st.Version, now, before)
	}
}
