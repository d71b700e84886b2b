package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"canopy/internal/testdb"
	"canopy/migrations"
	"canopy/queries"
)

// BenchmarkColdTree times the whole forest read cold, end to end, against
// its parts, so that the time outside PostgreSQL shows:
//
//   - statement: the tree statement's own execution, EXPLAIN ANALYZE's
//     figure (no transfer, no driver);
//   - read: Store.Tree, the statement with its rows sent, scanned and
//     completed by queries;
//   - http: GET /api/v1/categories/tree right after the tree changed: the
//     version read, the statement, assembly, JSON and HTTP on loopback.
//
// go test ./server -run '^$' -bench ColdTree -benchtime 20x
func BenchmarkColdTree(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			ctx := context.Background()
			db := testdb.New(b)
			seedBenchForest(b, db, n)
			pool, err := queries.Open(ctx, queries.PoolConfig{URL: db.URL})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(pool.Close)
			srv := httptest.NewServer(New(DefaultConfig(), pool, migrations.Latest(), slog.New(slog.NewTextHandler(io.Discard, nil))))
			b.Cleanup(srv.Close)
			// The identity body: a Go client asks for gzip unless told not to.
			srv.Client().Transport.(*http.Transport).DisableCompression = true

			b.Run("statement", func(b *testing.B) {
				sql, args := treeStatement(b, db.URL)
				var total time.Duration
				for b.Loop() {
					var plan []struct {
						ExecutionTime float64 `json:"Execution Time"`
					}
					if err := db.Pool.QueryRow(ctx, "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) "+sql, args...).Scan(&plan); err != nil {
						b.Fatal(err)
					}
					total += time.Duration(plan[0].ExecutionTime * float64(time.Millisecond))
				}
				b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "pg-ms/op")
			})
			b.Run("rows", func(b *testing.B) {
				sql, args := treeStatement(b, db.URL)
				for b.Loop() {
					rows, err := db.Pool.Query(ctx, sql, args...)
					if err != nil {
						b.Fatal(err)
					}
					for rows.Next() {
					}
					if rows.Close(); rows.Err() != nil {
						b.Fatal(rows.Err())
					}
				}
			})
			b.Run("read", func(b *testing.B) {
				s := queries.New(db.Pool)
				for b.Loop() {
					if _, err := s.Tree(ctx, queries.Categories, queries.TreeQuery{}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("http", func(b *testing.B) {
				cpu := cpuTime()
				defer func() { b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op") }()
				for range b.N {
					b.StopTimer()
					if _, err := db.Pool.Exec(ctx, `UPDATE tree_versions SET version = version + 1 WHERE tree = 'categories'`); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					resp, err := srv.Client().Get(srv.URL + "/api/v1/categories/tree")
					if err != nil {
						b.Fatal(err)
					}
					size, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != http.StatusOK {
						b.Fatalf("%d, %v", resp.StatusCode, err)
					}
					b.SetBytes(size)
				}
			})
		})
	}
}

// cpuTime is the CPU time this process has used, user and system: in a
// benchmark, canopy's own cost per request, whatever else the machine runs.
func cpuTime() time.Duration {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// seedBenchForest fills categories with n nodes: ten roots, every other
// node under a random earlier one (depth about ln n), as bench/ seeds them.
func seedBenchForest(b testing.TB, db *testdb.DB, n int) {
	b.Helper()
	ctx := context.Background()
	for _, sql := range []string{
		`SELECT setseed(0.42)`,
		fmt.Sprintf(`INSERT INTO categories (id, parent_id, name, position) OVERRIDING SYSTEM VALUE
			SELECT g, CASE WHEN g <= 10 THEN NULL ELSE 1 + floor(random() * (g - 1))::bigint END, 'node ' || g, g %% 5
			FROM generate_series(1, %d) g`, n),
		`VACUUM ANALYZE categories`,
	} {
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
}

// sqlCapture keeps the statements a pool runs, and their arguments.
type sqlCapture struct {
	sql  []string
	args [][]any
}

func (c *sqlCapture) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.sql, c.args = append(c.sql, d.SQL), append(c.args, d.Args)
	return ctx
}

func (c *sqlCapture) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// treeStatement is the statement Store.Tree runs for the whole category
// forest, as sent, and its arguments.
func treeStatement(b *testing.B, url string) (string, []any) {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	c := &sqlCapture{}
	cfg.ConnConfig.Tracer = c
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := queries.New(pool).Tree(context.Background(), queries.Categories, queries.TreeQuery{}); err != nil {
		b.Fatal(err)
	}
	i := slices.IndexFunc(c.sql, func(s string) bool { return len(s) > 14 && s[:14] == "WITH RECURSIVE" })
	if i < 0 {
		b.Fatalf("no tree statement among %q", c.sql)
	}
	return c.sql[i], c.args[i]
}
