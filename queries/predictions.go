package queries

import (
	"context"
	"time"
)

// Prediction is one prediction a model made for a patient: the probability
// of target within HorizonHours of PredictedAt.
type Prediction struct {
	PatientUID   string
	Model        string
	Target       string
	PredictedAt  time.Time
	HorizonHours int
	Probability  float64 // 0 to 1
}

// IngestCounts says what an idempotent batch did: Inserted + Duplicates is
// the number of records, a duplicate being a record already stored or
// repeated within the batch.
type IngestCounts struct {
	Inserted   int
	Duplicates int
}

// predictionsInsertSQL stores a batch of predictions in one statement. The
// patients are looked up by uid; if any is unknown nothing is written and the
// (0-based) indexes of the records naming them come back. Rows go in key
// order, so that two batches sharing keys wait for each other in the same
// order and cannot deadlock. A written batch adds its audit_log row
// ($8–$11, see auditCTE).
var predictionsInsertSQL = `
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[], $6::float8[]) WITH ORDINALITY
        AS i(patient_uid, model, target, predicted_at, horizon_hours, probability, ord)
),
resolved AS (
    SELECT i.ord, p.id AS patient_id, i.model, i.target, i.predicted_at, i.horizon_hours, i.probability
    FROM input i LEFT JOIN patients p ON p.uid = i.patient_uid
),
unknown AS (
    SELECT ord FROM resolved WHERE patient_id IS NULL
),
inserted AS (
    INSERT INTO predictions (patient_id, model, target, predicted_at, horizon_hours, probability)
    SELECT patient_id, model, target, predicted_at, horizon_hours, probability FROM resolved
    WHERE NOT EXISTS (SELECT FROM unknown)
    ORDER BY patient_id, model, target, predicted_at
    ON CONFLICT (patient_id, model, target, predicted_at) DO NOTHING
    RETURNING 1
),` + auditCTE(ActionPredictionsBulk, 8, "(SELECT count(*) FROM inserted)", "NULL", "NOT EXISTS (SELECT FROM unknown)") + `
SELECT (SELECT count(*) FROM inserted), ARRAY(SELECT ord - 1 FROM unknown ORDER BY ord LIMIT $7)`

// InsertPredictions stores a batch of predictions, and its audit_log row for
// actor, in one statement, all or nothing. A prediction already stored for (patient, model, target,
// predicted_at), or repeated in the batch, is counted as a duplicate and the
// first one kept. Records naming an unknown patient are a ValidationError on
// patient_uid with their indexes.
func (s *Store) InsertPredictions(ctx context.Context, actor Actor, predictions []Prediction) (IngestCounts, error) {
	if len(predictions) == 0 {
		return IngestCounts{}, nil
	}
	n := len(predictions)
	uids, models, targets := make([]string, n), make([]string, n), make([]string, n)
	at, horizons, probabilities := make([]time.Time, n), make([]int32, n), make([]float64, n)
	for i, p := range predictions {
		uids[i], models[i], targets[i] = p.PatientUID, p.Model, p.Target
		at[i], horizons[i], probabilities[i] = p.PredictedAt, int32(p.HorizonHours), p.Probability
	}
	var inserted int
	var unknown []int
	err := s.retryContended(ctx, func() error {
		args := append([]any{uids, models, targets, at, horizons, probabilities, MaxFieldErrors}, actor.auditArgs(n)...)
		return translate(s.db.QueryRow(ctx, predictionsInsertSQL, args...).Scan(&inserted, &unknown))
	})
	if err != nil {
		return IngestCounts{}, err
	}
	if len(unknown) > 0 {
		return IngestCounts{}, unknownPatients(unknown, uids)
	}
	return IngestCounts{Inserted: inserted, Duplicates: n - inserted}, nil
}

// ImportPredictions writes predictions by (patient, model, target,
// predicted_at). A row's values: patient_id, model, target, predicted_at,
// horizon_hours, probability. A repeat with other figures updates the
// stored ones (the API keeps the first).
var ImportPredictions = &FlatImport{
	columns: columnList{{"patient_id", "bigint"}, {"model", "text"}, {"target", "text"}, {"predicted_at", "timestamptz"},
		{"horizon_hours", "integer"}, {"probability", "float8"}},
	upsert: batchSQL(`written AS (
    INSERT INTO predictions AS p (patient_id, model, target, predicted_at, horizon_hours, probability)
    SELECT patient_id, model, target, predicted_at, horizon_hours, probability FROM src
    ORDER BY patient_id, model, target, predicted_at
    ON CONFLICT (patient_id, model, target, predicted_at) DO UPDATE
        SET horizon_hours = excluded.horizon_hours, probability = excluded.probability
    WHERE (p.horizon_hours, p.probability) IS DISTINCT FROM (excluded.horizon_hours, excluded.probability)
    RETURNING p.xmax = 0 AS inserted
)`),
}

// unknownPatients is the ValidationError for the records at indexes, whose
// patient_uid (in uids) names no patient.
func unknownPatients(indexes []int, uids []string) error {
	errs := make([]FieldError, len(indexes))
	for k, i := range indexes {
		errs[k] = unknownPatient(i, uids[i])
	}
	return &ValidationError{Errors: errs}
}

// unknownPatient is the error of the record at index whose uid names no patient.
func unknownPatient(index int, uid string) FieldError {
	return FieldError{Index: index, Field: "patient_uid", Message: "no patient has uid " + quote(uid)}
}

// quote quotes a uid for a message, shortened if it is long.
func quote(s string) string {
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64]) + "…"
	}
	return `"` + s + `"`
}
