package queries_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"canopy/internal/testdb"
	"canopy/queries"
	"canopy/tree"
)

// forestModel is a category forest in Go: what the table holds, and what
// each read of it should return.
type forestModel struct {
	ids      []int64         // in the order generated: every parent before its children
	parent   map[int64]int64 // 0 for a root
	name     map[int64]string
	position map[int64]int32
	stored   map[int64]int     // the depth column: the depth when inserted (a loop written with the triggers off leaves it)
	children map[int64][]int64 // the roots under 0
}

// truePath is the path from a root to id, or nil when id is not below a
// root (it is on a loop, or below one).
func (m *forestModel) truePath(id int64) []int64 {
	var up []int64
	for cur := id; cur != 0; cur = m.parent[cur] {
		if len(up) > len(m.ids) {
			return nil
		}
		up = append(up, cur)
	}
	slices.Reverse(up)
	return up
}

// walkUp is the path walkUp reads for id: up the parents while the stored
// depth falls (every step, but in a loop written by hand), root first.
func (m *forestModel) walkUp(id int64) []int64 {
	up := []int64{id}
	for cur := id; m.parent[cur] != 0 && m.stored[m.parent[cur]] < m.stored[cur]; cur = m.parent[cur] {
		up = append(up, m.parent[cur])
	}
	slices.Reverse(up)
	return up
}

// sortedChildren are id's children in sibling order: position, name, id.
func (m *forestModel) sortedChildren(id int64) []int64 {
	c := slices.Clone(m.children[id])
	slices.SortFunc(c, func(a, b int64) int {
		return cmp.Or(cmp.Compare(m.position[a], m.position[b]), strings.Compare(m.name[a], m.name[b]), cmp.Compare(a, b))
	})
	return c
}

// expected is what a read should return for one node. A nil path in a
// search result is a node on or below a loop, whose path only has to be a
// walk up its parents.
type expected struct {
	depth, childCount int
	path              []int64
	match             bool
}

// tree is what Store.Tree returns for root (nil: the roots) and depth: the
// walk down from the path walkUp finds, never into that path again, at most
// limit levels. A node at the limit keeps its child count; the others count
// the rows returned under them: all their children, but on a loop, where
// the walk stops at the path it came up (a node that is its own parent
// counts itself).
func (m *forestModel) tree(t *rapid.T, root *int64, limit *int) map[int64]expected {
	type step struct {
		id   int64
		lvl  int
		path []int64
	}
	var queue []step
	stop := map[int64]bool{}
	if root == nil {
		for _, id := range m.ids {
			if m.parent[id] == 0 {
				queue = append(queue, step{id, 0, []int64{id}})
			}
		}
	} else {
		path := m.walkUp(*root)
		for _, id := range path {
			stop[id] = true
		}
		queue = append(queue, step{*root, 0, path})
	}
	want := map[int64]expected{}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if _, seen := want[s.id]; seen {
			t.Fatalf("model: the walk meets %d twice", s.id)
		}
		e := expected{depth: len(s.path) - 1, path: s.path, childCount: -1}
		if limit != nil && s.lvl == *limit {
			e.childCount = len(m.children[s.id])
		} else {
			for _, c := range m.children[s.id] {
				if !stop[c] {
					queue = append(queue, step{c, s.lvl + 1, append(slices.Clip(s.path), c)})
				}
			}
		}
		want[s.id] = e
	}
	for id, e := range want {
		if e.childCount < 0 {
			e.childCount = 0
			for _, c := range m.children[id] {
				if _, ok := want[c]; ok {
					e.childCount++
				}
			}
			want[id] = e
		}
	}
	return want
}

