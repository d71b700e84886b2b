package server

import (
	"fmt"
	"net/http"
	"testing"

	"canopy/auth"
)

// Defects an outside probe found after issue 14's first round, each a case.
func TestOutsideProbeFindings(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.CORSOrigins = []string{"https://app.example"} })
	admin := ts.token(auth.ScopeAdmin)

	t.Run("a token bound to a user cannot hold admin", func(t *testing.T) {
		r := ts.do("POST", "/api/v1/tokens", `{"name":"b","scopes":["admin"],"user_id":"`+alice+`"}`, bearer(admin)...)
		if r.StatusCode != http.StatusUnprocessableEntity || r.problem(t).Errors[0].Field != "scopes" {
			t.Fatalf("%d %s, want 422 on scopes", r.StatusCode, r.Body)
		}
		// One made before the rule reaches neither tokens nor the audit log.
		bound := ts.userToken(alice, auth.ScopeAdmin)
		for _, probe := range []struct{ method, path, body string }{
			{"POST", "/api/v1/tokens", `{"name":"escape","scopes":["admin"]}`},
			{"GET", "/api/v1/tokens", ""},
			{"GET", "/api/v1/audit", ""},
		} {
			var body any
			if probe.body != "" {
				body = probe.body
			}
			if r := ts.do(probe.method, probe.path, body, bearer(bound)...); r.StatusCode != http.StatusForbidden {
				t.Errorf("bound admin token: %s %s → %d %s, want 403", probe.method, probe.path, r.StatusCode, r.Body)
			}
		}
	})

	t.Run("a node at the largest position does not stop the next create", func(t *testing.T) {
		createNode(t, ts, admin, "categories", `{"name":"last","position":2147483647}`)
		var n node
		r := ts.do("POST", "/api/v1/categories", `{"name":"after"}`, bearer(admin)...)
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("%d %s, want 201", r.StatusCode, r.Body)
		}
		r.decode(t, &n)
		if n.Position != 2147483647 {
			t.Errorf("position %d, want 2147483647 (last by name and id)", n.Position)
		}
	})

	t.Run("a member named twice is its last value", func(t *testing.T) {
		if r := ts.do("POST", "/api/v1/patients/bulk", `[{"uid":"twice","name":null,"name":"B"}]`, bearer(admin)...); r.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", r.StatusCode, r.Body)
		}
		var p patientJSON
		ts.do("GET", "/api/v1/patients/twice", nil, bearer(admin)...).decode(t, &p)
		if deref(p.Name) != "B" {
			t.Errorf("name %q, want B", deref(p.Name))
		}
		parent := createNode(t, ts, admin, "categories", `{"name":"parent"}`)
		child := createNode(t, ts, admin, "categories", `{"name":"child"}`)
		var moved node
		ts.do("PATCH", "/api/v1/categories/"+itoa(child), fmt.Sprintf(`{"parent_id":null,"parent_id":%d}`, parent), bearer(admin)...).decode(t, &moved)
		if moved.ParentID == nil || *moved.ParentID != parent {
			t.Errorf("parent %v, want %d", moved.ParentID, parent)
		}
	})

	t.Run("a patient uid with a slash can be read", func(t *testing.T) {
		if r := ts.do("POST", "/api/v1/patients/bulk", `[{"uid":"QA/SLASH"}]`, bearer(admin)...); r.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", r.StatusCode, r.Body)
		}
		var p patientJSON
		ts.do("GET", "/api/v1/patients/QA%2FSLASH", nil, bearer(admin)...).decode(t, &p)
		if p.UID != "QA/SLASH" {
			t.Errorf("uid %q, want QA/SLASH", p.UID)
		}
	})

	t.Run("half a surrogate pair is 400, not another uid's", func(t *testing.T) {
		before := ts.fingerprint(t)
		for _, body := range []string{`[{"uid":"sur-\ud800"}]`, `[{"uid":"sur-\udfff"}]`} {
			if r := ts.do("POST", "/api/v1/patients/bulk", body, bearer(admin)...); r.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: %d %s, want 400", body, r.StatusCode, r.Body)
			}
		}
		if ts.fingerprint(t) != before {
			t.Error("a refused body wrote")
		}
	})

	t.Run("a field named in another case is unknown", func(t *testing.T) {
		before := ts.fingerprint(t)
		for _, tc := range []struct{ method, path, body, field string }{
			{"POST", "/api/v1/categories", `{"Name":"x"}`, "Name"},
			{"POST", "/api/v1/categories", `{"name":"x","PARENT_ID":1}`, "PARENT_ID"},
			{"POST", "/api/v1/patients/bulk", `[{"uid":"ok"},{"UID":"x"}]`, "UID"},
			{"POST", "/api/v1/tokens", `{"name":"t","scopes":["articles:read"],"User_Id":"` + alice + `"}`, "User_Id"},
			{"POST", "/api/v1/articles/bulk", `[{"to_user_id":"` + alice + `","from_name":"N","from_domain":"d","title":"t","created_at":"2024-11-01T00:00:00Z","ID":"44444444-4444-4444-8444-444444444444"}]`, "ID"},
		} {
			r := ts.do(tc.method, tc.path, tc.body, bearer(admin)...)
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("%s %s: %d %s, want 422", tc.path, tc.body, r.StatusCode, r.Body)
				continue
			}
			if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != tc.field || p.Errors[0].Message != "unknown field" {
				t.Errorf("%s %s: errors %+v, want %s unknown", tc.path, tc.body, p.Errors, tc.field)
			}
		}
		if ts.fingerprint(t) != before {
			t.Error("a refused body wrote")
		}
	})

	t.Run("a value of the wrong type is named in JSON's words, not Go's", func(t *testing.T) {
		for _, tc := range []struct{ path, body, want string }{
			{"/api/v1/categories", `[]`, "must be a JSON object, not JSON array"},
			{"/api/v1/categories", `{"name":"x","parent_id":"7"}`, "must be an integer in range, not JSON string"},
			{"/api/v1/patients/bulk", `[{"uid":7}]`, "must be a string, not JSON number"},
		} {
			r := ts.do("POST", tc.path, tc.body, bearer(admin)...)
			if p := r.problem(t); r.StatusCode != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Message != tc.want {
				t.Errorf("%s %s: %d %s, want 422 saying %q", tc.path, tc.body, r.StatusCode, r.Body, tc.want)
			}
		}
	})

	t.Run("search answers If-None-Match with 304", func(t *testing.T) {
		r := ts.do("GET", "/api/v1/categories/search?q=a", nil)
		again := ts.send("GET", "/api/v1/categories/search?q=a", nil, "If-None-Match", r.Header.Get("ETag"))
		if r.Header.Get("ETag") == "" || again.StatusCode != http.StatusNotModified || len(again.Body) != 0 {
			t.Errorf("ETag %q, then %d %q, want 304", r.Header.Get("ETag"), again.StatusCode, again.Body)
		}
	})

	t.Run("a path that is not UTF-8 or holds NUL is 400", func(t *testing.T) {
		for _, path := range []string{"/api/v1/patients/P%00X", "/api/v1/patients/P%ffX"} {
			if r := ts.send("GET", path, nil, bearer(admin)...); r.StatusCode != http.StatusBadRequest || r.problem(t).Code != "bad_request" {
				t.Errorf("GET %s: %d %s, want 400", path, r.StatusCode, r.Body)
			}
		}
	})

	t.Run("with CORS on, every answer varies by Origin", func(t *testing.T) {
		if r := ts.do("GET", "/api/v1/categories/tree", nil); r.Header.Get("Vary") != "Origin" {
			t.Errorf("Vary %q without an Origin, want Origin", r.Header.Get("Vary"))
		}
	})
}
