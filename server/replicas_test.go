package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"canopy/auth"
	"canopy/internal/testdb"
	"canopy/queries"
)

// replicaSetup is a server on a primary with one streaming replica.
type replicaSetup struct {
	ts       *testServer
	replicas *queries.Replicas
	rdb      *testdb.Replicated
	// stopChecker stops the lag checker and waits for it to return.
	stopChecker func()
}

func newReplicaSetup(t *testing.T) *replicaSetup {
	t.Helper()
	rdb := testdb.NewReplicated(t)
	pool := openPool(t, rdb.URL)
	reps, err := queries.OpenReplicas(context.Background(), pool, queries.PoolConfig{},
		queries.ReplicaConfig{URLs: []string{rdb.ReplicaURL}, MaxLag: 300 * time.Millisecond, CheckInterval: 20 * time.Millisecond},
		discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reps.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		reps.Run(ctx)
		close(done)
	}()
	stop := func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	ts := newServerOn(t, rdb.DB, pool, func(c *Config) { c.Replicas = reps })
	return &replicaSetup{ts: ts, replicas: reps, rdb: rdb, stopChecker: stop}
}

// waitFor polls cond until it holds, failing the test if it does not within
// a minute: long enough for any replica on a busy machine, and no part of
// what is asserted.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// getFrom GETs path until a 200 comes from server, which the checker makes
// the choice sooner or later, and returns it.
func (rs *replicaSetup) getFrom(t *testing.T, path string, server string) response {
	t.Helper()
	var r response
	waitFor(t, "GET "+path+" from "+server, func() bool {
		r = rs.ts.do("GET", path, nil)
		return r.Header.Get("Canopy-Served-By") == server && r.StatusCode == http.StatusOK
	})
	return r
}

func (rs *replicaSetup) healthy() bool { return rs.replicas.Status()[0].Healthy }

func (rs *replicaSetup) onReplica(t *testing.T, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), rs.rdb.ReplicaURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

// The replica scenario runs in order on one primary and replica: reads land
// on the replica, writes on the primary; a replica that lags is skipped until
// it catches up; a replica that dies is skipped at once, within the request
// that finds it dead.
func TestReplicaReads(t *testing.T) {
	rs := newReplicaSetup(t)
	ts := rs.ts
	w := ts.token(auth.ScopeTreesWrite)

	t.Run("writes go to the primary", func(t *testing.T) {
		r := ts.do("POST", "/api/v1/categories", `{"name":"A"}`, bearer(w)...)
		if r.StatusCode != http.StatusCreated || r.Header.Get("Canopy-Served-By") != "primary" {
			t.Fatalf("POST: %d served by %q", r.StatusCode, r.Header.Get("Canopy-Served-By"))
		}
	})
	a := firstID(t, ts, "categories")

	t.Run("reads land on the replica", func(t *testing.T) {
		r := rs.getFrom(t, "/api/v1/categories/"+itoa(a), "replica-1")
		r.wantQueries(t, 1) // the same budget as on the primary
		if !strings.Contains(string(r.Body), `"name":"A"`) {
			t.Errorf("body %s", r.Body)
		}
		rs.getFrom(t, "/api/v1/categories/tree", "replica-1")
		var metrics string
		waitFor(t, "the metrics", func() bool {
			metrics = string(ts.send("GET", "/metrics", nil).Body)
			return strings.Contains(metrics, `canopy_db_replica_healthy{replica="replica-1"} 1`)
		})
		if !strings.Contains(metrics, `canopy_http_requests_by_database_total{database="replica-1"}`) {
			t.Error("no requests counted for replica-1 in /metrics")
		}
	})

	t.Run("a lagging replica is skipped", func(t *testing.T) {
		rs.onReplica(t, "SELECT pg_wal_replay_pause()")
		b := createNode(t, ts, w, "categories", `{"name":"B"}`)
		waitFor(t, "the checker to see the lag", func() bool { return !rs.healthy() })
		r := ts.do("GET", "/api/v1/categories/"+itoa(b), nil)
		if r.StatusCode != http.StatusOK || r.Header.Get("Canopy-Served-By") != "primary" {
			t.Errorf("GET of a node the replica lacks: %d served by %q", r.StatusCode, r.Header.Get("Canopy-Served-By"))
		}
		rs.onReplica(t, "SELECT pg_wal_replay_resume()")
		rs.getFrom(t, "/api/v1/categories/"+itoa(b), "replica-1")
	})

	t.Run("a dead replica is skipped", func(t *testing.T) {
		waitFor(t, "a healthy replica", rs.healthy)
		// With the checker stopped, only the request can find the replica dead.
		rs.stopChecker()
		if err := rs.rdb.Replica.Stop(); err != nil {
			t.Fatal(err)
		}
		r := ts.do("GET", "/api/v1/categories/"+itoa(a), nil)
		if r.StatusCode != http.StatusOK || r.Header.Get("Canopy-Served-By") != "primary" {
			t.Errorf("GET with the replica dead: %d served by %q: %s", r.StatusCode, r.Header.Get("Canopy-Served-By"), r.Body)
		}
		// The read is sent to the dead replica, and counted, when the pool
		// hands out a connection it has not pinged; when the pool pings it
		// first (idle over a second: a slow Stop) or dials, nothing is sent.
		if n := r.queries(t); n < 1 || n > 2 {
			t.Errorf("GET with the replica dead ran %d SQL statements, want 1, or 2 with the attempt on the replica", n)
		}
		if rs.healthy() {
			t.Error("the replica that failed a read is still marked healthy")
		}
		for range 3 {
			r := ts.do("GET", "/api/v1/categories/tree", nil)
			if r.StatusCode != http.StatusOK || r.Header.Get("Canopy-Served-By") != "primary" {
				t.Errorf("GET tree: %d served by %q", r.StatusCode, r.Header.Get("Canopy-Served-By"))
			}
		}
	})
}
