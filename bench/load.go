package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"canopy/migrations"
	"canopy/queries"
	"canopy/server"
)

// loadDuration is how long each wrk run of the load scenario lasts; the flag
// lives here, beside its only reader, and main's flag.Parse reads it.
var loadDuration = flag.Duration("load-duration", 0, "length of each wrk run of the load scenario (default 60s, 5s with -quick)")

//go:embed load.lua
var loadScript []byte

// canopy's defaults as cmd/canopy sets them (--pool-size, --statement-timeout):
// the load scenario serves with them, not with the bench's long timeouts.
const (
	defaultPoolSize         = 10
	defaultStatementTimeout = 5 * time.Second
)

// upsertRecords is the size of each patient batch the load posts.
const upsertRecords = 1_000

// wrkResult is what load.lua's done() prints.
type wrkResult struct {
	DurationUS    int64            `json:"duration_us"`
	Requests      int64            `json:"requests"`
	Bytes         int64            `json:"bytes"`
	P50US         int64            `json:"p50_us"`
	P90US         int64            `json:"p90_us"`
	P99US         int64            `json:"p99_us"`
	MaxUS         int64            `json:"max_us"`
	ConnectErrors int64            `json:"connect_errors"`
	ReadErrors    int64            `json:"read_errors"`
	WriteErrors   int64            `json:"write_errors"`
	Timeouts      int64            `json:"timeouts"`
	Statuses      map[string]int64 `json:"statuses"`
	Inserted      int64            `json:"inserted"`
	Updated       int64            `json:"updated"`
}

// count sums the responses whose status is in [lo, hi].
func (r wrkResult) count(lo, hi int) int64 {
	var n int64
	for code, c := range r.Statuses {
		if s, err := strconv.Atoi(code); err == nil && s >= lo && s <= hi {
			n += c
		}
	}
	return n
}

func (r wrkResult) socketErrors() int64 {
	return r.ConnectErrors + r.ReadErrors + r.WriteErrors + r.Timeouts
}

// loadTarget is one thing the load scenario hammers: GETs rotating over
// paths, or POSTs to path rotating over bodies.
type loadTarget struct {
	name   string
	path   string
	mode   string // "paths" or "bodies", as load.lua reads it
	list   string // the file load.lua rotates over
	writes bool
}

