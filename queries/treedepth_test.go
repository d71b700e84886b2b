package queries_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"canopy/internal/testdb"
	"canopy/queries"
	"canopy/tree"
)

// chain builds a chain of n categories under parent (0: a new root), one
// INSERT per row as a client adding them one by one would, and returns
// their ids from the top down.
func chain(t testing.TB, db *testdb.DB, parent int64, n int) []int64 {
	t.Helper()
	ids := make([]int64, 0, n)
	var p *int64
	if parent != 0 {
		p = &parent
	}
	for i := range n {
		var id int64
		if err := db.Pool.QueryRow(context.Background(),
			`INSERT INTO categories (parent_id, name) VALUES ($1, $2) RETURNING id`, p, fmt.Sprintf("level %d", i)).Scan(&id); err != nil {
			t.Fatalf("chain row %d: %v", i, err)
		}
		ids = append(ids, id)
		p = &ids[len(ids)-1]
	}
	return ids
}

// rowsRead runs sql in a transaction that it rolls back, and returns how
// many rows of categories it read (fetched through an index or read by a
// sequential scan), triggers included: pg_stat_xact_user_tables counts
// them for the transaction so far. This is the work a statement does, in a
// unit that does not depend on the machine.
func rowsRead(t testing.TB, db *testdb.DB, sql string, args ...any) (int64, error) {
	t.Helper()
	return rowsReadBy(t, db, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), sql, args...)
		return err
	})
}

// rowsReadBy is rowsRead for what run does in the transaction.
func rowsReadBy(t testing.TB, db *testdb.DB, run func(pgx.Tx) error) (int64, error) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// The counts may include earlier transactions of the connection that
	// have not been reported yet: the difference is the statement's.
	counter := func() int64 {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0)
			FROM pg_stat_xact_user_tables WHERE relname = 'categories'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := counter()
	if err := run(tx); err != nil {
		return 0, err
	}
	return counter() - before, nil
}

