package importer

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"canopy/queries"
	"canopy/rules"
)

// The hospital kinds: wards by department code, patients by uid (with the
// API's partial semantics), their observations and predictions.

// Maps of natural keys to ids, each loaded by one SELECT per run.
const (
	departmentIDsSQL = `SELECT code, id FROM departments`
	wardIDsSQL       = `SELECT d.code, w.name, w.id FROM wards w JOIN departments d ON d.id = w.department_id`
	patientIDsSQL    = `SELECT uid, id FROM patients`
)

// loadKeys reads rows of (natural key, id) into a map.
func loadKeys(ctx context.Context, conn *pgx.Conn, sql string) (map[string]int64, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	ids := map[string]int64{}
	var k string
	var id int64
	_, err = pgx.ForEachRow(rows, []any{&k, &id}, func() error {
		ids[k] = id
		return nil
	})
	return ids, err
}

func loadWardIDs(ctx context.Context, conn *pgx.Conn) (map[string]int64, error) {
	rows, err := conn.Query(ctx, wardIDsSQL)
	if err != nil {
		return nil, err
	}
	ids := map[string]int64{}
	var code, name string
	var id int64
	_, err = pgx.ForEachRow(rows, []any{&code, &name, &id}, func() error {
		ids[key(code, name)] = id
		return nil
	})
	return ids, err
}

var wardsKind = &kind{
	name:    "wards",
	keyName: "(department_code, name)",
	columns: []column{{"department_code", true}, {"name", true}, {"beds", true}},
	stage:   []string{"department_id bigint", "name text", "beds integer"},
	upsert: batchSQL(`written AS (
    INSERT INTO wards AS w (department_id, name, beds)
    SELECT department_id, name, beds FROM src ORDER BY department_id, name
    ON CONFLICT (department_id, name) DO UPDATE SET beds = excluded.beds, updated_at = now()
    WHERE w.beds IS DISTINCT FROM excluded.beds
    RETURNING w.xmax = 0 AS inserted
)`),
	prepare: func(ctx context.Context, conn *pgx.Conn) (parser, error) {
		departments, err := loadKeys(ctx, conn, departmentIDsSQL)
		if err != nil {
			return nil, err
		}
		return func(c *checker) ([]any, string, *rejection) {
			code := c.str(0, rules.CodeMax)
			name := c.str(1, rules.NameMax)
			beds := c.int64(2, 0, rules.BedsMax)
			if c.err != nil {
				return nil, "", nil
			}
			department, ok := departments[code]
			if !ok {
				return nil, "", reject(reasonUnknown, "department_code %q names no department", code)
			}
			return []any{department, name, int32(beds)}, key(code, name), nil
		}, nil
	},
}

const (
	patientUID = iota
	patientName
	patientSex
	patientBirthDate
	patientWardName
	patientDepartmentCode
	patientAdmittedAt
	patientDischargedAt
	patientDiedAt
)

// patientsKind has the API's partial semantics: a field the record does not
// carry (an empty CSV cell, a missing JSON member) keeps the stored value; one
// carried as null (\N, JSON null) clears it. The ward is named by ward_name
// and department_code together.
var patientsKind = &kind{
	name:    "patients",
	keyName: "uid",
	columns: []column{{"uid", true}, {"name", false}, {"sex", false}, {"birth_date", false},
		{"ward_name", false}, {"department_code", false}, {"admitted_at", false}, {"discharged_at", false}, {"died_at", false}},
	stage: []string{"uid text", "name text", "sex text", "birth_date date", "ward_id bigint",
		"admitted_at timestamptz", "discharged_at timestamptz", "died_at timestamptz",
		"has_name bool", "has_sex bool", "has_birth_date bool", "has_ward_id bool",
		"has_admitted_at bool", "has_discharged_at bool", "has_died_at bool"},
	// A new uid is inserted with the fields it did not carry null. A known
	// one gets only the fields it carried: ON CONFLICT cannot see the staged
	// row, only excluded, so each "carried" test is an uncorrelated IN
	// (SELECT ...), a hash table built once (as in queries.UpsertPatients).
	// changed, the known uids whose carried fields differ from the stored
	// ones, is only read when a row conflicts: a batch of new patients never
	// computes it.
	upsert: batchSQL(`changed AS (
    SELECT s.uid FROM src s JOIN patients p ON p.uid = s.uid
    WHERE (s.has_name AND s.name IS DISTINCT FROM p.name)
       OR (s.has_sex AND s.sex IS DISTINCT FROM p.sex)
       OR (s.has_birth_date AND s.birth_date IS DISTINCT FROM p.birth_date)
       OR (s.has_ward_id AND s.ward_id IS DISTINCT FROM p.ward_id)
       OR (s.has_admitted_at AND s.admitted_at IS DISTINCT FROM p.admitted_at)
       OR (s.has_discharged_at AND s.discharged_at IS DISTINCT FROM p.discharged_at)
       OR (s.has_died_at AND s.died_at IS DISTINCT FROM p.died_at)
),
written AS (
    INSERT INTO patients AS p (uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at)
    SELECT uid, name, sex, birth_date, ward_id, admitted_at, discharged_at, died_at FROM src
    ORDER BY uid
    ON CONFLICT (uid) DO UPDATE SET
        ` + queries.PatientMergeSQL("src") + `
    WHERE excluded.uid IN (SELECT uid FROM changed)
    RETURNING p.xmax = 0 AS inserted
)`),
	prepare: func(ctx context.Context, conn *pgx.Conn) (parser, error) {
		wards, err := loadWardIDs(ctx, conn)
		if err != nil {
			return nil, err
		}
		return func(c *checker) ([]any, string, *rejection) {
			return parsePatient(c, wards, time.Now())
		}, nil
	},
}

