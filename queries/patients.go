package queries

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"canopy/optional"
)

// PatientRecord is one record of the patient feed: the uid and the fields
// the record carried. A field not carried keeps what is stored; one carried
// as null clears it.
type PatientRecord struct {
	UID          string
	Name         optional.Field[string]
	Sex          optional.Field[string]    // F, M, O or U
	BirthDate    optional.Field[time.Time] // a date: the year, month and day are used
	WardID       optional.Field[int64]
	AdmittedAt   optional.Field[time.Time]
	DischargedAt optional.Field[time.Time]
	DiedAt       optional.Field[time.Time]
}

// UpsertCounts says what a patient batch did: Inserted + Updated is the
// number of distinct uids in it.
type UpsertCounts struct {
	Inserted int
	Updated  int
}

// patientFields are the columns a patient record may carry or leave out,
// with their types. The two writers of patients, the bulk endpoint
// (patientUpsertSQL) and the import (ImportPatients), build their statements
// from this list, so that a column added here is added to both.
var patientFields = columnList{{"name", "text"}, {"sex", "text"}, {"birth_date", "date"}, {"ward_id", "bigint"},
	{"admitted_at", "timestamptz"}, {"discharged_at", "timestamptz"}, {"died_at", "timestamptz"}}

// patientInput is a batch of patient records as a relation, the bulk
// endpoint's unnest and the import's staging table alike: the uid, the
// fields, then a has_<field> flag per field saying whether the record
// carried it. A field the record did not carry is null (patientMergeSQL
// relies on it).
var patientInput = func() columnList {
	l := append(columnList{{"uid", "text"}}, patientFields...)
	for _, f := range patientFields {
		l = append(l, column{"has_" + f.name, "bool"})
	}
	return l
}()

// patientRow is the columns of a patients row that a record writes.
var patientRow = "uid, " + patientFields.names("")

// patientClearedSQL is the body of a CTE cleared over source, a relation of
// patientInput: the records that carry a field as null, with a column per
// field saying whether it is one they clear. Most batches clear nothing, so
// it is small, and the merge's hashed subplans over it cost next to nothing.
func patientClearedSQL(source string) string {
	cols, conds := make([]string, len(patientFields)), make([]string, len(patientFields))
	for i, f := range patientFields {
		conds[i] = fmt.Sprintf("(has_%[1]s AND %[1]s IS NULL)", f.name)
		cols[i] = conds[i] + " AS " + f.name
	}
	return "SELECT uid,\n        " + strings.Join(cols, ",\n        ") + "\n    FROM " + source + "\n    WHERE " + strings.Join(conds, "\n       OR ")
}

// patientMergeSQL is the SET list and WHERE of an INSERT INTO patients AS
// p ... ON CONFLICT (uid) DO UPDATE whose records come from a relation of
// patientInput beside a CTE cleared (patientClearedSQL). A record leaves a
// field it does not carry null, so excluded holds the value of every field
// it carries with one, and null for the others: a field takes excluded's
// value when it is not null, null when the record clears it, and keeps the
// stored value otherwise.
//
// ON CONFLICT DO UPDATE cannot see the source row, only excluded, so "clears
// it" is an uncorrelated IN (SELECT ...), which PostgreSQL evaluates as a
// hash table built once, over the few records that clear something: the
// statement stays linear in the batch.
//
// The WHERE skips the rows the record does not change: a skipped row is
// still locked (as ON CONFLICT locks every conflicting row), but no new
// version of it is written, so it costs no index entries, no transition
// table rows for the triggers, and its updated_at stays.
func patientMergeSQL() string {
	sets, changed := make([]string, len(patientFields)), make([]string, len(patientFields))
	for i, f := range patientFields {
		clears := fmt.Sprintf("excluded.uid IN (SELECT uid FROM cleared WHERE %s)", f.name)
		sets[i] = fmt.Sprintf("%[1]s = CASE WHEN %[2]s THEN NULL ELSE coalesce(excluded.%[1]s, p.%[1]s) END", f.name, clears)
		changed[i] = fmt.Sprintf("coalesce(excluded.%[1]s, p.%[1]s) IS DISTINCT FROM p.%[1]s OR (p.%[1]s IS NOT NULL AND %[2]s)", f.name, clears)
	}
	return strings.Join(sets, ",\n        ") + ",\n        updated_at = now()\n    WHERE " + strings.Join(changed, "\n       OR ")
}

