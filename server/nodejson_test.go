package server

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// AppendJSON must be json.Marshal, byte for byte, whatever the node holds.
func TestNodeAppendJSONMatchesEncodingJSON(t *testing.T) {
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
		n := node{ID: rng.Int64() - rng.Int64(), Kind: pick(), Name: pick(), Position: rng.Int32() - rng.Int32(),
			Depth: rng.IntN(50), ChildCount: rng.IntN(9), Code: pick(), Match: rng.IntN(2) == 0}
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
