package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"canopy/queries"
)

// seedForestSQL fills categories with n nodes: ten roots, every other node
// under a random earlier one, so depth grows like ln n (about 12 at 100k),
// and names made of words so that search has something to find.
const seedForestSQL = `
INSERT INTO categories (id, parent_id, name, position) OVERRIDING SYSTEM VALUE
SELECT g,
       CASE WHEN g <= 10 THEN NULL ELSE 1 + floor(random() * (g - 1))::bigint END,
       adj[1 + g % 37] || ' ' || noun[1 + (g / 37) % 41] || ' ' || g,
       g % 5
FROM generate_series(1, $1::int) g,
     (SELECT '{Amber,Bold,Calm,Dark,Eager,Fine,Grand,Happy,Icy,Jolly,Keen,Light,Mellow,Noble,Odd,Pale,Quick,Rapid,Silent,Tall,Urban,Vivid,Warm,Young,Zesty,Brave,Clever,Dusty,Fancy,Gentle,Hollow,Lucky,Misty,Proud,Rustic,Shiny,Tiny}'::text[] AS adj,
             '{apple,bench,candle,drum,engine,feather,garden,hammer,island,jacket,kettle,lamp,mirror,needle,orchard,pillow,quilt,river,saddle,table,umbrella,violin,wagon,yarn,zipper,anchor,basket,canvas,desk,easel,fabric,glove,harbor,ink,jar,kite,ladder,marble,napkin,oven,paddle}'::text[] AS noun) words`