// patientUpsertSQL writes a whole batch of patients, new and known, in one
// statement. The records come as an array per column of patientInput ($6
// on; the uids are distinct), a boolean array per field saying which
// records carried it: a new uid is inserted with the fields it did not
// carry null; a known one gets only the fields it carried (see
// patientMergeSQL), and is left alone when they are what is stored.
//
// Concurrent batches sharing uids can neither deadlock nor lose a field:
//   - ON CONFLICT resolves a uid against the latest committed row, not the
//     statement's snapshot: a uid that another batch inserts meanwhile is
//     waited for and then updated (no unique violation), and the update
//     starts from that batch's row, so its fields are kept.
//   - Rows are locked in uid order (ORDER BY uid), in every batch, changed
//     or not, so no two batches can each hold a row the other waits for.
//   - The trigger on patients takes the departments row of tree_versions at
//     the end of the statement, after every patient row is locked: a batch
//     holding it waits for nothing more and commits, so that lock closes no
//     cycle either (it would in a transaction of several statements that
//     lock patients).
//
// Records naming unknown wards ($1, every ward id of the body) make the
// statement write nothing and return those ids, so that each offending
// record can be reported; the ward check of migration 000013 (the foreign
// key's set-wise successor) still guards a ward deleted meanwhile. A
// written batch adds its audit_log row ($2–$5, see auditCTE).
// Inserted rows are told from updated ones by xmax: 0 in a row this
// statement inserted, while an update by ON CONFLICT leaves its row lock in
// the new version's xmax. Every known uid counts as updated, changed or
// not, as the API says. testdata/patients_bulk.sql shows it whole.
var patientUpsertSQL = `
WITH input AS (
    SELECT ` + patientInput.unnested(6) + `
),
cleared AS (
    ` + patientClearedSQL("input") + `
),
unknown_wards AS (
    SELECT w.id FROM unnest($1::bigint[]) w(id)
    WHERE NOT EXISTS (SELECT FROM wards WHERE wards.id = w.id)
),
written AS (
    INSERT INTO patients AS p (` + patientRow + `)
    SELECT ` + patientRow + ` FROM input
    WHERE NOT EXISTS (SELECT FROM unknown_wards)
    ORDER BY uid
    ON CONFLICT (uid) DO UPDATE SET
        ` + patientMergeSQL() + `
    RETURNING p.xmax = 0 AS inserted
),
inserted AS (
    SELECT count(*) AS n FROM written WHERE inserted
),` + auditCTE(ActionPatientsBulk, 2, "(SELECT n FROM inserted)",
	"cardinality($6::text[]) - (SELECT n FROM inserted)", "NOT EXISTS (SELECT FROM unknown_wards)") + `
SELECT n, cardinality($6::text[]) - n, ARRAY(SELECT id FROM unknown_wards ORDER BY id)
FROM inserted`

