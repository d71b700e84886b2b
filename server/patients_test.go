package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"canopy/auth"
)

// hospital is a test server with a department, two wards and tokens for the
// hospital feed.
type hospital struct {
	*testServer
	reader, writer string
	department     int64
	icu, recovery  int64
}

func newHospital(t *testing.T) *hospital {
	t.Helper()
	return newHospitalWith(t)
}

// newHospitalWith is newHospital on a server configured by configure.
func newHospitalWith(t *testing.T, configure ...func(*Config)) *hospital {
	t.Helper()
	ts := newTestServer(t, configure...)
	h := &hospital{testServer: ts, reader: ts.token(auth.ScopePatientsRead), writer: ts.token(auth.ScopePatientsWrite)}
	trees := ts.token(auth.ScopeTreesWrite)
	root := createNode(t, ts, trees, "departments", `{"name":"Hospital","code":"H"}`)
	h.department = createNode(t, ts, trees, "departments", fmt.Sprintf(`{"name":"Surgery","code":"S","parent_id":%d}`, root))
	for _, w := range []struct {
		name string
		id   *int64
	}{{"ICU", &h.icu}, {"Recovery", &h.recovery}} {
		r := ts.do("POST", "/api/v1/wards", fmt.Sprintf(`{"department_id":%d,"name":%q,"beds":10}`, h.department, w.name), bearer(trees)...)
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("create ward: %d %s", r.StatusCode, r.Body)
		}
		var ward wardJSON
		r.decode(t, &ward)
		*w.id = ward.ID
	}
	return h
}

// post sends a batch body with the writer's token and expects 200.
func (h *hospital) post(t *testing.T, path string, body any) response {
	t.Helper()
	r := h.do("POST", path, body, bearer(h.writer)...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, r.StatusCode, r.Body)
	}
	return r
}

func (h *hospital) get(t *testing.T, path string, v any) response {
	t.Helper()
	r := h.do("GET", path, nil, bearer(h.reader)...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.StatusCode, r.Body)
	}
	if v != nil {
		r.decode(t, v)
	}
	return r
}

type patientDetail struct {
	patientJSON
	Ward *patientWardJSON `json:"ward"`
}

