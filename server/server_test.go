package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"canopy/auth"
	"canopy/migrations"
	"canopy/queries"
)

// Every refusal is a problem document with the contract's status and code,
// and a refused write writes nothing.
func TestProblems(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.BodyLimit = 4096 })
	admin := ts.token(auth.ScopeAdmin)
	writer := ts.token(auth.ScopeTreesWrite)
	big := `{"name":"` + strings.Repeat("x", 5000) + `","scopes":["admin"]}`

	tests := []struct {
		name    string
		method  string
		path    string
		body    any
		headers []string
		status  int
		code    string
		field   string // the first errors[].field, for validation problems
		inSpec  bool   // the route is in openapi.yaml
	}{
		{"unknown route", "GET", "/nope", nil, nil, 404, "not_found", "", false},
		{"wrong method", "POST", "/readyz", nil, nil, 405, "bad_request", "", false},
		{"no token", "POST", "/api/v1/tokens", `{"name":"a","scopes":["admin"]}`, nil, 401, "unauthorized", "", true},
		{"malformed token", "GET", "/api/v1/tokens", nil, bearer("cnp_nope"), 401, "unauthorized", "", true},
		{"unknown token", "GET", "/api/v1/tokens", nil, bearer("cnp_0123456789abcdef_" + strings.Repeat("A", 43)), 401, "unauthorized", "", true},
		{"not a bearer scheme", "GET", "/api/v1/tokens", nil, []string{"Authorization", "Basic " + admin}, 401, "unauthorized", "", true},
		{"scope missing", "GET", "/api/v1/tokens", nil, bearer(writer), 403, "forbidden", "", true},
		{"JSON syntax error", "POST", "/api/v1/tokens", `{"name" "a"}`, bearer(admin), 400, "bad_request", "", true},
		{"wrong type", "POST", "/api/v1/tokens", `{"name":5,"scopes":["admin"]}`, bearer(admin), 422, "validation", "name", true},
		{"unknown scope", "POST", "/api/v1/tokens", `{"name":"a","scopes":["root"]}`, bearer(admin), 422, "validation", "scopes", true},
		{"no scopes", "POST", "/api/v1/tokens", `{"name":"a","scopes":[]}`, bearer(admin), 422, "validation", "scopes", true},
		{"blank name", "POST", "/api/v1/tokens", `{"name":"  ","scopes":["admin"]}`, bearer(admin), 422, "validation", "name", true},
		{"user id not a UUID", "POST", "/api/v1/tokens", `{"name":"a","scopes":["admin"],"user_id":"42"}`, bearer(admin), 422, "validation", "user_id", true},
		{"body over the limit", "POST", "/api/v1/tokens", big, bearer(admin), 413, "too_large", "", true},
		{"chunked body over the limit", "POST", "/api/v1/tokens", io.MultiReader(strings.NewReader(big)), bearer(admin), 413, "too_large", "", true},
		{"id not a number", "DELETE", "/api/v1/tokens/abc", nil, bearer(admin), 400, "bad_request", "", true},
		{"unknown id", "DELETE", "/api/v1/tokens/999999", nil, bearer(admin), 404, "not_found", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.fingerprint(t)
			var r response
			if tt.inSpec {
				r = ts.do(tt.method, tt.path, tt.body, tt.headers...)
			} else {
				r = ts.send(tt.method, tt.path, tt.body, tt.headers...)
			}
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.StatusCode, tt.status, r.Body)
			}
			p := r.problem(t)
			if p.Code != tt.code {
				t.Errorf("code %q, want %q", p.Code, tt.code)
			}
			if p.Type != "urn:canopy:problem:"+tt.code || p.Title == "" || p.Detail == "" {
				t.Errorf("incomplete problem: %+v", p)
			}
			if tt.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.field) {
				t.Errorf("errors %+v, want the first on field %q", p.Errors, tt.field)
			}
			if tt.status == 401 && r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tt.status == 405 && r.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("405 with Allow %q, want GET, HEAD", r.Header.Get("Allow"))
			}
			if after := ts.fingerprint(t); after != before {
				t.Errorf("a refused request wrote:\n%s\nbecame\n%s", before, after)
			}
		})
	}
}

