package importer

import (
	"context"
	"strings"
	"time"

	"canopy/queries"
	"canopy/rules"
)

// The hospital kinds: wards by department code, patients by uid (with the
// API's partial semantics), their observations and predictions.

var wardsKind = &kind{
	name:    "wards",
	keyName: "(department_code, name)",
	columns: []column{
		{name: "department_code", required: true}, {name: "name", required: true},
		{name: "beds", required: true},
	},
	write: queries.ImportWards,
	prepare: func(ctx context.Context, session *queries.Import) (parser, error) {
		departments, err := session.DepartmentIDs(ctx)
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
	columns: []column{
		{name: "uid", required: true}, {name: "name"}, {name: "sex"}, {name: "birth_date"},
		{name: "ward_name"}, {name: "department_code"}, {name: "admitted_at"}, {name: "discharged_at"},
		{name: "died_at"},
	},
	write: queries.ImportPatients,
	prepare: func(ctx context.Context, session *queries.Import) (parser, error) {
		wards, err := session.WardIDs(ctx)
		if err != nil {
			return nil, err
		}
		return func(c *checker) ([]any, string, *rejection) {
			return parsePatient(c, wards, time.Now())
		}, nil
	},
}

func parsePatient(c *checker, wards map[queries.WardKey]int64, now time.Time) ([]any, string, *rejection) {
	uid := c.str(patientUID, rules.CodeMax)
	name := c.text(patientName, rules.NameMax)
	if name != nil {
		name = new(strings.TrimSpace(*name))
	}
	var sex *string // checked by the sex rule alone, as the API checks it
	if s, ok := c.value(patientSex); ok {
		c.check(patientSex, rules.Sex(s))
		sex = &s
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
		id, ok := wards[queries.WardKey{DepartmentCode: department.Value, Name: wardName.Value}]
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
	columns: []column{
		{name: "patient_uid", required: true}, {name: "code", required: true},
		{name: "observed_at", required: true}, {name: "value", required: true},
	},
	write: queries.ImportObservations,
	prepare: func(ctx context.Context, session *queries.Import) (parser, error) {
		patients, err := session.PatientIDs(ctx)
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
				return nil, "", reject(reasonUnknown, "patient_uid: %s", queries.NoPatient(uid))
			}
			return []any{patient, code, at, value}, key(uid, code, at.UTC().Format(time.RFC3339Nano)), nil
		}, nil
	},
}

var predictionsKind = &kind{
	name:    "predictions",
	keyName: "(patient_uid, model, target, predicted_at)",
	columns: []column{
		{name: "patient_uid", required: true}, {name: "model", required: true},
		{name: "target", required: true}, {name: "predicted_at", required: true},
		{name: "horizon_hours", required: true}, {name: "probability", required: true},
	},
	write: queries.ImportPredictions,
	prepare: func(ctx context.Context, session *queries.Import) (parser, error) {
		patients, err := session.PatientIDs(ctx)
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
				return nil, "", reject(reasonUnknown, "patient_uid: %s", queries.NoPatient(uid))
			}
			return []any{patient, model, target, at, int32(horizon), probability},
				key(uid, model, target, at.UTC().Format(time.RFC3339Nano)), nil
		}, nil
	},
}
