package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"canopy/auth"
)

func TestNegotiate(t *testing.T) {
	cases := []struct {
		name   string
		values []string
		want   coding
	}{
		{"no Accept-Encoding", nil, identity},
		{"empty", []string{""}, identity},
		{"gzip", []string{"gzip"}, gzipCoding},
		{"zstd", []string{"zstd"}, zstdCoding},
		{"zstd preferred when equal", []string{"gzip, zstd"}, zstdCoding},
		{"order does not matter", []string{"zstd, gzip"}, zstdCoding},
		{"q-values decide", []string{"gzip;q=1, zstd;q=0.5"}, gzipCoding},
		{"names and q in any case", []string{"ZSTD;Q=0.8, GZip;q=0.9"}, gzipCoding},
		{"x-gzip is gzip", []string{"x-gzip"}, gzipCoding},
		{"only codings canopy lacks", []string{"br, deflate"}, identity},
		{"one it has among others", []string{"br, gzip;q=0.1"}, gzipCoding},
		{"star", []string{"*"}, zstdCoding},
		{"star but zstd refused", []string{"*;q=0.5, zstd;q=0"}, gzipCoding},
		{"both refused", []string{"gzip;q=0, zstd;q=0"}, identity},
		{"identity asked for", []string{"identity"}, identity},
		{"identity above gzip", []string{"identity, gzip;q=0.5"}, identity},
		{"compressed preferred when equal to identity", []string{"identity;q=0.5, gzip;q=0.5"}, gzipCoding},
		{"identity refused and nothing else: identity all the same", []string{"identity;q=0"}, identity},
		{"everything refused", []string{"*;q=0"}, identity},
		{"q-values that do not parse are ignored", []string{"gzip;q=abc, zstd;q=2, zstd;q=-1"}, identity},
		{"any q above zero beats identity unnamed", []string{"gzip;q=0.001"}, gzipCoding},
		{"white space and other parameters", []string{" deflate , gzip ; level=3 ; q=0.7 , zstd ;q=0.6"}, gzipCoding},
		{"several header lines", []string{"gzip;q=0.2", "zstd;q=0.3"}, zstdCoding},
		{"empty elements", []string{",, gzip ,"}, gzipCoding},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			if got := negotiate(tt.values); got != tt.want {
				t.Errorf("negotiate(%q) = %s, want %s", tt.values, got, tt.want)
			}
		})
	}
}

// fetch sends a request with exactly the Accept-Encoding given ("" sends
// none: Go's client would otherwise ask for gzip itself) and returns the
// answer as it came, its body not decoded.
func (ts *testServer) fetch(method, path, acceptEncoding string, headers ...string) response {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.http.URL+path, nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	transport := ts.http.Client().Transport.(*http.Transport).Clone()
	transport.DisableCompression = true
	return ts.exchange(&http.Client{Transport: transport}, req)
}

// decoded is the answer's body with its Content-Encoding undone, checked
// against its Content-Length.
func (r response) decoded(t *testing.T) []byte {
	t.Helper()
	if cl := r.Header.Get("Content-Length"); cl != strconv.Itoa(len(r.Body)) && r.Request.Method != http.MethodHead &&
		r.StatusCode != http.StatusNoContent && r.StatusCode != http.StatusNotModified {
		t.Errorf("Content-Length %q for %d bytes", cl, len(r.Body))
	}
	switch ce := r.Header.Get("Content-Encoding"); ce {
	case "":
		return r.Body
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return body
	case "zstd":
		zr, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		body, err := zr.DecodeAll(r.Body, nil)
		if err != nil {
			t.Fatal(err)
		}
		return body
	default:
		t.Fatalf("Content-Encoding %q", ce)
		return nil
	}
}

func varies(r response) bool {
	return slices.ContainsFunc(r.Header.Values("Vary"), func(v string) bool { return strings.Contains(v, "Accept-Encoding") })
}

