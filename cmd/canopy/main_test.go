package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"canopy/auth"
	"canopy/internal/testdb"
	"canopy/migrations"
	"canopy/queries"
)

// TestMain doubles as the canopy binary when re-executed by a test that needs
// a real process to kill.
func TestMain(m *testing.M) {
	if args := os.Getenv("CANOPY_TEST_RUN_MAIN"); args != "" {
		os.Args = append([]string{"canopy"}, strings.Fields(args)...)
		main()
		return
	}
	os.Exit(testdb.Main(m))
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestTokenCommands(t *testing.T) {
	db := testdb.New(t)
	code, out, errOut := runCLI(t, "token", "create", "--database-url", db.URL, "--name", "ops", "--scopes", "admin, trees:write")
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	store := queries.New(db.Pool)
	p, err := auth.NewVerifier(store, 0).Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("the printed token %q does not verify: %v", token, err)
	}
	if p.Name != "ops" || !p.Has(auth.ScopeTreesWrite) {
		t.Errorf("principal %+v", p)
	}

	code, out, _ = runCLI(t, "token", "list", "--database-url", db.URL)
	if code != 0 || !strings.Contains(out, "ops") || !strings.Contains(out, "admin,trees:write") || strings.Contains(out, token) {
		t.Errorf("list: exit %d:\n%s", code, out)
	}

	code, _, errOut = runCLI(t, "token", "revoke", "--database-url", db.URL, strconv.FormatInt(p.TokenID, 10))
	if code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errOut)
	}
	if _, err := auth.NewVerifier(store, 0).Verify(context.Background(), token); err != auth.ErrInvalidToken {
		t.Errorf("revoked token verifies: %v", err)
	}

	refused := []struct {
		name string
		args []string
	}{
		{"unknown scope", []string{"token", "create", "--database-url", db.URL, "--name", "x", "--scopes", "root"}},
		{"no name", []string{"token", "create", "--database-url", db.URL, "--scopes", "admin"}},
		{"user not a UUID", []string{"token", "create", "--database-url", db.URL, "--name", "x", "--scopes", "admin", "--user", "7"}},
		{"revoke unknown", []string{"token", "revoke", "--database-url", db.URL, "987654"}},
		{"unknown action", []string{"token", "mint", "--database-url", db.URL}},
	}
	// A database never migrated: a sentence, not "relation does not exist".
	empty := testdb.NewEmpty(t)
	if code, _, errOut := runCLI(t, "token", "list", "--database-url", empty.URL); code == 0 || !strings.Contains(errOut, "canopy migrate up") {
		t.Errorf("token list on an empty database: exit %d, %s", code, errOut)
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, _ := runCLI(t, tt.args...); code == 0 {
				t.Error("exit 0")
			}
		})
	}
}