// An insert reads its parent's stored depth: as many rows at depth 3,000
// as at depth 1. (Migration 000002's trigger walked to the root: 2,000
// levels built row by row took 65 s.) A move walks up from its new parent
// once, and shifts the subtree it moves: rows read grow with the depth and
// the subtree's size, linearly.
func TestTreeWriteWork(t *testing.T) {
	db := testdb.New(t)
	s := queries.New(db.Pool)
	ctx := context.Background()
	if err := s.SetMaxTreeDepth(ctx, 5000); err != nil {
		t.Fatal(err)
	}
	ids := chain(t, db, 0, 3000)
	deepest := must(s.Node(ctx, queries.Categories, ids[2999]))
	if deepest.Depth != 2999 || len(deepest.Path) != 3000 || !slices.Equal(deepest.Path, ids) {
		t.Fatalf("deepest node: depth %d, path of %d ids", deepest.Depth, len(deepest.Path))
	}
	leaf := must(s.CreateNode(ctx, queries.Categories, queries.NewNode{Name: "leaf"}))
	pair := must(s.CreateNode(ctx, queries.Categories, queries.NewNode{Name: "pair"}))
	must(s.CreateNode(ctx, queries.Categories, queries.NewNode{Name: "pair child", ParentID: &pair.ID}))

	insert := `INSERT INTO categories (parent_id, name) VALUES ($1, 'new')`
	move := `UPDATE categories SET parent_id = $1 WHERE id = $2`
	read := func(sql string, args ...any) int64 {
		t.Helper()
		n, err := rowsRead(t, db, sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	t.Run("insert", func(t *testing.T) {
		shallow, deep := read(insert, ids[0]), read(insert, ids[2999])
		t.Logf("an insert at depth 1 reads %d rows, at depth 3,000 %d", shallow, deep)
		if shallow == 0 || deep != shallow {
			t.Errorf("an insert at depth 1 read %d rows, at depth 3,000 %d: want the same, more than 0", shallow, deep)
		}
	})
	t.Run("move a leaf", func(t *testing.T) {
		for _, depth := range []int{10, 1000, 3000} {
			n := read(move, ids[depth-1], leaf.ID)
			t.Logf("a move to depth %d reads %d rows", depth, n)
			if n < int64(depth) || n > int64(2*depth+20) {
				t.Errorf("a move to depth %d read %d rows, want %d to %d", depth, n, depth, 2*depth+20)
			}
		}
	})
	t.Run("move a subtree", func(t *testing.T) {
		// Moving ids[1000] (and the 1,999 rows below it) under pair's child
		// shifts them all: the walk up is short, the shift linear in the subtree.
		n := read(move, pair.ID+1, ids[1000])
		t.Logf("moving a subtree of 2,000 rows reads %d rows", n)
		if n < 1999 || n > 3*2000+20 {
			t.Errorf("moving a subtree of 2,000 rows read %d rows, want 1,999 to %d", n, 3*2000+20)
		}
	})
	t.Run("the moved subtree's depths", func(t *testing.T) {
		tx := must(db.Pool.Begin(ctx))
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, move, pair.ID+1, ids[1000]); err != nil {
			t.Fatal(err)
		}
		var wrong int
		if err := tx.QueryRow(ctx, depthCheckSQL).Scan(&wrong); err != nil {
			t.Fatal(err)
		}
		if wrong != 0 {
			t.Errorf("%d rows' stored depth is not their depth", wrong)
		}
	})
}

// depthCheckSQL counts the tree nodes whose stored depth differs from the
// depth found by walking down from the roots.
const depthCheckSQL = `
WITH RECURSIVE r(id, depth) AS (
    SELECT id, 0 FROM categories WHERE parent_id IS NULL
    UNION ALL
    SELECT c.id, r.depth + 1 FROM r CROSS JOIN LATERAL (SELECT id FROM categories c WHERE c.parent_id = r.id OFFSET 0) c
)
SELECT count(*) FROM categories c LEFT JOIN r USING (id) WHERE r.depth IS DISTINCT FROM c.depth`

// The maximum depth holds for every writer and both trees: an insert or a
// move that would put a node past it is a ValidationError on parent_id
// (SQLSTATE DP001 for plain SQL), whatever the path there.
func TestMaxTreeDepth(t *testing.T) {
	cases := []struct {
		name  string
		spec  queries.TreeSpec
		write func(f *forest) error
		ok    bool
	}{
		{"create at the maximum", queries.Categories, func(f *forest) error {
			_, err := f.s.CreateNode(context.Background(), queries.Categories, queries.NewNode{Name: "x", ParentID: new(f.id["c"])})
			return err
		}, true},
		{"create past the maximum", queries.Categories, func(f *forest) error {
			_, err := f.s.CreateNode(context.Background(), queries.Categories, queries.NewNode{Name: "x", ParentID: new(f.id["d"])})
			return err
		}, false},
		{"create a department past the maximum", queries.Departments, func(f *forest) error {
			_, err := f.s.CreateNode(context.Background(), queries.Departments, queries.NewNode{Name: "x", Code: "x", ParentID: new(f.id["d"])})
			return err
		}, false},
		{"move a leaf to the maximum", queries.Categories, func(f *forest) error {
			_, err := f.s.UpdateNode(context.Background(), queries.Categories, f.id["y"], queries.NodePatch{SetParent: true, ParentID: new(f.id["c"])})
			return err
		}, true},
		{"move a subtree past the maximum", queries.Categories, func(f *forest) error {
			_, err := f.s.UpdateNode(context.Background(), queries.Categories, f.id["p"], queries.NodePatch{SetParent: true, ParentID: new(f.id["c"])})
			return err
		}, false},
		{"move a department subtree past the maximum", queries.Departments, func(f *forest) error {
			_, err := f.s.UpdateNode(context.Background(), queries.Departments, f.id["p"], queries.NodePatch{SetParent: true, ParentID: new(f.id["c"])})
			return err
		}, false},
		{"a rename of a node past the maximum", queries.Categories, func(f *forest) error {
			if err := f.s.SetMaxTreeDepth(context.Background(), 2); err != nil {
				return err
			}
			_, err := f.s.UpdateNode(context.Background(), queries.Categories, f.id["d"], queries.NodePatch{Name: new("renamed")})
			return err
		}, true},
		{"plain SQL past the maximum, parents later in the statement", queries.Categories, func(f *forest) error {
			_, err := f.db.Pool.Exec(context.Background(), `INSERT INTO categories (id, parent_id, name) OVERRIDING SYSTEM VALUE
				VALUES (1001, 1000, 'deeper'), (1000, $1, 'deep')`, f.id["c"])
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "DP001" {
				return fmt.Errorf("%v, want SQLSTATE DP001", err)
			}
			return &queries.ValidationError{Errors: []queries.FieldError{{Field: "parent_id"}}}
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newForest(t)
			if err := f.s.SetMaxTreeDepth(context.Background(), 3); err != nil {
				t.Fatal(err)
			}
			// a b c d: depths 0 to 3; y a root; p a root with a child q.
			for _, n := range [][2]string{{"a", ""}, {"b", "a"}, {"c", "b"}, {"d", "c"}, {"y", ""}, {"p", ""}, {"q", "p"}} {
				f.add(c.spec, n[0], n[1])
			}
			err := c.write(f)
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *queries.ValidationError
			if !errors.As(err, &ve) || ve.Errors[0].Field != "parent_id" {
				t.Fatalf("err = %v, want a ValidationError on parent_id", err)
			}
		})
	}
	t.Run("a negative maximum", func(t *testing.T) {
		f := newForest(t)
		wantErr(t, f.s.SetMaxTreeDepth(context.Background(), -1), nil, "max_depth")
		if d := must(f.s.MaxTreeDepth(context.Background())); d != 1000 {
			t.Errorf("max depth %d, want the default 1000", d)
		}
	})
}

// Rows inserted before their parent in one statement get their depth once
// the statement is done.
func TestTreeDepthOutOfOrder(t *testing.T) {
	f := newForest(t)
	f.add(queries.Categories, "top", "")
	f.exec(`INSERT INTO categories (id, parent_id, name) OVERRIDING SYSTEM VALUE
		VALUES (102, 101, 'c'), (101, 100, 'b'), (100, $1, 'a')`, f.id["top"])
	var wrong int
	if err := f.db.Pool.QueryRow(context.Background(), depthCheckSQL).Scan(&wrong); err != nil {
		t.Fatal(err)
	}
	if wrong != 0 {
		t.Errorf("%d rows' stored depth is not their depth", wrong)
	}
	var depth int
	if err := f.db.Pool.QueryRow(context.Background(), `SELECT depth FROM categories WHERE id = 102`).Scan(&depth); err != nil || depth != 3 {
		t.Errorf("depth of c: %d, %v; want 3", depth, err)
	}
}

// Search, Ancestors and a subtree below deep nodes: every row once, with
// its whole path, however deep.
func TestDeepReads(t *testing.T) {
	db := testdb.New(t)
	s := queries.New(db.Pool)
	ctx := context.Background()
	const n = 1200
	if err := s.SetMaxTreeDepth(ctx, n); err != nil {
		t.Fatal(err)
	}
	ids := chain(t, db, 0, n)
	needles := []int{399, 799, 1199}
	for _, i := range needles {
		if _, err := db.Pool.Exec(ctx, `UPDATE categories SET name = $1 WHERE id = $2`, fmt.Sprintf("needle %d", i), ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, nodes []tree.Row, want int) {
		t.Helper()
		if len(nodes) != want {
			t.Fatalf("%d rows, want %d", len(nodes), want)
		}
		seen := map[int64]bool{}
		for _, node := range nodes {
			i := slices.Index(ids, node.ID)
			if i < 0 || seen[node.ID] {
				t.Fatalf("row %d: not in the chain, or twice", node.ID)
			}
			seen[node.ID] = true
			if node.Depth != i || !slices.Equal(node.Path, ids[:i+1]) {
				t.Fatalf("row %d at level %d: depth %d, path of %d ids", node.ID, i, node.Depth, len(node.Path))
			}
		}
	}
	t.Run("search", func(t *testing.T) {
		nodes, truncated, _, err := searchRows(s.Search(ctx, queries.Categories, "needle", 10))
		if err != nil || truncated {
			t.Fatalf("truncated %v, %v", truncated, err)
		}
		check(t, nodes, n)
		var matches []int
		for _, node := range nodes {
			if node.Match {
				matches = append(matches, node.Depth)
			}
		}
		slices.Sort(matches)
		if !slices.Equal(matches, needles) {
			t.Errorf("matches at depths %v, want %v", matches, needles)
		}
	})
	t.Run("ancestors", func(t *testing.T) {
		check(t, must(s.Ancestors(ctx, queries.Categories, ids[n-1])), n)
	})
	// Reads cost the rows they return (and, for a subtree, its root's
	// ancestors, whose path it carries): the 10,000 other nodes are never read.
	seed := `INSERT INTO categories (parent_id, name) SELECT NULL, 'other ' || g FROM generate_series(1, 10000) g`
	if _, err := db.Pool.Exec(ctx, seed); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `ANALYZE categories`); err != nil {
		t.Fatal(err)
	}
	// Finding the matches is the trigram index's or a scan's, as the planner
	// likes: a search's walk is what it reads beyond a search for a name
	// that matches nothing.
	nothing, err := rowsReadBy(t, db, func(tx pgx.Tx) error {
		_, _, _, err := queries.New(tx).Search(ctx, queries.Categories, "needlf", 10)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	work := []struct {
		name string
		rows int64 // rows returned, and ancestors walked
		read func(s *queries.Store) error
		base int64
	}{
		{name: "node at depth 1,199", rows: n, read: func(s *queries.Store) error {
			_, err := s.Node(ctx, queries.Categories, ids[n-1])
			return err
		}},
		{name: "search", rows: n, base: nothing, read: func(s *queries.Store) error {
			_, _, _, err := s.Search(ctx, queries.Categories, "needle", 10)
			return err
		}},
		{name: "subtree of 10 at depth 1,190", rows: n, read: func(s *queries.Store) error {
			_, err := s.Tree(ctx, queries.Categories, queries.TreeQuery{Root: &ids[n-10]})
			return err
		}},
		{name: "two levels below depth 1,000", rows: 1003, read: func(s *queries.Store) error {
			_, err := s.Tree(ctx, queries.Categories, queries.TreeQuery{Root: &ids[1000], Depth: new(2)})
			return err
		}},
	}
	for _, w := range work {
		t.Run("work of "+w.name, func(t *testing.T) {
			read, err := rowsReadBy(t, db, func(tx pgx.Tx) error { return w.read(queries.New(tx)) })
			if err != nil {
				t.Fatal(err)
			}
			read -= w.base
			t.Logf("%s: %d rows read", w.name, read)
			if read > 3*w.rows+20 {
				t.Errorf("read %d rows, want at most %d", read, 3*w.rows+20)
			}
		})
	}
	t.Run("subtree", func(t *testing.T) {
		nodes := must(rowsOf(s.Tree(ctx, queries.Categories, queries.TreeQuery{Root: &ids[1000]})))
		for i := range nodes {
			nodes[i].Path = nodes[i].Path[:len(nodes[i].Path):len(nodes[i].Path)]
		}
		if len(nodes) != n-1000 {
			t.Fatalf("%d rows, want %d", len(nodes), n-1000)
		}
		for _, node := range nodes {
			i := slices.Index(ids, node.ID)
			if i < 1000 || node.Depth != i || !slices.Equal(node.Path, ids[:i+1]) {
				t.Fatalf("row %d at level %d: depth %d, path of %d ids", node.ID, i, node.Depth, len(node.Path))
			}
		}
	})
}
