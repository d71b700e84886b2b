package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"canopy/auth"
	"canopy/migrations"
	"canopy/pgcluster"
	"canopy/queries"
)

// privateCluster starts a cluster of the test's own, which the test may stop
// and start without disturbing the other tests' shared one.
func privateCluster(t *testing.T) (*pgcluster.Cluster, pgcluster.Options) {
	t.Helper()
	dir, err := os.MkdirTemp(shmDir(), "canopy-fault-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := pgcluster.Options{DataDir: filepath.Join(dir, "data")}
	c, err := pgcluster.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	if err := c.EnsureDatabase(context.Background(), "canopy"); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Up(c.URL("canopy")); err != nil {
		t.Fatal(err)
	}
	return c, opts
}

// serveCluster serves canopy on a pool of its own to cluster's canopy
// database, whose connections give up after a second while it is down.
func serveCluster(t *testing.T, cluster *pgcluster.Cluster) *testServer {
	t.Helper()
	pool, err := queries.Open(context.Background(), queries.PoolConfig{URL: cluster.URL("canopy"), ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	srv := New(DefaultConfig(), pool, migrations.Latest(), discardLogger())
	return &testServer{t: t, srv: srv, http: httptestServer(t, srv), store: pool.Store}
}

func shmDir() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// With PostgreSQL stopped, canopy answers fast with 503 and Retry-After,
// stays healthy but not ready, and recovers by itself when PostgreSQL is back;
// what it acknowledged before the stop is still there after it.
func TestDatabaseStopAndRecovery(t *testing.T) {
	cluster, opts := privateCluster(t)
	ts := serveCluster(t, cluster)
	writer := ts.token(auth.ScopeTreesWrite)

	acknowledged := ts.do("POST", "/api/v1/categories", `{"name":"kept"}`, bearer(writer)...)
	if acknowledged.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", acknowledged.StatusCode, acknowledged.Body)
	}
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}

	for _, probe := range []struct{ method, path, body string }{
		{"GET", "/api/v1/categories/tree", ""},
		{"GET", "/readyz", ""},
		{"POST", "/api/v1/categories", `{"name":"lost"}`},
		{"GET", "/api/v1/categories/tree", ""}, // again, on a pool whose connections are all gone
	} {
		var body any
		if probe.body != "" {
			body = probe.body
		}
		start := time.Now()
		r := ts.do(probe.method, probe.path, body, bearer(writer)...)
		took := time.Since(start)
		if r.StatusCode != http.StatusServiceUnavailable || r.problem(t).Code != "unavailable" || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s with the database down: %d %s", probe.method, probe.path, r.StatusCode, r.Body)
		}
		if took > 2*time.Second {
			t.Errorf("%s %s took %s with the database down, want ≤ 2 s", probe.method, probe.path, took)
		}
	}
	if r := ts.do("GET", "/healthz", nil); r.StatusCode != http.StatusOK {
		t.Errorf("healthz with the database down: %d", r.StatusCode)
	}

	restarted, err := pgcluster.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restarted.Stop() })
	deadline := time.Now().Add(10 * time.Second)
	for ts.do("GET", "/readyz", nil).StatusCode != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("canopy did not recover within 10 s of PostgreSQL coming back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var forest treeResponse
	ts.do("GET", "/api/v1/categories/tree", nil).decode(t, &forest)
	if names(forest.Roots) != "kept" {
		t.Errorf("after recovery the tree is %q, want the acknowledged write alone", names(forest.Roots))
	}
}

