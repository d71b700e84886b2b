package queries

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	sq "github.com/Masterminds/squirrel"
)

// Observation is one measurement of a patient: a vital sign or lab value
// identified by its code.
type Observation struct {
	PatientUID string
	Code       string
	ObservedAt time.Time
	Value      float64
}

// observationsResolveSQL resolves the patient uids a batch names, and adds
// the batch's audit_log row ($2–$5, see auditCTE) in the same statement: it
// runs in the transaction of the COPY that writes the rows, so the row
// commits exactly when they do.
var observationsResolveSQL = `
WITH` + auditCTE(ActionObservationsBulk, 2, "$4", "NULL", "true") + `
SELECT uid, id FROM patients WHERE uid = ANY($1)`

// observationColumns are the columns of an observations row as its two
// writers hand them over: the bulk endpoint (by COPY, or by
// observationsInsertSQL) and the import (ImportObservations). The figures
// are what an import's repeat may change.
var (
	observationFigures = columnList{{"value", "float8"}}
	observationColumns = append(columnList{{"patient_id", "bigint"}, {"code", "text"}, {"observed_at", "timestamptz"}}, observationFigures...)
)

// observationsCopyColumns are the columns a batch is copied into.
var observationsCopyColumns = observationColumns.list()

// observationKey is an observation's natural key in the order every writer
// writes rows in, so that concurrent batches take their key locks in one
// order and cannot deadlock.
const observationKey = "patient_id, observed_at, code"

// observationsInsertSQL stores a batch that COPY refused because some of its
// keys are stored already or repeat in the batch: those are skipped (the
// first value kept) and the rest inserted, in key order. It adds the batch's
// audit_log row ($1–$4); the rows come as an array per column ($5 on).
var observationsInsertSQL = `
WITH inserted AS (
    INSERT INTO observations (` + observationColumns.names("") + `)
    SELECT * FROM unnest(` + observationColumns.arrays(5) + `) AS i(` + observationColumns.names("") + `)
    ORDER BY ` + observationKey + `
    ON CONFLICT (` + observationKey + `) DO NOTHING
    RETURNING 1
),` + auditCTE(ActionObservationsBulk, 1, "(SELECT count(*) FROM inserted)", "NULL", "true") + `
SELECT count(*) FROM inserted`

// InsertObservations stores a batch of observations for actor, all or
// nothing, in two statements: one resolves the patients (and records the
// batch in audit_log), one writes the rows. An observation already stored
// for (patient, code, observed_at), or repeated in the batch, is counted as
// a duplicate and the first value kept. Records naming an unknown patient
// are a ValidationError on patient_uid with their indexes.
//
// A feed mostly sends observations it has not sent before, so the rows go in
// by COPY, sorted by key (so that concurrent writers take key locks in one
// order and btree inserts stay local), in a transaction (a savepoint inside
// a caller's). Only when that meets a stored key does the batch go again,
// after a rollback, through INSERT ... ON CONFLICT DO NOTHING, which skips
// duplicates at about twice the cost per row.
func (s *Store) InsertObservations(ctx context.Context, actor Actor, observations []Observation) (IngestCounts, error) {
	n := len(observations)
	if n == 0 {
		return IngestCounts{}, nil
	}
	var rows []observationRow
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) (err error) {
		if rows, err = resolveObservations(ctx, tx, actor, observations); err != nil {
			return err
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"observations"}, observationsCopyColumns, pgx.CopyFromSlice(n, func(i int) ([]any, error) {
			r := &rows[i]
			return []any{r.patientID, r.code, r.observedAt, r.value}, nil
		}))
		return err
	})
	if err = translate(err); err == nil {
		return IngestCounts{Inserted: n}, nil
	} else if rows == nil || !errors.Is(err, ErrConflict) && !errors.Is(err, errContention) {
		return IngestCounts{}, err
	}
	patients, codes := make([]int64, n), make([]string, n)
	at, values := make([]time.Time, n), make([]float64, n)
	for i, r := range rows {
		patients[i], codes[i], at[i], values[i] = r.patientID, r.code, r.observedAt, r.value
	}
	var inserted int
	err = s.retryContended(ctx, func() error {
		args := append(actor.auditArgs(n), patients, codes, at, values)
		return translate(s.db.QueryRow(ctx, observationsInsertSQL, args...).Scan(&inserted))
	})
	if err != nil {
		return IngestCounts{}, err
	}
	return IngestCounts{Inserted: inserted, Duplicates: n - inserted}, nil
}

