package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"canopy/auth"
)

// A timestamp that parses but whose instant is outside years 1 to 9999 in
// UTC cannot be shown in JSON: every endpoint refuses it with a 422 naming
// the field, and writes nothing.
func TestTimestampsOutsideTheYearsRefused(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(auth.ScopeAdmin)
	if r := ts.do("POST", "/api/v1/patients/bulk", `[{"uid":"known"}]`, bearer(admin)...); r.StatusCode != http.StatusOK {
		t.Fatalf("setup: %d %s", r.StatusCode, r.Body)
	}
	for _, stamp := range []string{"9999-12-31T23:00:00-23:59", "0001-01-01T00:00:00+01:00", "0000-01-01T00:00:00+01:00"} {
		for _, tc := range []struct{ path, body, field string }{
			{"/api/v1/patients/bulk", `[{"uid":"p","admitted_at":"STAMP"}]`, "admitted_at"},
			{"/api/v1/patients/bulk", `[{"uid":"p","discharged_at":"STAMP"}]`, "discharged_at"},
			{"/api/v1/patients/bulk", `[{"uid":"p","died_at":"STAMP"}]`, "died_at"},
			{"/api/v1/observations/bulk", `[{"patient_uid":"known","code":"hr","observed_at":"STAMP","value":1}]`, "observed_at"},
			{"/api/v1/predictions/bulk", `[{"patient_uid":"known","model":"m","target":"t","predicted_at":"STAMP","horizon_hours":6,"probability":0.5}]`, "predicted_at"},
			{"/api/v1/articles/bulk", `[{"to_user_id":"` + alice + `","from_name":"N","from_domain":"n.example","title":"t","created_at":"STAMP"}]`, "created_at"},
		} {
			t.Run(tc.field+" "+stamp, func(t *testing.T) {
				before := ts.fingerprint(t)
				r := ts.do("POST", tc.path, strings.Replace(tc.body, "STAMP", stamp, 1), bearer(admin)...)
				if r.StatusCode != http.StatusUnprocessableEntity {
					t.Fatalf("%d %s, want 422", r.StatusCode, r.Body)
				}
				if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
					t.Errorf("errors %+v, want one on %s", p.Errors, tc.field)
				}
				if ts.fingerprint(t) != before {
					t.Error("a refused batch wrote")
				}
			})
		}
		t.Run("hourly window "+stamp, func(t *testing.T) {
			for _, q := range []string{"from=" + escape(stamp) + "&to=2024-11-03T00:00:00Z", "from=2024-11-03T00:00:00Z&to=" + escape(stamp)} {
				r := ts.do("GET", "/api/v1/observations/hourly?"+q, nil, bearer(admin)...)
				if r.StatusCode != http.StatusUnprocessableEntity {
					t.Errorf("%s: %d %s, want 422", q, r.StatusCode, r.Body)
				}
			}
		})
	}
}

func escape(s string) string { return strings.ReplaceAll(s, "+", "%2B") }