func TestHospitalFeed(t *testing.T) {
	h := newHospital(t)
	var counts map[string]int
	// counted decodes a batch answer afresh.
	counted := func(r response) {
		counts = nil
		r.decode(t, &counts)
	}
	counted(h.post(t, "/api/v1/patients/bulk", fmt.Sprintf(`[
		{"uid":"p1","name":"Ann","sex":"F","birth_date":"1970-05-06","ward_id":%d,"admitted_at":"2024-11-03T08:00:00+09:00"},
		{"uid":"p2","name":"Bob","ward_id":%d,"admitted_at":"2024-11-03T08:00:00Z"},
		{"uid":"p3","ward_id":%d,"admitted_at":"2024-11-03T08:00:00Z","discharged_at":"2024-11-04T08:00:00Z"},
		{"uid":"p1","sex":"U"}
	]`, h.icu, h.icu, h.icu)))
	if fmt.Sprint(counts) != "map[inserted:3 received:4 updated:0]" {
		t.Errorf("first batch: %v", counts)
	}
	counted(h.post(t, "/api/v1/patients/bulk", `[{"uid":"p2","name":null,"died_at":"2024-11-05T00:00:00Z"},{"uid":"p4"}]`))
	if fmt.Sprint(counts) != "map[inserted:1 received:2 updated:1]" {
		t.Errorf("second batch: %v", counts)
	}
	counted(h.post(t, "/api/v1/patients/bulk", `[]`))
	if fmt.Sprint(counts) != "map[inserted:0 received:0 updated:0]" {
		t.Errorf("empty batch: %v", counts)
	}
	counted(h.post(t, "/api/v1/predictions/bulk", `[
		{"patient_uid":"p1","model":"early-warning","target":"sepsis","predicted_at":"2024-11-03T09:00:00Z","horizon_hours":6,"probability":0.25},
		{"patient_uid":"p1","model":"early-warning","target":"sepsis","predicted_at":"2024-11-03T10:00:00Z","horizon_hours":6,"probability":0.5},
		{"patient_uid":"p1","model":"early-warning","target":"sepsis","predicted_at":"2024-11-03T10:00:00Z","horizon_hours":6,"probability":0.5}
	]`))
	if fmt.Sprint(counts) != "map[duplicates:1 inserted:2 received:3]" {
		t.Errorf("predictions: %v", counts)
	}

	var p1 patientDetail
	h.get(t, "/api/v1/patients/p1", &p1)
	if p1.Name == nil || *p1.Name != "Ann" || *p1.Sex != "U" || *p1.BirthDate != "1970-05-06" ||
		p1.AdmittedAt.Format("2006-01-02T15:04:05Z07:00") != "2024-11-02T23:00:00Z" || p1.DischargedAt != nil {
		t.Errorf("p1: %s", mustJSON(p1))
	}
	if p1.Ward == nil || p1.Ward.ID != h.icu || p1.Ward.Name != "ICU" || len(p1.Ward.DepartmentPath) != 2 ||
		p1.Ward.DepartmentPath[0].Name != "Hospital" || p1.Ward.DepartmentPath[1].ID != h.department {
		t.Errorf("p1's ward: %s", mustJSON(p1.Ward))
	}
	if len(p1.LatestPredictions) != 1 || p1.LatestPredictions[0].Probability != 0.5 {
		t.Errorf("p1's latest predictions: %s", mustJSON(p1.LatestPredictions))
	}
	var p2 patientDetail
	h.get(t, "/api/v1/patients/p2", &p2)
	if p2.Name != nil || p2.DiedAt == nil || p2.AdmittedAt == nil {
		t.Errorf("p2 after a partial update: %s", mustJSON(p2))
	}
	var p4 map[string]any
	h.get(t, "/api/v1/patients/p4", &p4)
	if p4["ward"] != nil || p4["name"] != nil || p4["latest_predictions"] == nil {
		t.Errorf("p4: %v", p4)
	}

	var inpatients struct {
		WardID   int64         `json:"ward_id"`
		Patients []patientJSON `json:"patients"`
	}
	h.get(t, "/api/v1/wards/"+itoa(h.icu)+"/patients", &inpatients)
	if inpatients.WardID != h.icu || len(inpatients.Patients) != 1 || inpatients.Patients[0].UID != "p1" ||
		len(inpatients.Patients[0].LatestPredictions) != 1 {
		t.Errorf("ICU inpatients (p2 died, p3 discharged): %s", mustJSON(inpatients))
	}
	h.get(t, "/api/v1/wards/"+itoa(h.recovery)+"/patients", &inpatients)
	if len(inpatients.Patients) != 0 {
		t.Errorf("recovery inpatients: %s", mustJSON(inpatients))
	}

	counted(h.post(t, "/api/v1/observations/bulk", `[
		{"patient_uid":"p1","code":"heart_rate","observed_at":"2024-11-03T08:10:00Z","value":80},
		{"patient_uid":"p1","code":"heart_rate","observed_at":"2024-11-03T08:50:00Z","value":83},
		{"patient_uid":"p1","code":"spo2","observed_at":"2024-11-03T08:30:00Z","value":97.5},
		{"patient_uid":"p1","code":"heart_rate","observed_at":"2024-11-03T09:00:00Z","value":70},
		{"patient_uid":"p2","code":"heart_rate","observed_at":"2024-11-03T17:10:00+09:00","value":60},
		{"patient_uid":"p1","code":"heart_rate","observed_at":"2024-11-03T08:10:00Z","value":80}
	]`))
	if fmt.Sprint(counts) != "map[duplicates:1 inserted:5 received:6]" {
		t.Errorf("observations: %v", counts)
	}
	var hourly struct {
		From, To string
		Series   []hourlyJSON
	}
	h.get(t, "/api/v1/observations/hourly?from=2024-11-03T08:00:00Z&to=2024-11-03T09:00:00Z", &hourly)
	if got := mustJSON(hourly.Series); got != `[{"patient_uid":"p1","hour":"2024-11-03T08:00:00Z","values":{"heart_rate":81.5,"spo2":97.5}},`+
		`{"patient_uid":"p2","hour":"2024-11-03T08:00:00Z","values":{"heart_rate":60}}]` || hourly.From != "2024-11-03T08:00:00Z" {
		t.Errorf("hourly: %s %s", hourly.From, got)
	}
	h.get(t, "/api/v1/observations/hourly?from=2024-11-03T17:00:00%2B09:00&to=2024-11-03T10:00:00Z&ward_id="+itoa(h.icu)+"&patient_uid=p1", &hourly)
	if got := mustJSON(hourly.Series); got != `[{"patient_uid":"p1","hour":"2024-11-03T08:00:00Z","values":{"heart_rate":81.5,"spo2":97.5}},`+
		`{"patient_uid":"p1","hour":"2024-11-03T09:00:00Z","values":{"heart_rate":70}}]` {
		t.Errorf("hourly of p1 in the ICU: %s", got)
	}

	for _, c := range []struct {
		name, method, path, token string
		status                    int
	}{
		{"no token", "POST", "/api/v1/patients/bulk", "", 401},
		{"read token cannot write", "POST", "/api/v1/patients/bulk", h.reader, 403},
		{"write token cannot read", "GET", "/api/v1/patients/p1", h.writer, 403},
		{"unknown patient", "GET", "/api/v1/patients/nobody", h.reader, 404},
		{"uid too long to exist", "GET", "/api/v1/patients/" + strings.Repeat("x", 65), h.reader, 404},
		{"uid with a NUL", "GET", "/api/v1/patients/a%00b", h.reader, 400},
		{"uid not UTF-8", "GET", "/api/v1/patients/a%FFb", h.reader, 400},
		{"unknown ward", "GET", "/api/v1/wards/999999/patients", h.reader, 404},
		{"ward id not a number", "GET", "/api/v1/wards/x/patients", h.reader, 400},
		{"observations without a token", "GET", "/api/v1/observations/hourly?from=2024-11-03T08:00:00Z&to=2024-11-03T09:00:00Z", "", 401},
		{"predictions with a read token", "POST", "/api/v1/predictions/bulk", h.reader, 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			var headers []string
			if c.token != "" {
				headers = bearer(c.token)
			}
			var body any
			if c.method == "POST" {
				body = `[]`
			}
			r := h.do(c.method, c.path, body, headers...)
			if r.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, c.status, r.Body)
			}
			r.problem(t)
		})
	}
}

