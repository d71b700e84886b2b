package server

import (
	"net/http"
	"runtime"
	"strings"
	"testing"

	"canopy/auth"
	"canopy/queries"
)

// Every bulk endpoint reads its body with the one bulk decoder: a body of
// small elements far past the row limit is refused with a 413 without
// decoding it into memory many times its size, and a batch of invalid
// records reports at most queries.MaxFieldErrors of them.
func TestBulkBodiesBounded(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(auth.ScopeAdmin)
	zeros := "[" + strings.Repeat("0,", 8<<20-8) + "0]" // just under 16 MiB, the body limit
	for _, path := range []string{"/api/v1/patients/bulk", "/api/v1/observations/bulk", "/api/v1/predictions/bulk", "/api/v1/articles/bulk"} {
		t.Run(path, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := ts.send("POST", path, zeros, bearer(admin)...)
			runtime.ReadMemStats(&after)
			if r.StatusCode != http.StatusRequestEntityTooLarge || r.problem(t).Code != "too_large" {
				t.Fatalf("16 MiB of zeros: %d %.200s, want 413", r.StatusCode, r.Body)
			}
			if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 128<<20 {
				t.Errorf("refusing 16 MiB allocated %d MiB", allocated>>20)
			}

			empty := "[" + strings.Repeat("{},", 9_999) + "{}]"
			r = ts.do("POST", path, empty, bearer(admin)...)
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("10,000 empty records: %d %.200s, want 422", r.StatusCode, r.Body)
			}
			if p := r.problem(t); len(p.Errors) != queries.MaxFieldErrors {
				t.Errorf("10,000 empty records: %d errors reported, want %d", len(p.Errors), queries.MaxFieldErrors)
			}
		})
	}
}
