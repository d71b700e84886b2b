package queries_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"canopy/internal/testdb"
	"canopy/optional"
	"canopy/queries"
)

// feedTime is the base of the timestamps the feed tests write.
var feedTime = time.Date(2024, 11, 3, 8, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return feedTime.Add(time.Duration(minutes) * time.Minute) }

func day(s string) time.Time { return must(time.Parse(time.DateOnly, s)) }

// describe renders a patient on one line: dates as such, times as minutes
// after feedTime, wards by name, "-" for null.
func (f *forest) describe(p queries.Patient) string {
	text := func(s *string) string {
		if s == nil {
			return "-"
		}
		return *s
	}
	date := func(d *time.Time) string {
		if d == nil {
			return "-"
		}
		return d.Format(time.DateOnly)
	}
	moment := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return fmt.Sprintf("%+.0fm", t.Sub(feedTime).Minutes())
	}
	ward := "-"
	if p.WardID != nil {
		ward = f.names[key{"ward", *p.WardID}]
	}
	return strings.Join([]string{p.UID, text(p.Name), text(p.Sex), date(p.BirthDate), ward,
		moment(p.AdmittedAt), moment(p.DischargedAt), moment(p.DiedAt)}, " ")
}

// patient reads a patient for describe, or "<uid> missing".
func (f *forest) patient(uid string) string {
	f.t.Helper()
	p, err := f.s.Patient(context.Background(), uid)
	if errors.Is(err, queries.ErrNotFound) {
		return uid + " missing"
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return f.describe(p)
}

func TestUpsertPatients(t *testing.T) {
	f := departments(t)
	ctx := context.Background()
	icu, recovery := f.id["icu"], f.id["recovery"]
	full := func(uid string) queries.PatientRecord {
		return queries.PatientRecord{UID: uid, Name: optional.Of("Ann"), Sex: optional.Of("F"),
			BirthDate: optional.Of(day("1980-02-29")), WardID: optional.Of(icu), AdmittedAt: optional.Of(at(0)),
			DischargedAt: optional.Of(at(60)), DiedAt: optional.Of(at(120))}
	}
	cases := []struct {
		name   string
		before []queries.PatientRecord // written first, in one batch
		batch  []queries.PatientRecord
		want   queries.UpsertCounts
		rows   []string // describe of each uid of the case, after the batch
		errs   []queries.FieldError
	}{
		{name: "new uid inserted with absent fields null",
			batch: []queries.PatientRecord{{UID: "a1", Name: optional.Of("Ann")}},
			want:  queries.UpsertCounts{Inserted: 1},
			rows:  []string{"a1 Ann - - - - - -"}},
		{name: "complete record inserted",
			batch: []queries.PatientRecord{full("b1")},
			want:  queries.UpsertCounts{Inserted: 1},
			rows:  []string{"b1 Ann F 1980-02-29 icu +0m +60m +120m"}},
		{name: "partial update keeps other fields",
			before: []queries.PatientRecord{full("c1")},
			batch:  []queries.PatientRecord{{UID: "c1", WardID: optional.Of(recovery), DiedAt: optional.Of(at(90))}},
			want:   queries.UpsertCounts{Updated: 1},
			rows:   []string{"c1 Ann F 1980-02-29 recovery +0m +60m +90m"}},
		{name: "uid alone changes nothing",
			before: []queries.PatientRecord{full("d1")},
			batch:  []queries.PatientRecord{{UID: "d1"}},
			want:   queries.UpsertCounts{Updated: 1},
			rows:   []string{"d1 Ann F 1980-02-29 icu +0m +60m +120m"}},
		{name: "null clears",
			before: []queries.PatientRecord{full("e1")},
			batch: []queries.PatientRecord{{UID: "e1", Name: optional.Null[string](), Sex: optional.Null[string](),
				BirthDate: optional.Null[time.Time](), WardID: optional.Null[int64](), AdmittedAt: optional.Null[time.Time](),
				DischargedAt: optional.Null[time.Time](), DiedAt: optional.Null[time.Time]()}},
			want: queries.UpsertCounts{Updated: 1},
			rows: []string{"e1 - - - - - - -"}},
		{name: "duplicates merged in order, later fields win",
			before: []queries.PatientRecord{{UID: "f2", Name: optional.Of("Old")}},
			batch: []queries.PatientRecord{
				{UID: "f1", Name: optional.Of("First"), Sex: optional.Of("F")},
				{UID: "f2", Sex: optional.Of("M")},
				{UID: "f1", Name: optional.Of("Second"), WardID: optional.Of(icu)},
				{UID: "f1", Sex: optional.Null[string](), AdmittedAt: optional.Of(at(5))},
				{UID: "f2", Name: optional.Null[string]()},
				{UID: "f2", Name: optional.Of("New")},
			},
			want: queries.UpsertCounts{Inserted: 1, Updated: 1},
			rows: []string{"f1 Second - - icu +5m - -", "f2 New M - - - - -"}},
		{name: "new and known uids in one batch",
			before: []queries.PatientRecord{{UID: "g1", Name: optional.Of("Known")}},
			batch:  []queries.PatientRecord{{UID: "g2", Sex: optional.Of("U")}, {UID: "g1", Sex: optional.Of("O")}},
			want:   queries.UpsertCounts{Inserted: 1, Updated: 1},
			rows:   []string{"g1 Known O - - - - -", "g2 - U - - - - -"}},
		{name: "unknown wards write nothing and name every record",
			before: []queries.PatientRecord{{UID: "h1", Name: optional.Of("Kept")}},
			batch: []queries.PatientRecord{
				{UID: "h1", Name: optional.Of("Changed")},
				{UID: "h2", WardID: optional.Of(int64(1 << 40))},
				{UID: "h3", WardID: optional.Of(icu)},
				{UID: "h3", WardID: optional.Of(int64(1<<40 + 1))},
				{UID: "h4", WardID: optional.Of(int64(1 << 40))},
			},
			rows: []string{"h1 Kept - - - - - -", "h2 missing", "h3 missing", "h4 missing"},
			errs: []queries.FieldError{{Index: 1, Field: "ward_id"}, {Index: 3, Field: "ward_id"}, {Index: 4, Field: "ward_id"}}},
		{name: "an unknown ward overridden later in the body still refuses the batch",
			batch: []queries.PatientRecord{{UID: "i1", WardID: optional.Of(int64(1 << 40))}, {UID: "i1", WardID: optional.Of(icu)}},
			rows:  []string{"i1 missing"},
			errs:  []queries.FieldError{{Index: 0, Field: "ward_id"}}},
		{name: "empty batch", batch: []queries.PatientRecord{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.before != nil {
				if _, err := f.s.UpsertPatients(ctx, queries.Actor{}, c.before); err != nil {
					t.Fatal(err)
				}
			}
			counts, err := f.s.UpsertPatients(ctx, queries.Actor{}, c.batch)
			if c.errs != nil {
				var ve *queries.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a ValidationError", err)
				}
				var got, want []string
				for _, e := range ve.Errors {
					got = append(got, fmt.Sprintf("%d %s", e.Index, e.Field))
				}
				for _, e := range c.errs {
					want = append(want, fmt.Sprintf("%d %s", e.Index, e.Field))
				}
				equalLines(t, got, want)
			} else if err != nil {
				t.Fatal(err)
			} else if counts != c.want {
				t.Errorf("counts %+v, want %+v", counts, c.want)
			}
			var uids, rows []string
			for _, r := range c.rows {
				uids = append(uids, strings.Fields(r)[0])
			}
			for _, uid := range uids {
				rows = append(rows, f.patient(uid))
			}
			equalLines(t, rows, c.rows)
		})
	}
}