// UpsertPatients writes a batch of patient records, and its audit_log row
// for actor, in one statement, all or nothing: records of the same uid are merged in order first (a later
// carried field wins). Records naming a ward that does not exist are a
// ValidationError on ward_id with their indexes, and nothing is written.
// Concurrent batches touching the same uids all succeed and keep each
// other's fields (see patientUpsertSQL); should the database still abort
// one (a deadlock with another kind of writer), it is retried.
func (s *Store) UpsertPatients(ctx context.Context, actor Actor, records []PatientRecord) (UpsertCounts, error) {
	if len(records) == 0 {
		return UpsertCounts{}, nil
	}
	merged := mergePatients(records)
	n := len(merged)
	uids := make([]string, n)
	names, sexes := make([]*string, n), make([]*string, n)
	births, admitted, discharged, died := make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	wardIDs := make([]*int64, n)
	carried := make([][]bool, 7)
	for c := range carried {
		carried[c] = make([]bool, n)
	}
	for i, r := range merged {
		uids[i] = r.UID
		names[i], carried[0][i] = r.Name.Ptr(), r.Name.Set
		sexes[i], carried[1][i] = r.Sex.Ptr(), r.Sex.Set
		births[i], carried[2][i] = r.BirthDate.Ptr(), r.BirthDate.Set
		wardIDs[i], carried[3][i] = r.WardID.Ptr(), r.WardID.Set
		admitted[i], carried[4][i] = r.AdmittedAt.Ptr(), r.AdmittedAt.Set
		discharged[i], carried[5][i] = r.DischargedAt.Ptr(), r.DischargedAt.Set
		died[i], carried[6][i] = r.DiedAt.Ptr(), r.DiedAt.Set
	}
	var named []int64
	for _, r := range records {
		if r.WardID.Present() {
			named = append(named, r.WardID.Value)
		}
	}
	slices.Sort(named)
	named = slices.Compact(named)

	var counts UpsertCounts
	var unknown []int64
	_, inTx := s.db.(pgx.Tx)
	err := s.retryContended(ctx, func() error {
		args := append(append([]any{named}, actor.auditArgs(len(records))...),
			uids, names, sexes, births, wardIDs, admitted, discharged, died,
			carried[0], carried[1], carried[2], carried[3], carried[4], carried[5], carried[6])
		run := func() error {
			return translate(s.db.QueryRow(ctx, patientUpsertSQL, args...).Scan(&counts.Inserted, &counts.Updated, &unknown))
		}
		err := run()
		if wardVanished(err) && !inTx {
			// A ward the statement found was deleted before its ward
			// check could lock it: run again, and the statement's own
			// check names the records that name it.
			err = run()
		}
		return err
	})
	if err != nil {
		return UpsertCounts{}, err
	}
	if len(unknown) > 0 {
		var errs []FieldError
		for i, r := range records {
			if r.WardID.Present() && slices.Contains(unknown, r.WardID.Value) && len(errs) < MaxFieldErrors {
				errs = append(errs, FieldError{Index: i, Field: "ward_id", Message: fmt.Sprintf("ward %d does not exist", r.WardID.Value)})
			}
		}
		return UpsertCounts{}, &ValidationError{Errors: errs}
	}
	return counts, nil
}

// wardVanished reports whether err is the patients' ward check refusing a
// statement (migration 000013), which after the statement's own check of
// unknown wards means that a ward was deleted while it ran.
func wardVanished(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503" && pgErr.ConstraintName == "patients_ward_id_fkey"
}

// ImportPatients writes patients by uid with the API's partial semantics
// (see patientMergeSQL). A row's values are those of patientInput: uid,
// name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at, then
// for each of the seven fields after uid whether the record carried it; a
// field it did not carry is null. A new uid is inserted with the fields it
// did not carry null; a known one gets only the fields it carried, and is
// left alone (and not counted) when they are what is stored.
var ImportPatients = &FlatImport{
	columns: patientInput,
	upsert: batchSQL(`cleared AS (
    ` + patientClearedSQL("src") + `
),
written AS (
    INSERT INTO patients AS p (` + patientRow + `)
    SELECT ` + patientRow + ` FROM src
    ORDER BY uid
    ON CONFLICT (uid) DO UPDATE SET
        ` + patientMergeSQL() + `
    RETURNING p.xmax = 0 AS inserted
)`),
}

