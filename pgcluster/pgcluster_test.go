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

// privateHome is a fresh 0700 directory, like root's /root on Debian.
func privateHome(t *testing.T) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return home
}

// With Relocate, a data directory in a private home directory works: as root
// (the server runs as postgres, who cannot enter the home directory) the
// cluster is kept under FallbackRoot, the same directory on the next start,
// with a link at the data directory; the home directory keeps its mode. Not
// as root, the server runs as ourselves and stays in the data directory.
func TestRelocateOutOfAPrivateHome(t *testing.T) {
	ctx := context.Background()
	root := os.Geteuid() == 0
	home := privateHome(t)
	dir := filepath.Join(home, "checkout", ".canopy", "pgdata")
	// What an earlier start that refused this data directory left behind.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}

	start := func() *pgcluster.Cluster {
		t.Helper()
		c, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: dir, Relocate: true})
		if err != nil {
			t.Fatal(err)
		}
		if c.DataDir() != dir {
			t.Cleanup(func() {
				os.RemoveAll(filepath.Dir(c.DataDir()))
				os.Remove(pgcluster.FallbackRoot) // if this test alone used it
			})
		}
		return c
	}
	exec := func(c *pgcluster.Cluster, sql string) error {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}

	first := start()
	if err := exec(first, "CREATE TABLE kept (id int)"); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	<-first.Exited()

	if root {
		if filepath.Dir(filepath.Dir(first.DataDir())) != pgcluster.FallbackRoot || first.Relocated() != home {
			t.Errorf("the cluster is in %s (relocated for %q), want under %s for %s", first.DataDir(), first.Relocated(), pgcluster.FallbackRoot, home)
		}
		if link, err := os.Readlink(dir); err != nil || link != first.DataDir() {
			t.Errorf("the data directory is no link to %s: %q, %v", first.DataDir(), link, err)
		}
	} else if first.DataDir() != dir || first.Relocated() != "" {
		t.Errorf("not root, yet the cluster is in %s (relocated for %q)", first.DataDir(), first.Relocated())
	}
	if st, err := os.Stat(home); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the home directory's mode is now %v (%v)", st.Mode(), err)
	}

	// The link is a convenience: the place follows from the data directory.
	if root {
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
	}
	second := start()
	defer second.Stop()
	if second.DataDir() != first.DataDir() {
		t.Errorf("the second start is in %s, the first was in %s", second.DataDir(), first.DataDir())
	}
	if err := exec(second, "INSERT INTO kept VALUES (1)"); err != nil {
		t.Errorf("the second start does not find the first one's table: %v", err)
	}
}

// Without Relocate, a data directory the server's user cannot reach is an
// error that names the directory in the way and leaves it as it was; with
// Relocate, a data directory holding files is not moved but refused.
func TestUnreachableDataDirRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		// Not root: the server runs as ourselves, and our own directories are
		// in reach; the refusal is root's (see TestUnreachableParent).
		home := privateHome(t)
		c, err := pgcluster.Start(context.Background(), pgcluster.Options{DataDir: filepath.Join(home, "pgdata")})
		if err != nil {
			t.Fatalf("not root, a data directory in a private home: %v", err)
		}
		c.Stop()
		return
	}
	tests := []struct {
		name     string
		relocate bool
		prepare  func(dir string) error
		want     string
	}{
		{"chosen directory", false, func(string) error { return nil }, "cannot enter "},
		{"directory with files", true, func(dir string) error {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "PG_VERSION"), []byte("15\n"), 0o600)
		}, "is a directory with files in it"},
		{"link elsewhere", true, func(dir string) error {
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
				return err
			}
			return os.Symlink("/nowhere", dir)
		}, "is a link to /nowhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := privateHome(t)
			dir := filepath.Join(home, "checkout", "pgdata")
			if err := tt.prepare(dir); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(dir)
			c, err := pgcluster.Start(context.Background(), pgcluster.Options{DataDir: dir, Relocate: tt.relocate})
			if err == nil {
				c.Stop()
				t.Fatalf("started in %s", c.DataDir())
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), home) {
				t.Errorf("error %q, want one saying %q and naming %s", err, tt.want, home)
			}
			after, _ := os.Lstat(dir)
			if (before == nil) != (after == nil) || before != nil && !os.SameFile(before, after) {
				t.Errorf("%s changed: %v, then %v", dir, before, after)
			}
		})
	}
}
