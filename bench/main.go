// Command bench measures canopy end to end over HTTP against the slow ways it
// replaces, against the same endpoints written with GORM (bench/peers), and
// against PostgreSQL's own floor, on generated data, and writes the figures
// into bench/RESULTS.md (each scenario rewrites its own section) and charts
// into bench/charts.
//
//	go run ./bench                    # every scenario
//	go run ./bench -only trees -quick # one scenario, smaller sizes
//	go run ./bench -peers=false       # without the GORM peers
//
// It starts its own throwaway PostgreSQL cluster (in /dev/shm, fsync off: the
// figures are about queries, not disks) and serves canopy in-process on a
// loopback port; nothing else on the machine is touched.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"canopy/auth"
	"canopy/migrations"
	"canopy/pgcluster"
	"canopy/queries"
	"canopy/server"
)

// env is what a scenario runs against: a migrated database, a canopy
// server on it, and an HTTP client.
type env struct {
	ctx    context.Context
	pool   *queries.DB   // canopy's own pool (statements counted per request)
	raw    *pgxpool.Pool // for seeding and the baselines
	base   string        // canopy's base URL
	client *http.Client
	mux    *http.ServeMux // extra handlers (the naive baselines) served beside canopy
	token  string         // an admin bearer token, sent with every request
	quick  bool
	peers  string // base URL of the GORM peers on the same database (bench/peers), "" when skipped
	charts string // directory the scenarios write their SVG charts to
}

type scenario struct {
	name  string
	title string
	run   func(e *env) (string, error) // returns the Markdown section body
}

var scenarios = []scenario{
	{"trees", "Trees: one statement vs N+1 and GORM", runTrees},
	{"hospital", "Hospital feed: bulk upsert vs per-record get-or-create and GORM", runHospital},
	{"imports", "Import: a million legacy rows", runImports},
	{"listings", "Monthly listings: an index range scan vs EXTRACT, and settlements without a loop", runListings},
	{"load", "Load: wrk at 16 and 64 connections, and nothing acknowledged lost", runLoad},
	{"alarms", "Alarms: 1,000 live subscribers on two instances", runAlarms},
}

func main() {
	only := flag.String("only", "", "comma-separated scenarios to run (default: all): "+scenarioNames())
	quick := flag.Bool("quick", false, "smaller data sizes and fewer iterations, for a smoke run")
	out := flag.String("out", "bench/RESULTS.md", "report to update")
	peers := flag.Bool("peers", true, "also time the GORM peers (bench/peers, its own module, fetched through the Go proxy)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (canopy runs in-process) to this file")
	rtt := flag.Duration("rtt", 0, "put the database behind a simulated network with this round-trip time (write to another -out)")
	flag.Parse()
	if *alarmSubscribers > 0 {
		if err := holdSubscribers(*alarmSubscribers, flag.Args(), os.Getenv(subscriberTokenEnv), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench subscribers:", err)
			os.Exit(1)
		}
		return
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*only, setup{quick: *quick, peers: *peers, rtt: *rtt}, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func scenarioNames() string {
	var names []string
	for _, s := range scenarios {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
}

// setup is what every scenario's env is made with.
type setup struct {
	quick  bool
	peers  bool          // time the GORM peers
	rtt    time.Duration // the database behind a simulated network with this round trip
	binary string        // the peers' binary, built once per run
	charts string
}

func run(only string, opts setup, out string) error {
	ctx := context.Background()
	selected := scenarios
	if only != "" {
		want := strings.Split(only, ",")
		selected = slices.DeleteFunc(slices.Clone(scenarios), func(s scenario) bool { return !slices.Contains(want, s.name) })
		if len(selected) != len(want) {
			return fmt.Errorf("unknown scenario in %q (have: %s)", only, scenarioNames())
		}
	}

	dir, err := os.MkdirTemp(shm(), "canopy-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: filepath.Join(dir, "data"),
		// track_commit_timestamp: the alarms scenario times each event from
		// its transaction's commit as PostgreSQL recorded it.
		Settings: map[string]string{"shared_buffers": "1GB", "work_mem": "64MB", "max_wal_size": "4GB", "track_commit_timestamp": "on"}})
	if err != nil {
		return err
	}
	defer cluster.Stop()

	report, err := newReport(out)
	if err != nil {
		return err
	}
	if opts.rtt == 0 { // the charts show the loopback figures
		opts.charts = filepath.Join(filepath.Dir(out), "charts")
	}
	if opts.peers {
		if opts.binary, err = buildPeers(ctx, filepath.Join("bench", "peers"), dir); err != nil {
			return fmt.Errorf("GORM peers (-peers=false skips them): %w", err)
		}
	}
	for _, s := range selected {
		fmt.Fprintf(os.Stderr, "== %s\n", s.name)
		if err := cluster.EnsureDatabase(ctx, "bench_"+s.name); err != nil {
			return err
		}
		url := cluster.URL("bench_" + s.name)
		note := ""
		if opts.rtt > 0 {
			proxied, closeProxy, err := behindNetwork(url, opts.rtt)
			if err != nil {
				return err
			}
			defer closeProxy()
			measured, err := roundTrip(ctx, proxied)
			if err != nil {
				return err
			}
			url, note = proxied, networkNote(opts.rtt, measured)
		}
		body, err := withEnv(ctx, url, opts, s.run)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		body = note + body
		report.set(s.name, s.title, body)
		if err := report.write(); err != nil {
			return err
		}
	}
	return nil
}

func withEnv(ctx context.Context, url string, opts setup, run func(*env) (string, error)) (string, error) {
	if err := migrations.Up(url); err != nil {
		return "", err
	}
	pool, err := queries.Open(ctx, queries.PoolConfig{URL: url, MaxConns: 8, StatementTimeout: 5 * time.Minute})
	if err != nil {
		return "", err
	}
	defer pool.Close()
	raw, err := pgxpool.New(ctx, url)
	if err != nil {
		return "", err
	}
	defer raw.Close()
	cfg := server.DefaultConfig()
	cfg.RequestTimeout = 10 * time.Minute
	srv := server.New(cfg, pool, migrations.Latest(), slog.New(slog.NewTextHandler(discard{}, nil)))
	mux := http.NewServeMux()
	mux.Handle("/", srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	token, row, err := auth.NewToken("bench", []string{auth.ScopeAdmin}, "")
	if err != nil {
		return "", err
	}
	if _, err := queries.New(raw).CreateToken(ctx, row); err != nil {
		return "", err
	}
	e := &env{ctx: ctx, pool: pool, raw: raw, base: "http://" + ln.Addr().String(), mux: mux, quick: opts.quick, token: token,
		// No compression unless a scenario asks for it (Accept-Encoding): Go's
		// client would otherwise ask for gzip, and time its decompression.
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}, charts: opts.charts}
	if opts.binary != "" {
		stop, err := e.startPeers(opts.binary, url)
		if err != nil {
			return "", err
		}
		defer stop()
	}
	return run(e)
}

func shm() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