// mergePatients folds the records of each uid into one, in order, so that a
// later carried field wins; uids keep the order of their first record.
func mergePatients(records []PatientRecord) []PatientRecord {
	at := make(map[string]int, len(records))
	merged := make([]PatientRecord, 0, len(records))
	for _, r := range records {
		i, seen := at[r.UID]
		if !seen {
			at[r.UID] = len(merged)
			merged = append(merged, r)
			continue
		}
		m := &merged[i]
		m.Name = m.Name.Then(r.Name)
		m.Sex = m.Sex.Then(r.Sex)
		m.BirthDate = m.BirthDate.Then(r.BirthDate)
		m.WardID = m.WardID.Then(r.WardID)
		m.AdmittedAt = m.AdmittedAt.Then(r.AdmittedAt)
		m.DischargedAt = m.DischargedAt.Then(r.DischargedAt)
		m.DiedAt = m.DiedAt.Then(r.DiedAt)
	}
	return merged
}

// Patient is a patient as stored, with its latest predictions.
type Patient struct {
	UID          string
	Name         *string
	Sex          *string
	BirthDate    *time.Time // a date, at midnight UTC
	WardID       *int64
	AdmittedAt   *time.Time
	DischargedAt *time.Time
	DiedAt       *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Ward is the patient's ward and where it sits in the department tree;
	// nil without a ward, and not read by WardPatients.
	Ward *PatientWard
	// LatestPredictions holds the latest prediction per model and target,
	// ordered by model and target; never nil.
	LatestPredictions []Prediction
}

// PatientWard is a patient's ward with the departments above it.
type PatientWard struct {
	ID   int64
	Name string
	// DepartmentPath runs from the root department down to the ward's own.
	DepartmentPath []PathStep
}

// PathStep is one node on a path through a tree.
type PathStep struct {
	ID   int64
	Name string
}

const patientColumns = `p.uid, p.name, p.sex, p.birth_date, p.ward_id, p.admitted_at, p.discharged_at, p.died_at, p.created_at, p.updated_at`

// latestPredictionsJoin adds to each patient p its latest prediction per
// (model, target), one row each, or one row of nulls when it has none. It
// reads one range of predictions_pkey.
const latestPredictionsJoin = `
LEFT JOIN LATERAL (
    SELECT DISTINCT ON (pr.model, pr.target) pr.model, pr.target, pr.predicted_at, pr.horizon_hours, pr.probability
    FROM predictions pr WHERE pr.patient_id = p.id
    ORDER BY pr.model, pr.target, pr.predicted_at DESC
) lp ON true`

const latestPredictionColumns = `lp.model, lp.target, lp.predicted_at, lp.horizon_hours, lp.probability`

// patientSQL reads a patient, its ward with the path of departments from
// the root down to the ward's (walked up from the ward, stopping at a node
// already on the path), and its latest predictions: one row per prediction.
const patientSQL = `
WITH RECURSIVE pt AS (
    SELECT * FROM patients WHERE uid = $1
),
up(id, parent_id, name, path) AS (
    SELECT d.id, d.parent_id, d.name, ARRAY[d.id]
    FROM pt JOIN wards w ON w.id = pt.ward_id JOIN departments d ON d.id = w.department_id
  UNION ALL
    SELECT d.id, d.parent_id, d.name, d.id || up.path
    FROM up JOIN departments d ON d.id = up.parent_id
    WHERE d.id <> ALL (up.path)
)
SELECT ` + patientColumns + `, ` + latestPredictionColumns + `, w.id, w.name,
    ARRAY(SELECT id FROM up ORDER BY cardinality(path) DESC),
    ARRAY(SELECT name FROM up ORDER BY cardinality(path) DESC)
FROM pt p
LEFT JOIN wards w ON w.id = p.ward_id` + latestPredictionsJoin + `
ORDER BY lp.model, lp.target`