// A record that changes nothing of its patient leaves the stored row as it
// is: no new row version (so no index entries, trigger rows or updated_at),
// yet it counts as updated, as the API says. One that changes a field, or
// clears one that has a value, writes the row.
func TestUpsertPatientsLeavesUnchangedRows(t *testing.T) {
	f := departments(t)
	ctx := context.Background()
	icu, recovery := f.id["icu"], f.id["recovery"]
	stored := queries.PatientRecord{UID: "u1", Name: optional.Of("Ann"), Sex: optional.Of("F"),
		BirthDate: optional.Of(day("1980-02-29")), WardID: optional.Of(icu), AdmittedAt: optional.Of(at(0))}
	version := func(uid string) (row, departments string) {
		t.Helper()
		if err := f.db.Pool.QueryRow(ctx, `SELECT xmin::text, (SELECT version::text FROM tree_versions WHERE tree = 'departments')
			FROM patients WHERE uid = $1`, uid).Scan(&row, &departments); err != nil {
			t.Fatal(err)
		}
		return row, departments
	}
	cases := []struct {
		name    string
		record  queries.PatientRecord
		written bool
		row     string
	}{
		{"the same values", stored, false, "u1 Ann F 1980-02-29 icu +0m - -"},
		{"uid alone", queries.PatientRecord{UID: "u1"}, false, "u1 Ann F 1980-02-29 icu +0m - -"},
		{"null for a field already null", queries.PatientRecord{UID: "u1", DiedAt: optional.Null[time.Time](),
			Name: optional.Of("Ann")}, false, "u1 Ann F 1980-02-29 icu +0m - -"},
		{"one field changed", queries.PatientRecord{UID: "u1", Name: optional.Of("Ann"), WardID: optional.Of(recovery)},
			true, "u1 Ann F 1980-02-29 recovery +0m - -"},
		{"null clears a value", queries.PatientRecord{UID: "u1", Sex: optional.Null[string]()}, true, "u1 Ann - 1980-02-29 icu +0m - -"},
		{"a field set where it was null", queries.PatientRecord{UID: "u1", DischargedAt: optional.Of(at(30))},
			true, "u1 Ann F 1980-02-29 icu +0m +30m -"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.exec(`DELETE FROM patients WHERE uid = 'u1'`)
			must(f.s.UpsertPatients(ctx, queries.Actor{}, []queries.PatientRecord{stored}))
			row, departments := version("u1")
			counts, err := f.s.UpsertPatients(ctx, queries.Actor{}, []queries.PatientRecord{c.record})
			if err != nil {
				t.Fatal(err)
			}
			if counts != (queries.UpsertCounts{Updated: 1}) {
				t.Errorf("counts %+v, want one updated", counts)
			}
			rowAfter, departmentsAfter := version("u1")
			if written := rowAfter != row; written != c.written {
				t.Errorf("row written: %v, want %v", written, c.written)
			}
			if bumped := departmentsAfter != departments; bumped != c.written {
				t.Errorf("departments version bumped: %v, want %v", bumped, c.written)
			}
			equalLines(t, []string{f.patient("u1")}, []string{c.row})
		})
	}
}