// Every refused batch is a problem document with the contract's status and
// code, names each bad record's index and field, and writes nothing.
func TestHospitalBadBodies(t *testing.T) {
	h := newHospital(t)
	h.post(t, "/api/v1/patients/bulk", `[{"uid":"known"}]`)
	records := func(n int, record string) string {
		return "[" + strings.Repeat(record+",", n-1) + record + "]"
	}
	// ok is a valid first record: it must not be written either.
	const ok = `{"uid":"ok","name":"Valid"},`
	const obs = `{"patient_uid":"known","code":"heart_rate","observed_at":"2024-11-03T08:00:00Z","value":80},`
	const pred = `{"patient_uid":"known","model":"m","target":"sepsis","predicted_at":"2024-11-03T08:00:00Z","horizon_hours":6,"probability":0.5},`
	const (
		patients     = "/api/v1/patients/bulk"
		observations = "/api/v1/observations/bulk"
		predictions  = "/api/v1/predictions/bulk"
	)
	tests := []struct {
		name   string
		path   string
		body   string
		status int
		code   string
		errs   string // "index field" of each error, for validation problems
	}{
		{"not an array", patients, `{"uid":"a"}`, 422, "validation", "(body)"},
		{"a number", patients, `5`, 422, "validation", "(body)"},
		{"JSON syntax error", patients, `[{"uid" "a"}]`, 400, "bad_request", ""},
		{"record not an object", patients, `[` + ok + `5, null]`, 422, "validation", "1 (record), 2 (record)"},
		{"wrong type", patients, `[` + ok + `{"uid":"b","name":5}]`, 422, "validation", "1 name"},
		{"uid not a string", patients, `[` + ok + `{"uid":12}]`, 422, "validation", "1 uid"},
		{"huge number", patients, `[` + ok + `{"uid":"b","ward_id":1e30}]`, 422, "validation", "1 ward_id"},
		{"fractional id", patients, `[` + ok + `{"uid":"b","ward_id":1.5}]`, 422, "validation", "1 ward_id"},
		{"negative ward id", patients, `[` + ok + `{"uid":"b","ward_id":-1}]`, 422, "validation", "1 ward_id"},
		{"invalid date", patients, `[` + ok + `{"uid":"b","birth_date":"2024-02-30"}]`, 422, "validation", "1 birth_date"},
		{"date not a date", patients, `[` + ok + `{"uid":"b","birth_date":"yesterday"}]`, 422, "validation", "1 birth_date"},
		{"birth date in the future", patients, `[` + ok + `{"uid":"b","birth_date":"2999-01-01"}]`, 422, "validation", "1 birth_date"},
		{"birth date before 1900", patients, `[` + ok + `{"uid":"b","birth_date":"1899-12-31"}]`, 422, "validation", "1 birth_date"},
		{"timestamp without offset", patients, `[` + ok + `{"uid":"b","admitted_at":"2024-11-03T08:00:00"}]`, 422, "validation", "1 admitted_at"},
		{"invalid timestamp", patients, `[` + ok + `{"uid":"b","discharged_at":"2024-13-01T00:00:00Z"}]`, 422, "validation", "1 discharged_at"},
		{"discharged before admitted", patients, `[` + ok + `{"uid":"b","admitted_at":"2024-11-03T08:00:00Z","discharged_at":"2024-11-03T07:00:00Z","died_at":"2024-11-03T07:59:59Z"}]`,
			422, "validation", "1 discharged_at, 1 died_at"},
		{"sex X", patients, `[` + ok + `{"uid":"b","sex":"X"}]`, 422, "validation", "1 sex"},
		{"uid 65 chars", patients, `[` + ok + `{"uid":"` + strings.Repeat("é", 65) + `"}]`, 422, "validation", "1 uid"},
		{"uid missing", patients, `[` + ok + `{"name":"No uid"}]`, 422, "validation", "1 uid"},
		{"uid null", patients, `[` + ok + `{"uid":null}]`, 422, "validation", "1 uid"},
		{"uid blank", patients, `[` + ok + `{"uid":"  "}]`, 422, "validation", "1 uid"},
		{"name with a NUL", patients, `[` + ok + `{"uid":"b","name":"a\u0000b"}]`, 422, "validation", "1 name"},
		{"name blank", patients, `[` + ok + `{"uid":"b","name":""}]`, 422, "validation", "1 name"},
		{"unknown field", patients, `[` + ok + `{"uid":"b","colour":"red"}]`, 422, "validation", "1 colour"},
		{"unknown ward", patients, `[` + ok + `{"uid":"b","ward_id":999999},{"uid":"c","ward_id":` + itoa(h.icu) + `},{"uid":"d","ward_id":999999}]`,
			422, "validation", "1 ward_id, 3 ward_id"},
		{"several bad records", patients, `[` + ok + `{"uid":"b","sex":"X","name":""},{"uid":"c"},{"uid":"","zz":1}]`,
			422, "validation", "1 name, 1 sex, 3 zz"},
		{"10,001 records", patients, records(10_001, `{"uid":"a"}`), 413, "too_large", ""},

		{"observations: not an array", observations, `{}`, 422, "validation", "(body)"},
		{"observations: unknown patient", observations, `[` + obs + `{"patient_uid":"nobody","code":"hr","observed_at":"2024-11-03T08:00:00Z","value":1}]`,
			422, "validation", "1 patient_uid"},
		{"observations: missing fields", observations, `[` + obs + `{"patient_uid":"known"}]`, 422, "validation", "1 code, 1 observed_at, 1 value"},
		{"observations: value null", observations, `[` + obs + `{"patient_uid":"known","code":"hr","observed_at":"2024-11-03T08:00:00Z","value":null}]`,
			422, "validation", "1 value"},
		{"observations: value a string", observations, `[` + obs + `{"patient_uid":"known","code":"hr","observed_at":"2024-11-03T08:00:00Z","value":"80"}]`,
			422, "validation", "1 value"},
		{"observations: huge value", observations, `[` + obs + `{"patient_uid":"known","code":"hr","observed_at":"2024-11-03T08:00:00Z","value":1e300}]`,
			422, "validation", "1 value"},
		{"observations: value beyond a double", observations, `[` + obs + `{"patient_uid":"known","code":"hr","observed_at":"2024-11-03T08:00:00Z","value":1e400}]`,
			422, "validation", "1 value"},
		{"observations: code too long", observations, `[` + obs + `{"patient_uid":"known","code":"` + strings.Repeat("c", 65) + `","observed_at":"2024-11-03T08:00:00Z","value":1}]`,
			422, "validation", "1 code"},
		{"observations: unknown field", observations, `[` + obs + `{"patient_uid":"known","code":"hr","observed_at":"2024-11-03T08:00:00Z","value":1,"unit":"bpm"}]`,
			422, "validation", "1 unit"},
		{"observations: 50,001 records", observations, records(50_001, `{}`), 413, "too_large", ""},

		{"predictions: probability over 1", predictions, `[` + pred + `{"patient_uid":"known","model":"m","target":"t","predicted_at":"2024-11-03T08:00:00Z","horizon_hours":6,"probability":1.5}]`,
			422, "validation", "1 probability"},
		{"predictions: negative horizon", predictions, `[` + pred + `{"patient_uid":"known","model":"m","target":"t","predicted_at":"2024-11-03T08:00:00Z","horizon_hours":-1,"probability":0.5}]`,
			422, "validation", "1 horizon_hours"},
		{"predictions: fractional horizon", predictions, `[` + pred + `{"patient_uid":"known","model":"m","target":"t","predicted_at":"2024-11-03T08:00:00Z","horizon_hours":1.5,"probability":0.5}]`,
			422, "validation", "1 horizon_hours"},
		{"predictions: unknown patient", predictions, `[` + pred + `{"patient_uid":"nobody","model":"m","target":"t","predicted_at":"2024-11-03T08:00:00Z","horizon_hours":6,"probability":0.5}]`,
			422, "validation", "1 patient_uid"},
		{"predictions: missing model and bad time", predictions, `[` + pred + `{"patient_uid":"known","target":"t","predicted_at":"soon","horizon_hours":6,"probability":0.5}]`,
			422, "validation", "1 model, 1 predicted_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.fingerprint(t)
			r := h.do("POST", tt.path, tt.body, bearer(h.writer)...)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.StatusCode, tt.status, r.Body)
			}
			p := r.problem(t)
			if p.Code != tt.code || p.Detail == "" {
				t.Errorf("code %q, want %q (detail %q)", p.Code, tt.code, p.Detail)
			}
			var errs []string
			for _, e := range p.Errors {
				if e.Index == nil {
					if e.Field != "(body)" {
						t.Errorf("error without an index: %+v", e)
					}
					errs = append(errs, e.Field)
					continue
				}
				errs = append(errs, fmt.Sprintf("%d %s", *e.Index, e.Field))
			}
			if got := strings.Join(errs, ", "); got != tt.errs {
				t.Errorf("errors %q, want %q", got, tt.errs)
			}
			if after := h.fingerprint(t); after != before {
				t.Errorf("a refused batch wrote:\n%s\nbecame\n%s", before, after)
			}
		})
	}
}

