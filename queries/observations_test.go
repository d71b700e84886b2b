package queries_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"canopy/internal/testdb"
	"canopy/queries"
)

func TestInsertObservations(t *testing.T) {
	f := departments(t)
	ctx := context.Background()
	hr := func(uid string, minutes int, v float64) queries.Observation {
		return queries.Observation{PatientUID: uid, Code: "heart_rate", ObservedAt: at(minutes), Value: v}
	}
	stored := func() int {
		var n int
		if err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM observations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	cases := []struct {
		name   string
		batch  []queries.Observation
		want   queries.IngestCounts
		stored int // rows in the table after the batch
		errs   []int
	}{
		{name: "new observations", batch: []queries.Observation{hr("p1", 0, 80), hr("p1", 1, 81), hr("p2", 0, 70),
			{PatientUID: "p1", Code: "spo2", ObservedAt: at(0), Value: 97}},
			want: queries.IngestCounts{Inserted: 4}, stored: 4},
		{name: "a resent batch is all duplicates", batch: []queries.Observation{hr("p1", 0, 80), hr("p1", 1, 81)},
			want: queries.IngestCounts{Duplicates: 2}, stored: 4},
		{name: "a repeat keeps the first value", batch: []queries.Observation{hr("p1", 0, 99)},
			want: queries.IngestCounts{Duplicates: 1}, stored: 4},
		{name: "repeats within a batch", batch: []queries.Observation{hr("p3", 0, 60), hr("p3", 0, 61), hr("p3", 2, 62), hr("p3", 0, 60)},
			want: queries.IngestCounts{Inserted: 2, Duplicates: 2}, stored: 6},
		{name: "the same instant in another offset is a repeat",
			batch: []queries.Observation{{PatientUID: "p3", Code: "heart_rate", ObservedAt: at(2).In(time.FixedZone("KST", 9*3600)), Value: 1}},
			want:  queries.IngestCounts{Duplicates: 1}, stored: 6},
		{name: "unknown patients write nothing", batch: []queries.Observation{hr("p4", 5, 1), hr("nobody", 0, 1), hr("p5", 5, 1), hr("ghost", 0, 1)},
			stored: 6, errs: []int{1, 3}},
		{name: "empty batch", batch: []queries.Observation{}, stored: 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			counts, err := f.s.InsertObservations(ctx, queries.Actor{}, c.batch)
			if c.errs != nil {
				var ve *queries.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a ValidationError", err)
				}
				var got []int
				for _, e := range ve.Errors {
					if e.Field != "patient_uid" {
						t.Errorf("error on %s", e.Field)
					}
					got = append(got, e.Index)
				}
				if !slices.Equal(got, c.errs) {
					t.Errorf("indexes %v, want %v", got, c.errs)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if counts != c.want {
				t.Errorf("counts %+v, want %+v", counts, c.want)
			}
			if n := stored(); n != c.stored {
				t.Errorf("%d rows stored, want %d", n, c.stored)
			}
		})
	}
	var v float64
	if err := f.db.Pool.QueryRow(ctx, `SELECT value FROM observations o JOIN patients p ON p.id = o.patient_id
		WHERE p.uid = 'p1' AND o.code = 'heart_rate' AND o.observed_at = $1`, at(0)).Scan(&v); err != nil || v != 80 {
		t.Errorf("p1's first heart rate is %v (%v), want the first value sent, 80", v, err)
	}
}

// TestObservationsRequirePatients checks what the foreign key to patients
// did before statement triggers took its place: no writer, canopy or not,
// stores an observation of a patient that does not exist, and deleting
// patients deletes their observations.
func TestObservationsRequirePatients(t *testing.T) {
	f := departments(t)
	ctx := context.Background()
	must(f.s.InsertObservations(ctx, queries.Actor{}, []queries.Observation{
		{PatientUID: "p1", Code: "heart_rate", ObservedAt: at(0), Value: 80},
		{PatientUID: "p2", Code: "heart_rate", ObservedAt: at(0), Value: 70},
	}))
	count := func(where string) int {
		var n int
		if err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM observations o WHERE `+where).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	cases := []struct {
		name string
		sql  string
	}{
		{"insert", `INSERT INTO observations (patient_id, code, observed_at, value)
			SELECT id, 'spo2', now(), 1 FROM patients WHERE uid = 'p1' UNION ALL SELECT -1, 'spo2', now(), 1`},
		{"copy-like insert of one row", `INSERT INTO observations VALUES (-1, 'spo2', now(), 1)`},
		{"update", `UPDATE observations SET patient_id = -1 WHERE patient_id = (SELECT id FROM patients WHERE uid = 'p1')`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.db.Pool.Exec(ctx, c.sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "23503" || pgErr.ConstraintName != "observations_patient_id_fkey" {
				t.Fatalf("err = %v, want a foreign key violation on observations_patient_id_fkey", err)
			}
			if n := count("true"); n != 2 {
				t.Errorf("%d observations, want the 2 there were", n)
			}
		})
	}
	t.Run("deleting a patient deletes its observations", func(t *testing.T) {
		f.exec(`DELETE FROM patients WHERE uid = 'p1'`)
		if n := count("NOT EXISTS (SELECT FROM patients p WHERE p.id = o.patient_id)"); n != 0 {
			t.Errorf("%d observations of deleted patients remain", n)
		}
		if n := count("true"); n != 1 {
			t.Errorf("%d observations, want p2's 1", n)
		}
	})
}

// TestInsertObservationsConcurrently runs overlapping batches at once: each
// row is stored once, the inserted counts add up to the rows stored, and no
// batch fails (the COPY of a batch that meets another's rows falls back to
// skipping them; sorted keys keep the writers from deadlocking).
func TestInsertObservationsConcurrently(t *testing.T) {
	db := testdb.New(t)
	s := queries.New(db.Pool)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO patients (uid) SELECT 'c' || g FROM generate_series(1, 10) g`); err != nil {
		t.Fatal(err)
	}
	const writers, rows = 6, 2000
	batch := func(w int) []queries.Observation {
		out := make([]queries.Observation, 0, rows)
		for i := range rows {
			k := i + w*rows/2 // half of each batch is also in the next writer's
			out = append(out, queries.Observation{PatientUID: fmt.Sprintf("c%d", 1+(k*7)%10), Code: "hr", ObservedAt: at(k), Value: float64(k)})
		}
		rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	}
	var inserted atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts, err := s.InsertObservations(ctx, queries.Actor{}, batch(w))
			if err != nil {
				t.Errorf("writer %d: %v", w, err)
				return
			}
			if counts.Inserted+counts.Duplicates != rows {
				t.Errorf("writer %d: %+v does not add up to %d", w, counts, rows)
			}
			inserted.Add(int64(counts.Inserted))
		}()
	}
	wg.Wait()
	var stored int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM observations`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := int64(rows + (writers-1)*rows/2); stored != want || inserted.Load() != want {
		t.Errorf("%d rows stored and %d counted as inserted, want %d", stored, inserted.Load(), want)
	}
	// One audit row a batch, whichever way it went in: a COPY that failed
	// took its audit row back with it.
	var entries, records, audited int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*), sum(record_count), sum(inserted) FROM audit_log
		WHERE action = 'observations.bulk'`).Scan(&entries, &records, &audited); err != nil {
		t.Fatal(err)
	}
	if entries != writers || records != writers*rows || audited != stored {
		t.Errorf("audit log: %d entries of %d records, %d inserted; want %d of %d, %d", entries, records, audited, writers, writers*rows, stored)
	}
}