func parsePatient(c *checker, wards map[string]int64, now time.Time) ([]any, string, *rejection) {
	uid := c.str(patientUID, rules.CodeMax)
	name := c.text(patientName, rules.NameMax)
	if name != nil {
		name = new(strings.TrimSpace(*name))
	}
	sex := c.text(patientSex, 16)
	if sex != nil {
		c.check(patientSex, rules.Sex(*sex))
	}
	birth := c.date(patientBirthDate)
	if birth != nil && c.err == nil {
		c.check(patientBirthDate, rules.BirthDate(*birth, now))
	}
	wardName, department := c.fields[patientWardName], c.fields[patientDepartmentCode]
	if wardName.Set != department.Set || wardName.Null != department.Null {
		c.fail(patientWardName, "ward_name and department_code go together: both values, both \\N, or both empty")
	}
	admitted := c.timestamp(patientAdmittedAt)
	discharged := c.timestamp(patientDischargedAt)
	died := c.timestamp(patientDiedAt)
	if admitted != nil && c.err == nil {
		if discharged != nil && discharged.Before(*admitted) {
			c.fail(patientDischargedAt, "must not be before admitted_at")
		}
		if died != nil && died.Before(*admitted) {
			c.fail(patientDiedAt, "must not be before admitted_at")
		}
	}
	if c.err != nil {
		return nil, "", nil
	}
	var ward *int64
	if wardName.Present() {
		id, ok := wards[key(department.Value, wardName.Value)]
		if !ok {
			return nil, "", reject(reasonUnknown, "no ward %q in department %q", wardName.Value, department.Value)
		}
		ward = &id
	}
	return []any{uid, name, sex, birth, ward, admitted, discharged, died,
		c.carried(patientName), c.carried(patientSex), c.carried(patientBirthDate), c.carried(patientWardName),
		c.carried(patientAdmittedAt), c.carried(patientDischargedAt), c.carried(patientDiedAt)}, uid, nil
}

// observationsKind: a repeat of (patient, code, observed_at) with another
// value updates the stored value (the API keeps the first: a feed resends,
// an import corrects).
var observationsKind = &kind{
	name:    "observations",
	keyName: "(patient_uid, code, observed_at)",
	columns: []column{{"patient_uid", true}, {"code", true}, {"observed_at", true}, {"value", true}},
	stage:   []string{"patient_id bigint", "code text", "observed_at timestamptz", "value float8"},
	upsert: batchSQL(`written AS (
    INSERT INTO observations AS o (patient_id, code, observed_at, value)
    SELECT patient_id, code, observed_at, value FROM src ORDER BY patient_id, observed_at, code
    ON CONFLICT (patient_id, observed_at, code) DO UPDATE SET value = excluded.value
    WHERE o.value IS DISTINCT FROM excluded.value
    RETURNING o.xmax = 0 AS inserted
)`),
	prepare: func(ctx context.Context, conn *pgx.Conn) (parser, error) {
		patients, err := loadKeys(ctx, conn, patientIDsSQL)
		if err != nil {
			return nil, err
		}
		return func(c *checker) ([]any, string, *rejection) {
			uid := c.str(0, rules.CodeMax)
			code := c.str(1, rules.CodeMax)
			at := c.time(2)
			value := c.number(3, -rules.ValueMax, rules.ValueMax)
			if c.err != nil {
				return nil, "", nil
			}
			patient, ok := patients[uid]
			if !ok {
				return nil, "", reject(reasonUnknown, "patient_uid %q names no patient", uid)
			}
			return []any{patient, code, at, value}, key(uid, code, at.UTC().Format(time.RFC3339Nano)), nil
		}, nil
	},
}

var predictionsKind = &kind{
	name:    "predictions",
	keyName: "(patient_uid, model, target, predicted_at)",
	columns: []column{{"patient_uid", true}, {"model", true}, {"target", true}, {"predicted_at", true},
		{"horizon_hours", true}, {"probability", true}},
	stage: []string{"patient_id bigint", "model text", "target text", "predicted_at timestamptz",
		"horizon_hours integer", "probability float8"},
	upsert: batchSQL(`written AS (
    INSERT INTO predictions AS p (patient_id, model, target, predicted_at, horizon_hours, probability)
    SELECT patient_id, model, target, predicted_at, horizon_hours, probability FROM src
    ORDER BY patient_id, model, target, predicted_at
    ON CONFLICT (patient_id, model, target, predicted_at) DO UPDATE
        SET horizon_hours = excluded.horizon_hours, probability = excluded.probability
    WHERE (p.horizon_hours, p.probability) IS DISTINCT FROM (excluded.horizon_hours, excluded.probability)
    RETURNING p.xmax = 0 AS inserted
)`),
	prepare: func(ctx context.Context, conn *pgx.Conn) (parser, error) {
		patients, err := loadKeys(ctx, conn, patientIDsSQL)
		if err != nil {
			return nil, err
		}
		return func(c *checker) ([]any, string, *rejection) {
			uid := c.str(0, rules.CodeMax)
			model := c.str(1, rules.CodeMax)
			target := c.str(2, rules.CodeMax)
			at := c.time(3)
			horizon := c.int64(4, 0, rules.HorizonMax)
			probability := c.number(5, 0, 1)
			if c.err != nil {
				return nil, "", nil
			}
			patient, ok := patients[uid]
			if !ok {
				return nil, "", reject(reasonUnknown, "patient_uid %q names no patient", uid)
			}
			return []any{patient, model, target, at, int32(horizon), probability},
				key(uid, model, target, at.UTC().Format(time.RFC3339Nano)), nil
		}, nil
	},
}
