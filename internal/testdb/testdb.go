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
	cluster   *pgcluster.Cluster
	counter   atomic.Int64
)

// Main runs the tests of a package against a fresh template database:
//
//	func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }
func Main(m *testing.M) int {
	cleanup, err := setUp()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testdb:", err)
		if cleanup != nil {
			cleanup()
		}
		return 1
	}
	defer cleanup()
	return m.Run()
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
		cluster, err = pgcluster.Start(ctx, pgcluster.Options{
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
	if err := migrations.Up(URL(template)); err != nil {
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

// URL is the connection URL of database dbname on the test server.
func URL(dbname string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		panic(fmt.Sprintf("testdb: server url: %v", err))
	}
	u.Path = "/" + dbname
	u.RawPath = ""
	return u.String()
}

// Cluster is the throwaway cluster the tests run on, or nil when
// CANOPY_TEST_DATABASE_URL names a server that the tests do not own.
func Cluster() *pgcluster.Cluster { return cluster }

func exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, URL("postgres"))
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
	db := &DB{Name: name, URL: URL(name)}
	pool, err := pgxpool.New(context.Background(), db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db.Pool = pool
	return db
}

// Tx returns a transaction on a fresh database that is rolled back when t
// ends: for tests that need isolation but never commit.
func Tx(t testing.TB) pgx.Tx {
	t.Helper()
	db := New(t)
	tx, err := db.Pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	return tx
}