func TestHourlyParameters(t *testing.T) {
	h := newHospital(t)
	tests := []struct {
		name   string
		query  string
		status int
		code   string
		field  string
	}{
		{"a day", "from=2024-11-03T00:00:00Z&to=2024-11-04T00:00:00Z", 200, "", ""},
		{"exactly 7 days", "from=2024-11-03T00:00:00Z&to=2024-11-10T00:00:00Z", 200, "", ""},
		{"offsets", "from=2024-11-03T09:00:00%2B09:00&to=2024-11-03T01:00:00-02:00", 200, "", ""},
		{"more than 7 days", "from=2024-11-03T00:00:00Z&to=2024-11-10T00:00:01Z", 422, "validation", "to"},
		{"to before from", "from=2024-11-03T00:00:00Z&to=2024-11-02T00:00:00Z", 422, "validation", "to"},
		{"empty window", "from=2024-11-03T00:00:00Z&to=2024-11-03T00:00:00Z", 422, "validation", "to"},
		{"from missing", "to=2024-11-03T00:00:00Z", 400, "bad_request", ""},
		{"to missing", "from=2024-11-03T00:00:00Z", 400, "bad_request", ""},
		{"from unparsable", "from=yesterday&to=2024-11-03T00:00:00Z", 400, "bad_request", ""},
		{"no offset", "from=2024-11-03T00:00:00&to=2024-11-04T00:00:00Z", 400, "bad_request", ""},
		{"a bare plus reads as a space", "from=2024-11-03T00:00:00+09:00&to=2024-11-04T00:00:00Z", 400, "bad_request", ""},
		{"ward id not a number", "from=2024-11-03T00:00:00Z&to=2024-11-04T00:00:00Z&ward_id=x", 400, "bad_request", ""},
		{"ward id 0", "from=2024-11-03T00:00:00Z&to=2024-11-04T00:00:00Z&ward_id=0", 422, "validation", "ward_id"},
		{"patient uid too long", "from=2024-11-03T00:00:00Z&to=2024-11-04T00:00:00Z&patient_uid=" + strings.Repeat("x", 65), 422, "validation", "patient_uid"},
		{"patient uid not UTF-8", "from=2024-11-03T00:00:00Z&to=2024-11-04T00:00:00Z&patient_uid=%FF", 400, "bad_request", ""},
		{"unknown patient", "from=2024-11-03T00:00:00Z&to=2024-11-04T00:00:00Z&patient_uid=nobody", 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("GET", "/api/v1/observations/hourly?"+tt.query, nil, bearer(h.reader)...)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.status, r.Body)
			}
			if tt.status == 200 {
				var body struct{ Series []json.RawMessage }
				r.decode(t, &body)
				if body.Series == nil {
					t.Errorf("no series: %s", r.Body)
				}
				return
			}
			p := r.problem(t)
			if p.Code != tt.code || (tt.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.field)) {
				t.Errorf("problem %+v, want code %s on %s", p, tt.code, tt.field)
			}
		})
	}
}

