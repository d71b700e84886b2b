package server

import (
	"net/http"
	"testing"
)

func TestCORS(t *testing.T) {
	off := newTestServer(t)
	on := newTestServer(t, func(c *Config) { c.CORSOrigins = []string{"https://app.example"} })
	star := newTestServer(t, func(c *Config) { c.CORSOrigins = []string{"*"} })
	preflight := []string{"Origin", "https://app.example", "Access-Control-Request-Method", "PATCH"}
	tests := []struct {
		name    string
		ts      *testServer
		method  string
		headers []string
		status  int
		allowed string // the Access-Control-Allow-Origin wanted, "" for none
	}{
		{"off by default", off, "GET", []string{"Origin", "https://app.example"}, 200, ""},
		{"allowed origin", on, "GET", []string{"Origin", "https://app.example"}, 200, "https://app.example"},
		{"other origin", on, "GET", []string{"Origin", "https://evil.example"}, 200, ""},
		{"no origin", on, "GET", nil, 200, ""},
		{"any origin", star, "GET", []string{"Origin", "https://else.example"}, 200, "https://else.example"},
		{"preflight allowed", on, "OPTIONS", preflight, 204, "https://app.example"},
		{"preflight refused", on, "OPTIONS", []string{"Origin", "https://evil.example", "Access-Control-Request-Method", "PATCH"}, 405, ""},
		{"preflight with CORS off", off, "OPTIONS", preflight, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.ts.send(tt.method, "/api/v1/categories/tree", nil, tt.headers...)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tt.status)
			}
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != tt.allowed {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tt.allowed)
			}
			if tt.allowed != "" && r.Header.Get("Access-Control-Expose-Headers") != corsExposed {
				t.Errorf("Expose-Headers %q", r.Header.Get("Access-Control-Expose-Headers"))
			}
			if tt.status == 204 && r.Header.Get("Access-Control-Allow-Headers") == "" {
				t.Error("preflight without Allow-Headers")
			}
			if tt.status == http.StatusMethodNotAllowed {
				r.problem(t)
			}
		})
	}
	for origin, ok := range map[string]bool{"*": true, "https://app.example": true, "http://localhost:3000": true,
		"app.example": false, "https://app.example/": false, "ftp://x": false, "https://": false} {
		cfg := DefaultConfig()
		cfg.CORSOrigins = []string{origin}
		if err := cfg.Validate(); (err == nil) != ok {
			t.Errorf("origin %q: Validate() = %v", origin, err)
		}
	}
}
