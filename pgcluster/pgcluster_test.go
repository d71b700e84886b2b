package pgcluster_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"canopy/pgcluster"
)

// reachableDir is a fresh directory the postgres system user can enter when
// the tests run as root.
func reachableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "pgcluster-test-")
	if err != nil {
		dir, err = os.MkdirTemp("", "pgcluster-test-")
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestStartAttachStop(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(reachableDir(t), "data")
	c, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if err := c.EnsureDatabase(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureDatabase(ctx, "app"); err != nil {
		t.Fatalf("second EnsureDatabase: %v", err)
	}
	conn, err := pgx.Connect(ctx, c.URL("app"))
	if err != nil {
		t.Fatal(err)
	}
	var fsync string
	if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if fsync != "off" {
		t.Errorf("a cluster that is not Durable has fsync %s", fsync)
	}

	attached, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: dir})
	if err != nil {
		t.Fatalf("starting on a running cluster's data directory: %v", err)
	}
	attached.Stop()
	select {
	case <-c.Exited():
		t.Fatal("stopping an attached cluster stopped the server")
	default:
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	<-c.Exited()
}

// A data directory whose socket path would pass the unix socket length limit
// gets its socket in a short private directory instead.
func TestLongDataDir(t *testing.T) {
	ctx := context.Background()
	dir := reachableDir(t)
	for len(dir) < 120 {
		dir = filepath.Join(dir, "deeper-and-deeper")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: filepath.Join(dir, "data"), Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if strings.Contains(c.URL("postgres"), "deeper") {
		t.Errorf("socket in the long data directory: %s", c.URL("postgres"))
	}
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	var fsync string
	if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if fsync != "on" {
		t.Errorf("a Durable cluster has fsync %s", fsync)
	}
}

func TestBinaries(t *testing.T) {
	dir, err := pgcluster.Binaries()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

func TestNoBinariesSaysHowToGetThem(t *testing.T) {
	if !strings.Contains(pgcluster.ErrNoBinaries.Error(), "apt-get install postgresql") ||
		!strings.Contains(pgcluster.ErrNoBinaries.Error(), "CANOPY_DATABASE_URL") {
		t.Errorf("ErrNoBinaries says %q", pgcluster.ErrNoBinaries)
	}
}

// A replica follows its primary and refuses writes.
func TestStartReplica(t *testing.T) {
	ctx := context.Background()
	dir := reachableDir(t)
	primary, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: filepath.Join(dir, "p")})
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Stop()
	replica, err := pgcluster.StartReplica(ctx, primary, pgcluster.Options{DataDir: filepath.Join(dir, "r")})
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	if err := primary.EnsureDatabase(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	conn, err := pgx.Connect(ctx, replica.URL("app"))
	for ; err != nil; conn, err = pgx.Connect(ctx, replica.URL("app")) {
		if time.Now().After(deadline) {
			t.Fatalf("the database made on the primary never reached the replica: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE TABLE t (id int)")
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a write on the replica: %v, want a read-only refusal", err)
	}
}