// Eight writers send overlapping batches over the same 200 uids, each batch
// carrying a random subset of the fields of each of its records, new uids
// included. Every batch must succeed, and the final rows must be what
// applying the batches one after another, in some order that keeps each
// writer's own order, produces.
func TestConcurrentPatientBatches(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	pool, err := queries.Open(ctx, queries.PoolConfig{URL: db.URL, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := pool.Store
	var department, wards = int64(0), make([]int64, 4)
	if err := db.Pool.QueryRow(ctx, `INSERT INTO departments (name, code) VALUES ('hospital', 'H') RETURNING id`).Scan(&department); err != nil {
		t.Fatal(err)
	}
	for i := range wards {
		w, err := s.CreateWard(ctx, queries.NewWard{DepartmentID: department, Name: fmt.Sprint("ward ", i), Beds: 10})
		if err != nil {
			t.Fatal(err)
		}
		wards[i] = w.ID
	}

	const writers, batches, uids, perBatch = 8, 20, 200, 80
	// Batch k = writer*batches + b writes values that name it: name "k<k>",
	// birth date 1950-01-01 + k days, admission k hours after feedTime,
	// discharge and death 30 and 45 minutes after that.
	uid := func(u int) string { return fmt.Sprintf("u%03d", u) }
	built := make([][]queries.PatientRecord, writers*batches)
	for k := range built {
		r := rand.New(rand.NewPCG(uint64(k), 7))
		for _, u := range r.Perm(uids)[:perBatch] {
			rec := queries.PatientRecord{UID: uid(u)}
			admitted := feedTime.Add(time.Duration(k) * time.Hour)
			fields := []func(){
				func() { rec.Name = optional.Of(fmt.Sprint("k", k)) },
				func() { rec.Sex = optional.Of([]string{"F", "M", "O", "U"}[k%4]) },
				func() { rec.BirthDate = optional.Of(day("1950-01-01").AddDate(0, 0, k)) },
				func() { rec.WardID = optional.Of(wards[k%4]) },
				func() { rec.AdmittedAt = optional.Of(admitted) },
				func() { rec.DischargedAt = optional.Of(admitted.Add(30 * time.Minute)) },
				func() { rec.DiedAt = optional.Of(admitted.Add(45 * time.Minute)) },
			}
			for _, set := range fields {
				if r.IntN(2) == 0 {
					set()
				}
			}
			built[k] = append(built[k], rec)
		}
	}

	var wg sync.WaitGroup
	errs := make([]error, len(built))
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				k := w*batches + b
				// One statement each: none was aborted and retried.
				counted, stats := queries.WithStats(ctx)
				if _, errs[k] = s.UpsertPatients(counted, queries.Actor{}, built[k]); errs[k] == nil && stats.Statements() != 1 {
					errs[k] = fmt.Errorf("ran %d statements, want 1: it was retried", stats.Statements())
				}
				if errs[k] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			t.Fatalf("batch %d: %v", k, err)
		}
	}

	type final struct {
		name, sex                       *string
		birth, admitted, discharged, dd *time.Time
		ward                            *int64
	}
	finals := map[string]final{}
	rows, err := db.Pool.Query(ctx, `SELECT uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at FROM patients`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var u string
		var f final
		if err := rows.Scan(&u, &f.name, &f.sex, &f.birth, &f.ward, &f.admitted, &f.discharged, &f.dd); err != nil {
			t.Fatal(err)
		}
		finals[u] = f
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(finals) != uids {
		t.Fatalf("%d patients, want %d", len(finals), uids)
	}

	// Each column: whether a record carried it, whether the final row holds
	// a value, and which batch wrote that value. Name, birth date and the
	// three times name their batch; sex and ward do not (writer -1), and are
	// only checked to be set exactly when some batch set them.
	hoursAfter := func(t *time.Time, offset time.Duration) int { return int(t.Add(-offset).Sub(feedTime) / time.Hour) }
	columns := []struct {
		name    string
		carried func(queries.PatientRecord) bool
		writer  func(final) (stored bool, k int)
	}{
		{"name", func(r queries.PatientRecord) bool { return r.Name.Set }, func(f final) (bool, int) {
			if f.name == nil {
				return false, -1
			}
			var k int
			must(fmt.Sscanf(*f.name, "k%d", &k))
			return true, k
		}},
		{"sex", func(r queries.PatientRecord) bool { return r.Sex.Set }, func(f final) (bool, int) { return f.sex != nil, -1 }},
		{"birth_date", func(r queries.PatientRecord) bool { return r.BirthDate.Set }, func(f final) (bool, int) {
			if f.birth == nil {
				return false, -1
			}
			return true, int(f.birth.Sub(day("1950-01-01")) / (24 * time.Hour))
		}},
		{"ward_id", func(r queries.PatientRecord) bool { return r.WardID.Set }, func(f final) (bool, int) { return f.ward != nil, -1 }},
		{"admitted_at", func(r queries.PatientRecord) bool { return r.AdmittedAt.Set }, func(f final) (bool, int) {
			if f.admitted == nil {
				return false, -1
			}
			return true, hoursAfter(f.admitted, 0)
		}},
		{"discharged_at", func(r queries.PatientRecord) bool { return r.DischargedAt.Set }, func(f final) (bool, int) {
			if f.discharged == nil {
				return false, -1
			}
			return true, hoursAfter(f.discharged, 30*time.Minute)
		}},
		{"died_at", func(r queries.PatientRecord) bool { return r.DiedAt.Set }, func(f final) (bool, int) {
			if f.dd == nil {
				return false, -1
			}
			return true, hoursAfter(f.dd, 45*time.Minute)
		}},
	}
	// setBy[uid][column] lists the batches that set the column of uid.
	setBy := map[string][][]int{}
	for k, batch := range built {
		for _, r := range batch {
			if setBy[r.UID] == nil {
				setBy[r.UID] = make([][]int, len(columns))
			}
			for c, col := range columns {
				if col.carried(r) {
					setBy[r.UID][c] = append(setBy[r.UID][c], k)
				}
			}
		}
	}
	// after[j] lists the batches that must come after batch j: the next of
	// the same writer, and the batch whose value a column kept over j's.
	after := make([][]int, len(built))
	for w := range writers {
		for b := 1; b < batches; b++ {
			after[w*batches+b-1] = append(after[w*batches+b-1], w*batches+b)
		}
	}
	for u, f := range finals {
		for c, col := range columns {
			set := setBy[u][c]
			stored, writer := col.writer(f)
			switch {
			case stored != (len(set) > 0):
				t.Errorf("%s %s: stored %v, set by batches %v", u, col.name, stored, set)
			case writer >= 0 && !slices.Contains(set, writer):
				t.Errorf("%s %s: holds the value of batch %d, which did not set it (set by %v)", u, col.name, writer, set)
			case writer >= 0:
				for _, k := range set {
					if k != writer {
						after[k] = append(after[k], writer)
					}
				}
			}
		}
	}
	if cycle := findCycle(after); cycle != nil {
		t.Errorf("no order of the batches produces the final rows: batches %v each must come after the one before", cycle)
	}
}

// findCycle returns the nodes of a cycle in the graph, or nil.
func findCycle(after [][]int) []int {
	const (
		unseen = iota
		open
		done
	)
	state := make([]int, len(after))
	var stack []int
	var visit func(n int) []int
	visit = func(n int) []int {
		state[n] = open
		stack = append(stack, n)
		for _, m := range after[n] {
			switch state[m] {
			case open:
				return append(slices.Clone(stack[slices.Index(stack, m):]), m)
			case unseen:
				if c := visit(m); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}
	for n := range after {
		if state[n] == unseen {
			if c := visit(n); c != nil {
				return c
			}
		}
	}
	return nil
}

func TestPatientReads(t *testing.T) {
	f := departments(t)
	ctx := context.Background()
	if _, err := f.s.UpsertPatients(ctx, queries.Actor{}, []queries.PatientRecord{
		{UID: "p1", Name: optional.Of("Ann"), Sex: optional.Of("F"), BirthDate: optional.Of(day("1970-05-06"))},
		{UID: "nowhere", Name: optional.Of("No ward")},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.InsertPredictions(ctx, queries.Actor{}, []queries.Prediction{
		{PatientUID: "p1", Model: "m1", Target: "sepsis", PredictedAt: at(0), HorizonHours: 6, Probability: 0.1},
		{PatientUID: "p1", Model: "m1", Target: "sepsis", PredictedAt: at(60), HorizonHours: 6, Probability: 0.3},
		{PatientUID: "p1", Model: "m1", Target: "death", PredictedAt: at(30), HorizonHours: 24, Probability: 0.01},
		{PatientUID: "p1", Model: "m0", Target: "sepsis", PredictedAt: at(10), HorizonHours: 12, Probability: 0.2},
		{PatientUID: "p2", Model: "m1", Target: "sepsis", PredictedAt: at(0), HorizonHours: 6, Probability: 0.5},
		{PatientUID: "p3", Model: "m1", Target: "sepsis", PredictedAt: at(0), HorizonHours: 6, Probability: 0.9},
	}); err != nil {
		t.Fatal(err)
	}
	predictions := func(p queries.Patient) string {
		var parts []string
		for _, pr := range p.LatestPredictions {
			parts = append(parts, fmt.Sprintf("%s/%s %+.0fm %dh %.2f", pr.Model, pr.Target, pr.PredictedAt.Sub(feedTime).Minutes(), pr.HorizonHours, pr.Probability))
		}
		return strings.Join(parts, ", ")
	}

	t.Run("patient with ward, path and latest predictions", func(t *testing.T) {
		p, err := f.s.Patient(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if p.Ward == nil || p.Ward.ID != f.id["icu"] || p.Ward.Name != "icu" ||
			fmt.Sprint(p.Ward.DepartmentPath) != fmt.Sprint([]queries.PathStep{{ID: f.id["hospital"], Name: "hospital"}, {ID: f.id["surgery"], Name: "surgery"}}) {
			t.Errorf("ward %+v", p.Ward)
		}
		if got, want := predictions(p), "m0/sepsis +10m 12h 0.20, m1/death +30m 24h 0.01, m1/sepsis +60m 6h 0.30"; got != want {
			t.Errorf("latest predictions %q, want %q", got, want)
		}
		if got := f.describe(p); !strings.HasPrefix(got, "p1 Ann F 1970-05-06 icu") {
			t.Errorf("patient %s", got)
		}
	})
	t.Run("patient without ward or predictions", func(t *testing.T) {
		p, err := f.s.Patient(ctx, "nowhere")
		if err != nil {
			t.Fatal(err)
		}
		if p.Ward != nil || p.LatestPredictions == nil || len(p.LatestPredictions) != 0 {
			t.Errorf("ward %+v, predictions %v", p.Ward, p.LatestPredictions)
		}
	})
	t.Run("unknown patient", func(t *testing.T) {
		_, err := f.s.Patient(ctx, "nobody")
		wantErr(t, err, queries.ErrNotFound, "")
	})

	for _, c := range []struct {
		name string
		ward int64
		want []string
	}{
		{"inpatients only, by uid", f.id["icu"], []string{"p1: m0/sepsis +10m 12h 0.20, m1/death +30m 24h 0.01, m1/sepsis +60m 6h 0.30", "p2: m1/sepsis +0m 6h 0.50"}},
		{"ward without inpatients", f.id["lobby"], nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			patients, err := f.s.WardPatients(ctx, c.ward)
			if err != nil {
				t.Fatal(err)
			}
			if patients == nil {
				t.Error("nil list")
			}
			var got []string
			for _, p := range patients {
				got = append(got, p.UID+": "+predictions(p))
			}
			equalLines(t, got, c.want)
		})
	}
	t.Run("unknown ward", func(t *testing.T) {
		_, err := f.s.WardPatients(ctx, 1<<40)
		wantErr(t, err, queries.ErrNotFound, "")
	})
}

// The upsert's "did the record carry this field" lookups are hash tables
// built once, not a scan of the batch per row: on a batch of known uids
// each lookup runs once, whatever the batch size.
func TestPatientUpsertIsLinear(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	cfg := must(pgxpool.ParseConfig(db.URL))
	rec := &recorder{}
	cfg.ConnConfig.Tracer = rec
	pool := must(pgxpool.NewWithConfig(ctx, cfg))
	defer pool.Close()
	s := queries.New(pool)
	batch := make([]queries.PatientRecord, 5000)
	for i := range batch {
		batch[i] = queries.PatientRecord{UID: fmt.Sprint("u", i), Name: optional.Of("x")}
	}
	must(s.UpsertPatients(ctx, queries.Actor{}, batch))
	for i := range batch {
		batch[i].DiedAt = optional.Of(at(i))
	}
	must(s.UpsertPatients(ctx, queries.Actor{}, batch))
	tx := must(db.Pool.Begin(ctx))
	defer tx.Rollback(ctx)
	var plan []struct{ Plan planNode }
	if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+rec.sql, rec.args...).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	var subplans int
	var walk func(n planNode)
	walk = func(n planNode) {
		if n.ParentRelationship == "SubPlan" {
			subplans++
			if n.ActualLoops > 1 {
				t.Errorf("%s ran %d times", n.SubplanName, n.ActualLoops)
			}
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(plan[0].Plan)
	if subplans < 7 {
		t.Errorf("found %d subplans, want the 7 lookups", subplans)
	}
}

// planNode is a node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType           string     `json:"Node Type"`
	RelationName       string     `json:"Relation Name"`
	IndexName          string     `json:"Index Name"`
	ParentRelationship string     `json:"Parent Relationship"`
	SubplanName        string     `json:"Subplan Name"`
	ActualLoops        int        `json:"Actual Loops"`
	Plans              []planNode `json:"Plans"`
}

// A batch that the database aborts to break a deadlock with another kind of
// writer is run again, and succeeds. Here a transaction holds patient b,
// waits until the batch (which locked a first) waits for b, then asks for a.
// Each waiter looks for a deadlock once, deadlock_timeout after it began to
// wait: the batch's is short, but long enough for the other to be waiting
// by then, and the other's long, so the batch is the one aborted.
func TestUpsertRetriesADeadlock(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	s := queries.New(db.Pool)
	must(s.UpsertPatients(ctx, queries.Actor{}, []queries.PatientRecord{{UID: "a"}, {UID: "b"}}))
	u := must(url.Parse(db.URL))
	q := u.Query()
	q.Set("deadlock_timeout", "500ms") // a run-time parameter of the batch's connections
	u.RawQuery = q.Encode()
	pool := must(queries.Open(ctx, queries.PoolConfig{URL: u.String()}))
	defer pool.Close()

	other := must(db.Pool.Begin(ctx))
	defer other.Rollback(ctx)
	if _, err := other.Exec(ctx, `SET LOCAL deadlock_timeout = '1min'`); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `UPDATE patients SET name = 'other' WHERE uid = 'b'`); err != nil {
		t.Fatal(err)
	}
	counted, stats := queries.WithStats(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := pool.UpsertPatients(counted, queries.Actor{}, []queries.PatientRecord{
			{UID: "a", Name: optional.Of("batch")}, {UID: "b", Sex: optional.Of("F")}})
		done <- err
	}()
	// Wait until the batch waits for b, polling pg_locks as PostgreSQL's own
	// isolation tests do.
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for waiting := false; !waiting; {
		if err := db.Pool.QueryRow(waitCtx, `SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE NOT l.granted AND a.datname = current_database())`).Scan(&waiting); err != nil {
			t.Fatalf("waiting for the batch to wait: %v", err)
		}
	}
	if _, err := other.Exec(ctx, `UPDATE patients SET died_at = now() WHERE uid = 'a'`); err != nil {
		t.Fatalf("the other writer was aborted instead of the batch: %v", err)
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the batch failed: %v", err)
	}
	if n := stats.Statements(); n < 2 {
		t.Errorf("the batch ran %d statements: it was not retried", n)
	}
	var rows string
	if err := db.Pool.QueryRow(ctx, `SELECT string_agg(concat_ws(' ', uid, name, sex, died_at IS NOT NULL), ', ' ORDER BY uid) FROM patients`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != "a batch t, b other F f" {
		t.Errorf("rows %q", rows)
	}
}

// TestPatientsRequireWards checks what the foreign key to wards did before
// statement triggers took its place (migration 000013): no writer, canopy
// or not, stores a patient in a ward that does not exist; a ward deleted
// while a batch places patients in it either refuses the batch or, deleted
// after it, takes the patients out; emptying wards leaves every patient
// without one.
func TestPatientsRequireWards(t *testing.T) {
	f := departments(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wardOf := func(uid string) string {
		t.Helper()
		var ward *int64
		if err := f.db.Pool.QueryRow(ctx, `SELECT ward_id FROM patients WHERE uid = $1`, uid).Scan(&ward); err != nil {
			t.Fatal(err)
		}
		if ward == nil {
			return "-"
		}
		return f.names[key{"ward", *ward}]
	}
	for _, c := range []struct{ name, sql string }{
		{"insert", `INSERT INTO patients (uid, ward_id) SELECT 'x1', min(id) FROM wards UNION ALL SELECT 'x2', -1`},
		{"update", `UPDATE patients SET ward_id = -1 WHERE uid = 'p1'`},
		{"upsert", `INSERT INTO patients (uid, ward_id) VALUES ('p1', -1) ON CONFLICT (uid) DO UPDATE SET ward_id = excluded.ward_id`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.db.Pool.Exec(ctx, c.sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "23503" || pgErr.ConstraintName != "patients_ward_id_fkey" {
				t.Fatalf("err = %v, want a foreign key violation on patients_ward_id_fkey", err)
			}
			if got := wardOf("p1"); got != "icu" {
				t.Errorf("p1 in %s, want icu", got)
			}
		})
	}
	// waitForLock returns once a session waits for a lock.
	waitForLock := func() {
		t.Helper()
		for waiting := 0; waiting == 0; {
			if err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("ward deleted before the batch commits", func(t *testing.T) {
		f.ward("deleted first", "clinic", 1)
		ward := f.id["deleted first"]
		tx := must(f.db.Pool.Begin(ctx))
		defer tx.Rollback(ctx)
		must(tx.Exec(ctx, `DELETE FROM wards WHERE id = $1`, ward))
		batch := make(chan error, 1)
		go func() {
			_, err := f.s.UpsertPatients(ctx, queries.Actor{}, []queries.PatientRecord{{UID: "w0"}, {UID: "w1", WardID: optional.Of(ward)}})
			batch <- err
		}()
		waitForLock()
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		// As if the ward had been gone before the batch: the record named.
		var ve *queries.ValidationError
		want := queries.FieldError{Index: 1, Field: "ward_id", Message: fmt.Sprintf("ward %d does not exist", ward)}
		if err := <-batch; !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0] != want {
			t.Fatalf("batch: %v, want %+v", err, want)
		}
		if got := f.patient("w1"); got != "w1 missing" {
			t.Errorf("%s, want w1 missing", got)
		}
	})
	t.Run("ward deleted after the batch commits", func(t *testing.T) {
		f.ward("deleted second", "clinic", 1)
		ward := f.id["deleted second"]
		tx := must(f.db.Pool.Begin(ctx))
		defer tx.Rollback(ctx)
		must(queries.New(tx).UpsertPatients(ctx, queries.Actor{}, []queries.PatientRecord{{UID: "w2", WardID: optional.Of(ward)}}))
		deleted := make(chan error, 1)
		go func() { deleted <- f.s.DeleteWard(ctx, ward) }()
		waitForLock()
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-deleted; err != nil {
			t.Fatal(err)
		}
		if got := wardOf("w2"); got != "-" {
			t.Errorf("w2 in %s, want no ward", got)
		}
	})
	t.Run("emptying wards", func(t *testing.T) {
		f.exec(`TRUNCATE wards`)
		var placed int
		if err := f.db.Pool.QueryRow(ctx, `SELECT count(ward_id) FROM patients`).Scan(&placed); err != nil {
			t.Fatal(err)
		}
		if placed != 0 {
			t.Errorf("%d patients in a ward, want none", placed)
		}
	})
}