// Each coding of the tree decompresses to the identity bytes, with an ETag
// of its own that a conditional GET in that coding answers 304 (one
// statement, no tree statement), and Vary, Content-Length and
// Server-Timing right.
func TestCompressedTree(t *testing.T) {
	ts := newTestServer(t)
	seedForest(t, ts, "categories", 200)
	const path = "/api/v1/categories/tree"
	plain := ts.fetch("GET", path, "")
	base := plain.Header.Get("ETag")
	if plain.StatusCode != http.StatusOK || len(plain.Body) < 10*minCompressSize || !strings.HasPrefix(base, `"categories-v`) || !varies(plain) {
		t.Fatalf("identity: %d, %d bytes, ETag %s, Vary %q", plain.StatusCode, len(plain.Body), base, plain.Header.Values("Vary"))
	}
	cases := []struct {
		name, accept, coding string
	}{
		{"no Accept-Encoding", "", ""},
		{"identity", "identity", ""},
		{"gzip", "gzip", "gzip"},
		{"zstd", "zstd", "zstd"},
		{"both: zstd", "gzip, zstd", "zstd"},
		{"gzip preferred", "zstd;q=0.5, gzip", "gzip"},
		{"case", "GZIP", "gzip"},
		{"zstd refused, any other", "zstd;q=0, *", "gzip"},
		{"everything refused", "*;q=0", ""},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the first read of a coding compresses, the second does not
				r := ts.fetch("GET", path, tt.accept)
				r.wantQueries(t, 1)
				wantETag := wantETagOf(base, tt.coding)
				if r.StatusCode != http.StatusOK || r.Header.Get("Content-Encoding") != tt.coding || r.Header.Get("ETag") != wantETag || !varies(r) {
					t.Fatalf("%d, Content-Encoding %q, ETag %s (want %s), Vary %q", r.StatusCode, r.Header.Get("Content-Encoding"),
						r.Header.Get("ETag"), wantETag, r.Header.Values("Vary"))
				}
				if !bytes.Equal(r.decoded(t), plain.Body) {
					t.Fatal("the decoded body differs from the identity one")
				}
				if tt.coding != "" && len(r.Body) > len(plain.Body)/4 {
					t.Errorf("%d bytes compressed for %d", len(r.Body), len(plain.Body))
				}
			}
			notModified := ts.fetch("GET", path, tt.accept, "If-None-Match", wantETagOf(base, tt.coding))
			notModified.wantQueries(t, 1)
			if notModified.StatusCode != http.StatusNotModified || len(notModified.Body) != 0 || !varies(notModified) ||
				notModified.Header.Get("ETag") != wantETagOf(base, tt.coding) {
				t.Errorf("If-None-Match with its ETag: %d, %d bytes, Vary %q", notModified.StatusCode, len(notModified.Body), notModified.Header.Values("Vary"))
			}
			for _, other := range []string{"", "gzip", "zstd"} {
				if other == tt.coding {
					continue
				}
				if r := ts.fetch("GET", path, tt.accept, "If-None-Match", wantETagOf(base, other)); r.StatusCode != http.StatusOK {
					t.Errorf("If-None-Match with the %q ETag: %d, want 200", other, r.StatusCode)
				}
			}
		})
	}
}

func wantETagOf(base, coding string) string {
	if coding == "" {
		return base
	}
	return strings.TrimSuffix(base, `"`) + "-" + coding + `"`
}