// A request whose database work outlives the request timeout is a 503, and
// the statement is cancelled in PostgreSQL rather than left running.
func TestRequestTimeoutCancelsStatement(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.RequestTimeout = 300 * time.Millisecond })
	writer := ts.token(auth.ScopeTreesWrite)
	id := createNode(t, ts, writer, "categories", `{"name":"busy"}`)

	// Another transaction holds the row, so the rename waits on its lock.
	ctx := context.Background()
	tx, err := ts.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM categories WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := ts.do("PATCH", "/api/v1/categories/"+itoa(id), `{"name":"renamed"}`, bearer(writer)...)
	if r.StatusCode != http.StatusServiceUnavailable || r.problem(t).Code != "unavailable" {
		t.Fatalf("blocked write past the timeout: %d %s", r.StatusCode, r.Body)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s, want about the 300 ms timeout", took)
	}
	deadline := time.Now().Add(5 * time.Second)
	for lockWaiters(t, ts) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the timed-out statement still waits in PostgreSQL")
		}
		time.Sleep(20 * time.Millisecond)
	}
	tx.Rollback(ctx)
	var n node
	ts.do("GET", "/api/v1/categories/"+itoa(id), nil).decode(t, &n)
	if n.Name != "busy" {
		t.Errorf("the timed-out rename was applied: %q", n.Name)
	}
}