// Every hospital endpoint runs the same number of statements on 5 records
// as on 5,000, and as few as its budget.
func TestHospitalQueryBudgets(t *testing.T) {
	h := newHospital(t)
	budget := map[string]int{"patients insert": 1, "patients update": 1, "patient": 1, "ward patients": 1,
		"observations": 2, "observations again": 3, "predictions": 1, "hourly, all": 1, "hourly, ward": 1, "hourly, patient": 1}
	measure := func(n int) map[string]int {
		prefix := fmt.Sprint("n", n, "-")
		var patients, partial, observations, predictions []map[string]any
		for i := range n {
			uid := fmt.Sprint(prefix, i)
			patients = append(patients, map[string]any{"uid": uid, "name": "Patient", "sex": "F", "birth_date": "1980-01-01",
				"ward_id": h.icu, "admitted_at": "2024-11-03T08:00:00Z"})
			partial = append(partial, map[string]any{"uid": uid, "discharged_at": nil})
			observations = append(observations, map[string]any{"patient_uid": uid, "code": "heart_rate",
				"observed_at": "2024-11-03T08:15:00Z", "value": 60 + i%40})
			predictions = append(predictions, map[string]any{"patient_uid": uid, "model": "m", "target": "sepsis",
				"predicted_at": "2024-11-03T09:00:00Z", "horizon_hours": 6, "probability": 0.5})
		}
		counts := map[string]int{}
		run := func(name string, r response) {
			if r.StatusCode != http.StatusOK {
				t.Fatalf("%s at %d records: %d %s", name, n, r.StatusCode, r.Body)
			}
			counts[name] = r.queries(t)
		}
		write := func(name, path string, body any) { run(name, h.do("POST", path, body, bearer(h.writer)...)) }
		read := func(name, path string) { run(name, h.do("GET", path, nil, bearer(h.reader)...)) }
		write("patients insert", "/api/v1/patients/bulk", patients)
		write("patients update", "/api/v1/patients/bulk", partial)
		write("observations", "/api/v1/observations/bulk", observations)
		write("observations again", "/api/v1/observations/bulk", observations)
		write("predictions", "/api/v1/predictions/bulk", predictions)
		read("patient", "/api/v1/patients/"+url.PathEscape(prefix+"0"))
		read("ward patients", "/api/v1/wards/"+itoa(h.icu)+"/patients")
		window := "/api/v1/observations/hourly?from=2024-11-03T08:00:00Z&to=2024-11-03T09:00:00Z"
		read("hourly, all", window)
		read("hourly, ward", window+"&ward_id="+itoa(h.icu))
		read("hourly, patient", window+"&patient_uid="+prefix+"0")
		return counts
	}
	small := measure(5)
	large := measure(5_000)
	for name, want := range budget {
		if small[name] != large[name] || small[name] == 0 || small[name] > want {
			t.Errorf("%s: %d statements at 5 records, %d at 5,000; budget %d", name, small[name], large[name], want)
		}
	}
}