func TestHourlyMeans(t *testing.T) {
	f := departments(t)
	ctx := context.Background()
	obs := func(uid, code string, minutes int, v float64) queries.Observation {
		return queries.Observation{PatientUID: uid, Code: code, ObservedAt: at(minutes), Value: v}
	}
	// feedTime is 08:00 UTC. p1 and p2 are in the icu, p6 in the cardiac ward.
	must(f.s.InsertObservations(ctx, queries.Actor{}, []queries.Observation{
		obs("p1", "heart_rate", -1, 200),       // 07:59, before the window
		obs("p1", "heart_rate", 10, 80),        // 08:10
		obs("p1", "heart_rate", 50, 90),        // 08:50
		obs("p1", "spo2", 30, 97),              // 08:30
		obs("p1", "heart_rate", 60, 70),        // 09:00, the next hour
		obs("p1", "heart_rate", 119, 72),       // 09:59
		obs("p1", "heart_rate", 120, 300),      // 10:00, the end of the window, excluded
		obs("p2", "heart_rate", 15, 65.5),      // 08:15
		obs("p6", "heart_rate", 15, 60),        // 08:15
		obs("p6", "resp_rate", 16, 14),         // 08:16
		obs("p6", "resp_rate", 17, 15),         // 08:17
		obs("p6", "heart_rate", 24*60+15, 500), // a day later
	}))
	window := queries.HourlyQuery{From: at(0), To: at(120)}
	render := func(series []queries.HourlyMean) []string {
		var lines []string
		for _, h := range series {
			var values []string
			for _, code := range slices.Sorted(maps.Keys(h.Values)) {
				values = append(values, fmt.Sprintf("%s=%g", code, h.Values[code]))
			}
			lines = append(lines, h.PatientUID+" "+h.Hour.Format("15:04 MST")+" "+strings.Join(values, " "))
		}
		return lines
	}
	cases := []struct {
		name  string
		query func(q queries.HourlyQuery) queries.HourlyQuery
		want  []string
	}{
		{"every patient, half-open window", func(q queries.HourlyQuery) queries.HourlyQuery { return q }, []string{
			"p1 08:00 UTC heart_rate=85 spo2=97",
			"p1 09:00 UTC heart_rate=71",
			"p2 08:00 UTC heart_rate=65.5",
			"p6 08:00 UTC heart_rate=60 resp_rate=14.5"}},
		{"one ward", func(q queries.HourlyQuery) queries.HourlyQuery { q.WardID = new(f.id["icu"]); return q }, []string{
			"p1 08:00 UTC heart_rate=85 spo2=97",
			"p1 09:00 UTC heart_rate=71",
			"p2 08:00 UTC heart_rate=65.5"}},
		{"one patient", func(q queries.HourlyQuery) queries.HourlyQuery { q.PatientUID = new("p6"); return q }, []string{
			"p6 08:00 UTC heart_rate=60 resp_rate=14.5"}},
		{"ward and patient", func(q queries.HourlyQuery) queries.HourlyQuery {
			q.WardID, q.PatientUID = new(f.id["icu"]), new("p6")
			return q
		}, nil},
		{"window in another offset", func(q queries.HourlyQuery) queries.HourlyQuery {
			kst := time.FixedZone("KST", 9*3600)
			q.From, q.To = at(60).In(kst), at(120).In(kst)
			return q
		}, []string{"p1 09:00 UTC heart_rate=71"}},
		{"window not on the hour", func(q queries.HourlyQuery) queries.HourlyQuery {
			q.From, q.To = at(20), at(55)
			return q
		}, []string{"p1 08:00 UTC heart_rate=90 spo2=97"}},
		{"unknown ward", func(q queries.HourlyQuery) queries.HourlyQuery { q.WardID = new(int64(1 << 40)); return q }, nil},
		{"unknown patient", func(q queries.HourlyQuery) queries.HourlyQuery { q.PatientUID = new("nobody"); return q }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			series, err := f.s.HourlyMeans(ctx, c.query(window))
			if err != nil {
				t.Fatal(err)
			}
			if series == nil {
				t.Error("nil series")
			}
			equalLines(t, render(series), c.want)
		})
	}
	t.Run("hours start on the UTC hour whatever the session's time zone", func(t *testing.T) {
		cfg := must(pgxpool.ParseConfig(f.db.URL))
		cfg.ConnConfig.RuntimeParams["timezone"] = "Asia/Kolkata" // UTC+05:30
		pool := must(pgxpool.NewWithConfig(ctx, cfg))
		defer pool.Close()
		series, err := queries.New(pool).HourlyMeans(ctx, queries.HourlyQuery{From: at(0), To: at(60), PatientUID: new("p1")})
		if err != nil {
			t.Fatal(err)
		}
		equalLines(t, render(series), []string{"p1 08:00 UTC heart_rate=85 spo2=97"})
	})
	t.Run("empty window", func(t *testing.T) {
		_, err := f.s.HourlyMeans(ctx, queries.HourlyQuery{From: at(0), To: at(0)})
		wantErr(t, err, nil, "to")
	})
}

