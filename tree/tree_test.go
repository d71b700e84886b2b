package tree_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"canopy/tree"
)

// row mimics a scanned category row. Parent 0 stands for a NULL parent_id.
type row struct {
	ID     int64  `json:"id"`
	Parent int64  `json:"-"`
	Pos    int64  `json:"-"`
	Name   string `json:"name,omitempty"`
}

func (r row) Key() int64                      { return r.ID }
func (r row) ParentKey() (int64, bool)        { return r.Parent, r.Parent != 0 }
func (r row) SortKey() (int64, string, int64) { return r.Pos, r.Name, r.ID }

func rowLabel(r row) string {
	s := strconv.FormatInt(r.ID, 10)
	if r.Name != "" {
		s += ":" + r.Name
	}
	return s
}

// shape renders a forest as e.g. "1(2 3(4)) 5", so that expected trees read
// at a glance.
func shape[T any](roots []*tree.Node[T], label func(T) string) string {
	var b strings.Builder
	var render func(nodes []*tree.Node[T])
	render = func(nodes []*tree.Node[T]) {
		for i, n := range nodes {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(label(n.Item))
			if len(n.Children) > 0 {
				b.WriteByte('(')
				render(n.Children)
				b.WriteByte(')')
			}
		}
	}
	render(roots)
	return b.String()
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name   string
		rows   []row
		sorted bool // order siblings with ByPositionNameID rather than keep input order
		want   string
	}{
		{
			name: "no rows",
			want: "",
		},
		{
			name: "single root",
			rows: []row{{ID: 1}},
			want: "1",
		},
		{
			name: "forest",
			rows: []row{{ID: 1}, {ID: 2, Parent: 1}, {ID: 3}, {ID: 4, Parent: 3}, {ID: 5, Parent: 2}},
			want: "1(2(5)) 3(4)",
		},
		{
			name: "children before their parent",
			rows: []row{{ID: 3, Parent: 2}, {ID: 2, Parent: 1}, {ID: 1}},
			want: "1(2(3))",
		},
		{
			name: "subtree with orphan root",
			rows: []row{{ID: 10, Parent: 7}, {ID: 11, Parent: 10}, {ID: 12, Parent: 10}, {ID: 13, Parent: 11}},
			want: "10(11(13) 12)",
		},
		{
			name: "several orphan roots",
			rows: []row{{ID: 10, Parent: 7}, {ID: 11, Parent: 8}, {ID: 12, Parent: 11}},
			want: "10 11(12)",
		},
		{
			name: "siblings by position then name then id",
			rows: []row{
				{ID: 9, Pos: 2}, {ID: 1, Pos: 1},
				{ID: 6, Parent: 1, Pos: 1, Name: "a"},
				{ID: 2, Parent: 1, Pos: 1, Name: "b"},
				{ID: 5, Parent: 1, Pos: 1, Name: "a"},
				{ID: 3, Parent: 1, Pos: 0, Name: "z"},
				{ID: 4, Parent: 1, Pos: 1, Name: "a"},
				{ID: 7, Parent: 1, Pos: 1, Name: "B"}, // byte order: upper case first
			},
			sorted: true,
			want:   "1(3:z 7:B 4:a 5:a 6:a 2:b) 9",
		},
		{
			name: "nil cmp keeps input order",
			rows: []row{
				{ID: 9, Pos: 2}, {ID: 1, Pos: 1},
				{ID: 6, Parent: 1, Pos: 1, Name: "a"},
				{ID: 2, Parent: 1, Pos: 1, Name: "b"},
				{ID: 3, Parent: 1, Pos: 0, Name: "z"},
			},
			want: "9 1(6:a 2:b 3:z)",
		},
		{
			name: "duplicate ids: first wins",
			rows: []row{
				{ID: 1},
				{ID: 2, Parent: 1, Name: "first"},
				{ID: 2, Name: "second"},
				{ID: 3, Parent: 2},
				{ID: 1, Parent: 3, Name: "would close a cycle"},
			},
			want: "1(2:first(3))",
		},
		{
			name: "duplicate of a cycle member does not rescue it",
			rows: []row{{ID: 1, Parent: 2}, {ID: 2, Parent: 1}, {ID: 1}},
			want: "",
		},
		{
			name: "two-node cycle dropped",
			rows: []row{{ID: 1}, {ID: 2, Parent: 3}, {ID: 3, Parent: 2}},
			want: "1",
		},
		{
			name: "self-parent dropped with its descendants",
			rows: []row{{ID: 1}, {ID: 2, Parent: 2}, {ID: 3, Parent: 2}},
			want: "1",
		},
		{
			name: "only a cycle",
			rows: []row{{ID: 1, Parent: 3}, {ID: 2, Parent: 1}, {ID: 3, Parent: 2}},
			want: "",
		},
		{
			name: "cycle with a tail beside a tree",
			rows: []row{
				{ID: 1}, {ID: 2, Parent: 1},
				{ID: 3, Parent: 5}, {ID: 4, Parent: 3}, {ID: 5, Parent: 4}, // 3→5→4→3
				{ID: 6, Parent: 4}, {ID: 7, Parent: 6}, // hanging below the cycle
				{ID: 8, Parent: 2},
			},
			want: "1(2(8))",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var order func(a, b row) int
			if tt.sorted {
				order = tree.ByPositionNameID
			}
			roots := tree.Build(tt.rows, order)
			if roots == nil {
				t.Fatal("Build returned nil")
			}
			if got := shape(roots, rowLabel); got != tt.want {
				t.Errorf("Build = %q, want %q", got, tt.want)
			}
			tree.Walk(roots, func(n *tree.Node[row], _ int) bool {
				if n.Children == nil {
					t.Errorf("node %d has nil Children", n.Item.ID)
				}
				return true
			})
		})
	}
}

