package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"canopy/auth"
	"canopy/internal/testdb"
	"canopy/migrations"
	"canopy/queries"
)

func TestMain(m *testing.M) {
	code := testdb.Main(m)
	closeBrowser()
	os.Exit(code)
}

// testServer is a real canopy server on its own fresh database.
type testServer struct {
	t     *testing.T
	srv   *Server
	http  *httptest.Server
	db    *testdb.DB
	store *queries.Store
	logs  *syncBuffer
	// stop ends the server as canopy's shutdown does: its event streams and
	// listening connection first, then HTTP. It runs again, harmlessly, when
	// the test ends.
	stop func()
}

// newTestServer starts a server with the default configuration (token cache
// off, so revocations show at once), changed by each of configure.
func newTestServer(t *testing.T, configure ...func(*Config)) *testServer {
	t.Helper()
	db := testdb.New(t)
	return newServerOn(t, db, openPool(t, db.URL), configure...)
}

// openPool opens a counted pool (queries.Open) on url for the test's duration.
func openPool(t *testing.T, url string) *queries.DB {
	t.Helper()
	pool, err := queries.Open(context.Background(), queries.PoolConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newServerOn is newTestServer on database db, served through pool.
func newServerOn(t *testing.T, db *testdb.DB, pool *queries.DB, configure ...func(*Config)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.TokenCacheTTL = 0
	for _, c := range configure {
		c(&cfg)
	}
	if cfg.ListenURL == "" {
		cfg.ListenURL = db.URL
	}
	logs := &syncBuffer{}
	srv := New(cfg, pool, migrations.Latest(), slog.New(slog.NewJSONHandler(logs, nil)))
	ctx, stopLive := context.WithCancel(context.Background())
	live := make(chan struct{})
	go func() {
		srv.Live(ctx)
		close(live)
	}()
	hs := httptest.NewServer(srv)
	stop := func() {
		stopLive()
		<-live
		hs.Close()
	}
	t.Cleanup(stop)
	return &testServer{t: t, srv: srv, http: hs, db: db, store: queries.New(db.Pool), logs: logs, stop: stop}
}

// token stores a new token with the given scopes and returns its text.
func (ts *testServer) token(scopes ...string) string {
	ts.t.Helper()
	return ts.userToken("", scopes...)
}

func (ts *testServer) userToken(userID string, scopes ...string) string {
	ts.t.Helper()
	text, _ := ts.newToken(userID, scopes...)
	return text
}

// newToken stores a new token, bound to userID unless it is "", and returns
// its text and id.
func (ts *testServer) newToken(userID string, scopes ...string) (string, int64) {
	ts.t.Helper()
	text, row, err := auth.NewToken("test "+strings.Join(scopes, ","), scopes, userID)
	if err != nil {
		ts.t.Fatal(err)
	}
	stored, err := ts.store.CreateToken(context.Background(), row)
	if err != nil {
		ts.t.Fatal(err)
	}
	return text, stored.ID
}

// response is a finished HTTP exchange, its body read.
type response struct {
	*http.Response
	Body []byte
}

// do sends a request and checks the response against openapi.yaml. body is
// sent as it is when it is a string or []byte, else encoded as JSON. headers
// are name, value pairs ("Authorization", "Bearer ...").
func (ts *testServer) do(method, path string, body any, headers ...string) response {
	ts.t.Helper()
	r := ts.send(method, path, body, headers...)
	checkOpenAPI(ts.t, r)
	return r
}

// send is do without the OpenAPI check, for requests to routes the document
// rightly does not have.
func (ts *testServer) send(method, path string, body any, headers ...string) response {
	ts.t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	case []byte:
		reader = bytes.NewReader(b)
	case io.Reader:
		reader = b
	default:
		encoded, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		reader = bytes.NewReader(encoded)
	}
	req, err := http.NewRequest(method, ts.http.URL+path, reader)
	if err != nil {
		ts.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return ts.exchange(ts.http.Client(), req)
}

// exchange sends req with client and reads the whole answer.
func (ts *testServer) exchange(client *http.Client, req *http.Request) response {
	ts.t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return response{Response: resp, Body: data}
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// problem decodes a problem document, checking the media type and that it
// names the response's request id.
func (r response) problem(t *testing.T) problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d, Content-Type %q, want application/problem+json; body %s", r.StatusCode, ct, r.Body)
	}
	var p problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem body %s: %v", r.Body, err)
	}
	if p.Status != r.StatusCode {
		t.Errorf("problem status %d, response status %d", p.Status, r.StatusCode)
	}
	if p.RequestID == "" || p.RequestID != r.Header.Get("X-Request-Id") {
		t.Errorf("problem request_id %q, X-Request-Id %q", p.RequestID, r.Header.Get("X-Request-Id"))
	}
	return p
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("status %d, body %s: %v", r.StatusCode, r.Body, err)
	}
}

var serverTiming = regexp.MustCompile(`^db;dur=([0-9.]+);desc="([0-9]+) queries"$`)

// queries is the statement count the response reports in Server-Timing.
func (r response) queries(t *testing.T) int {
	t.Helper()
	m := serverTiming.FindStringSubmatch(r.Header.Get("Server-Timing"))
	if m == nil {
		t.Fatalf("Server-Timing %q does not match %s", r.Header.Get("Server-Timing"), serverTiming)
	}
	n, _ := strconv.Atoi(m[2])
	return n
}

// wantQueries asserts the response's statement count: the query budget.
func (r response) wantQueries(t *testing.T, want int) {
	t.Helper()
	if got := r.queries(t); got != want {
		t.Errorf("%s %s ran %d SQL statements, want %d", r.Request.Method, r.Request.URL.Path, got, want)
	}
}

var openAPIValidator = sync.OnceValues(func() (validator.Validator, error) {
	doc, err := libopenapi.NewDocument(openAPI)
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return v, nil
})

// checkOpenAPI fails the test when the response does not match openapi.yaml.
func checkOpenAPI(t *testing.T, r response) {
	t.Helper()
	v, err := openAPIValidator()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	resp := *r.Response
	resp.Body = io.NopCloser(bytes.NewReader(r.Body))
	req := r.Request.Clone(context.Background())
	req.Body = http.NoBody
	if ok, errs := v.ValidateHttpResponse(req, &resp); !ok {
		for _, e := range errs {
			t.Errorf("%s %s → %d does not match openapi.yaml: %s (%s)", r.Request.Method, r.Request.URL.Path, r.StatusCode, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s: %s", se.FieldPath, se.Reason)
			}
		}
		t.Logf("body: %s", r.Body)
	}
}

// syncBuffer collects the server's log lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs
}