func runLoad(e *env) (string, error) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return "", errors.New("wrk is not installed: run scripts/ensure-wrk.sh (make bench does)")
	}
	duration := *loadDuration
	if duration <= 0 {
		duration = 60 * time.Second
		if e.quick {
			duration = 5 * time.Second
		}
	}
	articles := 1_000_000
	if e.quick {
		articles = 100_000
	}
	dir, err := os.MkdirTemp(shm(), "canopy-load-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)

	fmt.Println("load: seeding")
	if err := seedForest(e.ctx, e.raw, 10_000); err != nil {
		return "", err
	}
	if _, err := e.raw.Exec(e.ctx, seedNewslettersSQL); err != nil {
		return "", err
	}
	if _, err := e.raw.Exec(e.ctx, seedArticlesSQL, articles, 0); err != nil {
		return "", err
	}
	if _, err := e.raw.Exec(e.ctx, `VACUUM ANALYZE articles, newsletters`); err != nil {
		return "", err
	}
	if err := e.seedSettlements(); err != nil {
		return "", err
	}
	wards, err := e.seedHospital()
	if err != nil {
		return "", err
	}

	base, stop, err := e.serveDefaults()
	if err != nil {
		return "", err
	}
	defer stop()
	targets, err := writeLoadLists(dir, wards)
	if err != nil {
		return "", err
	}
	script := filepath.Join(dir, "load.lua")
	if err := os.WriteFile(script, loadScript, 0o644); err != nil {
		return "", err
	}
	// Warm the tree cache: the load measures the warm tree.
	if _, _, err := e.get(base + "/api/v1/categories/tree"); err != nil {
		return "", err
	}

	var table, checks strings.Builder
	table.WriteString("| target | connections | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | MB/s | non-2xx | 5xx | socket errors (connect/read/write/timeout) |\n")
	table.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	var held []string
	var missed []string
	var acknowledged, ackInserted, ackUpdated, answered int64
	for _, t := range targets {
		for _, conns := range []int{16, 64} {
			fmt.Printf("load: %s, %d connections, %s\n", t.name, conns, duration)
			r, err := runWrk(wrk, script, base+t.path, e.token, t, conns, duration)
			if err != nil {
				return "", fmt.Errorf("%s at %d connections: %w", t.name, conns, err)
			}
			secs := float64(r.DurationUS) / 1e6
			us := func(v int64) string { return ms(time.Duration(v) * time.Microsecond) }
			fmt.Fprintf(&table, "| %s | %d | %d | %.0f | %s | %s | %s | %s | %.1f | %d | %d | %d (%d/%d/%d/%d) |\n",
				t.name, conns, r.Requests, float64(r.Requests)/secs, us(r.P50US), us(r.P90US), us(r.P99US), us(r.MaxUS),
				float64(r.Bytes)/secs/(1<<20), r.Requests-r.count(200, 299), r.count(500, 599),
				r.socketErrors(), r.ConnectErrors, r.ReadErrors, r.WriteErrors, r.Timeouts)
			if conns == 64 {
				if r.count(500, 599) == 0 && r.socketErrors() == 0 {
					held = append(held, t.name)
				} else {
					missed = append(missed, t.name)
				}
			}
			if t.writes {
				acknowledged += r.count(200, 200)
				ackInserted += r.Inserted
				ackUpdated += r.Updated
				answered += r.Requests
			}
		}
	}

	// Nothing acknowledged is lost: every 200 counted its whole batch, the
	// new patients stored are at least those the 200s reported inserted
	// (requests cut off when wrk stopped may have committed unreported),
	// and no partial record cleared a field it did not carry.
	var stored, nameless int64
	if err := e.raw.QueryRow(e.ctx, `SELECT count(*) FILTER (WHERE uid LIKE 'L%'), count(*) FILTER (WHERE name IS NULL) FROM patients`).Scan(&stored, &nameless); err != nil {
		return "", err
	}
	whole := ackInserted+ackUpdated == acknowledged*upsertRecords
	kept := stored >= ackInserted
	fmt.Fprintf(&checks, "- batches answered 200: %d of the %d answered (both runs); their counts sum to %d records (%d inserted, %d updated): %s\n",
		acknowledged, answered, ackInserted+ackUpdated, ackInserted, ackUpdated, verdict(whole, "every batch whole", "**not** 1,000 per batch"))
	fmt.Fprintf(&checks, "- new patients stored: %d, reported inserted by the 200s: %d (the difference: batches still in flight when wrk stopped): %s\n", stored, ackInserted,
		verdict(kept, "none lost", "**acknowledged writes lost**"))
	fmt.Fprintf(&checks, "- patients without a name after partial records (uid and discharge time only) for existing ones: %d: %s\n", nameless,
		verdict(nameless == 0, "no field lost", "**fields lost**"))

	var b strings.Builder
	fmt.Fprintf(&b, "_Machine: %s._\n\n", e.machine())
	fmt.Fprintf(&b, `[wrk](https://github.com/wg/wrk) (Debian's) with 2 threads, each run %s, over loopback with keep-alive,
on the same cores as canopy (served in-process by the bench) and PostgreSQL: the figures are
for the whole stack sharing the machine. canopy runs with its default configuration: a pool of
%d connections, a 10 s request timeout, a 5 s statement timeout. Latencies are wrk's, over
every request of the run; MB/s is response bytes received.
- **tree**: `+"`GET /api/v1/categories/tree`"+`, the warm 10,000-node category forest (answered from the
  cache after one version read; about 1.6 MB of JSON).
- **month listing**: `+"`GET /api/v1/users/{id}/articles?year=2024&month=M`"+` (the default page of 100), every
  other request the heaviest user (600 articles a month), the rest 100 other users, months varied;
  %s articles.
- **settlement**: `+"`GET /api/v1/settlements?year=2024&month=6`"+`, every teacher's month (500 teachers,
  200,000 purchases), after the first request answered from the settlement cache after one version read.
- **upsert 1,000**: `+"`POST /api/v1/patients/bulk`"+` of %s records: 500 uids never seen before (unique to the
  run, thread and pass) and 500 of the 10,000 existing patients, a different mix in each of 64 bodies,
  every twentieth of those a partial record (uid and discharge time only).

`, duration, defaultPoolSize, thousands(articles), thousands(upsertRecords))
	b.WriteString(table.String())
	b.WriteString("\nWrites checked after the load:\n\n" + checks.String())
	b.WriteString("\nTargets (issue 8):\n\n")
	held64 := fmt.Sprintf("held: %s; not held: %s; each run %s", listOr(held), listOr(missed), duration)
	if duration < 60*time.Second {
		b.WriteString("- not measured at length (runs shorter than 60 s; `-load-duration 60s`): 64 connections for 60 s with zero 5xx and zero connection errors — " + held64 + "\n")
	} else {
		b.WriteString(target("64 connections for 60 s: zero 5xx and zero connection errors on every target", len(missed) == 0, held64) + "\n")
	}
	b.WriteString(target("nothing acknowledged lost", whole && kept && nameless == 0,
		fmt.Sprintf("%d batches acknowledged, %d new patients stored for %d reported", acknowledged, stored, ackInserted)) + "\n")
	return b.String(), nil
}

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func verdict(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func listOr(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// serveDefaults serves canopy on another loopback port as `canopy serve`
// does with its defaults: its own pool of defaultPoolSize connections, the
// server's default configuration, and its listening connection for the
// event streams on the database (Serve runs the hub). It returns the base
// URL and a function that stops it.
func (e *env) serveDefaults() (string, func(), error) {
	url := e.raw.Config().ConnString()
	pool, err := queries.Open(e.ctx, queries.PoolConfig{URL: url, MaxConns: defaultPoolSize,
		StatementTimeout: defaultStatementTimeout, ConnectTimeout: 2 * time.Second})
	if err != nil {
		return "", nil, err
	}
	cfg := server.DefaultConfig()
	cfg.ListenURL = url
	srv := server.New(cfg, pool, migrations.Latest(), slog.New(slog.NewTextHandler(discard{}, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pool.Close()
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(e.ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String(), func() { cancel(); <-served; pool.Close() }, nil
}

// writeLoadLists writes what load.lua rotates over into dir: the paths of
// the GETs and the bodies of the upserts.
func writeLoadLists(dir string, wards []int64) ([]loadTarget, error) {
	write := func(name string, lines []string) (string, error) {
		path := filepath.Join(dir, name)
		return path, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	}
	var listings []string
	for i := range 200 {
		user := heavyUser
		if i%2 == 1 {
			user = fmt.Sprintf("00000000-0000-4000-8000-%012x", 1+i*19%1999)
		}
		listings = append(listings, fmt.Sprintf("/api/v1/users/%s/articles?year=2024&month=%d", user, 1+i%12))
	}
	var bodies []string
	for k := range 64 {
		batch := make([]patient, 0, upsertRecords)
		for j := range upsertRecords / 2 {
			existing := fmt.Sprintf("P%07d", (k*337+j*7)%10_000)
			if j%20 == 19 {
				batch = append(batch, patient{UID: existing, DischargedAt: ptr("2024-06-02T10:00:00Z")})
			} else {
				batch = append(batch, patient{UID: existing, Name: ptr(fmt.Sprintf("Patient %d-%d", k, j)), WardID: ptr(wards[(k+j)%len(wards)])})
			}
			batch = append(batch, patient{UID: fmt.Sprintf("L@R@b%02dr%03d", k, j), Name: ptr(fmt.Sprintf("New %d-%d", k, j)),
				Sex: ptr("FMOU"[j%4 : j%4+1]), BirthDate: ptr(fmt.Sprintf("19%02d-%02d-%02d", 30+j%70, 1+j%12, 1+j%28)),
				WardID: ptr(wards[j%len(wards)]), AdmittedAt: ptr("2024-06-01T08:00:00Z")})
		}
		body, err := json.Marshal(batch)
		if err != nil {
			return nil, err
		}
		path, err := write(fmt.Sprintf("body-%02d.json", k), []string{string(body)})
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, path)
	}
	targets := []loadTarget{
		{name: "tree", path: "/", mode: "paths", list: "tree.txt"},
		{name: "month listing", path: "/", mode: "paths", list: "listings.txt"},
		{name: "settlement", path: "/", mode: "paths", list: "settlements.txt"},
		{name: "upsert 1,000", path: "/api/v1/patients/bulk", mode: "bodies", list: "bodies.txt", writes: true},
	}
	lists := map[string][]string{
		"tree.txt":        {"/api/v1/categories/tree"},
		"listings.txt":    listings,
		"settlements.txt": {"/api/v1/settlements?year=2024&month=6"},
		"bodies.txt":      bodies,
	}
	for i, t := range targets {
		path, err := write(t.list, lists[t.list])
		if err != nil {
			return nil, err
		}
		targets[i].list = path
	}
	return targets, nil
}

// runWrk runs wrk with load.lua against url and returns what its done()
// printed.
func runWrk(wrk, script, url, token string, t loadTarget, conns int, d time.Duration) (wrkResult, error) {
	const threads = 2
	run := fmt.Sprintf("c%d", conns)
	cmd := exec.Command(wrk, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", int(d.Seconds())),
		"--timeout", "30s", "-s", script, url, "--", token, t.mode, t.list, strconv.Itoa(threads), run)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	_, line, ok := strings.Cut(string(out), "WRK_JSON ")
	if !ok {
		return wrkResult{}, fmt.Errorf("wrk printed no result: %s", out)
	}
	line, _, _ = strings.Cut(line, "\n")
	var r wrkResult
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return wrkResult{}, fmt.Errorf("wrk result %q: %w", line, err)
	}
	return r, nil
}