// A cached answer (a tree, a settlement) is compressed once per coding and
// version, densely; a warm compressed read compresses nothing.
func TestWarmCompressedAnswersCompressNothing(t *testing.T) {
	resources := []struct {
		name, path string
		seed       func(*testServer) []string // the request's headers
		write      string                     // SQL that changes the answer
	}{
		{"tree", "/api/v1/categories/tree", func(ts *testServer) []string {
			seedForest(t, ts, "categories", 200)
			return nil
		}, `UPDATE categories SET name = name || '!' WHERE id = (SELECT min(id) FROM categories)`},
		{"settlement", novemberSettlement, func(ts *testServer) []string {
			seedSales(t, ts)
			// Enough teachers for a body worth compressing.
			if _, err := ts.db.Pool.Exec(context.Background(), `INSERT INTO teachers (id, name, commission_rate)
				SELECT g, 'teacher ' || g, 0.1 FROM generate_series(100, 140) g`); err != nil {
				t.Fatal(err)
			}
			return bearer(ts.token(auth.ScopeSettlementsRead))
		}, `UPDATE teachers SET name = name || '!'`},
	}
	steps := []struct {
		name, accept string
		write        bool
		dense        map[string]float64 // compressions added, by coding
	}{
		{"cold zstd: compressed once", "zstd", false, map[string]float64{"zstd": 1}},
		{"warm zstd", "zstd", false, nil},
		{"warm zstd again", "gzip;q=0.5, zstd", false, nil},
		{"first gzip of the version", "gzip", false, map[string]float64{"gzip": 1}},
		{"warm gzip", "gzip", false, nil},
		{"identity", "identity", false, nil},
		{"after a write, zstd again", "zstd", true, map[string]float64{"zstd": 1}},
		{"and warm", "zstd", false, nil},
	}
	for _, res := range resources {
		t.Run(res.name, func(t *testing.T) {
			ts := newTestServer(t)
			headers := res.seed(ts)
			count := func(coding, effort string) float64 {
				return testutil.ToFloat64(ts.srv.compressor.count.WithLabelValues(coding, effort))
			}
			for _, step := range steps {
				if step.write {
					if _, err := ts.db.Pool.Exec(context.Background(), res.write); err != nil {
						t.Fatal(err)
					}
				}
				before := map[string]float64{}
				for _, cd := range []string{"gzip", "zstd"} {
					for _, e := range []string{"fast", "dense"} {
						before[cd+" "+e] = count(cd, e)
					}
				}
				r := ts.fetch("GET", res.path, step.accept, headers...)
				if r.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d", step.name, r.StatusCode)
				}
				for _, cd := range []string{"gzip", "zstd"} {
					if got := count(cd, "dense") - before[cd+" dense"]; got != step.dense[cd] {
						t.Errorf("%s: %v dense %s compressions, want %v", step.name, got, cd, step.dense[cd])
					}
					if got := count(cd, "fast") - before[cd+" fast"]; got != 0 {
						t.Errorf("%s: %v fast %s compressions, want none", step.name, got, cd)
					}
				}
			}
		})
	}
}

