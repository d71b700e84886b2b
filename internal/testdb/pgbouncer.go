package testdb

import (
	"context"
	"fmt"
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"canopy/pgcluster"
)

// pgbouncerPort names PgBouncer's unix socket (.s.PGSQL.6432) in its own
// directory; it listens on no TCP port, so it clashes with nothing.
const pgbouncerPort = 6432

// PgBouncer starts Debian's PgBouncer (scripts/ensure-pgbouncer.sh installs
// it) in front of db, in transaction pooling mode with at most poolSize
// server connections, and returns db's URL through it. extra are more lines
// of its [pgbouncer] section ("ignore_startup_parameters = ..."); connectQuery,
// if set, runs on each server connection it opens. It stops when t ends.
// As root it runs as the postgres system user, since it refuses to run as root.
func PgBouncer(t testing.TB, db *DB, poolSize int, connectQuery string, extra ...string) string {
	t.Helper()
	bin, err := osexec.LookPath("pgbouncer")
	if err != nil {
		bin = "/usr/sbin/pgbouncer"
	}
	target, err := pgconn.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := pgcluster.RunAs()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(tmpfs(), "canopy-pgb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if owner != nil {
		if err := os.Chown(dir, int(owner.Uid), int(owner.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	server := fmt.Sprintf("host=%s port=%d dbname=%s user=%s", target.Host, target.Port, target.Database, target.User)
	if connectQuery != "" {
		server += " connect_query='" + connectQuery + "'"
	}
	conf := fmt.Sprintf("[databases]\n%s = %s\n\n[pgbouncer]\nlisten_addr =\nunix_socket_dir = %s\nlisten_port = %d\n"+
		"auth_type = any\npool_mode = transaction\ndefault_pool_size = %d\nmax_client_conn = 200\nlogfile = %s\n",
		db.Name, server, dir, pgbouncerPort, poolSize, filepath.Join(dir, "pgbouncer.log"))
	for _, line := range extra {
		conf += line + "\n"
	}
	confPath := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := osexec.Command(bin, confPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: owner}
	runtime.LockOSThread() // Pdeathsig follows the starting thread; see pgcluster
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		<-exited
	})

	q := url.Values{"host": {dir}, "port": {strconv.Itoa(pgbouncerPort)}, "sslmode": {"disable"}}
	through := "postgres://postgres@/" + url.PathEscape(db.Name) + "?" + q.Encode()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(context.Background(), through)
		if err == nil {
			conn.Close(context.Background())
			return through
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncer exited: %s", log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer did not accept connections: %v", err)
		}
	}
}
