package seed_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"canopy/importer"
	"canopy/internal/testdb"
	"canopy/queries"
	"canopy/seed"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// now fixes the generated time ranges, so that runs compare.
var now = time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)

// checksums are digests of tables the seed writes, in a stable order.
var checksums = map[string]string{
	"categories": `SELECT md5(string_agg(c.legacy_id || '/' || coalesce(p.legacy_id, '') || '/' || c.name || '/' || c.position, ',' ORDER BY c.legacy_id))
        FROM categories c LEFT JOIN categories p ON p.id = c.parent_id`,
	"patients": `SELECT md5(string_agg(p.uid || '/' || p.name || '/' || w.name || '/' || p.admitted_at || '/' || coalesce(p.discharged_at::text, ''), ',' ORDER BY p.uid))
        FROM patients p JOIN wards w ON w.id = p.ward_id`,
	"observations": `SELECT md5(string_agg(p.uid || o.code || o.observed_at || o.value, ',' ORDER BY p.uid, o.code, o.observed_at))
        FROM observations o JOIN patients p ON p.id = o.patient_id`,
	"articles":  `SELECT md5(string_agg(id || '/' || to_user_id || '/' || title || '/' || created_at || '/' || is_read, ',' ORDER BY id)) FROM articles`,
	"purchases": `SELECT md5(string_agg(id || '/' || product_type || product_id || '/' || price || '/' || refund || '/' || purchased_at, ',' ORDER BY id)) FROM purchases`,
	"packages":  `SELECT md5(string_agg(package_id || '/' || course_id, ',' ORDER BY package_id, course_id)) FROM package_courses`,
}

func digest(t *testing.T, db *testdb.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for table, sql := range checksums {
		var sum *string
		if err := db.Pool.QueryRow(context.Background(), sql).Scan(&sum); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if sum == nil {
			t.Fatalf("%s: no rows", table)
		}
		out[table] = *sum
	}
	return out
}

