// Package testdb gives each test a real PostgreSQL database of its own,
// cloned in milliseconds from a template that the migrations built once per
// test binary.
//
// The server is CANOPY_TEST_DATABASE_URL when that is set; otherwise a
// throwaway cluster in tmpfs with fsync off, started for the test binary and
// removed after it. Nothing here skips: a test that needs a database gets one
// or fails.
package testdb

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"canopy/migrations"
	"canopy/pgcluster"
)

var (
	serverURL string // any database on the test server; its path is replaced
	template  string
	counter   atomic.Int64
)

// Main runs the tests of a package and removes what they set up:
//
//	func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }
//
// The server and the template are set up by the first New, so a test binary
// that needs no database (such as a fuzzing worker) starts none.
func Main(m *testing.M) int {
	code := m.Run()
	if teardown != nil {
		teardown()
	}
	return code
}

var (
	once     sync.Once
	setupErr error
	teardown func()
)

// ready sets up the server and the template once per test binary.
func ready(t testing.TB) {
	t.Helper()
	once.Do(func() { teardown, setupErr = setUp() })
	if setupErr != nil {
		t.Fatalf("testdb: %v", setupErr)
	}
}

func setUp() (cleanup func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var steps []func()
	cleanup = func() {
		for i := len(steps) - 1; i >= 0; i-- {
			steps[i]()
		}
	}
	serverURL = os.Getenv("CANOPY_TEST_DATABASE_URL")
	if serverURL == "" {
		dir, err := os.MkdirTemp(tmpfs(), "canopy-test-")
		if err != nil {
			return cleanup, err
		}
		steps = append(steps, func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			return cleanup, err
		}
		cluster, err := pgcluster.Start(ctx, pgcluster.Options{
			DataDir:  filepath.Join(dir, "data"),
			Settings: map[string]string{"max_connections": "300", "shared_buffers": "64MB"},
		})
		if err != nil {
			return cleanup, err
		}
		steps = append(steps, func() { cluster.Stop() })
		serverURL = cluster.URL("postgres")
	}

	template = fmt.Sprintf("canopy_tpl_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if err := exec(ctx, "CREATE DATABASE "+pgx.Identifier{template}.Sanitize()); err != nil {
		return cleanup, err
	}
	steps = append(steps, func() {
		exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{template}.Sanitize()+" WITH (FORCE)")
	})
	if err := migrations.Up(dbURL(template)); err != nil {
		return cleanup, err
	}
	return cleanup, nil
}

// tmpfs is /dev/shm when it exists: the cluster's files never touch a disk.
func tmpfs() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// dbURL is the connection URL of database dbname on the test server.
func dbURL(dbname string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		panic(fmt.Sprintf("testdb: server url: %v", err))
	}
	u.Path = "/" + dbname
	u.RawPath = ""
	return u.String()
}

func exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, dbURL("postgres"))
	if err != nil {
		return fmt.Errorf("testdb: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("testdb: %s: %w", sql, err)
	}
	return nil
}

// DB is one test's own database.
type DB struct {
	Name string
	URL  string
	// Pool is for the test's own setup and checks; it is closed when the test ends.
	Pool *pgxpool.Pool
}

// New creates a migrated database for t alone and drops it when t ends.
func New(t testing.TB) *DB {
	t.Helper()
	ready(t)
	ctx := context.Background()
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), counter.Add(1))
	if err := exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{template}.Sanitize()+" STRATEGY FILE_COPY"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	return open(t, name)
}

// NewEmpty creates a database with no migrations applied, for tests of the
// migrations themselves; it is dropped when t ends.
func NewEmpty(t testing.TB) *DB {
	t.Helper()
	ready(t)
	ctx := context.Background()
	name := fmt.Sprintf("e_%d_%d", os.Getpid(), counter.Add(1))
	if err := exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	return open(t, name)
}

func open(t testing.TB, name string) *DB {
	t.Helper()
	db := &DB{Name: name, URL: dbURL(name)}
	pool, err := pgxpool.New(context.Background(), db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db.Pool = pool
	return db
}

// Replicated is a migrated database on a primary cluster of its own, and a
// streaming replica of that cluster: for tests of reading from replicas,
// which pause, stop and outrun the replica as they please.
type Replicated struct {
	// DB is the database on the primary.
	*DB
	// ReplicaURL is the same database on the replica.
	ReplicaURL string
	Replica    *pgcluster.Cluster
}

// NewReplicated starts a primary cluster and a replica of it, both removed
// when t ends. It does not use CANOPY_TEST_DATABASE_URL: a replica needs a
// cluster whose files the test can copy.
func NewReplicated(t testing.TB) *Replicated {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp(tmpfs(), "canopy-repl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	primary, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: filepath.Join(dir, "p")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Stop() })
	const name = "canopy"
	if err := primary.EnsureDatabase(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Up(primary.URL(name)); err != nil {
		t.Fatal(err)
	}
	replica, err := pgcluster.StartReplica(ctx, primary, pgcluster.Options{DataDir: filepath.Join(dir, "r")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { replica.Stop() })
	db := &DB{Name: name, URL: primary.URL(name)}
	if db.Pool, err = pgxpool.New(ctx, db.URL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Pool.Close)
	return &Replicated{DB: db, ReplicaURL: replica.URL(name), Replica: replica}
}
