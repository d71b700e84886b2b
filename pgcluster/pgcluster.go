// Package pgcluster runs a private PostgreSQL cluster from the PostgreSQL
// binaries installed on the machine: the embedded default database of
// `canopy serve` and the throwaway cluster of the tests.
//
// The cluster listens on a unix socket in a directory only its owner can
// enter (TCP only when asked), so it never clashes with another server's port.
// As root it runs as the `postgres` system user, since PostgreSQL refuses to
// run as root; a data directory that user cannot reach (a checkout in root's
// 0700 home) is an error or, when the caller allows it, kept under
// /var/lib/canopy instead. The postmaster is started in its own process group
// with a parent-death signal: Ctrl-C reaches canopy alone, which stops the
// cluster in order, and a canopy that is killed outright takes the cluster
// with it.
package pgcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries means no PostgreSQL server binaries were found on the machine.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (looked for initdb and postgres on PATH and in /usr/lib/postgresql/*/bin): " +
	"install them with `apt-get install postgresql`, or set CANOPY_DATABASE_URL to use a server you already run")

// FallbackRoot holds the clusters that Start keeps out of a data directory
// the server's user cannot reach (Options.Relocate).
const FallbackRoot = "/var/lib/canopy"

// Options configures a cluster.
type Options struct {
	// DataDir holds the cluster; it is created and initialised when empty or
	// missing, and reused as it is otherwise.
	DataDir string
	// Port names the unix socket (.s.PGSQL.<Port>) and, with ListenAddress,
	// the TCP port. Default 5432.
	Port int
	// ListenAddress is the TCP address to listen on; empty means unix socket only.
	ListenAddress string
	// Durable keeps PostgreSQL's crash-safe defaults. Without it fsync,
	// synchronous_commit and full_page_writes are off: fast, and fit only for
	// data that may be lost, such as a test run's.
	Durable bool
	// Settings are extra server settings passed as -c name=value.
	Settings map[string]string
	// StartTimeout bounds how long Start waits for the server to accept
	// connections. Default 60s.
	StartTimeout time.Duration
	// Relocate lets Start keep the cluster elsewhere when it runs as the
	// postgres system user (we are root) and that user cannot enter a parent
	// of DataDir, as with a checkout in root's 0700 home directory: in
	// FallbackRoot/<hash of DataDir's absolute path>/pgdata, the same
	// directory every time for the same DataDir, with a symbolic link at
	// DataDir pointing there. No permission of DataDir's parents is changed.
	// Without Relocate, such a DataDir is an error that says why.
	Relocate bool
}

// Cluster is a running PostgreSQL server.
type Cluster struct {
	dataDir   string
	blocked   string // the parent of Options.DataDir the server's user cannot enter, when relocated
	socketDir string
	port      int
	cmd       *exec.Cmd // nil when attached to a server started by someone else
	exited    chan struct{}
	waitErr   error
	log       *os.File
}

// Binaries returns the directory holding initdb and postgres: the one on PATH
// if there is one, else the newest /usr/lib/postgresql/<version>/bin.
func Binaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Start initialises the data directory if needed and starts the server,
// returning once it accepts connections. If a server is already running on
// that data directory (another canopy process started it), Start attaches to
// it instead, and Stop leaves it running.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.DataDir == "" {
		return nil, errors.New("pgcluster: no data directory")
	}
	if opts.Port == 0 {
		opts.Port = 5432
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	dataDir, bin, owner, err := locate(opts.DataDir)
	if err != nil {
		return nil, err
	}
	var blocked string
	if owner != nil {
		if blocked = unreachableParent(dataDir, owner); blocked != "" {
			if !opts.Relocate {
				return nil, unreachableError(blocked, dataDir)
			}
			if dataDir, err = relocate(dataDir, blocked, owner); err != nil {
				return nil, err
			}
		}
	}
	c := &Cluster{dataDir: dataDir, blocked: blocked, port: opts.Port, exited: make(chan struct{})}
	if c.socketDir, err = socketDir(dataDir, opts.Port, owner); err != nil {
		return nil, err
	}

	initialised := fileExists(filepath.Join(dataDir, "PG_VERSION"))
	if initialised && fileExists(filepath.Join(dataDir, "postmaster.pid")) && c.accepting(ctx) {
		return c, nil
	}
	if !initialised {
		if err := initdb(ctx, bin, dataDir, owner, opts.Durable); err != nil {
			return nil, err
		}
	}
	if err := c.start(ctx, bin, owner, opts); err != nil {
		return nil, err
	}
	return c, nil
}

// StartReplica makes a streaming replica of primary in opts.DataDir (which
// must be empty or missing) with pg_basebackup -R, and starts it. The primary
// needs a replication connection over its unix socket, which a cluster this
// package initialised allows (initdb's trust entries), and wal_level replica
// or above, PostgreSQL's default. The replica is read-only and follows the
// primary until it is stopped or promoted.
func StartReplica(ctx context.Context, primary *Cluster, opts Options) (*Cluster, error) {
	if opts.DataDir == "" {
		return nil, errors.New("pgcluster: no data directory for the replica")
	}
	dataDir, bin, owner, err := locate(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if err := chown(dataDir, owner); err != nil {
		return nil, err
	}
	source := fmt.Sprintf("host=%s port=%d user=postgres", primary.socketDir, primary.port)
	args := []string{"-D", dataDir, "-d", source, "-R", "-X", "stream", "-c", "fast"}
	if !opts.Durable {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pg_basebackup"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: owner}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pgcluster: pg_basebackup of %s: %v:\n%s", primary.dataDir, err, out.String())
	}
	// The copy carries the primary's log, and its socket's lock file when the
	// socket lives in the data directory; the replica has its own of both.
	copied, _ := filepath.Glob(filepath.Join(dataDir, ".s.PGSQL.*"))
	for _, f := range append(copied, filepath.Join(dataDir, "canopy-postgres.log")) {
		_ = os.Remove(f)
	}
	return Start(ctx, opts)
}

// locate returns the absolute data directory, the binaries' directory and
// the user the server runs as.
func locate(dir string) (dataDir, bin string, owner *syscall.Credential, err error) {
	if dataDir, err = filepath.Abs(dir); err != nil {
		return "", "", nil, fmt.Errorf("pgcluster: %w", err)
	}
	if bin, err = Binaries(); err != nil {
		return "", "", nil, err
	}
	owner, err = RunAs()
	return dataDir, bin, owner, err
}

// URL is a connection URL for database dbname on this cluster, through its unix socket.
func (c *Cluster) URL(dbname string) string {
	q := url.Values{"host": {c.socketDir}, "port": {strconv.Itoa(c.port)}, "sslmode": {"disable"}}
	return "postgres://postgres@/" + url.PathEscape(dbname) + "?" + q.Encode()
}

// EnsureDatabase creates database dbname unless it exists.
func (c *Cluster) EnsureDatabase(ctx context.Context, dbname string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, dbname).Scan(&exists); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{dbname}.Sanitize()); err != nil {
		return fmt.Errorf("pgcluster: create database %s: %w", dbname, err)
	}
	return nil
}

// DataDir is the cluster's data directory: under FallbackRoot when Start
// relocated it (see Relocated).
func (c *Cluster) DataDir() string { return c.dataDir }

// Relocated is the parent of Options.DataDir that the server's user cannot
// enter when Start kept the cluster under FallbackRoot for that reason, and
// "" when the cluster is in Options.DataDir.
func (c *Cluster) Relocated() string { return c.blocked }

// Stop shuts the server down (PostgreSQL's fast shutdown: open sessions are
// ended, committed data is kept) and waits for it to exit. Stop on a cluster
// that Start attached to leaves the server running.
func (c *Cluster) Stop() error {
	if c.cmd == nil {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		<-c.exited
	}
	if c.log != nil {
		c.log.Close()
	}
	return nil
}

// Exited is closed when the server process has exited.
func (c *Cluster) Exited() <-chan struct{} { return c.exited }

func (c *Cluster) start(ctx context.Context, bin string, owner *syscall.Credential, opts Options) error {
	settings := map[string]string{
		"listen_addresses":        opts.ListenAddress,
		"unix_socket_directories": c.socketDir,
		"port":                    strconv.Itoa(opts.Port),
	}
	if !opts.Durable {
		settings["fsync"] = "off"
		settings["synchronous_commit"] = "off"
		settings["full_page_writes"] = "off"
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	args := []string{"-D", c.dataDir}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+settings[k])
	}

	logPath := filepath.Join(c.dataDir, "canopy-postgres.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("pgcluster: server log: %w", err)
	}
	// Owned by the server's user, so that pg_basebackup, which runs as that
	// user, can copy the data directory the log lives in.
	if err := chown(logPath, owner); err != nil {
		log.Close()
		return err
	}
	logStart, _ := log.Seek(0, 2)
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT, Credential: owner}
	// Pdeathsig fires when the thread that started the child exits; a locked
	// thread keeps the Go runtime from handing the start to a thread that may go away.
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		log.Close()
		return fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	c.cmd, c.log = cmd, log
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()

	deadline := time.Now().Add(opts.StartTimeout)
	for {
		if c.accepting(ctx) {
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("pgcluster: postgres exited during start-up (%v):\n%s", c.waitErr, tail(logPath, logStart))
		case <-ctx.Done():
			_ = c.Stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = c.Stop()
			return fmt.Errorf("pgcluster: postgres did not accept connections within %s:\n%s", opts.StartTimeout, tail(logPath, logStart))
		}
	}
}

// accepting reports whether the server takes connections (and is not still
// starting up or recovering).
func (c *Cluster) accepting(ctx context.Context) bool {
	if _, err := os.Stat(filepath.Join(c.socketDir, ".s.PGSQL."+strconv.Itoa(c.port))); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return false
	}
	conn.Close(ctx)
	return true
}

func initdb(ctx context.Context, bin, dataDir string, owner *syscall.Credential, durable bool) error {
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if err := chown(dataDir, owner); err != nil {
		return err
	}
	// Checked again now that the parents exist: MkdirAll makes them as the umask says.
	if owner != nil {
		if blocked := unreachableParent(dataDir, owner); blocked != "" {
			return unreachableError(blocked, dataDir)
		}
	}
	args := []string{"-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"}
	if !durable {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: owner}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgcluster: initdb %s: %v:\n%s", dataDir, err, out.String())
	}
	return nil
}

// RunAs is the credential the server runs under: the postgres system user
// when we are root, else nil (ourselves).
func RunAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs the postgres system user (it comes with `apt-get install postgresql`): %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func chown(path string, owner *syscall.Credential) error {
	if owner == nil {
		return nil
	}
	if err := os.Chown(path, int(owner.Uid), int(owner.Gid)); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}

// unreachableParent returns the nearest existing parent of dir that who
// cannot enter by its permission bits (owner, group, others; ACLs
// and supplementary groups are not consulted), or "".
func unreachableParent(dir string, who *syscall.Credential) string {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		if st, err := os.Stat(p); err == nil {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok && !mayEnter(st.Mode().Perm(), sys.Uid, sys.Gid, who) {
				return p
			}
		}
		if p == filepath.Dir(p) {
			return ""
		}
	}
}

// mayEnter reports whether who may enter a directory with permission bits
// perm owned by uid and gid: the owner's bit for its owner, else the group's
// for its group, else the others'. Like the kernel, it does not fall through
// to the others' bit for the owner or the group.
func mayEnter(perm os.FileMode, uid, gid uint32, who *syscall.Credential) bool {
	switch {
	case who.Uid == 0:
		return true
	case who.Uid == uid:
		return perm&0o100 != 0
	case who.Gid == gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

func unreachableError(blocked, dataDir string) error {
	return fmt.Errorf("pgcluster: the postgres system user cannot enter %s, a parent of the data directory %s; "+
		"choose a data directory it can reach (e.g. under /var/lib or /srv) or open it with chmod o+x", blocked, dataDir)
}

// relocate makes the directory a cluster is kept in when its data directory
// dir is out of owner's reach (blocked is the parent owner cannot enter):
// FallbackRoot/<first 16 hex digits of dir's SHA-256>/pgdata, with a link at
// dir pointing there, so that the next start, and a look in dir's parent,
// find it. The same dir always gives the same directory, link or no link.
// A dir that holds something else (a directory with files, a file, a link
// elsewhere) is left alone and refused: canopy does not move data.
func relocate(dir, blocked string, owner *syscall.Credential) (string, error) {
	sum := sha256.Sum256([]byte(dir))
	parent := filepath.Join(FallbackRoot, hex.EncodeToString(sum[:8]))
	target := filepath.Join(parent, "pgdata")
	refuse := func(what string) error {
		return fmt.Errorf("pgcluster: the postgres system user cannot enter %s, a parent of the data directory %s, "+
			"so the cluster would be kept in %s, but %s %s, which canopy leaves alone: move it away, "+
			"or choose a data directory that user can reach (e.g. under /var/lib or /srv)", blocked, dir, target, dir, what)
	}
	st, err := os.Lstat(dir)
	switch {
	case err == nil && st.Mode()&os.ModeSymlink != 0:
		if link, _ := os.Readlink(dir); link != target {
			return "", refuse("is a link to " + link)
		}
	case err == nil && st.IsDir():
		// An empty directory is what an earlier start refused for this
		// reason left behind; it gives way to the link.
		if os.Remove(dir) != nil {
			return "", refuse("is a directory with files in it")
		}
	case err == nil:
		return "", refuse("is a file")
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("pgcluster: %w", err)
	}
	for _, d := range []string{FallbackRoot, parent} {
		if err := os.Mkdir(d, 0o755); err == nil {
			// Made here: opened to the server's user whatever the umask.
			if err := os.Chmod(d, 0o755); err != nil {
				return "", fmt.Errorf("pgcluster: %w", err)
			}
		} else if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("pgcluster: %w", err)
		}
	}
	if p := unreachableParent(target, owner); p != "" {
		return "", unreachableError(p, target)
	}
	if err := os.WriteFile(filepath.Join(parent, "origin"), []byte(dir+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("pgcluster: %w", err)
	}
	if st == nil || st.Mode()&os.ModeSymlink == 0 {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return "", fmt.Errorf("pgcluster: %w", err)
		}
		// Another canopy starting at the same moment may have made the same link.
		if err := os.Symlink(target, dir); err != nil {
			if link, lerr := os.Readlink(dir); lerr != nil || link != target {
				return "", fmt.Errorf("pgcluster: %w", err)
			}
		}
	}
	return target, nil
}

// socketDir is the data directory itself when the socket path fits the
// 107-byte limit of unix socket paths, else a private directory in the
// system's temporary directory named after the data directory.
func socketDir(dataDir string, port int, owner *syscall.Credential) (string, error) {
	if len(dataDir)+len("/.s.PGSQL.")+len(strconv.Itoa(port)) <= 100 {
		return dataDir, nil
	}
	sum := sha256.Sum256([]byte(dataDir))
	dir := filepath.Join(os.TempDir(), "canopy-pg-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("pgcluster: socket directory: %w", err)
	}
	return dir, chown(dir, owner)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// tail returns what the server logged since offset, at most the last 4 KiB.
func tail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	b = b[offset:]
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return strings.TrimSpace(string(b))
}