func run(t *testing.T, db *testdb.DB, opts seed.Options) seed.Result {
	t.Helper()
	res, err := seed.Run(context.Background(), queries.Wrap(db.Pool), opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func imported(res seed.Result) map[string]int64 {
	out := map[string]int64{}
	for _, s := range res.Summaries {
		out[s.Kind] = s.Imported()
	}
	return out
}

// The same seed gives the same rows; another seed other rows; seeding again
// changes nothing.
func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	opts := seed.Options{Profile: "demo", Seed: 7, Now: now, Scale: 0.3}
	a, b, c := testdb.New(t), testdb.New(t), testdb.New(t)
	resA := run(t, a, opts)
	resB := run(t, b, opts)
	other := opts
	other.Seed = 8
	run(t, c, other)

	if len(resA.Summaries) != len(importer.Kinds()) {
		t.Errorf("seeded %d kinds, want every one of %v", len(resA.Summaries), importer.Kinds())
	}
	countsA, countsB := imported(resA), imported(resB)
	for kind, n := range countsA {
		if n == 0 {
			t.Errorf("no %s seeded", kind)
		}
		if countsB[kind] != n {
			t.Errorf("%s: %d rows, then %d with the same seed", kind, n, countsB[kind])
		}
	}
	digestA, digestB, digestC := digest(t, a), digest(t, b), digest(t, c)
	for table, sum := range digestA {
		if digestB[table] != sum {
			t.Errorf("%s differs between two runs with the same seed", table)
		}
		if table != "categories" && digestC[table] == sum {
			t.Errorf("%s is the same with another seed", table)
		}
	}
	if resA.Users[0] != resB.Users[0] {
		t.Errorf("users %v and %v", resA.Users, resB.Users)
	}

	again := run(t, a, opts)
	for _, s := range again.Summaries {
		if s.Inserted != 0 || s.Updated != 0 || s.Rejected != 0 || s.Unchanged != countsA[s.Kind] {
			t.Errorf("seeding again: %s", s)
		}
	}
	if d := digest(t, a); d["articles"] != digestA["articles"] {
		t.Error("seeding again changed the articles")
	}
}

// The demo profile's shape: what a newcomer sees after make run.
func TestDemoProfile(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	res := run(t, db, seed.Options{Now: now})
	counts := imported(res)
	for kind, min := range map[string]int64{"categories": 300, "departments": 20, "wards": 20, "patients": 400,
		"observations": 10_000, "articles": 2000, "purchases": 1500, "newsletters": 30} {
		if counts[kind] < min {
			t.Errorf("%s: %d rows, want at least %d", kind, counts[kind], min)
		}
	}
	ctx := context.Background()
	var roots, depth, months int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM categories WHERE parent_id IS NULL`).Scan(&roots); err != nil || roots < 10 {
		t.Errorf("%d category roots (%v)", roots, err)
	}
	if err := db.Pool.QueryRow(ctx, `WITH RECURSIVE d(id, depth) AS (SELECT id, 0 FROM categories WHERE parent_id IS NULL
        UNION ALL SELECT c.id, d.depth + 1 FROM categories c JOIN d ON c.parent_id = d.id) SELECT max(depth) FROM d`).Scan(&depth); err != nil || depth != 2 {
		t.Errorf("categories are %d deep (%v), want 3 levels", depth, err)
	}
	// Articles over twelve months, the heaviest reader first, the latest in
	// the month of now.
	if err := db.Pool.QueryRow(ctx, `SELECT count(DISTINCT date_trunc('month', created_at)) FROM articles WHERE to_user_id = $1`, res.Users[0]).Scan(&months); err != nil || months != 12 {
		t.Errorf("the heaviest reader has articles in %d months (%v)", months, err)
	}
	var latest time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT max(created_at) FROM articles`).Scan(&latest); err != nil || latest.After(now) || latest.Month() != now.Month() {
		t.Errorf("latest article %v (%v), want one this month before %v", latest, err, now)
	}
	// Inpatients have vitals and predictions.
	var withVitals int
	if err := db.Pool.QueryRow(ctx, `SELECT count(DISTINCT patient_id) FROM observations`).Scan(&withVitals); err != nil || withVitals < 200 {
		t.Errorf("%d patients with vitals (%v)", withVitals, err)
	}
	// The demo's alarm rules were in place as the predictions went in: some
	// alarms are open, some resolved, none for a patient no longer in.
	var open, resolved, notIn int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE a.state = 'open'), count(*) FILTER (WHERE a.state = 'resolved'),
        count(*) FILTER (WHERE a.state = 'open' AND (p.discharged_at IS NOT NULL OR p.died_at IS NOT NULL))
        FROM alarms a JOIN patients p ON p.id = a.patient_id`).Scan(&open, &resolved, &notIn); err != nil || open < 5 || resolved < 5 || notIn != 0 {
		t.Errorf("%d alarms open, %d resolved, %d open for patients gone (%v)", open, resolved, notIn, err)
	}
}

// The bench profile at a small scale: the sizes follow the scale, and the
// purchases all fall in the month before now.
func TestBenchProfile(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	res := run(t, db, seed.Options{Profile: "bench", Scale: 0.01, Now: now})
	counts := imported(res)
	want := map[string]int64{"purchases": 2000, "courses": 50, "teachers": 5, "patients": 1000, "observations": 10_000, "categories": 50}
	for kind, n := range want {
		if counts[kind] != n {
			t.Errorf("%s: %d rows, want %d", kind, counts[kind], n)
		}
	}
	if a := counts["articles"]; a < 9_500 || a > 10_100 {
		t.Errorf("%d articles, want about 10,000", a)
	}
	var outside int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM purchases WHERE purchased_at < '2025-02-01' OR purchased_at >= '2025-03-01'`).Scan(&outside); err != nil || outside != 0 {
		t.Errorf("%d purchases outside February (%v)", outside, err)
	}
}

// WriteCSV writes files that canopy import takes whole, into the same data.
func TestWriteCSVImportsBack(t *testing.T) {
	t.Parallel()
	opts := seed.Options{Seed: 3, Now: now, Scale: 0.2}
	dir := t.TempDir()
	paths, err := seed.WriteCSV(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(importer.Kinds()) {
		t.Fatalf("wrote %v", paths)
	}
	db, direct := testdb.New(t), testdb.New(t)
	for i, path := range paths {
		kind := importer.Kinds()[i]
		if filepath.Base(path) != kind+".csv" {
			t.Fatalf("file %s for %s", path, kind)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := importer.Import(context.Background(), queries.Wrap(db.Pool), kind, f, importer.Options{Batch: 500})
		f.Close()
		if err != nil || sum.Rejected > 0 || sum.Inserted == 0 {
			t.Fatalf("%s: %s, %v", kind, sum, err)
		}
	}
	run(t, direct, opts)
	got, want := digest(t, db), digest(t, direct)
	for table := range want {
		if got[table] != want[table] {
			t.Errorf("%s from the files differs from the seed's", table)
		}
	}
}

func TestOptionsRefused(t *testing.T) {
	t.Parallel()
	for _, opts := range []seed.Options{{Profile: "huge"}, {Scale: -1}} {
		if _, err := seed.WriteCSV(t.TempDir(), opts); err == nil {
			t.Errorf("%+v: no error", opts)
		}
	}
}