func TestBuildDoesNotShareChildCapacity(t *testing.T) {
	roots := tree.Build([]row{{ID: 1}, {ID: 2, Parent: 1}, {ID: 3, Parent: 1}, {ID: 4, Parent: 3}}, nil)
	first := roots[0].Children[0]
	first.Children = append(first.Children, &tree.Node[row]{Item: row{ID: 99}})
	if got, want := shape(roots, rowLabel), "1(2(99) 3(4))"; got != want {
		t.Errorf("after append to a leaf: %q, want %q", got, want)
	}
}

// Link links the nodes it is given, not copies: the forest points into
// them, and a node it leaves out stays in the slice with empty Children.
func TestLinkInPlace(t *testing.T) {
	nodes := []tree.Node[row]{
		{Item: row{ID: 2, Parent: 1}}, {Item: row{ID: 1}}, {Item: row{ID: 2, Name: "repeat"}},
		{Item: row{ID: 3, Parent: 4}}, {Item: row{ID: 4, Parent: 3}}, // a cycle
		{Item: row{ID: 5, Parent: 1}, Children: []*tree.Node[row]{{Item: row{ID: 99}}}}, // stale children
	}
	roots := tree.Link(nodes, tree.ByPositionNameID[row])
	if got, want := shape(roots, rowLabel), "1(2 5)"; got != want {
		t.Fatalf("Link = %q, want %q", got, want)
	}
	if roots[0] != &nodes[1] || roots[0].Children[0] != &nodes[0] {
		t.Error("the forest does not point into the nodes given")
	}
	for i, n := range nodes {
		if n.Children == nil {
			t.Errorf("node %d (id %d) has nil Children", i, n.Item.ID)
		}
	}
	if len(nodes[2].Children) != 0 || len(nodes[5].Children) != 0 {
		t.Error("a repeated key or stale children kept children")
	}
}

// unit is a department (Kind 'd') or a ward (Kind 'w'). Their ids come from
// different tables and may collide; a ward's parent is always a department.
type unit struct {
	Kind byte
	ID   int64
	Dept int64 // parent department, 0 for none
}

type unitKey struct {
	Kind byte
	ID   int64
}

func (u unit) Key() unitKey                    { return unitKey{u.Kind, u.ID} }
func (u unit) ParentKey() (unitKey, bool)      { return unitKey{'d', u.Dept}, u.Dept != 0 }
func (u unit) SortKey() (int64, string, int64) { return 0, string(u.Kind), u.ID }