func seedForest(ctx context.Context, raw *pgxpool.Pool, n int) error {
	tx, err := raw.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for _, stmt := range []string{`TRUNCATE categories RESTART IDENTITY CASCADE`, `SELECT setseed(0.42)`} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, seedForestSQL, n); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('categories', 'id'), $1)`, n); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	_, err = raw.Exec(ctx, `VACUUM ANALYZE categories`)
	return err
}

// naiveTree is the "before": the tree built by recursion with one SELECT per
// node for its children, as an ORM's lazy relation or a hand-written
// recursive function does. Kept only here, as the baseline.
func naiveTree(raw *pgxpool.Pool) http.HandlerFunc {
	type node struct {
		ID       int64   `json:"id"`
		Name     string  `json:"name"`
		Position int32   `json:"position"`
		Children []*node `json:"children"`
	}
	var children func(ctx context.Context, parent *int64) ([]*node, error)
	children = func(ctx context.Context, parent *int64) ([]*node, error) {
		// Two statements, as an ORM writes them: IS NOT DISTINCT FROM
		// would be one, but cannot use the index.
		query, args := `SELECT id, name, position FROM categories WHERE parent_id = $1 ORDER BY position, name, id`, []any{parent}
		if parent == nil {
			query, args = `SELECT id, name, position FROM categories WHERE parent_id IS NULL ORDER BY position, name, id`, nil
		}
		rows, err := raw.Query(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*node, error) {
			n := &node{}
			return n, r.Scan(&n.ID, &n.Name, &n.Position)
		})
		if err != nil {
			return nil, err
		}
		for _, n := range list {
			if n.Children, err = children(ctx, &n.ID); err != nil {
				return nil, err
			}
		}
		return list, nil
	}
	return func(w http.ResponseWriter, r *http.Request) {
		roots, err := children(r.Context(), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"roots": roots})
	}
}

// captured remembers the last statement a pool ran, so that the bench can
// run canopy's own statements under EXPLAIN ANALYZE.
type captured struct {
	sql  string
	args []any
}

func (c *captured) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.sql, c.args = d.SQL, d.Args
	return ctx
}

func (c *captured) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// executionTimes runs a captured statement n times under EXPLAIN (ANALYZE, TIMING OFF),
// each in a transaction rolled back (a write is undone), and returns
// PostgreSQL's own execution times: the statement's cost with no network,
// driver or JSON.
func executionTimes(ctx context.Context, raw *pgxpool.Pool, c captured, n int) (samples, error) {
	var s samples
	for range n {
		var plan []struct {
			ExecutionTime float64 `json:"Execution Time"`
		}
		err := pgx.BeginFunc(ctx, raw, func(tx pgx.Tx) error {
			// As canopy's own connections run it (queries.Open).
			if _, err := tx.Exec(ctx, "SET LOCAL jit = off"); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) "+c.sql, c.args...).Scan(&plan); err != nil {
				return err
			}
			return tx.Rollback(ctx)
		})
		if err != nil && err != pgx.ErrTxClosed {
			return nil, err
		}
		if len(plan) == 0 {
			return nil, fmt.Errorf("no plan")
		}
		s = append(s, time.Duration(plan[0].ExecutionTime*float64(time.Millisecond)))
	}
	return s, nil
}

// statementOf captures the last statement fn runs through queries, as
// queries builds it, in a transaction that is rolled back.
func statementOf(ctx context.Context, url string, fn func(*queries.Store) error) (captured, error) {
	var c captured
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return c, err
	}
	cfg.ConnConfig.Tracer = &c
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return c, err
	}
	defer pool.Close()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return c, err
	}
	defer tx.Rollback(ctx)
	err = fn(queries.New(tx))
	return c, err
}

// flatRead is the floor for reading rows at all: sql's rows read by pgx and
// thrown away, with no assembly and no JSON.
func (e *env) flatRead(sql string, args ...any) error {
	rows, err := e.raw.Query(e.ctx, sql, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	rows.Close()
	return rows.Err()
}

// treeDepthSQL is how many levels the forest has (the roots are level 1):
// how deep the GORM peer nests its Preload.
const treeDepthSQL = `
WITH RECURSIVE d(id, depth) AS (
    SELECT id, 1 FROM categories WHERE parent_id IS NULL
  UNION ALL
    SELECT c.id, d.depth + 1 FROM categories c JOIN d ON c.parent_id = d.id
)
SELECT max(depth) FROM d`

func runTrees(e *env) (string, error) {
	sizes := []int{100, 1_000, 10_000, 100_000}
	if e.quick {
		sizes = []int{100, 1_000, 10_000}
	}
	e.mux.Handle("/naive/categories/tree", naiveTree(e.raw))
	stmt, err := statementOf(e.ctx, e.raw.Config().ConnString(), func(q *queries.Store) error {
		_, err := q.Tree(e.ctx, queries.Categories, queries.TreeQuery{})
		return err
	})
	if err != nil {
		return "", err
	}
	bump := func() error {
		_, err := e.raw.Exec(e.ctx, `UPDATE tree_versions SET version = version + 1 WHERE tree = 'categories'`)
		return err
	}
	slow := runs{min: 2, max: 20, budget: 15 * time.Second}
	normal := runs{min: 10, max: 200, budget: 8 * time.Second}
	fast := runs{min: 50, max: 2000, budget: 3 * time.Second}
	if e.quick {
		slow, normal, fast = runs{1, 3, time.Second}, runs{5, 20, time.Second}, runs{20, 100, time.Second}
	}

	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return "", errors.New("wrk is not installed: run scripts/ensure-wrk.sh (make bench does)")
	}
	wrkFor := 10 * time.Second
	if e.quick {
		wrkFor = 3 * time.Second
	}

	var table, search, codings strings.Builder
	codings.WriteString("| nodes | coding | bytes on the wire | % of identity | cold p50 | cold p99 | warm p50 | warm p99 | warm req/s at 64 connections |\n")
	codings.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	codingPlot := chart{name: "trees-compression", title: "Whole forest by content coding: latency vs nodes", xLabel: "nodes"}
	table.WriteString("| nodes (levels) | N+1 p50 | N+1 p99 | N+1 statements | GORM Preload p50 | GORM p99 | GORM statements | canopy cold p50 | cold p99 | canopy warm p50 | warm p99 | statements cold / warm | statement in PG p50 | flat SELECT p50 | response | N+1 ÷ cold | GORM ÷ cold |\n")
	table.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	plot := chart{name: "trees", title: "Whole forest: latency vs nodes", xLabel: "nodes"}
	search.WriteString("| nodes | term | matches shown | p50 | p99 | statements |\n|---:|---|---:|---:|---:|---:|\n")
	var targets []string
	for _, n := range sizes {
		fmt.Printf("trees: %d nodes\n", n)
		if err := seedForest(e.ctx, e.raw, n); err != nil {
			return "", err
		}
		var naiveStatements int
		naiveRuns := slow
		if n >= 100_000 {
			naiveRuns = runs{min: 1, max: 1} // about a minute a run
		}
		naive, err := measure(naiveRuns, nil, func() error {
			_, _, err := e.get(e.base + "/naive/categories/tree")
			return err
		})
		if err != nil {
			return "", err
		}
		if err := e.raw.QueryRow(e.ctx, `SELECT count(*) + 1 FROM categories`).Scan(&naiveStatements); err != nil {
			return "", err
		}
		var size, coldStatements, warmStatements int
		cold, err := measure(normal, bump, func() (err error) {
			size, coldStatements, err = e.get(e.base + "/api/v1/categories/tree")
			return err
		})
		if err != nil {
			return "", err
		}
		warm, err := measure(fast, nil, func() (err error) {
			_, warmStatements, err = e.get(e.base + "/api/v1/categories/tree")
			return err
		})
		if err != nil {
			return "", err
		}
		exec, err := executionTimes(e.ctx, e.raw, stmt, 5)
		if err != nil {
			return "", err
		}
		flat, err := measure(normal, nil, func() error { return e.flatRead(`SELECT id, parent_id, name FROM categories`) })
		if err != nil {
			return "", err
		}
		var depth int
		if err := e.raw.QueryRow(e.ctx, treeDepthSQL).Scan(&depth); err != nil {
			return "", err
		}
		gorm, gormStatements, err := e.peer(normal, "GET", fmt.Sprintf("/categories/tree?depth=%d", depth), nil)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&table, "| %d (%d) | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %d / %d | %s | %s | %d KiB | %s | %s |\n",
			n, depth, ms(naive.p50()), ms(naive.p99()), naiveStatements, ms(gorm.p50()), ms(gorm.p99()), stmts(gormStatements),
			ms(cold.p50()), ms(cold.p99()), ms(warm.p50()), ms(warm.p99()),
			coldStatements, warmStatements, ms(exec.p50()), ms(flat.p50()), size/1024, ratio(naive.p50(), cold.p50()), ratio(gorm.p50(), cold.p50()))
		x := float64(n)
		plot.add("N+1", styleNaive, x, naive.p50())
		plot.add("GORM Preload", styleGORM, x, gorm.p50())
		plot.add("canopy cold", styleCanopy, x, cold.p50())
		plot.add("canopy warm", styleWarm, x, warm.p50())
		plot.add("statement in PG", styleFloor, x, exec.p50())
		plot.add("flat SELECT", styleFlat, x, flat.p50())

		for _, term := range []string{"lamp", "Zesty kite 1"} {
			var matches struct {
				Matches []json.RawMessage `json:"matches"`
			}
			var statements int
			url := e.base + "/api/v1/categories/search?q=" + strings.ReplaceAll(term, " ", "%20")
			lat, err := measure(normal, nil, func() error {
				resp, err := e.client.Get(url)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				fmt.Sscanf(serverTiming.FindString(resp.Header.Get("Server-Timing")), `desc="%d`, &statements)
				return json.NewDecoder(resp.Body).Decode(&matches)
			})
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&search, "| %d | `%s` | %d | %s | %s | %d |\n", n, term, len(matches.Matches), ms(lat.p50()), ms(lat.p99()), statements)
			if n == 100_000 {
				targets = append(targets, target(fmt.Sprintf("search `%s` over 100k nodes ≤ 50 ms p50", term), lat.p50() <= 50*time.Millisecond, ms(lat.p50())+" ms"))
			}
		}
		var identityBytes int
		for _, cd := range treeCodings {
			var size int
			get := func() (err error) {
				size, _, err = e.get(e.base+"/api/v1/categories/tree", "Accept-Encoding", cd.accept)
				return err
			}
			cold, err := measure(normal, bump, get)
			if err != nil {
				return "", err
			}
			warm, err := measure(fast, nil, get)
			if err != nil {
				return "", err
			}
			if cd.name == "identity" {
				identityBytes = size
			}
			rate := "–"
			if n >= 10_000 {
				fmt.Printf("trees: %d nodes, %s, wrk at 64 connections for %s\n", n, cd.name, wrkFor)
				perSecond, err := wrkRate(wrk, e.base+"/api/v1/categories/tree", 64, wrkFor, "Accept-Encoding: "+cd.accept)
				if err != nil {
					return "", fmt.Errorf("%s tree: %w", cd.name, err)
				}
				rate = fmt.Sprintf("%.0f", perSecond)
				if n == 10_000 && cd.name != "identity" {
					targets = append(targets, target(fmt.Sprintf("warm %s tree ≥ 5,000 req/s at 64 connections", cd.name), perSecond >= 5000, rate+" req/s"))
				}
			}
			share := 100 * float64(size) / float64(identityBytes)
			fmt.Fprintf(&codings, "| %d | %s | %d KiB | %.1f%% | %s | %s | %s | %s | %s |\n", n, cd.name, size/1024, share,
				ms(cold.p50()), ms(cold.p99()), ms(warm.p50()), ms(warm.p99()), rate)
			codingPlot.add("cold, "+cd.name, cd.cold, float64(n), cold.p50())
			codingPlot.add("warm, "+cd.name, cd.warm, float64(n), warm.p50())
			if n == 10_000 && cd.name != "identity" {
				targets = append(targets, target(fmt.Sprintf("10k-node tree in %s < 15%% of raw size", cd.name), share < 15,
					fmt.Sprintf("%.1f%% (%d of %d KiB)", share, size/1024, identityBytes/1024)))
			}
		}
		switch n {
		case 1_000:
			r := float64(naive.p50()) / float64(cold.p50())
			targets = append(targets, target("≥ 100× faster than N+1 at 1k nodes", r >= 100, ratio(naive.p50(), cold.p50())))
		case 10_000:
			targets = append(targets,
				target("10k-node forest cold ≤ 60 ms p50", cold.p50() <= 60*time.Millisecond, ms(cold.p50())+" ms"),
				target("10k-node forest warm ≤ 2 ms p50", warm.p50() <= 2*time.Millisecond, ms(warm.p50())+" ms"))
		}
		if n >= 10_000 {
			r := float64(cold.p50()) / float64(exec.p50())
			targets = append(targets, target(fmt.Sprintf("%dk-node forest cold ≤ 1.5× its statement in PG", n/1000), r <= 1.5,
				fmt.Sprintf("%.2f× (%s ms end to end, %s ms statement)", r, ms(cold.p50()), ms(exec.p50()))))
		}
	}
	for _, c := range []chart{plot, codingPlot} {
		if err := c.write(e.charts); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "_Machine: %s._\n\n", e.machine())
	b.WriteString(`Generated forests: ten roots, every other node under a random earlier node
(average depth about ln n, 12 at 100k; the levels column gives the deepest), names of two words and a number.
- **N+1**: the tree built by recursion with one SELECT per node for its children
  (bench/trees.go, kept only here as the baseline), served over the same HTTP stack.
- **GORM Preload**: the same forest read the way GORM's docs suggest (bench/peers, its own module):
  the roots, then ` + "`Preload(\"Children\")`, `Preload(\"Children.Children\")`" + `, … nested as deep as the
  forest's levels, each level one ` + "`WHERE parent_id IN (…)`" + ` query, served as JSON over HTTP.
- **canopy cold**: ` + "`GET /api/v1/categories/tree`" + ` right after the tree version changed:
  one version read plus the one recursive statement, assembly and JSON.
- **canopy warm**: the same GET of an unchanged tree, answered from memory after one version read.
- **statement in PG**: canopy's own tree statement under EXPLAIN ANALYZE
  (PostgreSQL's execution time: no network, driver or JSON).
- **flat SELECT**: ` + "`SELECT id, parent_id, name FROM categories`" + ` read by pgx: the floor for reading every row at all.

`)
	b.WriteString(table.String())
	b.WriteString("\nSearch (`GET /api/v1/categories/search?q=...`, limit 100: a common word, truncated at 100 matches, and a selective term):\n\n")
	b.WriteString(search.String())
	fmt.Fprintf(&b, `
By content coding (`+"`GET /api/v1/categories/tree`"+` with `+"`Accept-Encoding: identity`, `gzip` or `zstd`"+`): bytes on
the wire are the body as sent; cold is right after the tree version changed (the statement, the JSON and,
for gzip and zstd, compressing it once at the cache's dense level); warm is from the cache, which keeps each
coding's bytes (no compression at all). Warm req/s: wrk (2 threads, %s a run) at 64 connections on the same
cores, sending the Accept-Encoding header.

`, wrkFor)
	b.WriteString(codings.String())
	b.WriteString("\nTargets (issues 3 and 17):\n\n")
	for _, t := range targets {
		b.WriteString(t + "\n")
	}
	return b.String(), nil
}