// ImportObservations writes observations by (patient, code, observed_at).
// A row's values are those of observationColumns: patient_id, code,
// observed_at, value. A repeat with another value updates the stored value
// (the API keeps the first: a feed resends, an import corrects).
var ImportObservations = &FlatImport{
	columns: observationColumns,
	upsert: batchSQL(`written AS (
    INSERT INTO observations AS o (` + observationColumns.names("") + `)
    SELECT ` + observationColumns.names("") + ` FROM src ORDER BY ` + observationKey + `
    ON CONFLICT (` + observationKey + `) DO UPDATE SET ` + observationFigures.sets("excluded") + `
    WHERE (` + observationFigures.names("o.") + `) IS DISTINCT FROM (` + observationFigures.names("excluded.") + `)
    RETURNING o.xmax = 0 AS inserted
)`),
}

// observationRow is an observation as stored: its patient resolved to an id.
type observationRow struct {
	patientID  int64
	code       string
	observedAt time.Time
	value      float64
}

// resolveObservations resolves the patients of observations on tx (adding
// the batch's audit_log row) and returns the rows to store, in key order, or
// the ValidationError for the records whose uid names no patient.
func resolveObservations(ctx context.Context, tx pgx.Tx, actor Actor, observations []Observation) ([]observationRow, error) {
	ids := make(map[string]int64)
	var uids []string
	for _, o := range observations {
		if _, seen := ids[o.PatientUID]; !seen {
			ids[o.PatientUID] = 0
			uids = append(uids, o.PatientUID)
		}
	}
	result, err := tx.Query(ctx, observationsResolveSQL, append([]any{uids}, actor.auditArgs(len(observations))...)...)
	if err != nil {
		return nil, translate(err)
	}
	var uid string
	var id int64
	if _, err = pgx.ForEachRow(result, []any{&uid, &id}, func() error { ids[uid] = id; return nil }); err != nil {
		return nil, translate(err)
	}
	var errs []FieldError
	rows := make([]observationRow, len(observations))
	for i, o := range observations {
		rows[i] = observationRow{ids[o.PatientUID], o.Code, o.ObservedAt, o.Value}
		if rows[i].patientID == 0 && len(errs) < MaxFieldErrors {
			errs = append(errs, unknownPatient(i, o.PatientUID))
		}
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Errors: errs}
	}
	return sortRows(rows, ids), nil
}

// sortRows returns rows in key order: by patient (placed by counting, as a
// batch names few patients), then each patient's by time and code, the order
// a feed mostly sends a patient's observations in already, which pdqsort
// checks in linear time.
func sortRows(rows []observationRow, ids map[string]int64) []observationRow {
	patients := slices.Sorted(maps.Values(ids))
	start := make(map[int64]int, len(patients))
	for _, r := range rows {
		start[r.patientID]++
	}
	offset := 0
	for _, id := range patients {
		offset, start[id] = offset+start[id], offset
	}
	sorted := make([]observationRow, len(rows))
	for _, r := range rows {
		sorted[start[r.patientID]] = r
		start[r.patientID]++
	}
	for from := 0; from < len(sorted); {
		to := from + 1
		for to < len(sorted) && sorted[to].patientID == sorted[from].patientID {
			to++
		}
		slices.SortFunc(sorted[from:to], func(x, y observationRow) int {
			return cmp.Or(x.observedAt.Compare(y.observedAt), strings.Compare(x.code, y.code))
		})
		from = to
	}
	return sorted
}