func TestBuildCompositeKeys(t *testing.T) {
	rows := []unit{
		{Kind: 'w', ID: 1, Dept: 2},
		{Kind: 'd', ID: 1},
		{Kind: 'w', ID: 2, Dept: 1},
		{Kind: 'd', ID: 2, Dept: 1},
		{Kind: 'w', ID: 3, Dept: 3}, // department 3 is outside the set
		{Kind: 'd', ID: 1, Dept: 2}, // duplicate department, ignored
	}
	label := func(u unit) string { return string(u.Kind) + strconv.FormatInt(u.ID, 10) }
	tests := []struct {
		name  string
		order func(a, b unit) int
		want  string
	}{
		{name: "input order", want: "d1(w2 d2(w1)) w3"},
		{name: "departments first", order: tree.ByPositionNameID[unit], want: "d1(d2(w1) w2) w3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shape(tree.Build(rows, tt.order), label); got != tt.want {
				t.Errorf("Build = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestByPositionNameID(t *testing.T) {
	tests := []struct {
		name string
		a, b row
		want int
	}{
		{"position first", row{ID: 1, Pos: 2, Name: "a"}, row{ID: 2, Pos: 10, Name: "b"}, -1},
		{"then name", row{ID: 1, Pos: 1, Name: "b"}, row{ID: 2, Pos: 1, Name: "a"}, 1},
		{"names compare bytewise", row{ID: 1, Name: "Z"}, row{ID: 2, Name: "a"}, -1},
		{"then id", row{ID: 3, Pos: 1, Name: "a"}, row{ID: 2, Pos: 1, Name: "a"}, 1},
		{"equal", row{ID: 3, Pos: 1, Name: "a"}, row{ID: 3, Pos: 1, Name: "a"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tree.ByPositionNameID(tt.a, tt.b); got != tt.want {
				t.Errorf("ByPositionNameID = %d, want %d", got, tt.want)
			}
		})
	}
}

// sample is the forest 1(2(4 5) 3) 6(7).
func sample() []*tree.Node[row] {
	return tree.Build([]row{
		{ID: 1}, {ID: 2, Parent: 1}, {ID: 4, Parent: 2}, {ID: 5, Parent: 2},
		{ID: 3, Parent: 1}, {ID: 6}, {ID: 7, Parent: 6},
	}, nil)
}

func TestWalk(t *testing.T) {
	tests := []struct {
		name string
		skip int64 // do not descend below this node
		want string
	}{
		{name: "all", want: "1@0 2@1 4@2 5@2 3@1 6@0 7@1"},
		{name: "skip inner node", skip: 2, want: "1@0 2@1 3@1 6@0 7@1"},
		{name: "skip root", skip: 1, want: "1@0 6@0 7@1"},
		{name: "skip leaf", skip: 7, want: "1@0 2@1 4@2 5@2 3@1 6@0 7@1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var visits []string
			tree.Walk(sample(), func(n *tree.Node[row], depth int) bool {
				visits = append(visits, strconv.FormatInt(n.Item.ID, 10)+"@"+strconv.Itoa(depth))
				return n.Item.ID != tt.skip
			})
			if got := strings.Join(visits, " "); got != tt.want {
				t.Errorf("Walk visited %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		name  string
		roots []*tree.Node[row]
		want  int
	}{
		{"nil forest", nil, 0},
		{"sample", sample(), 7},
		{"cycle left out", tree.Build([]row{{ID: 1}, {ID: 2, Parent: 3}, {ID: 3, Parent: 2}}, nil), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tree.Count(tt.roots); got != tt.want {
				t.Errorf("Count = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDeepChain(t *testing.T) {
	const depth = 10_000
	rows := make([]row, depth)
	for i := range rows {
		rows[i] = row{ID: int64(i + 1), Parent: int64(i)}
	}
	slices.Reverse(rows) // leaf first: linking must not depend on input order
	roots := tree.Build(rows, tree.ByPositionNameID)

	if got := tree.Count(roots); got != depth {
		t.Fatalf("Count = %d, want %d", got, depth)
	}
	maxDepth := 0
	tree.Walk(roots, func(_ *tree.Node[row], d int) bool {
		maxDepth = max(maxDepth, d)
		return true
	})
	if maxDepth != depth-1 {
		t.Errorf("deepest node at %d, want %d", maxDepth, depth-1)
	}

	got, err := roots[0].MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 1; i <= depth; i++ {
		want.WriteString(`{"id":` + strconv.Itoa(i) + `,"children":[`)
	}
	want.WriteString(strings.Repeat("]}", depth))
	if string(got) != want.String() {
		t.Errorf("MarshalJSON of a %d-deep chain is wrong; starts %.100s, ends %.100s",
			depth, got, got[max(0, len(got)-100):])
	}
}