func target(what string, met bool, got string) string {
	if met {
		return "- met: " + what + " — " + got
	}
	return "- **missed**: " + what + " — " + got
}

// treeCodings are the content codings the tree is measured in, with the
// Accept-Encoding that asks for each and its lines in the chart.
var treeCodings = []struct {
	name, accept string
	cold, warm   style
}{
	{"identity", "identity", styleCanopy, styleWarm},
	{"gzip", "gzip", styleGzip, styleGzipWarm},
	{"zstd", "zstd", styleZstd, styleZstdWarm},
}

var wrkRequestsPerSecond = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// wrkRate is the requests a second wrk (2 threads, no script) gets from url
// at conns connections for d, each request with the headers given ("Name:
// value"). load.lua is no use here: its response callback has wrk hand every
// body to Lua, which for a 1.6 MB tree costs wrk far more than canopy. Any
// answer not 2xx or 3xx, or socket error, is an error.
func wrkRate(wrk, url string, conns int, d time.Duration, headers ...string) (float64, error) {
	args := []string{"-t", "2", "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", int(d.Seconds())), "--timeout", "30s"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	out, err := exec.Command(wrk, append(args, url)...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %w: %s", err, out)
	}
	if strings.Contains(string(out), "Non-2xx") || strings.Contains(string(out), "Socket errors") {
		return 0, fmt.Errorf("wrk: failed requests: %s", out)
	}
	m := wrkRequestsPerSecond.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("wrk printed no rate: %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}