// Server-Timing reports the statements each request ran, and the count does
// not grow with the data.
func TestServerTiming(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(auth.ScopeAdmin)
	budgets := func(t *testing.T) {
		ts.do("GET", "/healthz", nil).wantQueries(t, 0)
		ts.do("GET", "/readyz", nil).wantQueries(t, 1)
		ts.do("GET", "/api/v1/tokens", nil, bearer(admin)...).wantQueries(t, 1)
		created := ts.do("POST", "/api/v1/tokens", `{"name":"budget","scopes":["admin"]}`, bearer(admin)...)
		created.wantQueries(t, 1)
		ts.do("DELETE", created.Header.Get("Location"), nil, bearer(admin)...).wantQueries(t, 1)
		ts.send("GET", "/nope", nil).wantQueries(t, 0)
	}
	t.Run("few tokens", budgets)
	if _, err := ts.db.Pool.Exec(context.Background(), `
		INSERT INTO api_tokens (lookup, secret_hash, name, scopes)
		SELECT 'bulk' || g, sha256(g::text::bytea), 'bulk ' || g, '{admin}' FROM generate_series(1, 2000) g`); err != nil {
		t.Fatal(err)
	}
	t.Run("2,000 tokens", budgets)

	r := ts.do("GET", "/readyz", nil)
	if !strings.Contains(r.Header.Get("Server-Timing"), "db;dur=") {
		t.Errorf("Server-Timing %q", r.Header.Get("Server-Timing"))
	}
}

// Every request gets an id of canopy's own, whatever the client sent; a
// sane id the client sent is logged beside it as the client's.
func TestRequestID(t *testing.T) {
	ts := newTestServer(t)
	earlier := ts.do("GET", "/healthz", nil).Header.Get("X-Request-Id")
	tests := []struct {
		name, sent string
		logged     bool
	}{
		{"a client's id", "trace-42", true},
		{"an earlier request's id", earlier, true},
		{"none", "", false},
		{"with spaces", "a b", false},
		{"too long", strings.Repeat("x", 129), false},
	}
	seen := map[string]bool{earlier: true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.sent != "" {
				headers = []string{"X-Request-Id", tt.sent}
			}
			got := ts.do("GET", "/healthz", nil, headers...).Header.Get("X-Request-Id")
			if got == "" || got == tt.sent || seen[got] {
				t.Errorf("X-Request-Id %q: want a fresh id", got)
			}
			seen[got] = true
			logged := fmt.Sprintf(`"request_id":%q,"client_request_id":%q`, got, tt.sent)
			if !tt.logged {
				logged = fmt.Sprintf(`"request_id":%q,"client_request_id":""`, got)
			}
			if !strings.Contains(ts.logs.String(), logged) {
				t.Errorf("the access log lacks %s", logged)
			}
		})
	}
}

// A token works with its scopes, never with more, and stops working when revoked.
// A token's user_id is a UUID or left out: sent but empty or null, it would
// make a token for every user out of one meant for one, so it is refused.
func TestTokenUserID(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(auth.ScopeAdmin)
	for _, tc := range []struct {
		name, userID string // userID is the member as sent, "" for none
		status       int
		bound        string
	}{
		{"left out", ``, 201, ""},
		{"a UUID", `,"user_id":"0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b00"`, 201, "0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b00"},
		{"a UUID in capitals", `,"user_id":"0B5F2B7E-51B4-4A4E-9F0E-8D6F3C2A1B00"`, 201, "0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b00"},
		{"empty", `,"user_id":""`, 422, ""},
		{"null", `,"user_id":null`, 422, ""},
		{"blank", `,"user_id":" "`, 422, ""},
		{"not a UUID", `,"user_id":"alice"`, 422, ""},
		{"a number", `,"user_id":7`, 422, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("POST", "/api/v1/tokens", `{"name":"t","scopes":["articles:read"]`+tc.userID+`}`, bearer(admin)...)
			if r.StatusCode != tc.status {
				t.Fatalf("%d %s, want %d", r.StatusCode, r.Body, tc.status)
			}
			if tc.status != 201 {
				if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "user_id" {
					t.Errorf("errors %+v, want one on user_id", p.Errors)
				}
				return
			}
			var created tokenJSON
			r.decode(t, &created)
			if got := deref(created.UserID); tc.bound != "" && got != tc.bound || tc.bound == "" && created.UserID != nil {
				t.Errorf("user_id %s, want %q", got, tc.bound)
			}
		})
	}
}

