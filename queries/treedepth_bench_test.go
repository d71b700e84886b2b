package queries_test

import (
	"context"
	"fmt"
	"testing"

	"canopy/internal/testdb"
	"canopy/queries"
)

// The deep-tree benchmarks (issue 14, item 6): a chain built row by row, an
// insert and a move at its bottom, and the reads that walk it. Run with
// -benchtime=1x for the chain: before migration 000009 it was quadratic.
//
//	go test ./queries -run '^$' -bench Deep -benchtime=1x
//	go test ./queries -run '^$' -bench 'Deep(Insert|Move|Search|Subtree|Ancestors)'

// benchDepth is the depth of the benchmark chain: the default maximum.
const benchDepth = 1000

func BenchmarkDeepChainBuild(b *testing.B) {
	for range b.N {
		b.StopTimer()
		db := testdb.New(b)
		b.StartTimer()
		chain(b, db, 0, benchDepth)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchDepth), "µs/row")
}

// deepChain is a database with a benchDepth-row chain, inserted in one
// statement (quick with either trigger), four rows named needle on it.
func deepChain(b *testing.B) (*testdb.DB, *queries.Store) {
	b.Helper()
	db := testdb.New(b)
	if _, err := db.Pool.Exec(context.Background(), fmt.Sprintf(`
		INSERT INTO categories (id, parent_id, name) OVERRIDING SYSTEM VALUE
		SELECT g, nullif(g - 1, 0), CASE WHEN g %% %d = 0 THEN 'needle ' ELSE 'level ' END || g
		FROM generate_series(1, %d) g`, benchDepth/4, benchDepth)); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Pool.Exec(context.Background(), fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('categories', 'id'), %d)`, benchDepth)); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Pool.Exec(context.Background(), `INSERT INTO categories (name) VALUES ('leaf')`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Pool.Exec(context.Background(), `VACUUM ANALYZE categories`); err != nil {
		b.Fatal(err)
	}
	return db, queries.New(db.Pool)
}

// rolledBack runs sql b.N times, each in a transaction rolled back.
func rolledBack(b *testing.B, db *testdb.DB, sql string, args ...any) {
	ctx := context.Background()
	for range b.N {
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			b.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeepInsert(b *testing.B) {
	db, _ := deepChain(b)
	b.ResetTimer()
	rolledBack(b, db, `INSERT INTO categories (parent_id, name) VALUES ($1, 'new')`, benchDepth-1)
}

func BenchmarkDeepMove(b *testing.B) {
	db, _ := deepChain(b)
	b.ResetTimer()
	rolledBack(b, db, `UPDATE categories SET parent_id = $1 WHERE name = 'leaf'`, benchDepth-1)
}

func BenchmarkDeepSearch(b *testing.B) {
	_, s := deepChain(b)
	b.ResetTimer()
	for range b.N {
		nodes, _, _, err := searchRows(s.Search(context.Background(), queries.Categories, "needle", 100))
		if err != nil || len(nodes) != benchDepth {
			b.Fatalf("%d rows, %v", len(nodes), err)
		}
	}
}

func BenchmarkDeepSubtree(b *testing.B) {
	_, s := deepChain(b)
	root := int64(benchDepth / 2)
	b.ResetTimer()
	for range b.N {
		nodes, err := rowsOf(s.Tree(context.Background(), queries.Categories, queries.TreeQuery{Root: &root}))
		if err != nil || len(nodes) != benchDepth/2+1 {
			b.Fatalf("%d rows, %v", len(nodes), err)
		}
	}
}

func BenchmarkDeepAncestors(b *testing.B) {
	_, s := deepChain(b)
	b.ResetTimer()
	for range b.N {
		nodes, err := s.Ancestors(context.Background(), queries.Categories, benchDepth)
		if err != nil || len(nodes) != benchDepth {
			b.Fatalf("%d rows, %v", len(nodes), err)
		}
	}
}
