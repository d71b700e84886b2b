package tree_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"canopy/tree"
)

var benchSizes = []struct {
	name string
	n    int
}{{"1k", 1_000}, {"10k", 10_000}, {"100k", 100_000}}

// benchRows makes n rows in 10 trees, each row hanging below a random
// earlier one. That gives an average depth of about ln(n/10), 4.5 to 9 for
// these sizes, and a greatest depth of 13 to 23. Positions collide often, so
// sorting has to look at names.
func benchRows(n int) []row {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	rows := make([]row, n)
	for i := range rows {
		rows[i] = row{ID: int64(i + 1), Pos: r.Int64N(5), Name: fmt.Sprintf("category %d", r.IntN(n))}
		if i >= 10 {
			rows[i].Parent = rows[r.IntN(i)].ID
		}
	}
	return rows
}

func BenchmarkBuild(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			rows := benchRows(size.n)
			for b.Loop() {
				tree.Build(rows, tree.ByPositionNameID)
			}
		})
	}
}

func BenchmarkMarshalJSON(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			roots := tree.Build(benchRows(size.n), tree.ByPositionNameID)
			for b.Loop() {
				total := 0
				for _, root := range roots {
					data, err := root.MarshalJSON()
					if err != nil {
						b.Fatal(err)
					}
					total += len(data)
				}
				b.SetBytes(int64(total))
			}
		})
	}
}
