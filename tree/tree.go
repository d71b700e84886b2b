// Package tree assembles the flat rows of a recursive query into an ordered
// forest and renders it as nested JSON. Row is the one row type of canopy's
// trees: package queries reads rows straight into Nodes and links them, and
// the server writes the same Nodes out, with no copy between.
//
// It is pure computation: it knows nothing of SQL or HTTP, and it never
// trusts its input to be a well-formed tree, so rows with missing parents,
// duplicate keys or parent cycles yield a sane forest instead of a panic or
// an endless loop.
package tree

import (
	"cmp"
	"slices"
	"strings"
)

// Item is what a forest is built from.
//
// K is a type parameter so that rows of different kinds whose ids collide
// (a ward and a department sharing an integer id) can still be told apart
// by a composite key such as struct{ Kind byte; ID int64 }.
type Item[K comparable] interface {
	Key() K
	// ParentKey returns the parent's key, and false for a node that has no parent.
	ParentKey() (K, bool)
}

// Node is one node of a forest.
type Node[T any] struct {
	Item T
	// Children is empty but not nil for a leaf of a forest made by Build or
	// Link, so that encoders other than MarshalJSON render [] too, not null.
	Children []*Node[T]
}

// Build assembles rows into a forest in O(n) plus the cost of sorting
// siblings. Whatever the rows, it neither panics (unless Key, ParentKey or
// cmp do, or K is an interface type holding an uncomparable value) nor loops:
//
//   - A row without a parent, or whose parent key is not among rows, is a
//     root: the result of a subtree query is rooted at a row whose parent
//     lies outside the set.
//   - Of rows sharing a key only the first counts; later ones are ignored.
//   - A row whose parent chain runs into a cycle (a→b→a, or a row that is
//     its own parent) never reaches a root and is left out, together with
//     everything below it.
//   - Roots, and the children of each node, are ordered by cmp, which
//     returns a negative number, zero or a positive number as in
//     [slices.SortFunc]. The sort is stable, so rows that cmp reports equal,
//     and all rows when cmp is nil, keep their input order.
//
// The result is never nil. Nodes share one backing array, so retaining any
// node retains the whole forest.
func Build[K comparable, T Item[K]](rows []T, cmp func(a, b T) int) []*Node[T] {
	nodes := make([]Node[T], len(rows))
	for i, r := range rows {
		nodes[i].Item = r
	}
	return Link(nodes, cmp)
}

// Link is Build for a caller that reads its rows straight into nodes: it
// links them into a forest in place, by the same rules, and returns the
// roots. Every node's Children is overwritten. A node that Build would leave
// out (a repeated key, a node on a cycle or below one) stays in nodes, but
// no root reaches it; a repeated key's node gets no children.
func Link[K comparable, T Item[K]](nodes []Node[T], cmp func(a, b T) int) []*Node[T] {
	const repeat = -2 // parent of a node whose key came before
	index := make(map[K]int, len(nodes))
	parent := make([]int, len(nodes))
	for i := range nodes {
		k := nodes[i].Item.Key()
		if _, dup := index[k]; dup {
			parent[i] = repeat
			continue
		}
		index[k] = i
	}

	// Link in two passes, sizing every Children slice first, so that all of
	// them are carved out of one allocation instead of growing one by one.
	nchild := make([]int, len(nodes))
	linked, nroots := 0, 0
	for i := range nodes {
		if parent[i] == repeat {
			continue
		}
		linked++
		parent[i] = -1
		if pk, ok := nodes[i].Item.ParentKey(); ok {
			if p, found := index[pk]; found {
				parent[i] = p
				nchild[p]++
				continue
			}
		}
		nroots++
	}
	children := make([]*Node[T], linked-nroots)
	for i, c := range nchild {
		// The capacity limit makes a caller's append to one node's
		// Children reallocate instead of overwriting its neighbour's.
		nodes[i].Children = children[:0:c]
		children = children[c:]
	}
	roots := make([]*Node[T], 0, nroots)
	for i, p := range parent {
		switch {
		case p == repeat:
		case p < 0:
			roots = append(roots, &nodes[i])
		default:
			nodes[p].Children = append(nodes[p].Children, &nodes[i])
		}
	}

	if cmp != nil {
		sortSiblings(roots, cmp)
		for i := range nodes {
			sortSiblings(nodes[i].Children, cmp)
		}
	}
	return roots
}

func sortSiblings[T any](siblings []*Node[T], cmp func(a, b T) int) {
	byItem := func(a, b *Node[T]) int { return cmp(a.Item, b.Item) }
	// Rows usually arrive already ordered by the query, and checking is
	// far cheaper than a stable sort of sorted input.
	if len(siblings) > 1 && !slices.IsSortedFunc(siblings, byItem) {
		slices.SortStableFunc(siblings, byItem)
	}
}

// Walk calls fn for every node, depth first and parents before their
// children, with the node's depth below the roots (roots are at 0). When fn
// returns false, the node's children are skipped.
func Walk[T any](roots []*Node[T], fn func(n *Node[T], depth int) bool) {
	walk(roots, fn, 0)
}

func walk[T any](nodes []*Node[T], fn func(n *Node[T], depth int) bool, depth int) {
	for _, n := range nodes {
		if fn(n, depth) {
			walk(n.Children, fn, depth+1)
		}
	}
}

// Count returns the number of nodes in the forest.
func Count[T any](roots []*Node[T]) int {
	count := 0
	Walk(roots, func(*Node[T], int) bool {
		count++
		return true
	})
	return count
}

// Sortable is an item that carries canopy's sibling sort fields.
type Sortable interface {
	SortKey() (position int64, name string, id int64)
}

// ByPositionNameID is the usual comparator for Build: siblings are ordered
// by position, then by name, then by id, which makes the order total as long
// as ids are unique among siblings. Names compare byte-wise, which for UTF-8
// is code point order, not any language's collation.
func ByPositionNameID[T Sortable](a, b T) int {
	ap, an, ai := a.SortKey()
	bp, bn, bi := b.SortKey()
	return cmp.Or(cmp.Compare(ap, bp), strings.Compare(an, bn), cmp.Compare(ai, bi))
}