// Patient reads one patient by uid, with its ward and latest predictions,
// in one statement; an unknown uid is ErrNotFound.
func (s *Store) Patient(ctx context.Context, uid string) (Patient, error) {
	rows, err := s.db.Query(ctx, patientSQL, uid)
	if err != nil {
		return Patient{}, translate(err)
	}
	var wardID *int64
	var wardName *string
	var pathIDs []int64
	var pathNames []string
	patients, err := collectPatients(rows, &wardID, &wardName, &pathIDs, &pathNames)
	if err != nil {
		return Patient{}, err
	}
	if len(patients) == 0 {
		return Patient{}, fmt.Errorf("%w: patient %q", ErrNotFound, uid)
	}
	p := patients[0]
	if wardID != nil {
		p.Ward = &PatientWard{ID: *wardID, Name: *wardName, DepartmentPath: make([]PathStep, len(pathIDs))}
		for i := range pathIDs {
			p.Ward.DepartmentPath[i] = PathStep{ID: pathIDs[i], Name: pathNames[i]}
		}
	}
	return p, nil
}

// wardPatientsSQL reads the current inpatients of a ward (admitted, neither
// discharged nor dead: the partial index patients_inpatients) with their
// latest predictions. The ward itself is the first table, so that a ward
// without inpatients still yields a row (of nulls) and an unknown one none.
const wardPatientsSQL = `
SELECT ` + patientColumns + `, ` + latestPredictionColumns + `
FROM wards w
LEFT JOIN patients p ON p.ward_id = w.id
    AND p.admitted_at IS NOT NULL AND p.discharged_at IS NULL AND p.died_at IS NULL` + latestPredictionsJoin + `
WHERE w.id = $1
ORDER BY p.uid, lp.model, lp.target`

// WardPatients reads the current inpatients of a ward, ordered by uid, with
// their latest predictions, in one statement; an unknown ward is ErrNotFound.
func (s *Store) WardPatients(ctx context.Context, wardID int64) ([]Patient, error) {
	rows, err := s.db.Query(ctx, wardPatientsSQL, wardID)
	if err != nil {
		return nil, translate(err)
	}
	patients, err := collectPatients(rows)
	if err == nil && patients == nil {
		return nil, fmt.Errorf("%w: ward %d", ErrNotFound, wardID)
	}
	return patients, err
}

// collectPatients reads rows of patientColumns and latestPredictionColumns,
// followed by extra columns (scanned from every row, the last one's kept),
// ordered so that the rows of a patient are adjacent. A row whose uid is
// null yields no patient. It returns nil when there was no row at all, and
// an empty slice when the rows held no patient.
func collectPatients(rows pgx.Rows, extra ...any) ([]Patient, error) {
	defer rows.Close()
	var patients []Patient
	for rows.Next() {
		var p Patient
		var uid, model, target *string
		var predictedAt *time.Time
		var horizon *int
		var probability *float64
		dest := append([]any{&uid, &p.Name, &p.Sex, &p.BirthDate, &p.WardID, &p.AdmittedAt, &p.DischargedAt, &p.DiedAt,
			&p.CreatedAt, &p.UpdatedAt, &model, &target, &predictedAt, &horizon, &probability}, extra...)
		if rows.RawValues()[0] == nil {
			dest[8], dest[9] = nil, nil // no patient: created_at and updated_at are null too
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, translate(err)
		}
		if patients == nil {
			patients = []Patient{}
		}
		if uid == nil {
			continue
		}
		if len(patients) == 0 || patients[len(patients)-1].UID != *uid {
			p.UID = *uid
			p.LatestPredictions = []Prediction{}
			patients = append(patients, p)
		}
		if model != nil {
			last := &patients[len(patients)-1]
			last.LatestPredictions = append(last.LatestPredictions, Prediction{PatientUID: *uid, Model: *model, Target: *target,
				PredictedAt: *predictedAt, HorizonHours: *horizon, Probability: *probability})
		}
	}
	return patients, translate(rows.Err())
}
