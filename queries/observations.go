package queries

import (
	"context"
	"time"

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

// observationsInsertSQL stores a batch of observations in one statement,
// like predictionsInsertSQL: unknown patients write nothing and come back as
// record indexes; rows go in key order so that concurrent batches cannot
// deadlock; a key already stored, or repeated in the batch, is skipped.
var observationsInsertSQL = `
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[]) WITH ORDINALITY
        AS i(patient_uid, code, observed_at, value, ord)
),
resolved AS (
    SELECT i.ord, p.id AS patient_id, i.code, i.observed_at, i.value
    FROM input i LEFT JOIN patients p ON p.uid = i.patient_uid
),
unknown AS (
    SELECT ord FROM resolved WHERE patient_id IS NULL
),
inserted AS (
    INSERT INTO observations (patient_id, code, observed_at, value)
    SELECT patient_id, code, observed_at, value FROM resolved
    WHERE NOT EXISTS (SELECT FROM unknown)
    ORDER BY patient_id, observed_at, code
    ON CONFLICT (patient_id, code, observed_at) DO NOTHING
    RETURNING 1
),` + auditCTE(ActionObservationsBulk, 6, "(SELECT count(*) FROM inserted)", "NULL", "NOT EXISTS (SELECT FROM unknown)") + `
SELECT (SELECT count(*) FROM inserted), ARRAY(SELECT ord - 1 FROM unknown ORDER BY ord LIMIT $5)`

// InsertObservations stores a batch of observations in one statement, all
// or nothing. An observation already stored for (patient, code,
// observed_at), or repeated in the batch, is counted as a duplicate and the
// first value kept. Records naming an unknown patient are a ValidationError
// on patient_uid with their indexes. A written batch adds its audit_log row
// for actor in the same statement ($6–$8, see auditCTE).
func (s *Store) InsertObservations(ctx context.Context, actor Actor, observations []Observation) (IngestCounts, error) {
	if len(observations) == 0 {
		return IngestCounts{}, nil
	}
	n := len(observations)
	uids, codes := make([]string, n), make([]string, n)
	at, values := make([]time.Time, n), make([]float64, n)
	for i, o := range observations {
		uids[i], codes[i], at[i], values[i] = o.PatientUID, o.Code, o.ObservedAt, o.Value
	}
	var inserted int
	var unknown []int
	err := s.retryContended(ctx, func() error {
		args := append([]any{uids, codes, at, values, maxReportedErrors}, actor.auditArgs(n)...)
		return translate(s.db.QueryRow(ctx, observationsInsertSQL, args...).Scan(&inserted, &unknown))
	})
	if err != nil {
		return IngestCounts{}, err
	}
	if len(unknown) > 0 {
		return IngestCounts{}, unknownPatients(unknown, uids)
	}
	return IngestCounts{Inserted: inserted, Duplicates: n - inserted}, nil
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
// a plain range on observed_at, so it is an index range: observations_pkey
// per patient (and per ward's patient, through patients_ward), or
// observations_time across all. An unknown ward or patient has no means.
func (s *Store) HourlyMeans(ctx context.Context, q HourlyQuery) ([]HourlyMean, error) {
	if !q.To.After(q.From) {
		return nil, invalidField("to", "must be after from")
	}
	means := sq.Select("o.patient_id", "date_bin('1 hour', o.observed_at, "+hourStart+") AS hour", "o.code", "avg(o.value) AS mean").
		From("observations o").
		Where("o.observed_at >= ? AND o.observed_at < ?", q.From, q.To).
		GroupBy("1, 2, 3")
	if q.WardID != nil {
		means = means.Where("o.patient_id IN (SELECT id FROM patients WHERE ward_id = ?)", *q.WardID)
	}
	if q.PatientUID != nil {
		means = means.Where("o.patient_id = (SELECT id FROM patients WHERE uid = ?)", *q.PatientUID)
	}
	statement := sq.Select("p.uid", "m.hour", "array_agg(m.code ORDER BY m.code)", "array_agg(m.mean ORDER BY m.code)").
		FromSelect(means, "m").
		Join("patients p ON p.id = m.patient_id").
		GroupBy("p.uid", "m.hour").
		OrderBy("p.uid", "m.hour")
	rows, err := s.queryBuiltRows(ctx, statement)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	series := []HourlyMean{}
	for rows.Next() {
		var h HourlyMean
		var codes []string
		var values []float64
		if err := rows.Scan(&h.PatientUID, &h.Hour, &codes, &values); err != nil {
			return nil, translate(err)
		}
		h.Hour = h.Hour.UTC()
		h.Values = make(map[string]float64, len(codes))
		for i, c := range codes {
			h.Values[c] = values[i]
		}
		series = append(series, h)
	}
	return series, translate(rows.Err())
}