// search is what Store.Search returns for q and limit: the first limit
// matches by (name, id), names in the order of nameRank,
// and every ancestor of each, with their stored depth.
func (m *forestModel) search(q string, limit int, nameRank map[string]int) (map[int64]expected, bool) {
	var matches []int64
	for _, id := range m.ids {
		if strings.Contains(strings.ToLower(m.name[id]), strings.ToLower(q)) {
			matches = append(matches, id)
		}
	}
	slices.SortFunc(matches, func(a, b int64) int {
		return cmp.Or(cmp.Compare(nameRank[m.name[a]], nameRank[m.name[b]]), cmp.Compare(a, b))
	})
	truncated := len(matches) > limit
	if truncated {
		matches = matches[:limit]
	}
	want := map[int64]expected{}
	for _, id := range matches {
		want[id] = expected{match: true}
	}
	for _, id := range matches {
		for p := m.parent[id]; p != 0; p = m.parent[p] {
			if _, seen := want[p]; seen {
				break
			}
			want[p] = expected{}
		}
	}
	for id, e := range want {
		e.depth, e.childCount, e.path = m.stored[id], len(m.children[id]), m.truePath(id)
		want[id] = e
	}
	return want, truncated
}

// check compares rows with what the model expects, each row once.
func (m *forestModel) check(t *rapid.T, what string, got []tree.Row, want map[int64]expected) {
	t.Helper()
	// By id: the first difference, so the failure, is then the same
	// whatever order the statement's plan returns rows in (rapid replays a
	// failure and calls it flaky when it fails elsewhere).
	got = slices.SortedStableFunc(slices.Values(got), func(a, b tree.Row) int { return cmp.Compare(a.ID, b.ID) })
	seen := map[int64]bool{}
	for _, n := range got {
		e, ok := want[n.ID]
		switch {
		case seen[n.ID]:
			t.Fatalf("%s: node %d comes twice", what, n.ID)
		case !ok:
			t.Fatalf("%s: node %d (path %v) should not be there", what, n.ID, n.Path)
		}
		seen[n.ID] = true
		parent := int64(0)
		if n.ParentID != nil {
			parent = *n.ParentID
		}
		if n.Kind != "category" || parent != m.parent[n.ID] || n.Name != m.name[n.ID] || n.Position != m.position[n.ID] {
			t.Fatalf("%s: node %d is %s under %d, %q at %d; want a category under %d, %q at %d",
				what, n.ID, n.Kind, parent, n.Name, n.Position, m.parent[n.ID], m.name[n.ID], m.position[n.ID])
		}
		if n.Depth != e.depth || n.ChildCount != e.childCount || n.Match != e.match {
			t.Fatalf("%s: node %d has depth %d, %d children, match %v; want %d, %d, %v",
				what, n.ID, n.Depth, n.ChildCount, n.Match, e.depth, e.childCount, e.match)
		}
		if e.path != nil && !slices.Equal(n.Path, e.path) {
			t.Fatalf("%s: node %d has path %v, want %v", what, n.ID, n.Path, e.path)
		}
		if e.path == nil && !m.walksUp(n.ID, n.Path) {
			t.Fatalf("%s: node %d on a loop has path %v, which is not a walk up its parents", what, n.ID, n.Path)
		}
	}
	if len(seen) != len(want) {
		var missing []int64
		for id := range want {
			if !seen[id] {
				missing = append(missing, id)
			}
		}
		slices.Sort(missing)
		t.Fatalf("%s: %d rows, want %d; missing %v", what, len(seen), len(want), missing)
	}
}

// walksUp reports whether path ends at id, runs down parent links, and
// repeats no node.
func (m *forestModel) walksUp(id int64, path []int64) bool {
	if len(path) == 0 || path[len(path)-1] != id {
		return false
	}
	seen := map[int64]bool{}
	for i, p := range path {
		if seen[p] || (i > 0 && m.parent[p] != path[i-1]) {
			return false
		}
		seen[p] = true
	}
	return true
}