// HourlyQuery selects the observations whose hourly means are read.
type HourlyQuery struct {
	From, To   time.Time // the half-open window [From, To)
	WardID     *int64    // only the patients whose ward this is
	PatientUID *string   // only this patient
}

// HourlyMean is one patient's mean of each code over one hour.
type HourlyMean struct {
	PatientUID string
	Hour       time.Time // the start of the hour, in UTC
	Values     map[string]float64
}

// hourStart is the origin of the hourly bins: hours start on the UTC hour,
// whatever the session's time zone (date_trunc would follow it).
const hourStart = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`

// HourlyMeans reads the hourly mean of every code per patient over the
// window, ordered by patient uid and hour, in one statement. The window is
// a plain range on observed_at and a ward's or a patient's observations are
// those of its patients' ids, so the planner reads either each patient's
// range of observations_pkey or the window through observations_time,
// whichever is less, and aggregates once. (Aggregating each patient in a
// LATERAL subquery cost a sort's set-up per patient: 190 ms for a ward of
// 2,000 patients where 20 had observations.)
//
// A ward's or a patient's rows are first chosen from patients, once, and
// both the observations and the uids come from that small set: joining the
// means back to patients let the planner, which cannot know how few patients
// a filter leaves, walk the whole patients_pkey in a merge join (the bench's
// ward-day of 28,800 observations, beside thousands of other patients, took
// 30 ms end to end that way and takes 11 ms now).
// The statement returns a row per patient, hour and code, folded into one
// HourlyMean per patient and hour here: a second aggregation in SQL cost
// more. An unknown ward or patient has no means.
func (s *Store) HourlyMeans(ctx context.Context, q HourlyQuery) ([]HourlyMean, error) {
	if !q.To.After(q.From) {
		return nil, invalidField("to", "must be after from")
	}
	rows, err := s.queryBuiltRows(ctx, hourlyStatement(q))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	series := []HourlyMean{}
	var uid, code string
	var hour time.Time
	var mean float64
	for rows.Next() {
		if err := rows.Scan(&uid, &hour, &code, &mean); err != nil {
			return nil, translate(err)
		}
		if n := len(series); n == 0 || series[n-1].PatientUID != uid || !series[n-1].Hour.Equal(hour) {
			series = append(series, HourlyMean{PatientUID: uid, Hour: hour.UTC(), Values: map[string]float64{}})
		}
		series[len(series)-1].Values[code] = mean
	}
	return series, translate(rows.Err())
}

// hourlyStatement is HourlyMeans' statement for q: every patient's means,
// or those of the patients a ward or uid chooses.
func hourlyStatement(q HourlyQuery) sq.SelectBuilder {
	// sum / count is avg without the sum of squares avg(float8) also keeps.
	means := sq.Select("o.patient_id", "date_bin('1 hour', o.observed_at, "+hourStart+") AS hour", "o.code", "sum(o.value) / count(*) AS mean").
		From("observations o").
		Where("o.observed_at >= ? AND o.observed_at < ?", q.From, q.To).
		GroupBy("1, 2, 3")
	statement := sq.Select("p.uid", "m.hour", "m.code", "m.mean").OrderBy("p.uid", "m.hour", "m.code")
	if q.WardID == nil && q.PatientUID == nil {
		statement = statement.FromSelect(means, "m").Join("patients p ON p.id = m.patient_id")
	} else {
		chosen := sq.Select("id", "uid").From("patients")
		if q.WardID != nil {
			chosen = chosen.Where("ward_id = ?", *q.WardID)
		}
		if q.PatientUID != nil {
			chosen = chosen.Where("uid = ?", *q.PatientUID)
		}
		means = means.Where("o.patient_id = ANY (ARRAY(SELECT id FROM chosen))")
		statement = statement.PrefixExpr(sq.Expr("WITH chosen AS MATERIALIZED (?)", chosen)).
			FromSelect(means, "m").Join("chosen p ON p.id = m.patient_id")
	}
	return statement
}
