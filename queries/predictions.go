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

// The columns of a prediction after its patient, as its two writers hand
// them over: the bulk endpoint (predictionsInsertSQL) and the import
// (ImportPredictions). The key fields, after the patient, name a
// prediction; the figures are what a repeat may change.
var (
	predictionKeyFields = columnList{{"model", "text"}, {"target", "text"}, {"predicted_at", "timestamptz"}}
	predictionFigures   = columnList{{"horizon_hours", "integer"}, {"probability", "float8"}}
	predictionFields    = append(predictionKeyFields[:len(predictionKeyFields):len(predictionKeyFields)], predictionFigures...)
)

// predictionKey is a prediction's natural key, in the order every writer
// writes rows in, so that two batches sharing keys wait for each other in
// the same order and cannot deadlock.
var predictionKey = "patient_id, " + predictionKeyFields.names("")

// predictionsInsertSQL stores a batch of predictions in one statement. The
// patients are looked up by uid; if any is unknown nothing is written and the
// (0-based) indexes of the first $1 records naming them come back. Rows go
// in key order. A written batch adds its audit_log row ($2–$5, see
// auditCTE). The records come as an array per column: the patient's uid
// ($6), then predictionFields.
var predictionsInsertSQL = `
WITH input AS (
    SELECT * FROM unnest($6::text[], ` + predictionFields.arrays(7) + `) WITH ORDINALITY
        AS i(patient_uid, ` + predictionFields.names("") + `, ord)
),
resolved AS (
    SELECT i.ord, p.id AS patient_id, ` + predictionFields.names("i.") + `
    FROM input i LEFT JOIN patients p ON p.uid = i.patient_uid
),
unknown AS (
    SELECT ord FROM resolved WHERE patient_id IS NULL
),
inserted AS (
    INSERT INTO predictions (patient_id, ` + predictionFields.names("") + `)
    SELECT patient_id, ` + predictionFields.names("") + ` FROM resolved
    WHERE NOT EXISTS (SELECT FROM unknown)
    ORDER BY ` + predictionKey + `
    ON CONFLICT (` + predictionKey + `) DO NOTHING
    RETURNING 1
),` + auditCTE(ActionPredictionsBulk, 2, "(SELECT count(*) FROM inserted)", "NULL", "NOT EXISTS (SELECT FROM unknown)") + `
SELECT (SELECT count(*) FROM inserted), ARRAY(SELECT ord - 1 FROM unknown ORDER BY ord LIMIT $1)`

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
		args := append(append([]any{MaxFieldErrors}, actor.auditArgs(n)...), uids, models, targets, at, horizons, probabilities)
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
// predicted_at). A row's values: patient_id, then those of
// predictionFields: model, target, predicted_at, horizon_hours,
// probability. A repeat with other figures updates the stored ones (the API
// keeps the first).
var ImportPredictions = &FlatImport{
	columns: append(columnList{{"patient_id", "bigint"}}, predictionFields...),
	upsert: batchSQL(`written AS (
    INSERT INTO predictions AS p (patient_id, ` + predictionFields.names("") + `)
    SELECT patient_id, ` + predictionFields.names("") + ` FROM src
    ORDER BY ` + predictionKey + `
    ON CONFLICT (` + predictionKey + `) DO UPDATE
        SET ` + predictionFigures.sets("excluded") + `
    WHERE (` + predictionFigures.names("p.") + `) IS DISTINCT FROM (` + predictionFigures.names("excluded.") + `)
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
	return FieldError{Index: index, Field: "patient_uid", Message: NoPatient(uid)}
}

// NoPatient is why a patient_uid that names no patient is refused, in the
// words of the API and the importer alike.
func NoPatient(uid string) string { return "no patient has uid " + quote(uid) }

// quote quotes a uid for a message, shortened if it is long.
func quote(s string) string {
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64]) + "…"
	}
	return `"` + s + `"`
}