// rangeOnObservedAt matches an index condition that is a range on the bare
// observed_at column.
var rangeOnObservedAt = regexp.MustCompile(`Index Cond: .*\(observed_at >= .*\(observed_at < `)

// The hourly means read a range of an index on observed_at, for a patient,
// a ward and across all patients: EXPLAIN the very statements HourlyMeans ran.
func TestHourlyMeansUseIndexRange(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	for _, sql := range []string{
		`INSERT INTO departments (name, code) VALUES ('hospital', 'H')`,
		`INSERT INTO wards (department_id, name, beds) SELECT 1, 'ward ' || g, 30 FROM generate_series(1, 10) g`,
		// Thousands of patients without observations, stored before those
		// with them, as in a hospital that has discharged many.
		`INSERT INTO patients (uid, ward_id, admitted_at) SELECT 'old' || g, 1 + g % 10, now() FROM generate_series(1, 20000) g`,
		`INSERT INTO patients (uid, ward_id, admitted_at) SELECT 'p' || g, 1 + g % 10, now() FROM generate_series(1, 100) g`,
		// Two weeks of a reading every 30 minutes, two codes, per patient.
		`INSERT INTO observations (patient_id, code, observed_at, value)
		 SELECT p.id, c, TIMESTAMPTZ '2024-10-01 00:00:00Z' + m * interval '30 minutes', 60 + m % 40
		 FROM patients p, generate_series(0, 14 * 48 - 1) m, unnest(ARRAY['heart_rate', 'spo2']) c WHERE p.uid LIKE 'p%'`,
		`VACUUM ANALYZE`,
	} {
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	cfg := must(pgxpool.ParseConfig(db.URL))
	rec := &recorder{}
	cfg.ConnConfig.Tracer = rec
	pool := must(pgxpool.NewWithConfig(ctx, cfg))
	defer pool.Close()
	s := queries.New(pool)
	from := time.Date(2024, 10, 5, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		query  queries.HourlyQuery
		count  int  // series entries
		chosen bool // a ward or a patient: patients is read only for them
	}{
		{"a ward over a day", queries.HourlyQuery{From: from, To: from.Add(24 * time.Hour), WardID: new(int64(3))}, 10 * 24, true},
		{"a patient over a week", queries.HourlyQuery{From: from, To: from.Add(7 * 24 * time.Hour), PatientUID: new("p7")}, 7 * 24, true},
		{"everyone over an hour", queries.HourlyQuery{From: from, To: from.Add(time.Hour)}, 100, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			series, err := s.HourlyMeans(ctx, c.query)
			if err != nil {
				t.Fatal(err)
			}
			if len(series) != c.count || series[0].Values["heart_rate"] == 0 {
				t.Fatalf("%d series entries, want %d", len(series), c.count)
			}
			rows, err := db.Pool.Query(ctx, "EXPLAIN "+rec.sql, rec.args...)
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(must(pgx.CollectRows(rows, pgx.RowTo[string])), "\n")
			// observations_pkey (patient_id, observed_at, ...) per patient, or
			// observations_time across patients: either way a range on observed_at.
			if strings.Contains(plan, "Seq Scan on observations") || !rangeOnObservedAt.MatchString(plan) {
				t.Errorf("want an index range on observed_at, got\n%s", plan)
			}
			// The 20,000 other patients are never walked through: not by a
			// scan of patients, nor along patients_pkey (a merge join did).
			if c.chosen && (strings.Contains(plan, "Seq Scan on patients") || strings.Contains(plan, "using patients_pkey")) {
				t.Errorf("want patients read only for the ward or patient asked for, got\n%s", plan)
			}
		})
	}
}