// Compression applies to JSON answers (application/json and
// application/problem+json) of a body of at least minCompressSize; a HEAD
// answer names the coding and compresses nothing.
func TestCompressionApplies(t *testing.T) {
	ts := newTestServer(t)
	seedForest(t, ts, "categories", 200)
	w := ts.token(auth.ScopeTreesWrite)
	small := createNode(t, ts, w, "categories", `{"name":"small"}`)
	doomed := createNode(t, ts, w, "categories", `{"name":"doomed"}`)
	longPath := "/api/v1/no/" + strings.Repeat("such-route/", 150)
	cases := []struct {
		name, method, path, accept string
		status                     int
		coding                     string // Content-Encoding wanted
		contentType                string // of a body; "" when none comes
		effort                     string // the compression it runs, "" for none
		vary                       bool
	}{
		{"small JSON", "GET", "/api/v1/categories/" + itoa(small), "zstd, gzip", 200, "", jsonContentType, "", true},
		{"large problem", "GET", longPath, "zstd", 404, "zstd", "application/problem+json", "fast", true},
		{"large problem, identity", "GET", longPath, "identity", 404, "", "application/problem+json", "", true},
		{"search, compressed for the one answer", "GET", "/api/v1/categories/search?q=node", "gzip", 200, "gzip", jsonContentType, "fast", true},
		{"HEAD of the tree", "HEAD", "/api/v1/categories/tree", "zstd", 200, "zstd", "", "", true},
		{"HEAD of a search", "HEAD", "/api/v1/categories/search?q=node", "zstd", 200, "zstd", "", "", true},
		{"HEAD of a small answer", "HEAD", "/api/v1/categories/" + itoa(small), "zstd", 200, "", "", "", true},
		{"no content", "DELETE", "/api/v1/categories/" + itoa(doomed), "zstd", 204, "", "", "", false},
		{"web page", "GET", "/", "gzip, zstd", 200, "", "text/html; charset=utf-8", "", false},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			compressions := func(e string) float64 {
				if tt.coding == "" {
					return 0
				}
				return testutil.ToFloat64(ts.srv.compressor.count.WithLabelValues(tt.coding, e))
			}
			before := map[string]float64{"fast": compressions("fast"), "dense": compressions("dense")}
			r := ts.fetch(tt.method, tt.path, tt.accept, bearer(w)...)
			r.queries(t) // Server-Timing arrives
			if r.StatusCode != tt.status || r.Header.Get("Content-Encoding") != tt.coding || varies(r) != tt.vary {
				t.Fatalf("%d (want %d), Content-Encoding %q (want %q), Vary %q", r.StatusCode, tt.status,
					r.Header.Get("Content-Encoding"), tt.coding, r.Header.Values("Vary"))
			}
			body := r.decoded(t)
			switch {
			case tt.method == "HEAD":
				if len(r.Body) != 0 || tt.coding != "" && r.Header.Get("Content-Length") != "" {
					t.Errorf("HEAD: %d bytes, Content-Length %q", len(r.Body), r.Header.Get("Content-Length"))
				}
			case tt.contentType != "":
				if ct := r.Header.Get("Content-Type"); ct != tt.contentType {
					t.Errorf("Content-Type %q, want %q", ct, tt.contentType)
				}
				if strings.Contains(tt.contentType, "json") && !json.Valid(body) {
					t.Errorf("not JSON: %.200s", body)
				}
			}
			for _, e := range []string{"fast", "dense"} {
				want := 0.0
				if e == tt.effort {
					want = 1
				}
				if got := compressions(e) - before[e]; tt.coding != "" && got != want {
					t.Errorf("%v %s compressions, want %v", got, e, want)
				}
			}
		})
	}
}

// An event stream is never compressed: its events arrive one by one.
func TestEventStreamNotCompressed(t *testing.T) {
	ts := newTestServer(t)
	s := openStream(t, ts, "/api/v1/categories/events", "Accept-Encoding", "zstd, gzip")
	if ce := s.resp.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("Content-Encoding %q", ce)
	}
	if e := s.next(t); e.Event != "version" {
		t.Errorf("first event %+v", e)
	}
}

// A settlement's ETag is per coding too, on the cold read (whose ETag the
// handler sets itself) as on the warm one, and a 304 answers the ETag of
// the coding asked for.
func TestSettlementETagPerCoding(t *testing.T) {
	ts := newTestServer(t)
	seedSales(t, ts)
	read := bearer(ts.token(auth.ScopeSettlementsRead))
	var identityETag string
	for _, cd := range []coding{zstdCoding, identity, gzipCoding} {
		for _, pass := range []string{"cold or warm", "warm"} {
			r := ts.fetch("GET", novemberSettlement, cd.String(), read...)
			if identityETag == "" {
				identityETag = strings.TrimSuffix(r.Header.Get("ETag"), `-zstd"`) + `"`
			}
			if want := codingETag(identityETag, cd); r.StatusCode != http.StatusOK || r.Header.Get("ETag") != want || !varies(r) {
				t.Errorf("%s, %s: %d, ETag %s, want %s, Vary %q", cd, pass, r.StatusCode, r.Header.Get("ETag"), want, r.Header.Values("Vary"))
			}
		}
		for _, tag := range []coding{identity, gzipCoding, zstdCoding} {
			want := http.StatusOK
			if tag == cd {
				want = http.StatusNotModified
			}
			r := ts.fetch("GET", novemberSettlement, cd.String(), append(read, "If-None-Match", codingETag(identityETag, tag))...)
			if r.StatusCode != want || want == http.StatusNotModified && r.Header.Get("ETag") != codingETag(identityETag, cd) {
				t.Errorf("%s with the %s ETag: %d, ETag %s, want %d", cd, tag, r.StatusCode, r.Header.Get("ETag"), want)
			}
		}
	}
}