// A client that goes away cancels its request's statement in PostgreSQL.
func TestClientDisconnectCancelsStatement(t *testing.T) {
	ts := newTestServer(t)
	writer := ts.token(auth.ScopeTreesWrite)
	id := createNode(t, ts, writer, "categories", `{"name":"busy"}`)
	ctx := context.Background()
	tx, err := ts.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM categories WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	waiting := func() int { return lockWaiters(t, ts) }

	clientCtx, hangUp := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(clientCtx, "PATCH", ts.http.URL+"/api/v1/categories/"+itoa(id), strings.NewReader(`{"name":"renamed"}`))
	req.Header.Set("Authorization", "Bearer "+writer)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := ts.http.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for waiting() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	hangUp()
	<-done
	deadline = time.Now().Add(5 * time.Second)
	for waiting() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the statement of a client that hung up still waits in PostgreSQL")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockWaiters counts the statements of the test's database waiting on a lock.
func lockWaiters(t *testing.T, ts *testServer) int {
	t.Helper()
	var n int
	if err := ts.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Writers keep creating categories while PostgreSQL is stopped and started
// again, cycle after cycle: each write is answered 201 or 503 (never 500 or a
// hang), canopy recovers after every restart, and every write it
// acknowledged is stored. Two cycles in make test; with CANOPY_SOAK=1 (make
// soak) a hundred, and the figures are logged for bench/RESULTS.md.
func TestFaultCycles(t *testing.T) {
	cycles := 2
	if os.Getenv("CANOPY_SOAK") == "1" {
		cycles = 100
	}
	const writers = 8
	cluster, opts := privateCluster(t)
	ts := serveCluster(t, cluster)
	hs := ts.http
	writer := ts.token(auth.ScopeTreesWrite)

	var mu sync.Mutex
	var acknowledged []string
	unavailable := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d", w, i)
				r, err := fetch(hs, "POST", "/api/v1/categories", `{"name":"`+name+`"}`, writer)
				mu.Lock()
				switch {
				case err != nil:
					t.Errorf("create %s: %v", name, err)
				case r.StatusCode == http.StatusCreated:
					acknowledged = append(acknowledged, name)
				case r.StatusCode == http.StatusServiceUnavailable && r.Header.Get("Retry-After") != "":
					unavailable++
				default:
					t.Errorf("create %s: %d %s", name, r.StatusCode, r.Body)
				}
				mu.Unlock()
			}
		})
	}
	acked := func() int { mu.Lock(); defer mu.Unlock(); return len(acknowledged) }

	current := cluster
	t.Cleanup(func() { current.Stop() })
	var err error
	for cycle := range cycles {
		before := acked()
		poll(t, fmt.Sprintf("writes acknowledged before stop %d", cycle+1), func() bool { return acked() >= before+writers })
		if err := current.Stop(); err != nil {
			t.Fatal(err)
		}
		if current, err = pgcluster.Start(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		poll(t, fmt.Sprintf("canopy to be ready after restart %d", cycle+1), func() bool {
			r, err := fetch(hs, "GET", "/readyz", "", "")
			return err == nil && r.StatusCode == http.StatusOK
		})
	}
	before := acked()
	poll(t, "writes acknowledged after the last restart", func() bool { return acked() >= before+writers })
	close(stop)
	wg.Wait()

	stored := map[string]bool{}
	raw, err := pgxpool.New(context.Background(), cluster.URL("canopy"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(context.Background(), `SELECT name FROM categories`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		stored[name] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, name := range acknowledged {
		if !stored[name] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes lost", lost, len(acknowledged))
	}
	t.Logf("SOAK faults: %d stop/restart cycles survived; %d acknowledged writes checked, %d lost; %d answered 503 while the database was down",
		cycles, len(acknowledged), lost, unavailable)
}

// Connections the pool holds can die while canopy is idle (PostgreSQL
// restarted, a backend killed). A read that meets a dead connection is run
// again once on a fresh one and answers as if nothing happened; a write is
// not run again and answers 503 with Retry-After. Neither is ever a 500.
func TestLostPooledConnections(t *testing.T) {
	ts := newTestServer(t)
	writer := ts.token(auth.ScopeTreesWrite)
	createNode(t, ts, writer, "categories", `{"name":"kept"}`)

	// killBackends warms the pool with several connections, then ends every
	// one of them from the server side.
	killBackends := func() {
		t.Helper()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { ts.do("GET", "/api/v1/categories/tree", nil) })
		}
		wg.Wait()
		var killed int
		if err := ts.db.Pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'canopy' AND pid <> pg_backend_pid()`).Scan(&killed); err != nil {
			t.Fatal(err)
		}
		if killed == 0 {
			t.Fatal("no pooled connection to kill")
		}
	}

	for _, probe := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/api/v1/categories/tree", "", http.StatusOK},
		{"HEAD", "/api/v1/categories/tree", "", http.StatusOK},
		{"GET", "/api/v1/categories/search?q=kep", "", http.StatusOK},
		{"POST", "/api/v1/categories", `{"name":"maybe"}`, http.StatusServiceUnavailable},
	} {
		t.Run(probe.method+" "+probe.path, func(t *testing.T) {
			killBackends()
			var body any
			if probe.body != "" {
				body = probe.body
			}
			r := ts.do(probe.method, probe.path, body, bearer(writer)...)
			switch {
			case r.StatusCode == probe.want && probe.want != http.StatusServiceUnavailable:
			case r.StatusCode == http.StatusServiceUnavailable && probe.want == http.StatusServiceUnavailable:
				if r.Header.Get("Retry-After") == "" {
					t.Errorf("503 without Retry-After")
				}
			default:
				t.Errorf("on a dead pooled connection: %d %s, want %d", r.StatusCode, r.Body, probe.want)
			}
		})
	}
}

// PostgreSQL stopped in immediate mode while canopy is idle leaves the pool
// holding connections that end in an unexpected EOF: the requests after it
// are 503 with Retry-After, reads and writes alike, and never a 500.
func TestImmediateShutdownUnderIdlePool(t *testing.T) {
	cluster, _ := privateCluster(t)
	ts := serveCluster(t, cluster)
	writer := ts.token(auth.ScopeAdmin)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { ts.do("GET", "/api/v1/categories/search?q=x", nil) })
	}
	wg.Wait()
	ts.do("POST", "/api/v1/patients/bulk", `[{"uid":"a"}]`, bearer(writer)...)

	// SIGQUIT is PostgreSQL's immediate shutdown: no session is told.
	pid, err := os.ReadFile(filepath.Join(cluster.DataDir(), "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var postmaster int
	if _, err := fmt.Sscan(string(pid), &postmaster); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(postmaster, syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	<-cluster.Exited()

	for _, probe := range []struct{ method, path, body string }{
		{"POST", "/api/v1/patients/bulk", `[{"uid":"b"}]`},
		{"GET", "/api/v1/categories/search?q=x", ""},
		{"POST", "/api/v1/categories", `{"name":"lost"}`},
		{"GET", "/api/v1/categories/search?q=y", ""},
	} {
		var body any
		if probe.body != "" {
			body = probe.body
		}
		r := ts.do(probe.method, probe.path, body, bearer(writer)...)
		if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s after an immediate shutdown: %d %s", probe.method, probe.path, r.StatusCode, r.Body)
		}
	}
}
