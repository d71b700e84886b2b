package queries_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"canopy/internal/testdb"
	"canopy/queries"
	"canopy/tree"
)

// forest is a test database with named tree nodes and wards; every name is
// unique, so results can be compared by name.
type forest struct {
	t     *testing.T
	db    *testdb.DB
	s     *queries.Store
	id    map[string]int64
	names map[key]string
}

type key struct {
	kind string
	id   int64
}

func newForest(t *testing.T) *forest {
	t.Helper()
	db := testdb.New(t)
	return &forest{t: t, db: db, s: queries.New(db.Pool), id: map[string]int64{}, names: map[key]string{}}
}

// add creates a node of spec under the node named parent ("" for a root),
// after its last sibling; a department's code is its name.
func (f *forest) add(spec queries.TreeSpec, name, parent string) {
	f.t.Helper()
	f.addAt(spec, name, parent, nil)
}

func (f *forest) addAt(spec queries.TreeSpec, name, parent string, position *int32) {
	f.t.Helper()
	n := queries.NewNode{Name: name, Position: position}
	if parent != "" {
		n.ParentID = new(f.id[parent])
	}
	if spec == queries.Departments {
		n.Code = name
	}
	node, err := f.s.CreateNode(context.Background(), spec, n)
	if err != nil {
		f.t.Fatalf("create %s: %v", name, err)
	}
	f.id[name], f.names[key{node.Kind, node.ID}] = node.ID, name
}

func (f *forest) ward(name, department string, beds int) {
	f.t.Helper()
	w, err := f.s.CreateWard(context.Background(), queries.NewWard{DepartmentID: f.id[department], Name: name, Beds: beds})
	if err != nil {
		f.t.Fatalf("create ward %s: %v", name, err)
	}
	f.id[name], f.names[key{"ward", w.ID}] = w.ID, name
}

func (f *forest) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.db.Pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

// rowsOf is every row of a forest read, in the order read, as the old
// flat reads returned them, so that a left-out row still shows.
func rowsOf(f queries.Forest, err error) ([]tree.Row, error) {
	rows := make([]tree.Row, len(f.Nodes))
	for i := range f.Nodes {
		rows[i] = f.Nodes[i].Item
	}
	return rows, err
}

// searchRows is rowsOf for Search.
func searchRows(f queries.Forest, truncated bool, version int64, err error) ([]tree.Row, bool, int64, error) {
	rows, err := rowsOf(f, err)
	return rows, truncated, version, err
}

// build assembles rows into a forest, failing the test if a row is left out
// (an orphan or a repeat) or carries an inconsistent depth or path.
func (f *forest) build(nodes []tree.Row) []*tree.Node[tree.Row] {
	f.t.Helper()
	for _, n := range nodes {
		last := len(n.Path) - 1
		if last < 0 || n.Path[last] != n.ID || n.Depth != last ||
			(n.ParentID == nil) != (last == 0) || (last > 0 && n.Path[last-1] != *n.ParentID) {
			f.t.Errorf("%s %d: depth %d, parent %v, path %v", n.Kind, n.ID, n.Depth, n.ParentID, n.Path)
		}
	}
	roots := tree.Build(nodes, tree.ByPositionNameID[tree.Row])
	if c := tree.Count(roots); c != len(nodes) {
		f.t.Errorf("%d rows assemble into %d nodes", len(nodes), c)
	}
	return roots
}

// lines renders rows depth first in sibling order, one line per node:
// name, path by names, child count, and beds/occupied for wards, "match"
// for search matches; indented by depth in the result.
func (f *forest) lines(nodes []tree.Row) []string {
	f.t.Helper()
	var out []string
	tree.Walk(f.build(nodes), func(n *tree.Node[tree.Row], depth int) bool {
		it := n.Item
		path := make([]string, len(it.Path))
		for i, id := range it.Path {
			kind := it.Kind
			if kind == "ward" && i < len(it.Path)-1 {
				kind = "department"
			}
			path[i] = f.names[key{kind, id}]
		}
		line := fmt.Sprintf("%s%s %s %d", strings.Repeat(". ", depth), f.names[key{it.Kind, it.ID}], strings.Join(path, "/"), it.ChildCount)
		if it.Kind == "ward" {
			line += fmt.Sprintf(" beds=%d occupied=%d", *it.Beds, *it.Occupied)
		}
		if it.Match {
			line += " match"
		}
		out = append(out, line)
		return true
	})
	return out
}

