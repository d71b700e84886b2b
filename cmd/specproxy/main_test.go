package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// TestChecker sends requests through the checker to a fake canopy whose answer
// each case sets, and checks which exchanges become findings.
func TestChecker(t *testing.T) {
	problem := func(status int, field string) string {
		return `{"type":"urn:canopy:problem:x","title":"x","status":` + itoa(status) + `,"code":"validation","errors":[{"field":"` + field + `","message":"bad"}]}`
	}
	for _, tc := range []struct {
		name, method, target, body string
		status                     int
		contentType, answer        string
		header                     [2]string
		finding                    string // the kind, "" for none
	}{
		{"documented answer", "GET", "/healthz", "", 200, "application/json", `{"status":"ok"}`, [2]string{}, ""},
		{"server error", "GET", "/healthz", "", 500, "application/problem+json", problem(500, "x"), [2]string{}, "5xx"},
		{"answer off its schema", "GET", "/healthz", "", 200, "application/json", `{"status":"fine"}`, [2]string{}, "response"},
		{"undocumented status", "GET", "/healthz", "", 418, "application/problem+json", problem(418, "x"), [2]string{}, "response"},
		{"405 with Allow for a method the path lacks", "PATCH", "/api/v1/categories/search", "", 405, "application/problem+json", problem(405, "x"), [2]string{"Allow", "GET, HEAD"}, ""},
		{"400 for a method the path lacks", "PATCH", "/api/v1/categories/search", "", 400, "application/problem+json", problem(400, "x"), [2]string{}, "undocumented"},
		{"valid request refused by a listed rule", "POST", "/api/v1/wards", `{"department_id": 9, "name": "W", "beds": 1}`, 422, "application/problem+json", problem(422, "department_id"), [2]string{}, ""},
		{"valid request refused by an unlisted rule", "POST", "/api/v1/wards", `{"department_id": 9, "name": "W", "beds": 1}`, 422, "application/problem+json", problem(422, "beds"), [2]string{}, "spec-accepts"},
		{"invalid request accepted", "POST", "/api/v1/wards", `{"department_id": 0, "name": "W", "beds": 1}`, 201, "application/json",
			`{"id":1,"kind":"ward","department_id":0,"name":"W","beds":1,"occupied":0,"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z"}`, [2]string{"Location", "/api/v1/wards/1"}, "spec-refuses"},
		{"unparsable query answered 200", "GET", "/api/v1/categories/search?q=a%zz", "", 200, "application/json", `{}`, [2]string{}, "query"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, proxy := behindChecker(t, time.Second, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				if tc.header[0] != "" {
					w.Header().Set(tc.header[0], tc.header[1])
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.answer)
			})
			req, _ := http.NewRequest(tc.method, proxy+tc.target, strings.NewReader(tc.body))
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Authorization", "Bearer t")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("the proxy answered %d, canopy %d", resp.StatusCode, tc.status)
			}
			wantFinding(t, c, tc.finding)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// behindChecker serves upstream as a fake canopy with the checker in front
// of it (reading event streams for streamFor), until the test ends; it
// returns the checker and the proxy's URL.
func behindChecker(t *testing.T, streamFor time.Duration, upstream http.HandlerFunc) (*checker, string) {
	t.Helper()
	spec, err := os.ReadFile("../../server/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	canopy := httptest.NewServer(upstream)
	t.Cleanup(canopy.Close)
	c, err := newChecker(spec, canopy.URL, streamFor)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(c)
	t.Cleanup(proxy.Close)
	return c, proxy.URL
}

// wantFinding fails the test unless the checker found one exchange of kind,
// or none for "".
func wantFinding(t *testing.T, c *checker, kind string) {
	t.Helper()
	got := ""
	if len(c.findings) > 0 {
		got = c.findings[0].Kind
	}
	if got != kind || len(c.findings) > 1 {
		t.Errorf("findings %+v, want kind %q", c.findings, kind)
	}
}

// TestEventStreams sends requests through the checker to a fake canopy that
// streams the case's text and then, like canopy, never ends the stream (or
// ends it, where the case says so), and checks which exchanges become
// findings.
func TestEventStreams(t *testing.T) {
	alarm := `{"id":7,"patient_uid":"p-1","ward_id":3,"target":"sepsis","model":"m","probability":0.9,"predicted_at":"2026-01-01T00:00:00Z",` +
		`"opened_at":"2026-01-01T00:00:01Z","state":"open","acknowledged_at":null,"acknowledged_by":null,"resolved_at":null,"resolved_reason":null}`
	for _, tc := range []struct {
		name, target, stream string
		ends                 bool
		finding              string // the kind, "" for none
	}{
		{"keep-alives, a retry and an id only", "/api/v1/alarms/stream", ": hello\nretry: 1000\n\nid: 5\n\n: keep-alive\n\n", false, ""},
		{"alarm events and a reset", "/api/v1/alarms/stream", "id: 1\nevent: alarm\ndata: " + alarm + "\n\nid: 9\nevent: reset\ndata: {\"last_event_id\": 9}\n\n", false, ""},
		{"a partial event at the cut is not judged", "/api/v1/alarms/stream", "id: 1\nevent: alarm\ndata: {\"id\":", false, ""},
		{"alarm off its schema", "/api/v1/alarms/stream", "id: 1\nevent: alarm\ndata: " + strings.Replace(alarm, `"open"`, `"snoozed"`, 1) + "\n\n", false, "event"},
		{"event the operation does not list", "/api/v1/alarms/stream", "event: version\ndata: {\"version\": 3}\n\n", false, "event"},
		{"event without data", "/api/v1/alarms/stream", "event: reset\n\n", false, "event"},
		{"reset off its schema", "/api/v1/alarms/stream", "event: reset\ndata: {}\n\n", false, "event"},
		{"tree version", "/api/v1/categories/events", "event: version\ndata: {\"version\": 3}\n\n", false, ""},
		{"tree version not a number", "/api/v1/departments/events", "event: version\ndata: {\"version\": \"3\"}\n\n", false, "event"},
		{"stream that ends by itself", "/api/v1/categories/events", ": hello\n\n", true, "stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, proxy := behindChecker(t, 200*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.Header().Set("Cache-Control", "no-cache")
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, tc.stream)
				w.(http.Flusher).Flush()
				if !tc.ends {
					<-r.Context().Done()
				}
			})
			req, _ := http.NewRequest("GET", proxy+tc.target, nil)
			req.Header.Set("Authorization", "Bearer t")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(got) != tc.stream {
				t.Errorf("the proxy answered %d %q, canopy 200 %q", resp.StatusCode, got, tc.stream)
			}
			wantFinding(t, c, tc.finding)
		})
	}
}