// A patients batch changes a ward's occupancy in the department tree, and
// with it the tree's ETag.
func TestPatientsChangeOccupancy(t *testing.T) {
	h := newHospital(t)
	occupied := func() (int, string) {
		t.Helper()
		r := h.do("GET", "/api/v1/departments/tree", nil)
		var tree treeResponse
		r.decode(t, &tree)
		var find func(nodes []*nodeJSON) *int
		find = func(nodes []*nodeJSON) *int {
			for _, n := range nodes {
				if n.Kind == "ward" && n.ID == h.icu {
					return n.Occupied
				}
				if o := find(n.Children); o != nil {
					return o
				}
			}
			return nil
		}
		o := find(tree.Roots)
		if o == nil {
			t.Fatalf("no ICU in the tree: %s", r.Body)
		}
		return *o, r.Header.Get("ETag")
	}
	o0, etag0 := occupied()
	h.post(t, "/api/v1/patients/bulk", fmt.Sprintf(`[
		{"uid":"a","ward_id":%d,"admitted_at":"2024-11-03T08:00:00Z"},
		{"uid":"b","ward_id":%d,"admitted_at":"2024-11-03T08:00:00Z"},
		{"uid":"c","ward_id":%d,"admitted_at":"2024-11-03T08:00:00Z","discharged_at":"2024-11-03T09:00:00Z"},
		{"uid":"d","ward_id":%d}
	]`, h.icu, h.icu, h.icu, h.icu))
	o1, etag1 := occupied()
	h.post(t, "/api/v1/patients/bulk", `[{"uid":"a","died_at":"2024-11-04T08:00:00Z"}]`)
	o2, etag2 := occupied()
	if o0 != 0 || o1 != 2 || o2 != 1 {
		t.Errorf("ICU occupied %d → %d → %d, want 0 → 2 → 1", o0, o1, o2)
	}
	if etag0 == "" || etag0 == etag1 || etag1 == etag2 {
		t.Errorf("ETags %s → %s → %s: each batch must change it", etag0, etag1, etag2)
	}
	var ward wardJSON
	h.get(t, "/api/v1/wards/"+itoa(h.icu), &ward)
	if ward.Occupied != 1 {
		t.Errorf("GET ward: occupied %d, want 1", ward.Occupied)
	}
	r := h.do("GET", "/api/v1/departments/tree", nil, "If-None-Match", etag2)
	if r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: %d", r.StatusCode)
	}
}
