package tree_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"canopy/tree"
)

// AppendJSON must be json.Marshal, byte for byte, whatever the row holds.
func TestRowAppendJSONMatchesEncodingJSON(t *testing.T) {
	nasty := []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "\x00\x01\x1f\x7f",
		"<script>&amp;</script>", "\u2028\u2029", "한국어 텍스트", "emoji 🌳", "bad \xff\xfe utf-8", "\b\f", "\xed\xa0\x80"}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string {
		if rng.IntN(3) == 0 {
			b := make([]byte, rng.IntN(12))
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			return string(b)
		}
		return nasty[rng.IntN(len(nasty))]
	}
	for i := range 5000 {
		n := tree.Row{ID: rng.Int64() - rng.Int64(), Kind: pick(), Name: pick(), Position: rng.Int32() - rng.Int32(),
			Depth: rng.IntN(50), ChildCount: rng.IntN(9), Code: pick(), Match: rng.IntN(2) == 0, Leaf: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			p := rng.Int64()
			n.ParentID = &p
		}
		if rng.IntN(4) > 0 {
			n.Path = make([]int64, rng.IntN(5))
			for j := range n.Path {
				n.Path[j] = rng.Int64()
			}
		}
		if rng.IntN(2) == 0 {
			beds, occupied := rng.IntN(100), rng.IntN(100)
			n.Beds, n.Occupied = &beds, &occupied
		}
		want, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// JSONSize must not undershoot while ids have at most six digits, nor
// overshoot by much, for rows as the trees hold them.
func TestJSONSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 100, 5000} {
		nodes := make([]tree.Node[tree.Row], n)
		for i := range nodes {
			r := &nodes[i].Item
			*r = tree.Row{ID: int64(999_999 - i), Kind: "department", Name: fmt.Sprintf("department %d", rng.IntN(n)),
				Position: rng.Int32N(1000), ChildCount: rng.IntN(100), Code: "D" + strconv.Itoa(i)}
			r.Path = []int64{r.ID}
			if i > 0 {
				p := &nodes[rng.IntN(i)].Item
				r.ParentID, r.Depth, r.Path = &p.ID, p.Depth+1, append(slices.Clip(p.Path), r.ID)
			}
			if rng.IntN(3) == 0 {
				beds, occupied := rng.IntN(100), rng.IntN(100)
				r.Kind, r.Leaf, r.Beds, r.Occupied = "ward", true, &beds, &occupied
			}
		}
		body := tree.AppendRows(nil, tree.Link(nodes, tree.ByPositionNameID[tree.Row]))
		if got := tree.JSONSize(nodes); got < len(body) || got > len(body)*3/2+64 {
			t.Errorf("%d rows: JSONSize %d for %d bytes", n, got, len(body))
		}
	}
}

// randomRowForest makes n rows, each under a random earlier one, with the
// paths link gives them, except that one in seven has a path of its own:
// nil, empty, or one that does not extend its parent's.
func randomRowForest(rng *rand.Rand, n int) []tree.Node[tree.Row] {
	nodes := make([]tree.Node[tree.Row], n)
	for i := range nodes {
		r := &nodes[i].Item
		*r = tree.Row{ID: int64(i + 1), Kind: "category", Name: fmt.Sprintf("c <%d>", rng.IntN(n)), Position: rng.Int32N(3)}
		r.Path = []int64{r.ID}
		if i > 0 && rng.IntN(10) > 0 {
			p := &nodes[rng.IntN(i)].Item
			r.ParentID, r.Depth, r.Path = &p.ID, p.Depth+1, append(slices.Clip(p.Path), r.ID)
		}
		switch rng.IntN(14) {
		case 0:
			r.Path = nil
		case 1:
			r.Path = []int64{}
		case 2:
			r.Path = append(slices.Clip(r.Path), r.ID)
		case 3:
			r.Path = append([]int64{7}, r.Path...)
		}
	}
	return nodes
}

func TestAppendRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 2, 10, 300, 3000} {
		nodes := randomRowForest(rng, n)
		roots := tree.Link(nodes, tree.ByPositionNameID[tree.Row])
		want, err := json.Marshal(roots)
		if err != nil {
			t.Fatal(err)
		}
		if got := tree.AppendRows(nil, roots); string(got) != string(want) {
			t.Fatalf("%d rows: AppendRows and json.Marshal differ:\n%s\n%s", n, got, want)
		}
	}
}

func BenchmarkAppendRows(b *testing.B) {
	for _, size := range benchSizes {
		nodes := randomRowForest(rand.New(rand.NewPCG(7, 8)), size.n)
		roots := tree.Link(nodes, tree.ByPositionNameID[tree.Row])
		buf := make([]byte, 0, tree.JSONSize(nodes))
		b.Run(size.name, func(b *testing.B) {
			for b.Loop() {
				tree.AppendRows(buf[:0], roots)
			}
		})
	}
}