// TestCompressedAnswers sends requests through the checker to a fake canopy
// that answers compressed, and checks that the answer is judged decoded.
func TestCompressedAnswers(t *testing.T) {
	zstdOf := func(s string) []byte {
		enc, _ := zstd.NewWriter(nil)
		return enc.EncodeAll([]byte(s), nil)
	}
	gzipOf := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		io.WriteString(w, s)
		w.Close()
		return b.Bytes()
	}
	for _, tc := range []struct {
		name, encoding, vary string
		answer               []byte
		finding              string // the kind, "" for none
	}{
		{"zstd", "zstd", "Accept-Encoding", zstdOf(`{"status":"ok"}`), ""},
		{"gzip", "gzip", "Origin, Accept-Encoding", gzipOf(`{"status":"ok"}`), ""},
		{"decoded answer off its schema", "zstd", "Accept-Encoding", zstdOf(`{"status":"fine"}`), "response"},
		{"without Vary", "gzip", "", gzipOf(`{"status":"ok"}`), "encoding"},
		{"not what it says", "zstd", "Accept-Encoding", gzipOf(`{"status":"ok"}`), "encoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, proxy := behindChecker(t, time.Second, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", tc.encoding)
				if tc.vary != "" {
					w.Header().Set("Vary", tc.vary)
				}
				w.Write(tc.answer)
			})
			req, _ := http.NewRequest("GET", proxy+"/healthz", nil)
			req.Header.Set("Accept-Encoding", "zstd, gzip")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(got, tc.answer) || resp.Header.Get("Content-Encoding") != tc.encoding {
				t.Errorf("the client got %q in %q, not canopy's bytes", got, resp.Header.Get("Content-Encoding"))
			}
			wantFinding(t, c, tc.finding)
		})
	}
}
