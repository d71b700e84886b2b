package server

import (
	"net/http"
	"strings"
	"testing"

	"canopy/auth"
)

// Every path answers a method it does not have with 405 and an Allow header
// that lists exactly the methods it has: fixed paths beside a parameter
// (/categories/search beside /categories/:id) included.
func TestMethodNotAllowedAllowsTheTruth(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(auth.ScopeAdmin)
	uuid := "0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b00"
	for _, tc := range []struct{ path, allow string }{
		{"/api/v1/categories/search", "GET, HEAD"},
		{"/api/v1/categories/tree", "GET, HEAD"},
		{"/api/v1/departments/search", "GET, HEAD"},
		{"/api/v1/departments/tree", "GET, HEAD"},
		{"/api/v1/categories/7", "GET, HEAD, PATCH, DELETE"},
		{"/api/v1/categories/7/ancestors", "GET, HEAD"},
		{"/api/v1/categories", "POST"},
		{"/api/v1/wards", "POST"},
		{"/api/v1/wards/7", "GET, HEAD, PATCH, DELETE"},
		{"/api/v1/patients/bulk", "POST"},
		{"/api/v1/patients/p1", "GET, HEAD"},
		{"/api/v1/observations/hourly", "GET, HEAD"},
		{"/api/v1/users/" + uuid + "/articles", "GET, HEAD"},
		{"/api/v1/articles/bulk", "POST"},
		{"/api/v1/articles/" + uuid, "PATCH"},
		{"/api/v1/tokens", "GET, HEAD, POST"},
		{"/api/v1/tokens/3", "DELETE"},
		{"/healthz", "GET, HEAD"},
		{"/", "GET, HEAD"},
		{"/assets/app.css", "GET, HEAD"},
	} {
		for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW"} {
			if strings.Contains(", "+tc.allow+",", ", "+method+",") {
				continue
			}
			t.Run(method+" "+tc.path, func(t *testing.T) {
				r := ts.send(method, tc.path, `{}`, bearer(admin)...)
				if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != tc.allow {
					t.Fatalf("%d, Allow %q, %s; want 405 with Allow %q", r.StatusCode, r.Header.Get("Allow"), r.Body, tc.allow)
				}
				if method != "HEAD" && r.problem(t).Detail == "" {
					t.Error("a 405 that says nothing")
				}
			})
		}
	}
	if r := ts.send("PATCH", "/api/v1/nowhere", `{}`); r.StatusCode != http.StatusNotFound {
		t.Errorf("PATCH an unknown path: %d, want 404", r.StatusCode)
	}
}