func TestTokenLifecycle(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(auth.ScopeAdmin)

	r := ts.do("POST", "/api/v1/tokens", `{"name":"feed","scopes":["patients:write"],"user_id":"0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b00"}`, bearer(admin)...)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", r.StatusCode, r.Body)
	}
	var created tokenJSON
	r.decode(t, &created)
	if created.Token == "" || created.UserID == nil || *created.UserID != "0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b00" {
		t.Fatalf("created %+v", created)
	}
	if r.Header.Get("Location") == "" {
		t.Error("no Location")
	}

	if got := ts.do("GET", "/api/v1/tokens", nil, bearer(created.Token)...).StatusCode; got != http.StatusForbidden {
		t.Errorf("patients:write token on an admin endpoint: %d, want 403", got)
	}

	var secretStored bool
	_, secret, _ := strings.Cut(strings.TrimPrefix(created.Token, "cnp_"), "_")
	if err := ts.db.Pool.QueryRow(context.Background(),
		`SELECT EXISTS (SELECT FROM api_tokens WHERE position($1::bytea in secret_hash) > 0 OR name = $2 OR lookup = $2)`,
		[]byte(secret), created.Token).Scan(&secretStored); err != nil {
		t.Fatal(err)
	}
	if secretStored {
		t.Error("the token's secret is stored")
	}

	var list struct{ Tokens []tokenJSON }
	ts.do("GET", "/api/v1/tokens", nil, bearer(admin)...).decode(t, &list)
	if len(list.Tokens) != 2 || list.Tokens[1].Token != "" {
		t.Errorf("list %+v: want 2 tokens and no token text", list.Tokens)
	}

	if r := ts.do("DELETE", "/api/v1/tokens/"+itoa(created.ID), nil, bearer(admin)...); r.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	if got := ts.do("GET", "/api/v1/tokens", nil, bearer(created.Token)...).StatusCode; got != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", got)
	}
	if got := ts.do("DELETE", "/api/v1/tokens/"+itoa(created.ID), nil, bearer(admin)...).StatusCode; got != http.StatusNoContent {
		t.Errorf("revoking twice: %d, want 204", got)
	}
}

// Every GET route answers HEAD with the status and headers of its GET and
// no body; other methods stay refused.
func TestHeadAnswersLikeGet(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	reader := bearer(ts.token(auth.ScopeSettlementsRead))
	for _, c := range []struct {
		path    string
		headers []string
		status  int
	}{
		{"/", nil, http.StatusOK},
		{"/healthz", nil, http.StatusOK},
		{"/readyz", nil, http.StatusOK},
		{"/api/v1/categories/tree", nil, http.StatusOK},
		{"/api/v1/settlements?year=2024&month=6", reader, http.StatusOK},
		{"/api/v1/settlements?year=2024&month=6", nil, http.StatusUnauthorized},
		{"/api/v1/categories/999999", nil, http.StatusNotFound},
		{"/no/such/route", nil, http.StatusNotFound},
	} {
		t.Run(c.path, func(t *testing.T) {
			// The same Accept-Encoding for both: Go's client asks for gzip
			// on a GET of its own accord, never on a HEAD.
			headers := append([]string{"Accept-Encoding", "zstd, gzip"}, c.headers...)
			get := ts.send("GET", c.path, nil, headers...)
			head := ts.send("HEAD", c.path, nil, headers...)
			if get.StatusCode != c.status || head.StatusCode != c.status {
				t.Fatalf("GET %d, HEAD %d, want %d", get.StatusCode, head.StatusCode, c.status)
			}
			if len(head.Body) != 0 {
				t.Errorf("HEAD sent a body of %d bytes", len(head.Body))
			}
			for _, h := range []string{"Content-Type", "ETag", "Cache-Control", "Content-Security-Policy", "Content-Encoding", "Vary"} {
				if head.Header.Get(h) != get.Header.Get(h) {
					t.Errorf("%s: HEAD %q, GET %q", h, head.Header.Get(h), get.Header.Get(h))
				}
			}
		})
	}
	if r := ts.send("POST", "/healthz", nil); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d, want 405", r.StatusCode)
	}
}

func TestReadyz(t *testing.T) {
	ts := newTestServer(t)
	var ready struct {
		Status        string
		SchemaVersion uint `json:"schema_version"`
	}
	ts.do("GET", "/readyz", nil).decode(t, &ready)
	if ready.Status != "ready" || ready.SchemaVersion != migrations.Latest() {
		t.Fatalf("readyz %+v", ready)
	}
	if _, err := ts.db.Pool.Exec(context.Background(), `UPDATE schema_migrations SET dirty = true`); err != nil {
		t.Fatal(err)
	}
	r := ts.do("GET", "/readyz", nil)
	if r.StatusCode != http.StatusServiceUnavailable || r.problem(t).Code != "unavailable" || r.Header.Get("Retry-After") == "" {
		t.Errorf("dirty schema: %d %s", r.StatusCode, r.Body)
	}
}

// With the database out of reach the process stays healthy, is not ready,
// and answers database work with 503 and Retry-After, quickly.
func TestDatabaseUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	pool, err := queries.Open(context.Background(), queries.PoolConfig{
		URL: "postgres://postgres@" + addr + "/canopy?sslmode=disable", ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	cfg := DefaultConfig()
	srv := New(cfg, pool, migrations.Latest(), discardLogger())
	ts := &testServer{t: t, srv: srv, http: httptestServer(t, srv)}

	if got := ts.do("GET", "/healthz", nil).StatusCode; got != http.StatusOK {
		t.Errorf("healthz: %d", got)
	}
	start := time.Now()
	r := ts.do("GET", "/readyz", nil)
	if r.StatusCode != http.StatusServiceUnavailable || r.problem(t).Code != "unavailable" || r.Header.Get("Retry-After") == "" {
		t.Errorf("readyz: %d %s", r.StatusCode, r.Body)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("readyz took %s with the database down", time.Since(start))
	}
	r = ts.do("GET", "/api/v1/tokens", nil, bearer("cnp_0123456789abcdef_"+strings.Repeat("A", 43))...)
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("token check with the database down: %d %s", r.StatusCode, r.Body)
	}
}