func TestMigrateCommand(t *testing.T) {
	db := testdb.NewEmpty(t)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"version"}, "version 0 "},
		{[]string{"up"}, fmt.Sprintf("version %d ", migrations.Latest())},
		{[]string{"down", "1"}, fmt.Sprintf("version %d ", migrations.Latest()-1)},
		{[]string{"force", strconv.Itoa(int(migrations.Latest()))}, fmt.Sprintf("version %d ", migrations.Latest())},
	}
	for i, s := range steps {
		// Flags stand before the action or after it, alternately.
		args := append([]string{"migrate", "--database-url", db.URL}, s.args...)
		if i%2 == 1 {
			args = append(append([]string{"migrate"}, s.args...), "--database-url", db.URL)
		}
		code, out, errOut := runCLI(t, args...)
		if code != 0 || !strings.HasPrefix(out, s.want) {
			t.Errorf("migrate %v: exit %d, %q %s; want %q", s.args, code, out, errOut, s.want)
		}
	}
	if code, _, _ := runCLI(t, "migrate", "--database-url", db.URL, "sideways"); code == 0 {
		t.Error("migrate sideways: exit 0")
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("CANOPY_ADDR", "127.0.0.1:9999")
	t.Setenv("DATABASE_URL", "postgres://fallback/db")
	t.Setenv("CANOPY_PUBLIC_READS", "false")
	t.Setenv("CANOPY_BODY_LIMIT", "2048")
	t.Setenv("CANOPY_STATEMENT_TIMEOUT", "750ms")
	t.Setenv("CANOPY_CORS_ORIGINS", "https://a.example, https://b.example")
	cfg, err := fromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9999" || cfg.DatabaseURL != "postgres://fallback/db" || cfg.Server.PublicReads ||
		cfg.Server.BodyLimit != 2048 || cfg.StatementTimeout != 750*time.Millisecond ||
		strings.Join(cfg.Server.CORSOrigins, " ") != "https://a.example https://b.example" {
		t.Errorf("config %+v", cfg)
	}
	t.Setenv("CANOPY_DATABASE_URL", "postgres://preferred/db")
	if cfg, _ := fromEnv(); cfg.DatabaseURL != "postgres://preferred/db" {
		t.Errorf("CANOPY_DATABASE_URL should win over DATABASE_URL, got %q", cfg.DatabaseURL)
	}

	t.Setenv("CANOPY_POOL_SIZE", "many")
	if _, err := fromEnv(); err == nil || !strings.Contains(err.Error(), "CANOPY_POOL_SIZE") {
		t.Errorf("bad CANOPY_POOL_SIZE: %v", err)
	}
	if code, _, errOut := runCLI(t, "serve"); code != 2 || !strings.Contains(errOut, "CANOPY_POOL_SIZE") {
		t.Errorf("serve with a bad environment: exit %d, %s", code, errOut)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*config)
	}{
		{"no address", func(c *config) { c.Addr = "" }},
		{"no database", func(c *config) { c.DataDir = "" }},
		{"empty pool", func(c *config) { c.PoolSize = 0 }},
		{"log format", func(c *config) { c.LogFormat = "xml" }},
		{"tiny body limit", func(c *config) { c.Server.BodyLimit = 10 }},
		{"read timeout below the header's", func(c *config) { c.Server.ReadTimeout = c.Server.ReadHeaderTimeout / 2 }},
		{"no replica lag allowed", func(c *config) { c.ReplicaMaxLag = 0 }},
		{"negative max tree depth", func(c *config) { c.MaxTreeDepth = -1 }},
	}
	if err := defaultConfig().validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultConfig()
			tt.change(&cfg)
			if cfg.validate() == nil {
				t.Error("accepted")
			}
		})
	}
}

// serveUntilReady runs serve in the background and returns its address and
// a function that stops it and returns serve's error.
func serveUntilReady(t *testing.T, cfg config) (addr string, stop func() error) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(a net.Addr) { listening <- a })
	}()
	select {
	case a := <-listening:
		addr = a.String()
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(90 * time.Second):
		cancel()
		t.Fatal("serve did not start listening")
	}
	waitReady(t, addr)
	return addr, func() error { cancel(); return <-done }
}

func waitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within 60s (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serve migrates an empty database on start and stops cleanly.
// serve migrates a database of its own and writes --max-tree-depth to it.
func TestServeMigratesExternalDatabase(t *testing.T) {
	db := testdb.NewEmpty(t)
	cfg := defaultConfig()
	cfg.DatabaseURL = db.URL
	cfg.MaxTreeDepth = 77
	_, stop := serveUntilReady(t, cfg)
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	var depth int
	if err := db.Pool.QueryRow(context.Background(), `SELECT max_depth FROM tree_settings`).Scan(&depth); err != nil || depth != 77 {
		t.Errorf("max depth %d, %v; want 77", depth, err)
	}
}

// dataDir is a directory the postgres system user can reach when the tests
// run as root (t.TempDir's parents are private).
func dataDir(t *testing.T) string {
	t.Helper()
	base := os.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "canopy-serve-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "pgdata")
}

func postmasterPID(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// alive reports whether pid is a live process (a zombie waiting to be reaped
// is not).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("postgres (pid %d) still running", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With no database URL, serve runs its own durable PostgreSQL in the data
// directory, stops it on shutdown, and finds the data again next time.
func TestServeEmbeddedDatabase(t *testing.T) {
	dir := dataDir(t)
	cfg := defaultConfig()
	cfg.DataDir = dir

	_, stop := serveUntilReady(t, cfg)
	pid := postmasterPID(t, dir)
	code, _, errOut := runCLI(t, "token", "create", "--data-dir", dir, "--name", "kept", "--scopes", "admin")
	if code != 0 {
		t.Fatalf("token create beside a running server: exit %d: %s", code, errOut)
	}
	if !alive(pid) {
		t.Fatal("token create stopped the server's PostgreSQL")
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	waitGone(t, pid)

	_, stop = serveUntilReady(t, cfg)
	defer stop()
	code, out, errOut := runCLI(t, "token", "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "kept") {
		t.Errorf("after a restart the token is gone: exit %d\n%s%s", code, out, errOut)
	}
}

// A canopy killed outright takes its PostgreSQL with it.
func TestKilledServeLeavesNoPostgres(t *testing.T) {
	dir := dataDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CANOPY_TEST_RUN_MAIN=serve --addr 127.0.0.1:0 --data-dir "+dir, "CANOPY_DATABASE_URL=", "DATABASE_URL=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addrLine := regexp.MustCompile(`canopy serving.* addr=(\S+)`)
	scanner := bufio.NewScanner(stderr)
	var addr string
	for addr == "" && scanner.Scan() {
		if m := addrLine.FindStringSubmatch(scanner.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatal("the canopy process never said where it serves")
	}
	go io.Copy(io.Discard, stderr)
	waitReady(t, addr)
	pid := postmasterPID(t, dir)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	waitGone(t, pid)
}

// The default data directory works from a checkout in a private home
// directory (root's /root is 0700 on Debian): as root, whose cluster runs as
// the postgres system user, the cluster is kept where that user can reach it,
// .canopy/pgdata points there, the log says where, the home directory keeps
// its mode, and the next command finds the same data. An explicit data
// directory out of reach stays an error that says why.
func TestDefaultDataDirInAPrivateHome(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil { // whatever the umask
		t.Fatal(err)
	}
	checkout := filepath.Join(home, "canopy")
	if err := os.Mkdir(checkout, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(checkout)
	for _, v := range []string{"CANOPY_DATABASE_URL", "DATABASE_URL", "CANOPY_DATA_DIR"} {
		t.Setenv(v, "")
	}
	root := os.Geteuid() == 0

	code, out, errOut := runCLI(t, "migrate", "up")
	pointer := filepath.Join(checkout, ".canopy", "pgdata")
	real, evalErr := filepath.EvalSymlinks(pointer)
	if evalErr == nil && real != pointer {
		t.Cleanup(func() {
			os.RemoveAll(filepath.Dir(real))
			os.Remove(filepath.Dir(filepath.Dir(real))) // /var/lib/canopy, if this test alone used it
		})
	}
	if code != 0 {
		t.Fatalf("migrate up with the default data directory: exit %d: %s%s", code, out, errOut)
	}
	if evalErr != nil {
		t.Fatalf("no data directory at %s: %v", pointer, evalErr)
	}
	if _, err := os.Stat(filepath.Join(real, "PG_VERSION")); err != nil {
		t.Errorf("no cluster in %s: %v", real, err)
	}
	if root {
		if strings.HasPrefix(real, home+"/") {
			t.Errorf("as root the cluster is in %s, inside the private %s", real, home)
		}
		for p := filepath.Dir(real); p != "/"; p = filepath.Dir(p) {
			if st, err := os.Stat(p); err != nil || st.Mode().Perm()&0o001 == 0 {
				t.Errorf("%s, a parent of the cluster's %s, is not open to the postgres user: %v %v", p, real, st.Mode(), err)
			}
		}
		if !strings.Contains(errOut, real) || !strings.Contains(errOut, home) {
			t.Errorf("the log does not say that %s is out of reach and the data is in %s:\n%s", home, real, errOut)
		}
	} else if real != pointer {
		t.Errorf("not root, yet the cluster went to %s", real)
	}
	if st, err := os.Stat(home); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the home directory's mode is now %v (%v)", st.Mode(), err)
	}

	if code, out, errOut := runCLI(t, "token", "create", "--name", "first", "--scopes", "admin"); code != 0 {
		t.Fatalf("token create after migrate up: exit %d: %s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "token", "list")
	if code != 0 || !strings.Contains(out, "first") {
		t.Errorf("a third command does not find the second one's token: exit %d\n%s%s", code, out, errOut)
	}
	if again, err := filepath.EvalSymlinks(pointer); err != nil || again != real {
		t.Errorf("the second command's data directory is %s (%v), the first's %s", again, err, real)
	}

	explicit := filepath.Join(home, "elsewhere", "pgdata")
	code, out, errOut = runCLI(t, "token", "list", "--data-dir", explicit)
	if root && (code == 0 || !strings.Contains(errOut, "cannot enter "+home)) {
		t.Errorf("an explicit data directory out of the postgres user's reach: exit %d, want an error naming %s:\n%s%s", code, home, out, errOut)
	}
	if !root && code != 0 {
		t.Errorf("an explicit data directory, not root: exit %d: %s%s", code, out, errOut)
	}
}