// outline renders the whole tree of spec as "a(b c(d)) e", siblings in order.
func (f *forest) outline(spec queries.TreeSpec) string {
	f.t.Helper()
	nodes, err := rowsOf(f.s.Tree(context.Background(), spec, queries.TreeQuery{}))
	if err != nil {
		f.t.Fatal(err)
	}
	var render func([]*tree.Node[tree.Row]) string
	render = func(ns []*tree.Node[tree.Row]) string {
		parts := make([]string, len(ns))
		for i, n := range ns {
			parts[i] = f.names[key{n.Item.Kind, n.Item.ID}]
			if len(n.Children) > 0 {
				parts[i] += "(" + render(n.Children) + ")"
			}
		}
		return strings.Join(parts, " ")
	}
	return render(f.build(nodes))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func equalLines(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func wantErr(t *testing.T, err, want error, field string) {
	t.Helper()
	var ve *queries.ValidationError
	switch {
	case field != "":
		if !errors.As(err, &ve) || ve.Errors[0].Field != field {
			t.Fatalf("err = %v, want a ValidationError on %s", err, field)
		}
	case !errors.Is(err, want):
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func TestTree(t *testing.T) {
	f := newForest(t)
	f.add(queries.Categories, "a", "")
	f.add(queries.Categories, "a1", "a")
	f.add(queries.Categories, "a2", "a")
	f.add(queries.Categories, "a2x", "a2")
	f.add(queries.Categories, "b", "")
	f.add(queries.Categories, "b1", "b")
	// Siblings order by position, then name, then id: c3 has the lowest
	// position, c1 and c2 tie and are ordered by name.
	f.add(queries.Categories, "c", "")
	f.addAt(queries.Categories, "c2", "c", new(int32(5)))
	f.addAt(queries.Categories, "c1", "c", new(int32(5)))
	f.addAt(queries.Categories, "c3", "c", new(int32(1)))

	cases := []struct {
		name  string
		query queries.TreeQuery
		want  []string
		err   error
		field string
	}{
		{name: "whole forest", want: []string{
			"a a 2", ". a1 a/a1 0", ". a2 a/a2 1", ". . a2x a/a2/a2x 0",
			"b b 1", ". b1 b/b1 0",
			"c c 3", ". c3 c/c3 0", ". c1 c/c1 0", ". c2 c/c2 0"}},
		{name: "subtree keeps real depth and path", query: queries.TreeQuery{Root: new(f.id["a2"])},
			want: []string{"a2 a/a2 1", ". a2x a/a2/a2x 0"}},
		{name: "depth 0 is the root alone, with its child count", query: queries.TreeQuery{Root: new(f.id["a"]), Depth: new(0)},
			want: []string{"a a 2"}},
		{name: "depth counts levels below the root", query: queries.TreeQuery{Root: new(f.id["a"]), Depth: new(1)},
			want: []string{"a a 2", ". a1 a/a1 0", ". a2 a/a2 1"}},
		{name: "depth limits the whole forest", query: queries.TreeQuery{Depth: new(0)},
			want: []string{"a a 2", "b b 1", "c c 3"}},
		{name: "a leaf as root", query: queries.TreeQuery{Root: new(f.id["b1"])}, want: []string{"b1 b/b1 0"}},
		{name: "unknown root", query: queries.TreeQuery{Root: new(int64(1 << 40))}, err: queries.ErrNotFound},
		{name: "negative depth", query: queries.TreeQuery{Depth: new(-1)}, field: "depth"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodes, err := rowsOf(f.s.Tree(context.Background(), queries.Categories, c.query))
			if c.err != nil || c.field != "" {
				wantErr(t, err, c.err, c.field)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			equalLines(t, f.lines(nodes), c.want)
		})
	}
}

// departments builds hospital / surgery / cardiac with wards, and patients
// in ward icu: two current, one discharged, one dead, one never admitted.
func departments(t *testing.T) *forest {
	f := newForest(t)
	f.add(queries.Departments, "hospital", "")
	f.add(queries.Departments, "surgery", "hospital")
	f.add(queries.Departments, "cardiac", "surgery")
	f.add(queries.Departments, "clinic", "")
	f.ward("icu", "surgery", 10)
	f.ward("recovery", "surgery", 4)
	f.ward("cardiac ward", "cardiac", 6)
	f.ward("lobby", "hospital", 0)
	f.exec(`INSERT INTO patients (uid, ward_id, admitted_at, discharged_at, died_at) VALUES
		('p1', $1, now(), NULL, NULL), ('p2', $1, now(), NULL, NULL),
		('p3', $1, now(), now(), NULL), ('p4', $1, now(), NULL, now()),
		('p5', $1, NULL, NULL, NULL), ('p6', $2, now(), NULL, NULL)`, f.id["icu"], f.id["cardiac ward"])
	return f
}

func TestDepartmentTree(t *testing.T) {
	f := departments(t)
	cases := []struct {
		name  string
		query queries.TreeQuery
		want  []string
	}{
		{name: "wards are leaves with occupancy", want: []string{
			"hospital hospital 2",
			". lobby hospital/lobby 0 beds=0 occupied=0",
			". surgery hospital/surgery 3",
			". . cardiac hospital/surgery/cardiac 1",
			". . . cardiac ward hospital/surgery/cardiac/cardiac ward 0 beds=6 occupied=1",
			". . icu hospital/surgery/icu 0 beds=10 occupied=2",
			". . recovery hospital/surgery/recovery 0 beds=4 occupied=0",
			"clinic clinic 0"}},
		{name: "depth 0 shows no wards", query: queries.TreeQuery{Root: new(f.id["surgery"]), Depth: new(0)},
			want: []string{"surgery hospital/surgery 3"}},
		{name: "wards are one level below their department", query: queries.TreeQuery{Root: new(f.id["surgery"]), Depth: new(1)},
			want: []string{
				"surgery hospital/surgery 3",
				". cardiac hospital/surgery/cardiac 1",
				". icu hospital/surgery/icu 0 beds=10 occupied=2",
				". recovery hospital/surgery/recovery 0 beds=4 occupied=0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodes, err := rowsOf(f.s.Tree(context.Background(), queries.Departments, c.query))
			if err != nil {
				t.Fatal(err)
			}
			equalLines(t, f.lines(nodes), c.want)
		})
	}
}

// A loop written by hand, with the triggers off, must not hang a read or
// make it repeat a node.
func TestHandMadeCycle(t *testing.T) {
	f := newForest(t)
	f.add(queries.Categories, "root", "")
	f.add(queries.Categories, "loop a", "")
	f.add(queries.Categories, "loop b", "loop a")
	f.add(queries.Categories, "loop c", "loop b")
	f.exec(`ALTER TABLE categories DISABLE TRIGGER ALL`)
	f.exec(`UPDATE categories SET parent_id = $1 WHERE id = $2`, f.id["loop b"], f.id["loop a"])
	f.exec(`ALTER TABLE categories ENABLE TRIGGER ALL`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	names := func(nodes []tree.Row) []string {
		var out []string
		for _, n := range nodes {
			out = append(out, f.names[key{n.Kind, n.ID}])
		}
		slices.Sort(out)
		return out
	}
	cases := []struct {
		name string
		read func() ([]tree.Row, error)
		want []string
	}{
		{"forest leaves the loop out", func() ([]tree.Row, error) {
			return rowsOf(f.s.Tree(ctx, queries.Categories, queries.TreeQuery{}))
		}, []string{"root"}},
		// Walking up from loop b finds loop a as its ancestor, so the walk
		// down does not take it again.
		{"subtree in the loop", func() ([]tree.Row, error) {
			return rowsOf(f.s.Tree(ctx, queries.Categories, queries.TreeQuery{Root: new(f.id["loop b"])}))
		}, []string{"loop b", "loop c"}},
		{"search", func() ([]tree.Row, error) {
			nodes, _, _, err := searchRows(f.s.Search(ctx, queries.Categories, "loop", 10))
			return nodes, err
		}, []string{"loop a", "loop b", "loop c"}},
		{"node", func() ([]tree.Row, error) {
			n, err := f.s.Node(ctx, queries.Categories, f.id["loop c"])
			return []tree.Row{n}, err
		}, []string{"loop c"}},
		{"ancestors", func() ([]tree.Row, error) {
			return f.s.Ancestors(ctx, queries.Categories, f.id["loop c"])
		}, []string{"loop a", "loop b", "loop c"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodes, err := c.read()
			if err != nil {
				t.Fatal(err)
			}
			if got := names(nodes); !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	t.Run("the trigger walk stops too", func(t *testing.T) {
		_, err := f.s.UpdateNode(ctx, queries.Categories, f.id["root"], queries.NodePatch{SetParent: true, ParentID: new(f.id["loop c"])})
		if err != nil {
			t.Fatal(err)
		}
	})
	// root now hangs under loop c: deleting loop b with its subtree takes the
	// loop and root, each once.
	t.Run("cascade delete in the loop", func(t *testing.T) {
		deleted, err := f.s.DeleteNode(ctx, queries.Categories, f.id["loop b"], true)
		if err != nil || deleted != 4 {
			t.Fatalf("deleted %d, %v; want 4", deleted, err)
		}
	})
}

func TestSearch(t *testing.T) {
	f := newForest(t)
	for _, n := range [][2]string{{"fruit", ""}, {"Apple pie", "fruit"}, {"apple tart", "fruit"},
		{"50% off", "fruit"}, {"500 off", "50% off"}, {"a_b", ""}, {"axb", ""}, {`back\slash`, ""}, {"backslash", ""}} {
		f.add(queries.Categories, n[0], n[1])
	}
	d := departments(t)
	cases := []struct {
		name      string
		f         *forest
		spec      queries.TreeSpec
		q         string
		limit     int
		want      []string
		truncated bool
		field     string
	}{
		{name: "ignores case", f: f, spec: queries.Categories, q: "APPLE", limit: 10, want: []string{
			"fruit fruit 3", ". Apple pie fruit/Apple pie 0 match", ". apple tart fruit/apple tart 0 match"}},
		{name: "percent is literal", f: f, spec: queries.Categories, q: "50%", limit: 10, want: []string{
			"fruit fruit 3", ". 50% off fruit/50% off 1 match"}},
		{name: "underscore is literal", f: f, spec: queries.Categories, q: "a_b", limit: 10, want: []string{"a_b a_b 0 match"}},
		{name: "backslash is literal", f: f, spec: queries.Categories, q: `k\s`, limit: 10, want: []string{`back\slash back\slash 0 match`}},
		{name: "a match below a match", f: f, spec: queries.Categories, q: "off", limit: 10, want: []string{
			"fruit fruit 3", ". 50% off fruit/50% off 1 match", ". . 500 off fruit/50% off/500 off 0 match"}},
		{name: "limit keeps the first matches by name", f: f, spec: queries.Categories, q: "a", limit: 2, truncated: true, want: []string{
			"fruit fruit 3", ". Apple pie fruit/Apple pie 0 match", "a_b a_b 0 match"}},
		{name: "no more than the limit", f: f, spec: queries.Categories, q: "tart", limit: 1, want: []string{
			"fruit fruit 3", ". apple tart fruit/apple tart 0 match"}},
		{name: "nothing", f: f, spec: queries.Categories, q: "kiwi", limit: 10, want: nil},
		{name: "wards with their department path", f: d, spec: queries.Departments, q: "CARDIAC", limit: 10, want: []string{
			"hospital hospital 2",
			". surgery hospital/surgery 3",
			". . cardiac hospital/surgery/cardiac 1 match",
			". . . cardiac ward hospital/surgery/cardiac/cardiac ward 0 beds=6 occupied=1 match"}},
		{name: "a ward alone", f: d, spec: queries.Departments, q: "icu", limit: 10, want: []string{
			"hospital hospital 2", ". surgery hospital/surgery 3", ". . icu hospital/surgery/icu 0 beds=10 occupied=2 match"}},
		{name: "limit below 1", f: f, spec: queries.Categories, q: "a", limit: 0, field: "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodes, truncated, version, err := searchRows(c.f.s.Search(context.Background(), c.spec, c.q, c.limit))
			if c.field != "" {
				wantErr(t, err, nil, c.field)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			equalLines(t, c.f.lines(nodes), c.want)
			if truncated != c.truncated {
				t.Errorf("truncated = %v, want %v", truncated, c.truncated)
			}
			if v := must(c.f.s.TreeVersion(context.Background(), c.spec)); version != v {
				t.Errorf("version %d, want %d", version, v)
			}
		})
	}
}

func TestCreateNode(t *testing.T) {
	f := newForest(t)
	f.add(queries.Categories, "a", "")
	f.add(queries.Categories, "a1", "a")
	f.add(queries.Departments, "d", "")
	cases := []struct {
		name     string
		spec     queries.TreeSpec
		node     queries.NewNode
		position int32
		err      error
		field    string
	}{
		{name: "appended after the last sibling", spec: queries.Categories, node: queries.NewNode{Name: "a2", ParentID: new(f.id["a"])}, position: 1},
		{name: "appended after the last root", spec: queries.Categories, node: queries.NewNode{Name: "b"}, position: 1},
		{name: "first child", spec: queries.Categories, node: queries.NewNode{Name: "a1x", ParentID: new(f.id["a1"])}, position: 0},
		{name: "explicit position", spec: queries.Categories, node: queries.NewNode{Name: "c", Position: new(int32(-3))}, position: -3},
		{name: "unknown parent", spec: queries.Categories, node: queries.NewNode{Name: "x", ParentID: new(int64(1 << 40))}, field: "parent_id"},
		{name: "empty name", spec: queries.Categories, node: queries.NewNode{Name: ""}, field: "name"},
		{name: "code outside departments", spec: queries.Categories, node: queries.NewNode{Name: "x", Code: "X"}, field: "code"},
		{name: "department code", spec: queries.Departments, node: queries.NewNode{Name: "e", Code: "E"}, position: 1},
		{name: "duplicate department code", spec: queries.Departments, node: queries.NewNode{Name: "e2", Code: "d"}, err: queries.ErrConflict},
		{name: "missing department code", spec: queries.Departments, node: queries.NewNode{Name: "e3"}, field: "code"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := f.s.CreateNode(context.Background(), c.spec, c.node)
			if c.err != nil || c.field != "" {
				wantErr(t, err, c.err, c.field)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Name != c.node.Name || n.Position != c.position || n.Code != c.node.Code || n.ChildCount != 0 {
				t.Errorf("created %+v, want position %d", n, c.position)
			}
		})
	}
}

func TestUpdateNode(t *testing.T) {
	cases := []struct {
		name    string
		node    string
		patch   func(f *forest) queries.NodePatch
		outline string
		depth   int
		err     error
		field   string
	}{
		{name: "rename", node: "a1", patch: func(*forest) queries.NodePatch { return queries.NodePatch{Name: new("a0")} },
			outline: "a(a0(a1x) a2) b", depth: 1},
		{name: "reorder", node: "a2", patch: func(*forest) queries.NodePatch { return queries.NodePatch{Position: new(int32(-1))} },
			outline: "a(a2 a1(a1x)) b", depth: 1},
		{name: "move to the roots", node: "a1", patch: func(*forest) queries.NodePatch { return queries.NodePatch{SetParent: true} },
			outline: "a(a2) a1(a1x) b", depth: 0},
		{name: "move under another branch", node: "a1",
			patch:   func(f *forest) queries.NodePatch { return queries.NodePatch{SetParent: true, ParentID: new(f.id["b"])} },
			outline: "a(a2) b(a1(a1x))", depth: 1},
		{name: "nothing to change", node: "a1x", patch: func(*forest) queries.NodePatch { return queries.NodePatch{} },
			outline: "a(a1(a1x) a2) b", depth: 2},
		{name: "under itself", node: "a",
			patch: func(f *forest) queries.NodePatch { return queries.NodePatch{SetParent: true, ParentID: new(f.id["a"])} },
			err:   queries.ErrCycle},
		{name: "under a descendant", node: "a",
			patch: func(f *forest) queries.NodePatch {
				return queries.NodePatch{SetParent: true, ParentID: new(f.id["a1x"])}
			},
			err: queries.ErrCycle},
		{name: "unknown parent", node: "a1",
			patch: func(*forest) queries.NodePatch {
				return queries.NodePatch{SetParent: true, ParentID: new(int64(1 << 40))}
			},
			field: "parent_id"},
		{name: "unknown id", node: "nothing", patch: func(*forest) queries.NodePatch { return queries.NodePatch{Name: new("x")} },
			err: queries.ErrNotFound},
		{name: "empty name", node: "a1", patch: func(*forest) queries.NodePatch { return queries.NodePatch{Name: new("")} },
			field: "name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newForest(t)
			f.add(queries.Categories, "a", "")
			f.add(queries.Categories, "a1", "a")
			f.add(queries.Categories, "a1x", "a1")
			f.add(queries.Categories, "a2", "a")
			f.add(queries.Categories, "b", "")
			id, ok := f.id[c.node]
			if !ok {
				id = 1 << 40
			}
			n, err := f.s.UpdateNode(context.Background(), queries.Categories, id, c.patch(f))
			switch {
			case c.err != nil || c.field != "":
				wantErr(t, err, c.err, c.field)
				c.outline = "a(a1(a1x) a2) b" // unchanged
			case err != nil:
				t.Fatal(err)
			case n.ID != id || n.Depth != c.depth:
				t.Errorf("updated %+v, want depth %d", n, c.depth)
			default:
				f.names[key{"category", id}] = n.Name
			}
			if got := f.outline(queries.Categories); got != c.outline {
				t.Errorf("tree %s, want %s", got, c.outline)
			}
		})
	}
}

// Concurrent random moves, each refused or not by the cycle trigger, must
// leave every node reachable from exactly one root.
func TestConcurrentMoves(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	const nodes, workers, moves = 200, 8, 100
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO categories (id, parent_id, name) OVERRIDING SYSTEM VALUE
		SELECT g, CASE WHEN g = 1 OR random() < 0.1 THEN NULL ELSE 1 + floor(random() * (g - 1))::bigint END, 'n' || g
		FROM generate_series(1, $1::int) g`, nodes); err != nil {
		t.Fatal(err)
	}
	s := queries.New(db.Pool)
	var wg sync.WaitGroup
	var refused atomic.Int64
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for range moves {
				p := queries.NodePatch{SetParent: true}
				if r.IntN(10) > 0 {
					p.ParentID = new(1 + r.Int64N(nodes))
				}
				_, err := s.UpdateNode(ctx, queries.Categories, 1+r.Int64N(nodes), p)
				switch {
				case errors.Is(err, queries.ErrCycle):
					refused.Add(1)
				case err != nil:
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var reachable, distinct, total int
	if err := db.Pool.QueryRow(ctx, `
		WITH RECURSIVE r(id) AS (
			SELECT id FROM categories WHERE parent_id IS NULL
			UNION ALL
			SELECT c.id FROM r JOIN categories c ON c.parent_id = r.id
		)
		SELECT (SELECT count(*) FROM r), (SELECT count(DISTINCT id) FROM r), (SELECT count(*) FROM categories)`,
	).Scan(&reachable, &distinct, &total); err != nil {
		t.Fatal(err)
	}
	if reachable != total || distinct != total {
		t.Errorf("%d of %d nodes reachable from a root (%d distinct)", reachable, total, distinct)
	}
	if refused.Load() == 0 {
		t.Error("no move was refused: the cycle guard was not exercised")
	}
	var wrong int
	if err := db.Pool.QueryRow(ctx, depthCheckSQL).Scan(&wrong); err != nil || wrong != 0 {
		t.Errorf("%d nodes' stored depth is not their depth (%v)", wrong, err)
	}
}

// Two moves that each are fine alone but together close a loop: a under b
// in one transaction, b under a in another that starts before the first
// commits. The second must wait and then be refused.
func TestCrossingMoves(t *testing.T) {
	f := newForest(t)
	f.add(queries.Categories, "a", "")
	f.add(queries.Categories, "b", "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tx, err := f.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := queries.New(tx).UpdateNode(ctx, queries.Categories, f.id["a"], queries.NodePatch{SetParent: true, ParentID: new(f.id["b"])}); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() {
		_, err := f.s.UpdateNode(ctx, queries.Categories, f.id["b"], queries.NodePatch{SetParent: true, ParentID: new(f.id["a"])})
		second <- err
	}()
	for waiting := 0; waiting == 0; {
		if err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-second; !errors.Is(err, queries.ErrCycle) {
		t.Fatalf("second move: %v, want ErrCycle", err)
	}
}

// The cycle guard holds for any writer: here plain SQL on nodes 1, 2 (a
// child of 1) and 3.
func TestCycleTrigger(t *testing.T) {
	cases := []struct {
		name      string
		sql       string
		isolation pgx.TxIsoLevel
		code      string // SQLSTATE, "" for success
	}{
		{name: "own parent on insert", sql: `INSERT INTO categories (id, parent_id, name) OVERRIDING SYSTEM VALUE VALUES (100, 100, 'x')`, code: "CY001"},
		{name: "a loop in one insert", sql: `INSERT INTO categories (id, parent_id, name) OVERRIDING SYSTEM VALUE VALUES (100, 101, 'x'), (101, 100, 'y')`, code: "CY001"},
		{name: "a tree in one insert", sql: `INSERT INTO categories (id, parent_id, name) OVERRIDING SYSTEM VALUE VALUES (100, 101, 'x'), (101, 1, 'y')`},
		{name: "own parent on update", sql: `UPDATE categories SET parent_id = 2 WHERE id = 2`, code: "CY001"},
		{name: "a loop in one update", sql: `UPDATE categories SET parent_id = CASE id WHEN 1 THEN 3 ELSE 1 END WHERE id IN (1, 3)`, code: "CY001"},
		{name: "a move", sql: `UPDATE categories SET parent_id = 3 WHERE id = 2`},
		{name: "a move at REPEATABLE READ", sql: `UPDATE categories SET parent_id = 3 WHERE id = 2`, isolation: pgx.RepeatableRead, code: "0A000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newForest(t)
			f.add(queries.Categories, "1", "")
			f.add(queries.Categories, "2", "1")
			f.add(queries.Categories, "3", "")
			if f.id["1"] != 1 || f.id["3"] != 3 {
				t.Fatalf("ids %v, want 1, 2, 3", f.id)
			}
			err := pgx.BeginTxFunc(context.Background(), f.db.Pool, pgx.TxOptions{IsoLevel: c.isolation}, func(tx pgx.Tx) error {
				_, err := tx.Exec(context.Background(), c.sql)
				return err
			})
			var pgErr *pgconn.PgError
			code := ""
			if errors.As(err, &pgErr) {
				code = pgErr.Code
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.code {
				t.Fatalf("SQLSTATE %q (%v), want %q", code, err, c.code)
			}
		})
	}
}

func TestDeleteNode(t *testing.T) {
	cases := []struct {
		name    string
		spec    queries.TreeSpec
		node    string
		cascade bool
		deleted int
		err     error
		outline string
	}{
		{name: "a leaf", spec: queries.Categories, node: "b", deleted: 1, outline: "a(a1(a1x) a2)"},
		{name: "with children", spec: queries.Categories, node: "a1", err: queries.ErrHasChildren, outline: "a(a1(a1x) a2) b"},
		{name: "cascade", spec: queries.Categories, node: "a", cascade: true, deleted: 4, outline: "b"},
		{name: "cascade of a leaf", spec: queries.Categories, node: "a1x", cascade: true, deleted: 1, outline: "a(a1 a2) b"},
		{name: "unknown", spec: queries.Categories, node: "nothing", err: queries.ErrNotFound, outline: "a(a1(a1x) a2) b"},
		{name: "unknown, cascade", spec: queries.Categories, node: "nothing", cascade: true, err: queries.ErrNotFound, outline: "a(a1(a1x) a2) b"},
		{name: "department with wards", spec: queries.Departments, node: "cardiac", err: queries.ErrHasChildren,
			outline: "hospital(lobby surgery(cardiac(cardiac ward) icu recovery)) clinic"},
		{name: "department cascade takes its wards", spec: queries.Departments, node: "surgery", cascade: true, deleted: 5,
			outline: "hospital(lobby) clinic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f *forest
			if c.spec == queries.Departments {
				f = departments(t)
			} else {
				f = newForest(t)
				f.add(queries.Categories, "a", "")
				f.add(queries.Categories, "a1", "a")
				f.add(queries.Categories, "a1x", "a1")
				f.add(queries.Categories, "a2", "a")
				f.add(queries.Categories, "b", "")
			}
			id, ok := f.id[c.node]
			if !ok {
				id = 1 << 40
			}
			deleted, err := f.s.DeleteNode(context.Background(), c.spec, id, c.cascade)
			if c.err != nil {
				wantErr(t, err, c.err, "")
			} else if err != nil {
				t.Fatal(err)
			}
			if deleted != c.deleted {
				t.Errorf("deleted %d, want %d", deleted, c.deleted)
			}
			if got := f.outline(c.spec); got != c.outline {
				t.Errorf("tree %s, want %s", got, c.outline)
			}
		})
	}
	t.Run("patients of deleted wards stay", func(t *testing.T) {
		f := departments(t)
		if _, err := f.s.DeleteNode(context.Background(), queries.Departments, f.id["hospital"], true); err != nil {
			t.Fatal(err)
		}
		var patients, placed int
		if err := f.db.Pool.QueryRow(context.Background(), `SELECT count(*), count(ward_id) FROM patients`).Scan(&patients, &placed); err != nil {
			t.Fatal(err)
		}
		if patients != 6 || placed != 0 {
			t.Errorf("%d patients, %d with a ward; want 6, 0", patients, placed)
		}
	})
}

func TestWards(t *testing.T) {
	f := departments(t)
	ctx := context.Background()
	icu := f.id["icu"]
	cases := []struct {
		name  string
		run   func() (queries.Ward, error)
		check func(w queries.Ward) bool
		err   error
		field string
	}{
		{name: "read with occupancy", run: func() (queries.Ward, error) { return f.s.Ward(ctx, icu) },
			check: func(w queries.Ward) bool { return w.Name == "icu" && w.Beds == 10 && w.Occupied == 2 }},
		{name: "create", run: func() (queries.Ward, error) {
			return f.s.CreateWard(ctx, queries.NewWard{DepartmentID: f.id["clinic"], Name: "day care", Beds: 3})
		}, check: func(w queries.Ward) bool { return w.DepartmentID == f.id["clinic"] && w.Beds == 3 && w.Occupied == 0 }},
		{name: "create, unknown department", run: func() (queries.Ward, error) {
			return f.s.CreateWard(ctx, queries.NewWard{DepartmentID: 1 << 40, Name: "x", Beds: 1})
		}, field: "department_id"},
		{name: "create, negative beds", run: func() (queries.Ward, error) {
			return f.s.CreateWard(ctx, queries.NewWard{DepartmentID: f.id["clinic"], Name: "x", Beds: -1})
		}, field: "beds"},
		{name: "create, name taken in the department", run: func() (queries.Ward, error) {
			return f.s.CreateWard(ctx, queries.NewWard{DepartmentID: f.id["surgery"], Name: "recovery", Beds: 1})
		}, err: queries.ErrConflict},
		{name: "rename", run: func() (queries.Ward, error) {
			return f.s.UpdateWard(ctx, icu, queries.WardPatch{Name: new("intensive care")})
		},
			check: func(w queries.Ward) bool { return w.Name == "intensive care" && w.Beds == 10 && w.Occupied == 2 }},
		{name: "move with its patients", run: func() (queries.Ward, error) {
			return f.s.UpdateWard(ctx, icu, queries.WardPatch{DepartmentID: new(f.id["clinic"]), Beds: new(12)})
		}, check: func(w queries.Ward) bool { return w.DepartmentID == f.id["clinic"] && w.Beds == 12 && w.Occupied == 2 }},
		{name: "move, unknown department", run: func() (queries.Ward, error) {
			return f.s.UpdateWard(ctx, icu, queries.WardPatch{DepartmentID: new(int64(1 << 40))})
		}, field: "department_id"},
		{name: "update, unknown ward", run: func() (queries.Ward, error) { return f.s.UpdateWard(ctx, 1<<40, queries.WardPatch{}) },
			err: queries.ErrNotFound},
		{name: "read, unknown ward", run: func() (queries.Ward, error) { return f.s.Ward(ctx, 1<<40) }, err: queries.ErrNotFound},
		{name: "delete keeps the patients", run: func() (queries.Ward, error) {
			if err := f.s.DeleteWard(ctx, icu); err != nil {
				return queries.Ward{}, err
			}
			return f.s.Ward(ctx, icu)
		}, err: queries.ErrNotFound},
		{name: "delete, unknown ward", run: func() (queries.Ward, error) { return queries.Ward{}, f.s.DeleteWard(ctx, icu) },
			err: queries.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := c.run()
			if c.err != nil || c.field != "" {
				wantErr(t, err, c.err, c.field)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(w) {
				t.Errorf("got %+v", w)
			}
		})
	}
}

// Every write bumps its tree's version, whoever writes: here plain SQL.
func TestTreeVersions(t *testing.T) {
	f := departments(t)
	f.add(queries.Categories, "c", "")
	ctx := context.Background()
	versions := func() (categories, departments int64) {
		return must(f.s.TreeVersion(ctx, queries.Categories)), must(f.s.TreeVersion(ctx, queries.Departments))
	}
	cases := []struct {
		name string
		sql  string
		tree string
	}{
		{"insert category", `INSERT INTO categories (name) VALUES ('new')`, "categories"},
		{"update category", `UPDATE categories SET name = 'renamed' WHERE name = 'new'`, "categories"},
		{"delete category", `DELETE FROM categories WHERE name = 'renamed'`, "categories"},
		{"truncate categories", `TRUNCATE categories`, "categories"},
		{"insert department", `INSERT INTO departments (name, code) VALUES ('new', 'NEW')`, "departments"},
		{"update department", `UPDATE departments SET position = 3 WHERE code = 'NEW'`, "departments"},
		{"insert ward", `INSERT INTO wards (department_id, name, beds) SELECT id, 'w', 1 FROM departments WHERE code = 'NEW'`, "departments"},
		{"update ward", `UPDATE wards SET beds = 2 WHERE name = 'w'`, "departments"},
		{"admit a patient", `INSERT INTO patients (uid, ward_id, admitted_at) SELECT 'new', id, now() FROM wards WHERE name = 'w'`, "departments"},
		{"discharge a patient", `UPDATE patients SET discharged_at = now() WHERE uid = 'new'`, "departments"},
		{"delete ward", `DELETE FROM wards WHERE name = 'w'`, "departments"},
		{"delete department", `DELETE FROM departments WHERE code = 'NEW'`, "departments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c0, d0 := versions()
			f.exec(c.sql)
			c1, d1 := versions()
			want := map[string][2]bool{"categories": {true, false}, "departments": {false, true}}[c.tree]
			if (c1 > c0) != want[0] || (d1 > d0) != want[1] || c1 < c0 || d1 < d0 {
				t.Errorf("versions %d→%d (categories), %d→%d (departments); want %s bumped", c0, c1, d0, d1, c.tree)
			}
		})
	}
}

// seed fills both trees with n nodes each in 10-ary trees under 9 roots, one
// ward per ten departments and a patient in each ward: one INSERT per table.
func seed(t testing.TB, db *testdb.DB, n int) {
	t.Helper()
	for _, sql := range []string{
		`INSERT INTO categories (id, parent_id, name, position) OVERRIDING SYSTEM VALUE
		 SELECT g, nullif(g / 10, 0), 'node ' || g, g % 7 FROM generate_series(1, $1::int) g`,
		`INSERT INTO departments (id, parent_id, name, code) OVERRIDING SYSTEM VALUE
		 SELECT g, nullif(g / 10, 0), 'department ' || g, 'D' || g FROM generate_series(1, $1::int) g`,
		`SELECT setval(pg_get_serial_sequence(t, 'id'), $1::int) FROM unnest(ARRAY['categories', 'departments']) t`,
		`INSERT INTO wards (department_id, name, beds) SELECT g, 'ward ' || g, 10 FROM generate_series(1, $1::int, 10) g`,
		`INSERT INTO patients (uid, ward_id, admitted_at) SELECT 'p' || id, id, now() FROM wards WHERE $1::int > 0`,
	} {
		if _, err := db.Pool.Exec(context.Background(), sql, n); err != nil {
			t.Fatalf("seed %d: %v", n, err)
		}
	}
	if _, err := db.Pool.Exec(context.Background(), `VACUUM ANALYZE`); err != nil {
		t.Fatal(err)
	}
}

// Every operation runs the same number of statements on 10 nodes and on
// 10,000, within its budget.
func TestQueryBudgets(t *testing.T) {
	type op struct {
		name   string
		budget int
		run    func(ctx context.Context, s *queries.Store) error
	}
	ops := []op{
		{"tree version", 1, func(ctx context.Context, s *queries.Store) error {
			_, err := s.TreeVersion(ctx, queries.Departments)
			return err
		}},
		{"whole tree", 1, func(ctx context.Context, s *queries.Store) error {
			_, err := s.Tree(ctx, queries.Departments, queries.TreeQuery{})
			return err
		}},
		{"subtree with depth", 1, func(ctx context.Context, s *queries.Store) error {
			_, err := s.Tree(ctx, queries.Categories, queries.TreeQuery{Root: new(int64(1)), Depth: new(2)})
			return err
		}},
		{"search", 1, func(ctx context.Context, s *queries.Store) error {
			_, _, _, err := s.Search(ctx, queries.Departments, "1", 100)
			return err
		}},
		{"node", 1, func(ctx context.Context, s *queries.Store) error {
			_, err := s.Node(ctx, queries.Categories, 10)
			return err
		}},
		{"ancestors", 1, func(ctx context.Context, s *queries.Store) error {
			_, err := s.Ancestors(ctx, queries.Categories, 10)
			return err
		}},
		{"create", 3, func(ctx context.Context, s *queries.Store) error {
			_, err := s.CreateNode(ctx, queries.Categories, queries.NewNode{Name: "new", ParentID: new(int64(1))})
			return err
		}},
		{"move", 4, func(ctx context.Context, s *queries.Store) error {
			_, err := s.UpdateNode(ctx, queries.Categories, 10, queries.NodePatch{Name: new("moved"), SetParent: true, ParentID: new(int64(2))})
			return err
		}},
		{"refused move", 4, func(ctx context.Context, s *queries.Store) error {
			_, err := s.UpdateNode(ctx, queries.Categories, 2, queries.NodePatch{SetParent: true, ParentID: new(int64(10))})
			if errors.Is(err, queries.ErrCycle) {
				return nil
			}
			return fmt.Errorf("moving 2 under its child 10: %v, want ErrCycle", err)
		}},
		{"delete refused", 3, func(ctx context.Context, s *queries.Store) error {
			_, err := s.DeleteNode(ctx, queries.Departments, 1, false)
			if errors.Is(err, queries.ErrHasChildren) {
				return nil
			}
			return fmt.Errorf("deleting department 1: %v, want ErrHasChildren", err)
		}},
		{"delete cascade", 3, func(ctx context.Context, s *queries.Store) error {
			_, err := s.DeleteNode(ctx, queries.Departments, 1, true)
			return err
		}},
		{"ward create, read, update, delete", 4, func(ctx context.Context, s *queries.Store) error {
			w, err := s.CreateWard(ctx, queries.NewWard{DepartmentID: 2, Name: "budget", Beds: 1})
			if err == nil {
				_, err = s.Ward(ctx, w.ID)
			}
			if err == nil {
				_, err = s.UpdateWard(ctx, w.ID, queries.WardPatch{Beds: new(2)})
			}
			if err == nil {
				err = s.DeleteWard(ctx, w.ID)
			}
			return err
		}},
	}
	counts := map[string][]int{}
	for _, size := range []int{10, 10_000} {
		db := testdb.New(t)
		seed(t, db, size)
		pool, err := queries.Open(context.Background(), queries.PoolConfig{URL: db.URL})
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		s := pool.Store
		for _, o := range ops {
			ctx, stats := queries.WithStats(context.Background())
			if err := o.run(ctx, s); err != nil {
				t.Fatalf("%s at %d nodes: %v", o.name, size, err)
			}
			counts[o.name] = append(counts[o.name], stats.Statements())
		}
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			c := counts[o.name]
			if c[0] != c[1] || c[0] > o.budget || c[0] == 0 {
				t.Errorf("%d statements at 10 nodes, %d at 10,000; budget %d", c[0], c[1], o.budget)
			}
		})
	}
}

// recorder keeps the last statement a pool ran.
type recorder struct {
	mu   sync.Mutex
	sql  string
	args []any
}

func (r *recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sql, r.args = d.SQL, d.Args
	return ctx
}

func (*recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Search on a large tree is served by the trigram index: EXPLAIN the very
// statement Search ran, with its arguments.
func TestSearchUsesTrigramIndex(t *testing.T) {
	db := testdb.New(t)
	seed(t, db, 10_000)
	ctx := context.Background()
	cfg := must(pgxpool.ParseConfig(db.URL))
	rec := &recorder{}
	cfg.ConnConfig.Tracer = rec
	pool := must(pgxpool.NewWithConfig(ctx, cfg))
	defer pool.Close()
	nodes, _, _, err := searchRows(queries.New(pool).Search(ctx, queries.Categories, "node 4321", 100))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(nodes, func(n tree.Row) bool { return n.ID == 4321 && n.Match && n.Depth == 3 }) {
		t.Fatalf("search for node 4321 found %+v", nodes)
	}
	rows, err := db.Pool.Query(ctx, "EXPLAIN "+rec.sql, rec.args...)
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(must(pgx.CollectRows(rows, pgx.RowTo[string])), "\n")
	if !strings.Contains(plan, "categories_name_trgm") {
		t.Errorf("the search does not use the trigram index:\n%s", plan)
	}
}

// A deleted ward's patients stay, with no ward and an updated_at that says
// they changed.
func TestDeleteWardUnassignsPatients(t *testing.T) {
	f := departments(t)
	ctx := context.Background()
	f.exec(`UPDATE patients SET updated_at = now() - interval '1 day'`)
	if err := f.s.DeleteWard(ctx, f.id["icu"]); err != nil {
		t.Fatal(err)
	}
	var unwarded, touched, others int
	if err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE ward_id IS NULL),
		count(*) FILTER (WHERE ward_id IS NULL AND updated_at > now() - interval '1 hour'),
		count(*) FILTER (WHERE ward_id IS NOT NULL AND updated_at > now() - interval '1 hour') FROM patients`).
		Scan(&unwarded, &touched, &others); err != nil {
		t.Fatal(err)
	}
	if unwarded != 5 || touched != 5 || others != 0 {
		t.Errorf("%d patients without a ward, %d of them touched, %d others touched; want 5, 5, 0", unwarded, touched, others)
	}
}
