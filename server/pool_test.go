package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"canopy/auth"
	"canopy/internal/testdb"
	"canopy/migrations"
	"canopy/queries"
)

// When every pooled connection is busy, a request waits for one only until
// its deadline: it ends with its answer or a 503 problem with Retry-After,
// never a 500 and never a hang, and the pool gives back every connection.
// Two connections serve 64 concurrent requests (tree reads and creates)
// while another transaction locks the table both need.
func TestPoolExhaustion(t *testing.T) {
	const requests = 64
	for _, tc := range []struct {
		name string
		// release ends the lock once the pool is full; otherwise it is
		// held until every request has ended.
		release bool
	}{
		{"lock held past every deadline", false},
		{"lock released once the pool is full", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := testdb.New(t)
			pool, err := queries.Open(context.Background(), queries.PoolConfig{URL: db.URL, MaxConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			cfg := DefaultConfig()
			cfg.RequestTimeout = 2 * time.Second
			srv := New(cfg, pool, migrations.Latest(), discardLogger())
			var arrived atomic.Int32
			hs := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived.Add(1)
				srv.ServeHTTP(w, r)
			}))
			ts := &testServer{t: t, srv: srv, http: hs, db: db, store: queries.New(db.Pool)}
			writer := ts.token(auth.ScopeTreesWrite)
			ts.do("GET", "/api/v1/categories/tree", nil) // warm: the storm reads the cached tree

			ctx := context.Background()
			lock, err := db.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Rollback(ctx)
			if _, err := lock.Exec(ctx, `LOCK TABLE tree_versions IN ACCESS EXCLUSIVE MODE`); err != nil {
				t.Fatal(err)
			}

			responses := make([]response, requests)
			failures := make([]error, requests)
			var wg sync.WaitGroup
			for i := range requests {
				wg.Go(func() {
					if i%2 == 1 {
						responses[i], failures[i] = fetch(hs, "POST", "/api/v1/categories", fmt.Sprintf(`{"name":"storm %d"}`, i), writer)
					} else {
						responses[i], failures[i] = fetch(hs, "GET", "/api/v1/categories/tree", "", "")
					}
				})
			}
			poll(t, "every request to arrive and the pool to fill", func() bool {
				return arrived.Load() == requests+1 && lockWaiters(t, ts) == 2
			})
			if tc.release {
				lock.Rollback(ctx)
			}
			ended := make(chan struct{})
			go func() { wg.Wait(); close(ended) }()
			select {
			case <-ended:
			case <-time.After(time.Minute):
				t.Fatal("requests still hang a minute after the pool filled, with a 2 s request timeout")
			}
			lock.Rollback(ctx)

			created, statuses := 0, map[int]int{}
			for i, r := range responses {
				if failures[i] != nil {
					t.Errorf("request %d: %v", i, failures[i])
					continue
				}
				checkOpenAPI(t, r)
				statuses[r.StatusCode]++
				switch {
				case r.StatusCode == http.StatusServiceUnavailable:
					if p := r.problem(t); p.Code != "unavailable" || r.Header.Get("Retry-After") == "" {
						t.Errorf("request %d: 503 without code unavailable and Retry-After: %s", i, r.Body)
					}
				case r.StatusCode == http.StatusCreated && i%2 == 1:
					created++
				case r.StatusCode == http.StatusOK && i%2 == 0:
				default:
					t.Errorf("request %d: %d %s", i, r.StatusCode, r.Body)
				}
			}
			t.Logf("statuses: %v", statuses)
			if !tc.release && created > 0 {
				t.Errorf("%d creates succeeded while the table they need was locked", created)
			}
			var stored int
			if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM categories WHERE name LIKE 'storm %'`).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if stored != created {
				t.Errorf("%d categories stored, %d creates acknowledged", stored, created)
			}
			poll(t, "the pool to give back every connection", func() bool { return pool.Stat().AcquiredConns == 0 })
			if r := ts.do("GET", "/api/v1/categories/tree", nil); r.StatusCode != http.StatusOK {
				t.Errorf("after the storm: %d %s", r.StatusCode, r.Body)
			}
		})
	}
}

// fetch sends a request as a client would, for goroutines, which cannot use
// ts.do (it fails the test on a transport error): a JSON body when body is
// set, a bearer token when token is.
func fetch(hs *httptest.Server, method, path, body, token string) (response, error) {
	req, err := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return response{Response: resp, Body: data}, err
}

// poll waits up to 30 s for cond, failing the test with what it waited for.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