// Names few enough to tie, with the characters LIKE treats specially.
var (
	propNames   = []string{"a", "A", "b", "ab", "aB", "ba", "a%", "a_b", `a\b`, "x"}
	propQueries = []string{"", "a", "A", "b", "B", "ab", "%", "_", `\`, "a_", "z"}
)

// drawForest draws a forest: nodes under random earlier nodes (the nearest
// most likely, so chains form), sometimes with a chain of 100 to 900 levels
// in the middle (at most 980 in all, within the maximum depth of 1000), ids
// a random permutation, names and positions that tie.
func drawForest(t *rapid.T) *forestModel {
	m := &forestModel{parent: map[int64]int64{}, name: map[int64]string{}, position: map[int64]int32{},
		stored: map[int64]int{}, children: map[int64][]int64{}}
	before := rapid.IntRange(0, 40).Draw(t, "nodes before the chain")
	chain := 0
	if rapid.IntRange(0, 4).Draw(t, "deep") == 4 {
		chain = rapid.IntRange(100, 900).Draw(t, "chain length")
	}
	after := rapid.IntRange(0, 40).Draw(t, "nodes after the chain")
	total := before + chain + after
	ids := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "id seed"), 0)).Perm(total)
	position := rapid.OneOf(rapid.Int32Range(-2, 2), rapid.SampledFrom([]int32{math.MinInt32, math.MaxInt32}))
	for i := range total {
		id := int64(ids[i]) + 1
		var up int // how many nodes back the parent is; 0: a root
		switch {
		case i > before && i < before+chain:
			up = 1
		default:
			up = rapid.IntRange(0, i).Draw(t, "parent")
		}
		if up > 0 {
			p := m.ids[i-up]
			m.parent[id], m.stored[id] = p, m.stored[p]+1
		}
		m.children[m.parent[id]] = append(m.children[m.parent[id]], id)
		m.ids = append(m.ids, id)
		m.name[id] = rapid.SampledFrom(propNames).Draw(t, "name")
		m.position[id] = position.Draw(t, "position")
	}
	return m
}

const insertForestSQL = `INSERT INTO categories (id, parent_id, name, position) OVERRIDING SYSTEM VALUE
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::integer[])`

// insert writes the forest in one statement, its rows in order, with the
// triggers on: they set the depth column.
func (m *forestModel) insert(t *rapid.T, db *testdb.DB, order []int64) {
	var ids, parents []int64
	var names []string
	var positions []int32
	for _, id := range order {
		ids, names, positions = append(ids, id), append(names, m.name[id]), append(positions, m.position[id])
		parents = append(parents, m.parent[id]) // 0 is made null below
	}
	sql := strings.Replace(insertForestSQL, "$2::bigint[]", "array_replace($2::bigint[], 0, NULL)", 1)
	if _, err := db.Pool.Exec(context.Background(), sql, ids, parents, names, positions); err != nil {
		t.Fatalf("insert %d nodes: %v", len(ids), err)
	}
}

// loop moves x under y, one of its descendants or itself, with the
// triggers off, as someone could by hand: x and what hangs below it leave
// the forest, their depth column unchanged.
func (m *forestModel) loop(x, y int64) {
	p := m.parent[x]
	m.children[p] = slices.DeleteFunc(m.children[p], func(c int64) bool { return c == x })
	m.parent[x] = y
	m.children[y] = append(m.children[y], x)
}

// descendants are id and the nodes below it, in the model's walk order.
func (m *forestModel) descendants(id int64) []int64 {
	out := []int64{id}
	for i := 0; i < len(out); i++ {
		out = append(out, m.children[out[i]]...)
	}
	return out
}

// The SQL tree reads agree with a Go model on random forests: small and
// bushy, with chains hundreds of levels deep, with names and positions that
// tie, and most with loops written by hand (triggers off).
// Each read of a forest with loops must also end and return each row once:
// the walk from the roots never meets a loop; one from a node on or below a
// loop goes up while the stored depth falls and down never back into the
// path it came up; a search climbs each match's parents until it has been
// there. 100 forests by default (-rapid.checks=N for more).
func TestTreeReadsMatchModel(t *testing.T) {
	db := testdb.New(t)
	s := queries.New(db.Pool)
	// Search orders names by the database's collation: testdb's clusters
	// use the C locale, but CANOPY_TEST_DATABASE_URL may name another.
	nameRank := map[string]int{}
	rows, err := db.Pool.Query(context.Background(), `SELECT name FROM unnest($1::text[]) name ORDER BY name`, propNames)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		nameRank[name] = len(nameRank)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rapid.Check(t, func(t *rapid.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang fails, it does not stall the run
		defer cancel()
		if _, err := db.Pool.Exec(ctx, `DELETE FROM categories`); err != nil {
			t.Fatal(err)
		}
		m := drawForest(t)
		order := m.ids
		if len(order) <= 100 && rapid.Bool().Draw(t, "shuffle rows") {
			// Children before their parents: the depth trigger places them after.
			order = rapid.Permutation(order).Draw(t, "row order")
		}
		m.insert(t, db, order)

		if loops := rapid.IntRange(0, 3).Draw(t, "loops"); loops > 0 && len(m.ids) > 0 {
			tx, err := db.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
				t.Fatal(err)
			}
			for range loops {
				var inForest []int64
				for _, id := range m.ids {
					if m.truePath(id) != nil {
						inForest = append(inForest, id)
					}
				}
				if len(inForest) == 0 {
					break
				}
				x := rapid.SampledFrom(inForest).Draw(t, "loop from")
				y := rapid.SampledFrom(m.descendants(x)).Draw(t, "loop to")
				if _, err := tx.Exec(ctx, `UPDATE categories SET parent_id = $1 WHERE id = $2`, y, x); err != nil {
					t.Fatal(err)
				}
				m.loop(x, y)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}

		// The whole forest, and its sibling order as package tree assembles it.
		nodes, err := rowsOf(s.Tree(ctx, queries.Categories, queries.TreeQuery{}))
		if err != nil {
			t.Fatal(err)
		}
		m.check(t, "whole forest", nodes, m.tree(t, nil, nil))
		var got, want []int64
		tree.Walk(tree.Build(nodes, tree.ByPositionNameID[tree.Row]), func(n *tree.Node[tree.Row], _ int) bool {
			got = append(got, n.Item.ID)
			return true
		})
		var preorder func(ids []int64)
		preorder = func(ids []int64) {
			for _, id := range ids {
				want = append(want, id)
				preorder(m.sortedChildren(id))
			}
		}
		preorder(m.sortedChildren(0))
		if !slices.Equal(got, want) {
			t.Fatalf("forest in sibling order %v, want %v", got, want)
		}

		var anyNode *rapid.Generator[int64]
		if len(m.ids) > 0 {
			anyNode = rapid.SampledFrom(m.ids)
		}
		limit := rapid.Ptr(rapid.IntRange(0, 8), true)
		for i := range 3 {
			var root *int64
			if anyNode != nil && (i > 0 || rapid.Bool().Draw(t, "forest with a depth limit")) {
				root = new(anyNode.Draw(t, "subtree root"))
			}
			depth := limit.Draw(t, "depth limit")
			nodes, err := rowsOf(s.Tree(ctx, queries.Categories, queries.TreeQuery{Root: root, Depth: depth}))
			if err != nil {
				t.Fatal(err)
			}
			m.check(t, fmt.Sprintf("tree of %s, depth %s", show(root), show(depth)), nodes, m.tree(t, root, depth))
		}

		for range min(3, len(m.ids)) {
			id := anyNode.Draw(t, "node")
			path := m.walkUp(id)
			node, err := s.Node(ctx, queries.Categories, id)
			if err != nil {
				t.Fatal(err)
			}
			m.check(t, fmt.Sprintf("node %d", id), []tree.Row{node},
				map[int64]expected{id: {depth: len(path) - 1, path: path, childCount: len(m.children[id])}})
			ancestors, err := s.Ancestors(ctx, queries.Categories, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(ancestors) != len(path) {
				t.Fatalf("ancestors of %d: %d rows, want %d", id, len(ancestors), len(path))
			}
			for i, a := range ancestors {
				if a.ID != path[i] {
					t.Fatalf("ancestor %d of %d is %d, want %d", i, id, a.ID, path[i])
				}
				m.check(t, fmt.Sprintf("ancestors of %d", id), ancestors[i:i+1],
					map[int64]expected{a.ID: {depth: i, path: path[:i+1], childCount: len(m.children[a.ID])}})
			}
		}

		for range 2 {
			q := rapid.SampledFrom(propQueries).Draw(t, "search")
			limit := rapid.IntRange(1, len(m.ids)+1).Draw(t, "search limit")
			nodes, truncated, _, err := searchRows(s.Search(ctx, queries.Categories, q, limit))
			if err != nil {
				t.Fatal(err)
			}
			want, wantTruncated := m.search(q, limit, nameRank)
			m.check(t, fmt.Sprintf("search %q limit %d", q, limit), nodes, want)
			if truncated != wantTruncated {
				t.Fatalf("search %q limit %d: truncated %v, want %v", q, limit, truncated, wantTruncated)
			}
		}
	})
}

func show[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}
