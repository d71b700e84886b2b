package server

import (
	"net/http"
	"strings"
	"testing"

	"canopy/auth"
)

// Every endpoint × {no token, a token without its scope, a token with it, a
// token bound to another user}: who gets in is decided by the scope table
// of the contract, and nothing answers 500 whoever asks.
func TestAuthorizationMatrix(t *testing.T) {
	ts := newTestServer(t)
	const user, otherUser = "0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b00", "7d1c9a44-1f0e-4c55-8a3b-2e6f1d0c9b11"
	public := "" // tree reads: open to anyone while public reads are on
	endpoints := []struct {
		method, path, body string
		scope              string
	}{
		{"GET", "/api/v1/categories/tree", "", public},
		{"GET", "/api/v1/categories/search?q=a", "", public},
		{"GET", "/api/v1/categories/1", "", public},
		{"GET", "/api/v1/categories/1/ancestors", "", public},
		{"POST", "/api/v1/categories", `{"name":"x"}`, auth.ScopeTreesWrite},
		{"PATCH", "/api/v1/categories/1", `{"name":"x"}`, auth.ScopeTreesWrite},
		{"DELETE", "/api/v1/categories/1", "", auth.ScopeTreesWrite},
		{"GET", "/api/v1/departments/tree", "", public},
		{"POST", "/api/v1/departments", `{"name":"x","code":"X"}`, auth.ScopeTreesWrite},
		{"DELETE", "/api/v1/departments/1", "", auth.ScopeTreesWrite},
		{"POST", "/api/v1/wards", `{"department_id":1,"name":"x","beds":1}`, auth.ScopeTreesWrite},
		{"GET", "/api/v1/wards/1", "", public},
		{"PATCH", "/api/v1/wards/1", `{"beds":2}`, auth.ScopeTreesWrite},
		{"DELETE", "/api/v1/wards/1", "", auth.ScopeTreesWrite},
		{"GET", "/api/v1/wards/1/patients", "", auth.ScopePatientsRead},
		{"POST", "/api/v1/patients/bulk", `[{"uid":"p1"}]`, auth.ScopePatientsWrite},
		{"GET", "/api/v1/patients/p1", "", auth.ScopePatientsRead},
		{"POST", "/api/v1/observations/bulk", `[]`, auth.ScopePatientsWrite},
		{"GET", "/api/v1/observations/hourly?from=2024-06-01T00:00:00Z&to=2024-06-02T00:00:00Z", "", auth.ScopePatientsRead},
		{"POST", "/api/v1/predictions/bulk", `[]`, auth.ScopePatientsWrite},
		{"GET", "/api/v1/users", "", auth.ScopeArticlesRead},
		{"GET", "/api/v1/users/" + user + "/articles?year=2024&month=6", "", auth.ScopeArticlesRead},
		{"GET", "/api/v1/users/" + user + "/articles/calendar?year=2024&month=6", "", auth.ScopeArticlesRead},
		{"POST", "/api/v1/articles/bulk", `[]`, auth.ScopeArticlesWrite},
		{"PATCH", "/api/v1/articles/" + user, `{"is_read":true}`, auth.ScopeArticlesWrite},
		{"POST", "/api/v1/newsletters", `{"name":"n","domain":"d.example","image_url":"https://i.example/x.png"}`, auth.ScopeArticlesWrite},
		{"GET", "/api/v1/settlements?year=2024&month=6", "", auth.ScopeSettlementsRead},
		{"GET", "/api/v1/tokens", "", auth.ScopeAdmin},
		{"POST", "/api/v1/tokens", `{"name":"x","scopes":["admin"]}`, auth.ScopeAdmin},
		{"DELETE", "/api/v1/tokens/999", "", auth.ScopeAdmin},
		{"GET", "/api/v1/audit", "", auth.ScopeAdmin},
	}
	// A token with every scope but the one needed (admin grants them all).
	allBut := func(scope string) string {
		var others []string
		for _, s := range auth.Scopes {
			if s != scope && s != auth.ScopeAdmin {
				others = append(others, s)
			}
		}
		return ts.token(others...)
	}
	for _, ep := range endpoints {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			send := func(token string) int {
				var body any
				if ep.body != "" {
					body = ep.body
				}
				var headers []string
				if token != "" {
					headers = bearer(token)
				}
				r := ts.do(ep.method, ep.path, body, headers...)
				if r.StatusCode >= 500 {
					t.Errorf("token %.12q: %d %s", token, r.StatusCode, r.Body)
				}
				return r.StatusCode
			}
			noToken := send("")
			if ep.scope == public {
				if noToken == http.StatusUnauthorized || noToken == http.StatusForbidden {
					t.Errorf("public read without a token: %d", noToken)
				}
				return
			}
			if noToken != http.StatusUnauthorized {
				t.Errorf("no token: %d, want 401", noToken)
			}
			if got := send(allBut(ep.scope)); got != http.StatusForbidden {
				t.Errorf("every scope but %s: %d, want 403", ep.scope, got)
			}
			if got := send(ts.token(ep.scope)); got == http.StatusUnauthorized || got == http.StatusForbidden {
				t.Errorf("with %s: %d", ep.scope, got)
			}
			if got := send(ts.token(auth.ScopeAdmin)); got == http.StatusUnauthorized || got == http.StatusForbidden {
				t.Errorf("with admin: %d", got)
			}
			if strings.Contains(ep.path, "/users/") {
				if got := send(ts.userToken(otherUser, ep.scope)); got != http.StatusForbidden {
					t.Errorf("a token bound to another user: %d, want 403", got)
				}
				if got := send(ts.userToken(user, ep.scope)); got == http.StatusForbidden {
					t.Errorf("a token bound to the user itself: %d", got)
				}
			}
		})
	}
}
