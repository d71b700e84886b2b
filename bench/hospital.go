package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"canopy/optional"
	"canopy/queries"
)

// patient is one record of a feed batch; nil fields are absent from it.
type patient struct {
	UID          string  `json:"uid"`
	Name         *string `json:"name,omitempty"`
	Sex          *string `json:"sex,omitempty"`
	BirthDate    *string `json:"birth_date,omitempty"`
	WardID       *int64  `json:"ward_id,omitempty"`
	AdmittedAt   *string `json:"admitted_at,omitempty"`
	DischargedAt *string `json:"discharged_at,omitempty"`
	DiedAt       *string `json:"died_at,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// feedBatch makes n records: half for uids never seen, half for the existing
// patients P0..; every twentieth carries only its uid and a discharge time.
func feedBatch(n, fresh int, wards []int64) []patient {
	batch := make([]patient, n)
	for i := range batch {
		uid := fmt.Sprintf("P%07d", i/2) // existing
		if i%2 == 0 {
			uid = fmt.Sprintf("N%07d", fresh+i) // new
		}
		if i%20 == 19 {
			batch[i] = patient{UID: uid, DischargedAt: ptr("2024-06-02T10:00:00Z")}
			continue
		}
		batch[i] = patient{UID: uid, Name: ptr(fmt.Sprintf("Patient %d", i)), Sex: ptr("FMOU"[i%4 : i%4+1]),
			BirthDate: ptr(fmt.Sprintf("19%02d-%02d-%02d", 30+i%70, 1+i%12, 1+i%28)), WardID: ptr(wards[i%len(wards)]),
			AdmittedAt: ptr("2024-06-01T08:00:00Z")}
	}
	return batch
}

// changingBatch is feedBatch with every record for an existing patient
// changing it: full records carry a name, partial ones a discharge time,
// that no earlier batch sent. (After its first batch, feedBatch's records
// for the existing patients repeat what is stored, as a feed that resends
// its census does, and canopy leaves those rows as they are.)
func changingBatch(n, fresh int, wards []int64) []patient {
	batch := feedBatch(n, fresh, wards)
	for i := range batch {
		if i%2 == 0 {
			continue // a new uid
		}
		if batch[i].Name != nil {
			batch[i].Name = ptr(fmt.Sprintf("Patient %d, batch %d", i, fresh))
		} else {
			batch[i].DischargedAt = ptr(time.Date(2024, 6, 2, 10, 0, 0, 0, time.UTC).Add(time.Duration(fresh) * time.Second).Format(time.RFC3339))
		}
	}
	return batch
}

// naiveUpsert is the "before": get-or-create, then save, per record, each
// statement on its own (no transaction), as an ORM's defaults do.
func (e *env) naiveUpsert(batch []patient) error {
	for _, p := range batch {
		var id int64
		var name, sex, birth *string
		var ward *int64
		var admitted, discharged, died *time.Time
		err := e.raw.QueryRow(e.ctx, `SELECT id, name, sex, birth_date::text, ward_id, admitted_at, discharged_at, died_at
			FROM patients WHERE uid = $1`, p.UID).Scan(&id, &name, &sex, &birth, &ward, &admitted, &discharged, &died)
		if err == pgx.ErrNoRows {
			if err := e.raw.QueryRow(e.ctx, `INSERT INTO patients (uid) VALUES ($1) RETURNING id`, p.UID).Scan(&id); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if p.Name != nil {
			name, sex, birth, ward = p.Name, p.Sex, p.BirthDate, p.WardID
		}
		at := func(s *string, old *time.Time) *time.Time {
			if s == nil {
				return old
			}
			t, _ := time.Parse(time.RFC3339, *s)
			return &t
		}
		admitted, discharged, died = at(p.AdmittedAt, admitted), at(p.DischargedAt, discharged), at(p.DiedAt, died)
		if _, err := e.raw.Exec(e.ctx, `UPDATE patients SET name = $2, sex = $3, birth_date = $4::date, ward_id = $5,
			admitted_at = $6, discharged_at = $7, died_at = $8, updated_at = now() WHERE id = $1`,
			id, name, sex, birth, ward, admitted, discharged, died); err != nil {
			return err
		}
	}
	return nil
}

// deleteRecreate is the "fix" that was worse: delete the batch's patients and
// insert them again from the records, so what a partial record did not carry
// is gone (and so are their observations, deleted with them).
func (e *env) deleteRecreate(batch []patient) error {
	return pgx.BeginFunc(e.ctx, e.raw, func(tx pgx.Tx) error {
		uids := make([]string, len(batch))
		cols := make([][]*string, 7)
		for i := range cols {
			cols[i] = make([]*string, len(batch))
		}
		var wards []*int64
		for i, p := range batch {
			uids[i] = p.UID
			cols[0][i], cols[1][i], cols[2][i] = p.Name, p.Sex, p.BirthDate
			cols[3][i], cols[4][i], cols[5][i] = p.AdmittedAt, p.DischargedAt, p.DiedAt
			wards = append(wards, p.WardID)
		}
		if _, err := tx.Exec(e.ctx, `DELETE FROM patients WHERE uid = ANY($1)`, uids); err != nil {
			return err
		}
		_, err := tx.Exec(e.ctx, `INSERT INTO patients (uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::bigint[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[])`,
			uids, cols[0], cols[1], cols[2], wards, cols[3], cols[4], cols[5])
		return err
	})
}

func (e *env) post(path string, body []byte) ([]byte, int, error) { return e.postTo(e.base+path, body) }

// postTo posts a JSON body, checks for 200 and returns the response body and
// the statement count from Server-Timing (-1 when absent).
func (e *env) postTo(url string, body []byte) ([]byte, int, error) {
	resp, err := e.send("POST", url, body, http.StatusOK)
	if err != nil {
		return nil, 0, err
	}
	statements := -1
	fmt.Sscanf(serverTiming.FindString(resp.header.Get("Server-Timing")), `desc="%d`, &statements)
	return resp.body, statements, nil
}

// response is what send read of a response.
type response struct {
	header http.Header
	body   []byte
}

// send sends a request with the bench's token (and a JSON body unless nil)
// and reads the response, an error unless its status is want.
func (e *env) send(method, url string, body []byte, want int) (response, error) {
	req, err := http.NewRequestWithContext(e.ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != want {
		err = fmt.Errorf("%s %s: %s %s", method, url, resp.Status, b)
	}
	return response{resp.Header, b}, err
}

// seedHospitalSQL makes 10 departments of 5 wards and the existing patients
// P0000000..P0009999 that feed batches update.
var seedHospitalSQL = []string{
	`INSERT INTO departments (name, code) SELECT 'Department ' || g, 'D' || g FROM generate_series(1, 10) g`,
	`INSERT INTO wards (department_id, name, beds) SELECT d.id, 'Ward ' || d.id || '-' || g, 20 FROM departments d, generate_series(1, 5) g`,
	`INSERT INTO patients (uid, name, sex, birth_date, ward_id, admitted_at)
	 SELECT 'P' || lpad(g::text, 7, '0'), 'Patient ' || g, 'F', date '1970-01-01' + g % 15000,
	        (SELECT min(id) FROM wards) + g % 50, timestamptz '2024-05-20 08:00:00+00'
	 FROM generate_series(0, 9999) g`,
}

// seedHospital runs seedHospitalSQL and returns the wards' ids.
func (e *env) seedHospital() ([]int64, error) {
	for _, s := range seedHospitalSQL {
		if _, err := e.raw.Exec(e.ctx, s); err != nil {
			return nil, err
		}
	}
	rows, err := e.raw.Query(e.ctx, `SELECT id FROM wards ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func runHospital(e *env) (string, error) {
	wards, err := e.seedHospital()
	if err != nil {
		return "", err
	}

	sizes := []int{100, 1_000, 10_000}
	slow := runs{min: 2, max: 10, budget: 15 * time.Second}
	normal := runs{min: 5, max: 50, budget: 5 * time.Second}
	if e.quick {
		sizes = []int{100, 1_000}
		slow, normal = runs{1, 2, time.Second}, runs{3, 10, time.Second}
	}
	fresh := 0
	next := func(n int) []patient { fresh += n; return feedBatch(n, fresh, wards) }
	changing := func(n int) []patient { fresh += n; return changingBatch(n, fresh, wards) }
	var t, targets, gormTargets strings.Builder
	t.WriteString("| records | (a) get-or-create + save p50 | rows/s | (b) delete + recreate p50 | fields (b) destroyed | GORM upsert p50 | GORM statements | fields GORM destroyed | canopy p50 | p99 | rows/s | statements | fields canopy destroyed | canopy, every known record changed p50 | upsert statement in PG p50 | COPY p50 | (a) ÷ canopy | GORM ÷ canopy | GORM ÷ canopy, every known record changed |\n")
	t.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	plot := chart{name: "hospital", title: "Patient batch: latency vs batch size", xLabel: "records per batch"}
	for _, n := range sizes {
		fmt.Printf("hospital: %d records\n", n)
		var batch []patient
		prepare := func() error { batch = next(n); return nil }
		naive, err := measure(slow, prepare, func() error { return e.naiveUpsert(batch) })
		if err != nil {
			return "", err
		}
		recreate, err := measure(slow, prepare, func() error { return e.deleteRecreate(batch) })
		if err != nil {
			return "", err
		}
		// Each timed writer starts from a vacuumed table: the batches rewrite
		// the same existing patients run after run, and the versions the
		// writer before left (autovacuum wakes once a minute) would slow
		// every conflict check of the one after.
		vacuum := func() error { _, err := e.raw.Exec(e.ctx, `VACUUM patients`); return err }
		if err := vacuum(); err != nil {
			return "", err
		}
		gorm, gormStatements, err := e.peer(normal, "POST", "/patients/bulk", func() ([]byte, error) { return json.Marshal(next(n)) })
		if err != nil {
			return "", err
		}
		stmt, err := statementOf(e.ctx, e.raw.Config().ConnString(), func(q *queries.Store) error {
			_, err := q.UpsertPatients(e.ctx, queries.Actor{}, records(next(n)))
			return err
		})
		if err != nil {
			return "", err
		}
		exec, err := executionTimes(e.ctx, e.raw, stmt, 5)
		if err != nil {
			return "", err
		}
		copied, err := measure(normal, prepare, func() error { return e.copyPatients(batch) })
		if err != nil {
			return "", err
		}
		destroyed, err := e.destroyedFields(next(n), wards[0], e.deleteRecreate)
		if err != nil {
			return "", err
		}
		gormDestroyed, canopyDestroyed := -1, -1
		if e.peers != "" {
			if gormDestroyed, err = e.destroyedFields(next(n), wards[0], e.postBatch(e.peers+"/patients/bulk")); err != nil {
				return "", err
			}
		}
		if canopyDestroyed, err = e.destroyedFields(next(n), wards[0], e.postBatch(e.base+"/api/v1/patients/bulk")); err != nil {
			return "", err
		}
		// canopyPosts times canopy on batches from batch, from a vacuumed table.
		var statements int
		canopyPosts := func(batch func(int) []patient) (samples, error) {
			if err := vacuum(); err != nil {
				return nil, err
			}
			var body []byte
			return measure(normal, func() error {
				var err error
				body, err = json.Marshal(batch(n))
				return err
			}, func() (err error) {
				_, statements, err = e.post("/api/v1/patients/bulk", body)
				return err
			})
		}
		canopy, err := canopyPosts(next)
		if err != nil {
			return "", err
		}
		changed, err := canopyPosts(changing)
		if err != nil {
			return "", err
		}
		perSec := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(n)/d.Seconds()) }
		fmt.Fprintf(&t, "| %d | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %d | %d | %s | %s | %s | %s | %s | %s |\n", n, ms(naive.p50()), perSec(naive.p50()),
			ms(recreate.p50()), destroyed, ms(gorm.p50()), stmts(gormStatements), stmts(gormDestroyed),
			ms(canopy.p50()), ms(canopy.p99()), perSec(canopy.p50()), statements, canopyDestroyed, ms(changed.p50()),
			ms(exec.p50()), ms(copied.p50()), ratio(naive.p50(), canopy.p50()), ratio(gorm.p50(), canopy.p50()), ratio(gorm.p50(), changed.p50()))
		x := float64(n)
		plot.add("get-or-create + save", styleNaive, x, naive.p50())
		plot.add("delete + recreate", styleNaive2, x, recreate.p50())
		plot.add("GORM upsert", styleGORM, x, gorm.p50())
		plot.add("canopy", styleCanopy, x, canopy.p50())
		plot.add("statement in PG", styleFloor, x, exec.p50())
		plot.add("COPY", styleFlat, x, copied.p50())
		switch n {
		case 1_000:
			targets.WriteString(target("≥ 50× faster than get-or-create + save at 1,000 records", naive.p50() >= 50*canopy.p50(), ratio(naive.p50(), canopy.p50())) + "\n")
		case 10_000:
			targets.WriteString(target("a 10,000-record batch ≤ 250 ms", canopy.p50() <= 250*time.Millisecond, ms(canopy.p50())+" ms") + "\n")
		}
		if n >= 1_000 && e.peers != "" {
			gormTargets.WriteString(target(fmt.Sprintf("≥ 1.5× faster than GORM's upsert at %d records", n), 2*gorm.p50() >= 3*canopy.p50(), ratio(gorm.p50(), canopy.p50())) + "\n")
		}
	}

	if err := plot.write(e.charts); err != nil {
		return "", err
	}

	// Observations: 50,000 rows per request for the patients of one ward.
	obsRate, hourly, obsStatements, err := e.observations(wards[0], normal)
	if err != nil {
		return "", err
	}
	targets.WriteString(target("observations ingest ≥ 200k rows/s", obsRate >= 200_000, fmt.Sprintf("%.0f rows/s", obsRate)) + "\n")
	targets.WriteString(target("hourly means over one ward-day ≤ 20 ms", hourly.p50() <= 20*time.Millisecond, ms(hourly.p50())+" ms") + "\n")

	var b strings.Builder
	fmt.Fprintf(&b, "_Machine: %s._\n\n", e.machine())
	b.WriteString(`Batches of patient records as a hospital feed sends them: half new uids, half existing patients
(10,000 of them), every twentieth record partial (uid and discharge time only).
- **(a) get-or-create + save**: per record a SELECT by uid, an INSERT when missing, and an UPDATE of
  every column (an ORM's save), each statement on its own.
- **(b) delete + recreate**: in one transaction, delete the batch's uids and insert the records again.
  Fast, and wrong: "fields it destroyed" counts the stored name, sex, birth date, ward and admission
  of existing patients that partial records did not carry (their observations go too, by cascade).
- **GORM upsert**: the same JSON body bound into GORM models and written with
  ` + "`Clauses(clause.OnConflict{Columns: uid, UpdateAll: true}).Create(&batch)`" + ` as GORM's docs show
  (bench/peers; ` + "`CreateBatchSize: 1000`" + `, so a 10,000-record batch is ten INSERTs in a transaction).
  Also wrong: a partial record writes null over every field it did not carry.
- **canopy**: ` + "`POST /api/v1/patients/bulk`" + ` end to end over HTTP (JSON encoding not timed). After its
  first batch, the feed's records for existing patients repeat what is stored (as a feed resending its
  census does): canopy leaves those rows as they are (locked, not rewritten), where GORM rewrites every
  row. **every known record changed**: the same, with each record for an existing patient carrying a
  name (or, partial, a discharge time) no batch sent before, so that every row is rewritten.
- **fields … destroyed**: for one more batch of each size, the stored name, sex, birth date, ward and
  admission of the existing patients its partial records name, counted before and after the write.
- **upsert statement in PG**: canopy's own statement under EXPLAIN ANALYZE (rolled back): no HTTP,
  JSON or driver. **COPY**: the batch's rows copied by pgx into a scratch table (rolled back): the
  floor for moving the records into PostgreSQL at all.

`)
	b.WriteString(t.String())
	fmt.Fprintf(&b, "\nObservations: `POST /api/v1/observations/bulk` of 50,000 rows: %.0f rows/s (%d statements).\n", obsRate, obsStatements)
	fmt.Fprintf(&b, "Hourly means for one ward over one day (a ward of its own: 20 patients, 5 vitals every 5 minutes, 28,800 observations): p50 %s ms, p99 %s ms.\n", ms(hourly.p50()), ms(hourly.p99()))
	b.WriteString("\nTargets (issue 4):\n\n" + targets.String())
	if gormTargets.Len() > 0 {
		b.WriteString("\nTargets (issue 17):\n\n" + gormTargets.String())
	}
	return b.String(), nil
}

func partialUIDs(batch []patient) []string {
	var uids []string
	for _, p := range batch {
		if p.Name == nil {
			uids = append(uids, p.UID)
		}
	}
	return uids
}

// destroyedFields writes batch with write and counts the stored fields
// (name, sex, birth date, ward, admission) of the patients its partial
// records name that the write lost; the fields are filled in first, so that
// an earlier batch's losses do not hide this one's.
func (e *env) destroyedFields(batch []patient, ward int64, write func([]patient) error) (int, error) {
	const present = `SELECT count(name) + count(sex) + count(birth_date) + count(ward_id) + count(admitted_at) FROM patients WHERE uid = ANY($1)`
	uids := partialUIDs(batch)
	if _, err := e.raw.Exec(e.ctx, `UPDATE patients SET name = coalesce(name, 'Restored ' || uid), sex = coalesce(sex, 'U'),
		birth_date = coalesce(birth_date, date '1970-01-01'), ward_id = coalesce(ward_id, $2),
		admitted_at = coalesce(admitted_at, timestamptz '2024-05-20 08:00:00+00') WHERE uid = ANY($1)`, uids, ward); err != nil {
		return 0, err
	}
	var before, after int
	if err := e.raw.QueryRow(e.ctx, present, uids).Scan(&before); err != nil {
		return 0, err
	}
	if err := write(batch); err != nil {
		return 0, err
	}
	err := e.raw.QueryRow(e.ctx, present, uids).Scan(&after)
	return before - after, err
}

// postBatch is a write for destroyedFields: the batch as JSON to url.
func (e *env) postBatch(url string) func([]patient) error {
	return func(batch []patient) error {
		body, err := json.Marshal(batch)
		if err == nil {
			_, _, err = e.postTo(url, body)
		}
		return err
	}
}

// copyPatients copies the batch's rows into a scratch table in a transaction
// that is rolled back: the floor for moving the records in at all.
func (e *env) copyPatients(batch []patient) error {
	tx, err := e.raw.Begin(e.ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(e.ctx)
	columns := []string{"uid", "name", "sex", "birth_date", "ward_id", "admitted_at", "discharged_at", "died_at"}
	if _, err := tx.Exec(e.ctx, `CREATE TEMP TABLE patients_copy ON COMMIT DROP AS SELECT `+strings.Join(columns, ", ")+` FROM patients WITH NO DATA`); err != nil {
		return err
	}
	_, err = tx.CopyFrom(e.ctx, pgx.Identifier{"patients_copy"}, columns,
		pgx.CopyFromSlice(len(batch), func(i int) ([]any, error) {
			r := records(batch[i : i+1])[0]
			return []any{r.UID, r.Name.Ptr(), r.Sex.Ptr(), r.BirthDate.Ptr(), r.WardID.Ptr(), r.AdmittedAt.Ptr(), r.DischargedAt.Ptr(), r.DiedAt.Ptr()}, nil
		}))
	return err
}

// records are the batch as canopy's queries take it.
func records(batch []patient) []queries.PatientRecord {
	carry := func(s *string) optional.Field[string] {
		if s == nil {
			return optional.Field[string]{}
		}
		return optional.Of(*s)
	}
	at := func(layout string, s *string) optional.Field[time.Time] {
		if s == nil {
			return optional.Field[time.Time]{}
		}
		t, _ := time.Parse(layout, *s) // the bench's own, well-formed values
		return optional.Of(t)
	}
	out := make([]queries.PatientRecord, len(batch))
	for i, p := range batch {
		out[i] = queries.PatientRecord{UID: p.UID, Name: carry(p.Name), Sex: carry(p.Sex), BirthDate: at(time.DateOnly, p.BirthDate),
			AdmittedAt: at(time.RFC3339, p.AdmittedAt), DischargedAt: at(time.RFC3339, p.DischargedAt), DiedAt: at(time.RFC3339, p.DiedAt)}
		if p.WardID != nil {
			out[i].WardID = optional.Of(*p.WardID)
		}
	}
	return out
}

// observations measures bulk ingest and the ward-day hourly means, in a
// ward of its own beside the given one, holding the 20 patients whose vitals
// are sent: the feed's batches admit thousands of patients to each of their
// wards, more than any ward holds.
func (e *env) observations(beside int64, r runs) (rate float64, hourly samples, statements int, err error) {
	var ward int64
	if err := e.raw.QueryRow(e.ctx, `INSERT INTO wards (department_id, name, beds)
		SELECT department_id, 'Step-down unit', 20 FROM wards WHERE id = $1 RETURNING id`, beside).Scan(&ward); err != nil {
		return 0, nil, 0, err
	}
	var uids []string
	for i := range 20 {
		uid := fmt.Sprintf("W%03d", i)
		uids = append(uids, uid)
	}
	var admit []patient
	for _, uid := range uids {
		admit = append(admit, patient{UID: uid, WardID: &ward, AdmittedAt: ptr("2024-06-01T00:00:00Z")})
	}
	body, _ := json.Marshal(admit)
	if _, _, err := e.post("/api/v1/patients/bulk", body); err != nil {
		return 0, nil, 0, err
	}
	type obs struct {
		PatientUID string  `json:"patient_uid"`
		Code       string  `json:"code"`
		ObservedAt string  `json:"observed_at"`
		Value      float64 `json:"value"`
	}
	codes := []string{"heart_rate", "resp_rate", "spo2", "temp", "sbp"}
	start := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	batchNo := 0
	var batch []byte
	ingest, err := measure(r, func() error {
		rows := make([]obs, 0, 50_000)
		for i := range 50_000 {
			k := batchNo*50_000 + i
			rows = append(rows, obs{uids[k%20], codes[(k/20)%5], start.Add(time.Duration(k/100) * 5 * time.Minute).Format(time.RFC3339), float64(60 + k%40)})
		}
		batchNo++
		batch, err = json.Marshal(rows)
		return err
	}, func() (err error) {
		_, statements, err = e.post("/api/v1/observations/bulk", batch)
		return err
	})
	if err != nil {
		return 0, nil, 0, err
	}
	if _, err := e.raw.Exec(e.ctx, `VACUUM ANALYZE observations`); err != nil {
		return 0, nil, 0, err
	}
	url := fmt.Sprintf("%s/api/v1/observations/hourly?from=2024-06-01T00:00:00Z&to=2024-06-02T00:00:00Z&ward_id=%d", e.base, ward)
	hourly, err = measure(r, nil, func() error { _, _, err := e.get(url); return err })
	return 50_000 / ingest.p50().Seconds(), hourly, statements, err
}