// A time stored outside JSON's years by SQL from outside canopy still shows,
// in ISO 8601's expanded form, and does not blank the patient, the ward's
// list or the month's articles it is in.
func TestStoredTimesOutsideTheYearsStillServed(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(auth.ScopeAdmin)
	department := createNode(t, ts, admin, "departments", `{"name":"Hospital","code":"H"}`)
	var ward wardJSON
	ts.do("POST", "/api/v1/wards", fmt.Sprintf(`{"department_id":%d,"name":"ICU","beds":4}`, department), bearer(admin)...).decode(t, &ward)
	for _, body := range []string{
		fmt.Sprintf(`[{"uid":"far","ward_id":%d,"admitted_at":"2024-11-01T00:00:00Z"},{"uid":"near","ward_id":%d,"admitted_at":"2024-11-02T00:00:00Z"}]`, ward.ID, ward.ID),
	} {
		if r := ts.do("POST", "/api/v1/patients/bulk", body, bearer(admin)...); r.StatusCode != http.StatusOK {
			t.Fatalf("setup: %d %s", r.StatusCode, r.Body)
		}
	}
	if r := ts.do("POST", "/api/v1/predictions/bulk", `[{"patient_uid":"far","model":"m","target":"t","predicted_at":"2024-11-01T00:00:00Z","horizon_hours":6,"probability":0.5}]`, bearer(admin)...); r.StatusCode != http.StatusOK {
		t.Fatalf("setup: %d %s", r.StatusCode, r.Body)
	}
	ctx := context.Background()
	for _, stmt := range []string{
		`UPDATE patients SET admitted_at = '10000-01-01 00:00:00+00', discharged_at = NULL WHERE uid = 'far'`,
		`UPDATE predictions SET predicted_at = '0001-01-01 00:00:00+01' WHERE patient_id = (SELECT id FROM patients WHERE uid = 'far')`,
	} {
		if _, err := ts.db.Pool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	read := func(path string) map[string]any {
		t.Helper()
		r := ts.send("GET", path, nil, bearer(admin)...)
		var body map[string]any
		if r.StatusCode != http.StatusOK || json.Unmarshal(r.Body, &body) != nil {
			t.Fatalf("GET %s: %d %q", path, r.StatusCode, r.Body)
		}
		return body
	}
	far := read("/api/v1/patients/far")
	if far["admitted_at"] != "+010000-01-01T00:00:00Z" {
		t.Errorf("admitted_at %v, want +010000-01-01T00:00:00Z", far["admitted_at"])
	}
	if p := far["latest_predictions"].([]any)[0].(map[string]any); p["predicted_at"] != "0000-12-31T23:00:00Z" {
		t.Errorf("predicted_at %v, want 0000-12-31T23:00:00Z", p["predicted_at"])
	}
	if list := read(fmt.Sprintf("/api/v1/wards/%d/patients", ward.ID))["patients"].([]any); len(list) != 2 {
		t.Errorf("the ward lists %d patients, want both", len(list))
	}

	const article = "33333333-3333-4333-8333-333333333333"
	if r := ts.do("POST", "/api/v1/articles/bulk", `[{"id":"`+article+`","to_user_id":"`+alice+`","from_name":"N","from_domain":"n.example","title":"t","created_at":"2024-11-01T00:00:00Z"}]`, bearer(admin)...); r.StatusCode != http.StatusOK {
		t.Fatalf("setup: %d %s", r.StatusCode, r.Body)
	}
	if _, err := ts.db.Pool.Exec(ctx, `UPDATE articles SET created_at = '10000-06-01 00:00:00+00'`); err != nil {
		t.Fatal(err)
	}
	r := ts.send("PATCH", "/api/v1/articles/"+article, `{"is_read":true}`, bearer(admin)...)
	var marked map[string]any
	if r.StatusCode != http.StatusOK || json.Unmarshal(r.Body, &marked) != nil || marked["created_at"] != "+010000-06-01T00:00:00Z" {
		t.Errorf("PATCH an article stored in year 10000: %d %q", r.StatusCode, r.Body)
	}
}

// A response that cannot be encoded is a logged 500 problem, not a 200 with
// an empty body (gin's render leaves it unsent).
func TestUnencodableResponseIs500(t *testing.T) {
	ts := newTestServer(t)
	ts.srv.engine.GET("/test/nan", ts.srv.handle(func(c *gin.Context) error {
		c.JSON(http.StatusOK, gin.H{"value": math.NaN()})
		return nil
	}))
	r := ts.send("GET", "/test/nan", nil)
	if r.StatusCode != http.StatusInternalServerError || r.problem(t).Code != "internal" {
		t.Fatalf("%d %q, want a 500 problem", r.StatusCode, r.Body)
	}
	if !strings.Contains(ts.logs.String(), "unsupported value: NaN") {
		t.Errorf("the encoding error is not logged: %s", ts.logs.String())
	}
}
