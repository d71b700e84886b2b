package tree_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"canopy/tree"
)

// comparators are the sibling orders the property tests try: input order, a
// coarse order with many ties (to catch an unstable sort), and the usual one.
var comparators = []struct {
	name string
	cmp  func(a, b row) int
}{
	{"input order", nil},
	{"by position", func(a, b row) int { return cmp.Compare(a.Pos, b.Pos) }},
	{"by position, name, id", tree.ByPositionNameID[row]},
}

func TestBuildProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(20240611, 1))
	for i := range 3000 {
		rows := randomRows(r)
		c := comparators[i%len(comparators)]
		checkForest(t, rows, c.cmp, tree.Build(rows, c.cmp))
		if t.Failed() {
			t.Fatalf("case %d (%s): rows %+v", i, c.name, rows)
		}
	}
}

// randomRows makes up to 60 rows over a key space small enough for
// duplicates, with parents that are missing, absent, earlier rows (which
// makes trees) or any key (which makes cycles).
func randomRows(r *rand.Rand) []row {
	n := r.IntN(60)
	keys := int64(1 + r.IntN(n+1))
	rows := make([]row, n)
	for i := range rows {
		rows[i] = row{ID: 1 + r.Int64N(keys), Pos: r.Int64N(3), Name: string(rune('a' + r.IntN(3)))}
		switch r.IntN(6) {
		case 0: // no parent
		case 1:
			rows[i].Parent = keys + 1 + r.Int64N(3) // outside the set
		case 2:
			rows[i].Parent = 1 + r.Int64N(keys)
		default:
			if i > 0 {
				rows[i].Parent = rows[r.IntN(i)].ID
			}
		}
	}
	return rows
}

// FuzzBuild decodes its input as a comparator choice followed by
// (id, parent, position) byte triples over 16 ids, and checks everything
// Build and MarshalJSON promise. Its seeds, in testdata/fuzz/FuzzBuild,
// are named after the case each one exercises.
func FuzzBuild(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		c := comparators[int(data[0])%len(comparators)]
		var rows []row
		for b := data[1:]; len(b) >= 3; b = b[3:] {
			rows = append(rows, row{
				ID:     1 + int64(b[0]%16),
				Parent: int64(b[1] % 20), // 0: none, 17-19: outside the set
				Pos:    int64(b[2] % 4),
				Name:   string(rune('a' + b[2]/4%3)),
			})
		}
		checkForest(t, rows, c.cmp, tree.Build(rows, c.cmp))
	})
}

// checkForest checks roots, built from rows with order, against a naive model
// of Build, and then checks MarshalJSON on it.
func checkForest(t testing.TB, rows []row, order func(a, b row) int, roots []*tree.Node[row]) {
	t.Helper()

	// The model: the first row of each key counts, and it is in the forest
	// if following parents from it ends at a row that is a root.
	first := map[int64]int{}
	for i, r := range rows {
		if _, dup := first[r.ID]; !dup {
			first[r.ID] = i
		}
	}
	isRoot := func(r row) bool {
		p, ok := r.ParentKey()
		_, found := first[p]
		return !ok || !found
	}
	want := map[int64]bool{}
	for id, i := range first {
		r := rows[i]
		for range len(first) {
			if isRoot(r) {
				want[id] = true
				break
			}
			r = rows[first[r.Parent]]
		}
	}

	if roots == nil {
		t.Fatal("Build returned nil")
	}
	checkSiblings := func(what string, nodes []*tree.Node[row]) {
		for i := 1; i < len(nodes); i++ {
			a, b := nodes[i-1].Item, nodes[i].Item
			if order != nil && order(a, b) > 0 {
				t.Errorf("%s: %d sorted before %d", what, a.ID, b.ID)
			}
			if (order == nil || order(a, b) == 0) && first[a.ID] > first[b.ID] {
				t.Errorf("%s: %d and %d not in input order", what, a.ID, b.ID)
			}
		}
	}
	checkSiblings("roots", roots)
	for _, n := range roots {
		if !isRoot(n.Item) {
			t.Errorf("%d is a root but its parent %d is in the rows", n.Item.ID, n.Item.Parent)
		}
	}
	seen := map[int64]bool{}
	tree.Walk(roots, func(n *tree.Node[row], _ int) bool {
		id := n.Item.ID
		if seen[id] {
			t.Errorf("key %d appears twice", id)
			return false
		}
		seen[id] = true
		if !want[id] {
			t.Errorf("key %d should have been left out", id)
		}
		if n.Item != rows[first[id]] {
			t.Errorf("key %d holds %+v, not its first row %+v", id, n.Item, rows[first[id]])
		}
		if n.Children == nil {
			t.Errorf("key %d has nil Children", id)
		}
		for _, c := range n.Children {
			if p, ok := c.Item.ParentKey(); !ok || p != id {
				t.Errorf("%d is a child of %d but has parent %d", c.Item.ID, id, c.Item.Parent)
			}
		}
		checkSiblings(fmt.Sprintf("children of %d", id), n.Children)
		return true
	})
	for id := range want {
		if !seen[id] {
			t.Errorf("key %d is reachable from a root but missing", id)
		}
	}
	if got := tree.Count(roots); got != len(want) {
		t.Errorf("Count = %d, want %d", got, len(want))
	}

	checkJSON(t, roots)
}

// jsonNode is what a rendered row node decodes to.
type jsonNode struct {
	ID       int64      `json:"id"`
	Children []jsonNode `json:"children"`
}

func checkJSON(t testing.TB, roots []*tree.Node[row]) {
	t.Helper()
	data, err := json.Marshal(roots)
	if err != nil {
		t.Fatalf("json.Marshal(forest): %v", err)
	}
	var decoded []jsonNode
	if err := json.Unmarshal(data, &decoded); err != nil {
		t.Fatalf("rendered forest does not decode: %v\n%s", err, data)
	}
	var same func(nodes []*tree.Node[row], decoded []jsonNode) bool
	same = func(nodes []*tree.Node[row], decoded []jsonNode) bool {
		if decoded == nil || len(nodes) != len(decoded) { // nil: "children" missing or null
			return false
		}
		for i, n := range nodes {
			if n.Item.ID != decoded[i].ID || !same(n.Children, decoded[i].Children) {
				return false
			}
		}
		return true
	}
	if !same(roots, decoded) {
		t.Errorf("rendered forest does not match the tree:\n%s", data)
	}
}