func TestMetrics(t *testing.T) {
	ts := newTestServer(t)
	ts.do("GET", "/healthz", nil)
	ts.do("GET", "/readyz", nil)
	openStream(t, ts, "/api/v1/categories/events")
	openStream(t, ts, "/api/v1/departments/events")
	body := string(ts.do("GET", "/metrics", nil).Body)
	for _, want := range []string{
		`canopy_event_streams{kind="alarms"} 0`,
		`canopy_event_streams{kind="trees"} 2`,
		`canopy_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`canopy_http_request_sql_statements_bucket{route="/readyz",le="1"} 1`,
		`canopy_http_request_duration_seconds_count{method="GET",route="/readyz"} 1`,
		`canopy_db_pool_max_conns`,
		`canopy_db_pool_acquires_total`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// Made-up methods and paths cannot grow /metrics: each collapses to one
// label value.
func TestMetricsLabelsBounded(t *testing.T) {
	ts := newTestServer(t)
	for i := range 200 {
		ts.send(fmt.Sprintf("M%dX", i), "/healthz", nil)
		ts.send("GET", fmt.Sprintf("/nowhere/%d", i), nil)
	}
	body := string(ts.do("GET", "/metrics", nil).Body)
	for _, want := range []string{
		`canopy_http_requests_total{method="other",route="unmatched",status="405"} 200`,
		`canopy_http_requests_total{method="GET",route="unmatched",status="404"} 200`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "M17X") || strings.Contains(body, "/nowhere") {
		t.Error("a made-up method or path is a label value")
	}
	if series := strings.Count(body, "canopy_http_requests_total{"); series > 10 {
		t.Errorf("%d request series after 400 requests to two routes", series)
	}
}

// With PrivateMetrics the API does not serve /metrics; MetricsHandler does.
func TestPrivateMetrics(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.PrivateMetrics = true })
	if r := ts.send("GET", "/metrics", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the API: %d, want 404", r.StatusCode)
	}
	rec := httptest.NewRecorder()
	ts.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "canopy_http_requests_total") {
		t.Errorf("MetricsHandler: %d %.200s", rec.Code, rec.Body)
	}
}

func TestOpenAPIServed(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do("GET", "/openapi.yaml", nil)
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(string(r.Body), "openapi: 3.1") {
		t.Fatalf("%d %.40s", r.StatusCode, r.Body)
	}
	v, err := openAPIValidator()
	if err != nil {
		t.Fatal(err)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("openapi.yaml is not a valid OpenAPI document: %s %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
			}
		}
	}
}

// A panicking handler is a logged 500 problem; the server goes on serving.
func TestPanicRecovered(t *testing.T) {
	ts := newTestServer(t)
	ts.srv.engine.GET("/test/panic", func(*gin.Context) { panic("boom") })
	r := ts.send("GET", "/test/panic", nil, "X-Request-Id", "panic-1")
	if r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d", r.StatusCode)
	}
	p := r.problem(t)
	if p.Code != "internal" || strings.Contains(string(r.Body), "boom") {
		t.Errorf("problem %s: want code internal and no detail of the panic", r.Body)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, `"request_id":"`+p.RequestID+`"`) || !strings.Contains(logs, "boom") {
		t.Errorf("panic not logged with its request id:\n%s", logs)
	}
	if got := ts.do("GET", "/healthz", nil).StatusCode; got != http.StatusOK {
		t.Errorf("after the panic: %d", got)
	}
}

// Shutdown lets an in-flight request finish, then Serve returns.
func TestGracefulShutdown(t *testing.T) {
	db := newTestServer(t)
	srv := db.srv
	started, release := make(chan struct{}), make(chan struct{})
	srv.engine.GET("/test/slow", func(c *gin.Context) {
		close(started)
		<-release
		c.String(http.StatusOK, "finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	var wg sync.WaitGroup
	var body string
	var status int
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := http.Get("http://" + ln.Addr().String() + "/test/slow")
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		status, body = resp.StatusCode, string(b)
	}()
	<-started
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned with a request in flight: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	wg.Wait()
	if status != http.StatusOK || body != "finished" {
		t.Errorf("in-flight request: %d %q", status, body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}
