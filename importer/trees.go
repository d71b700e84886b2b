package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"canopy/queries"
	"canopy/rules"
)

// The tree kinds, categories and departments, name each row by a legacy id
// (the source system's, kept in the legacy_id column so that a re-import
// updates instead of duplicating) and its parent by the parent's legacy id.
// A parent may come after its children in the file, and a row may move a
// stored node, so no row can be written before the whole file is known:
//
//  1. The tree's advisory lock is taken (the one the move trigger takes, so
//     no move through the API interleaves) and every stored node's id,
//     parent and legacy id is loaded, by one statement.
//  2. The file is read and validated in Go; good rows are COPYed, in
//     batches, into a staging table that also keeps each record as read.
//     The importer holds one small node per stored row and per file row (an
//     id map, not the rows): a tree import's memory grows with the tree.
//  3. In Go, over the final parent mapping (file rows over stored rows):
//     rows whose parent names nothing are rejected, then every cycle is
//     found and the file rows on it rejected, then the rows that would put
//     a node past the maximum depth, until none is left.
//     Rejected rows leave the staging table for the rejects file.
//  4. Set-based statements per batch of staged rows: upsert the nodes by
//     legacy id (without their parents), detach every node whose parent
//     changes, then attach each to its final parent. Each intermediate tree
//     is part of the final one, so has no cycle either; the database's cycle
//     trigger is the last line of defence.
//
// All of it is one transaction (queries.Import.ImportTree): readers see the
// tree before or after, never half-moved, and an interrupted import leaves
// nothing to clean up.

var treeColumns = []column{
	{name: "legacy_id", required: true},
	{name: "parent_legacy_id"},
	{name: "name", required: true},
	{name: "position"},
}

const (
	treeLegacyID = iota
	treeParentID
	treeName
	treePosition
	treeCode // departments only
)

func importTree(ctx context.Context, session *queries.Import, k *kind, src source, opts Options, sum *Summary, rej *rejects, prog *progress) error {
	return session.ImportTree(ctx, k.tree, func(tx *queries.TreeTx) error {
		f, err := loadForest(ctx, tx, k.tree)
		if err != nil {
			return fmt.Errorf("%s: loading the tree: %w", k.name, err)
		}
		if err := stageTree(ctx, tx, k, f, src, opts.Batch, sum, rej, prog); err != nil {
			return err
		}

		rejected, err := f.resolve()
		if err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
		if len(rejected) > 0 {
			lines := make([]int64, 0, len(rejected))
			for line := range rejected {
				lines = append(lines, line)
			}
			dropped, err := tx.DropRejected(ctx, lines)
			if err != nil {
				return fmt.Errorf("%s: %w", k.name, err)
			}
			for _, d := range dropped {
				rej.add(d.Line, rejected[d.Line], d.Original)
			}
		}

		// New nodes go in level by level, so that each is inserted under its
		// parent, stored by then: no move, no per-row cycle check.
		lines, seqs, levels := f.insertOrder()
		if err := tx.Order(ctx, lines, seqs); err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
		staged := int64(len(lines))
		batch := int64(opts.Batch)
		lo := int64(1)
		for _, size := range levels {
			for start, end := lo, lo+size; start < end; start += batch {
				if err := tx.Upsert(ctx, start, min(start+batch, end), f.mark); err != nil {
					return fmt.Errorf("%s: writing nodes: %w", k.name, err)
				}
			}
			lo += size
		}
		moved := func(legacy string) { f.mark(legacy, false) }
		for _, move := range []func(context.Context, int64, int64, func(string)) error{tx.Detach, tx.Attach} {
			for lo := int64(1); lo <= staged; lo += batch {
				if err := move(ctx, lo, lo+batch, moved); err != nil {
					return fmt.Errorf("%s: moving nodes: %w", k.name, err)
				}
			}
		}
		f.count(sum)
		return nil
	})
}

// stageTree reads, validates and stages the file; the staged rows' seq
// runs from 1 in the order of the file.
func stageTree(ctx context.Context, tx *queries.TreeTx, k *kind, f *forest, src source, size int, sum *Summary, rej *rejects, prog *progress) error {
	var staged int64
	rows := make([][]any, 0, size)
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		err := tx.Stage(ctx, rows)
		rows = rows[:0]
		if err != nil {
			return fmt.Errorf("%s: staging: %w", k.name, err)
		}
		return nil
	}
	for {
		rec, err := nextRecord(k, src, sum, rej, prog)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		c := checker{cols: k.columns, fields: rec.fields}
		legacy := c.str(treeLegacyID, rules.NameMax)
		parent := c.text(treeParentID, rules.NameMax)
		name := c.str(treeName, rules.NameMax)
		position := c.int64(treePosition, math.MinInt32, math.MaxInt32)
		var code *string
		if k.tree.HasCode() {
			code = c.text(treeCode, rules.CodeMax)
		}
		if c.err != nil {
			rej.add(rec.line, c.err, rec.original)
			continue
		}
		parentKey, codeKey := "", ""
		if parent != nil {
			parentKey = *parent
		}
		if code != nil {
			codeKey = *code
		}
		if why := f.add(rec.line, legacy, parentKey, codeKey); why != nil {
			rej.add(rec.line, why, rec.original)
			continue
		}
		staged++
		rows = append(rows, []any{staged, rec.line, legacy, parent, name, int32(position), code, rec.original})
		if len(rows) == size {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// treeNode is a node of the tree as it will be: stored, in the file, or both.
type treeNode struct {
	id       int64  // the stored row's id; 0 for a new node
	legacy   string // "" for a stored node without one
	dbParent int32  // the stored parent's index; -1 for a root or a new node
	// The file's row for the node, when line > 0.
	line      int64
	parentKey string // the parent's legacy id; "" for a root
	parent    int32  // parentKey resolved, by resolve
	rejected  *rejection
	inserted  bool
	changed   bool
}

// forest is the stored tree and the file's rows, by index.
type forest struct {
	table    string
	maxDepth int
	nodes    []treeNode
	byLegacy map[string]int32
	byCode   map[string]int32 // stored departments by code
	fileCode map[string]int64 // codes of the file's rows: the line
}

func loadForest(ctx context.Context, tx *queries.TreeTx, t *queries.TreeImport) (*forest, error) {
	f := &forest{table: t.Table(), byLegacy: map[string]int32{}, byCode: map[string]int32{}, fileCode: map[string]int64{}}
	var err error
	if f.maxDepth, err = tx.MaxDepth(ctx); err != nil {
		return nil, err
	}
	byID := map[int64]int32{}
	parentIDs := []int64{}
	err = tx.Nodes(ctx, func(s queries.StoredNode) {
		i := int32(len(f.nodes))
		n := treeNode{id: s.ID, dbParent: -1, parent: -1}
		if s.LegacyID != nil {
			n.legacy = *s.LegacyID
			f.byLegacy[n.legacy] = i
		}
		if s.Code != nil {
			f.byCode[*s.Code] = i
		}
		byID[s.ID] = i
		p := int64(0)
		if s.ParentID != nil {
			p = *s.ParentID
		}
		parentIDs = append(parentIDs, p)
		f.nodes = append(f.nodes, n)
	})
	if err != nil {
		return nil, err
	}
	for i, p := range parentIDs {
		if p != 0 {
			f.nodes[i].dbParent = byID[p]
		}
	}
	return f, nil
}

// add takes the file's row for legacy, or says why not: the legacy id or the
// code met earlier in the file, or the code held by another stored node.
func (f *forest) add(line int64, legacy, parentKey, code string) *rejection {
	i, stored := f.byLegacy[legacy]
	if stored && f.nodes[i].line != 0 {
		return reject(reasonDuplicate, "legacy_id %q is on line %d already", legacy, f.nodes[i].line)
	}
	if code != "" {
		if first, dup := f.fileCode[code]; dup {
			return reject(reasonDuplicate, "code %q is on line %d already", code, first)
		}
		if holder, held := f.byCode[code]; held && (!stored || holder != i) {
			h := f.nodes[holder]
			return reject(reasonConflict, "code %q belongs to another department (id %d, legacy_id %q)", code, h.id, h.legacy)
		}
		f.fileCode[code] = line
	}
	if !stored {
		i = int32(len(f.nodes))
		f.nodes = append(f.nodes, treeNode{legacy: legacy, dbParent: -1})
		f.byLegacy[legacy] = i
	}
	n := &f.nodes[i]
	n.line, n.parentKey, n.parent = line, parentKey, -1
	return nil
}

// inFile says whether node i is a file row not (yet) rejected.
func (f *forest) inFile(i int32) bool { return f.nodes[i].line != 0 && f.nodes[i].rejected == nil }

// parentOf is node i's parent in the tree as it would be written now: the
// file's parent for a file row that stands, else the stored one. A new node
// whose row is rejected is in no tree, and nothing points to it once resolve
// has rejected its children.
func (f *forest) parentOf(i int32) int32 {
	if f.inFile(i) {
		return f.nodes[i].parent
	}
	return f.nodes[i].dbParent
}

// resolve rejects the file rows whose parent names nothing and those that
// would close a cycle, until the tree as it would be written has neither. It
// returns the rejected rows by line.
func (f *forest) resolve() (map[int64]*rejection, error) {
	rejected := map[int64]*rejection{}
	drop := func(i int32, why *rejection) {
		f.nodes[i].rejected = why
		rejected[f.nodes[i].line] = why
	}
	for {
		changed := false
		for i := range f.nodes {
			n := &f.nodes[i]
			if !f.inFile(int32(i)) {
				continue
			}
			n.parent = -1
			if n.parentKey == "" {
				continue
			}
			p, ok := f.byLegacy[n.parentKey]
			switch {
			case !ok:
				drop(int32(i), reject(reasonUnknown, "parent_legacy_id %q is neither in the file nor in %s", n.parentKey, f.table))
				changed = true
			case f.nodes[p].id == 0 && !f.inFile(p):
				drop(int32(i), reject(reasonUnknown, "parent_legacy_id %q: its row, on line %d, is rejected", n.parentKey, f.nodes[p].line))
				changed = true
			default:
				n.parent = p
			}
		}
		broke, err := f.breakCycles(drop)
		if err != nil {
			return nil, err
		}
		if !changed && !broke && !f.tooDeep(drop) {
			return rejected, nil
		}
	}
}

// breakCycles walks up from every node, marking each node with the walk that
// reached it first; meeting a node of the current walk again is a cycle, and
// every file row on it is rejected.
func (f *forest) breakCycles(drop func(int32, *rejection)) (bool, error) {
	walkOf := make([]int32, len(f.nodes))
	broke := false
	for start := range f.nodes {
		if walkOf[start] != 0 {
			continue
		}
		walk := int32(start + 1)
		x := int32(start)
		for x >= 0 && walkOf[x] == 0 {
			walkOf[x] = walk
			x = f.parentOf(x)
		}
		if x < 0 || walkOf[x] != walk {
			continue
		}
		cycle := []int32{x}
		for y := f.parentOf(x); y != x; y = f.parentOf(y) {
			cycle = append(cycle, y)
		}
		path := make([]string, 0, min(len(cycle), 8)+2)
		for _, y := range cycle[:min(len(cycle), 8)] {
			path = append(path, f.show(y))
		}
		if len(cycle) > 8 {
			path = append(path, "…")
		}
		path = append(path, f.show(x))
		why := reject(reasonCycle, "%s", strings.Join(path, " → "))
		found := false
		for _, y := range cycle {
			if f.inFile(y) {
				found = true
				drop(y, why)
			}
		}
		if !found {
			return false, fmt.Errorf("%s already holds a cycle through id %d: repair it by hand first", f.table, f.nodes[x].id)
		}
		broke = true
	}
	return broke, nil
}

// tooDeep rejects, for every node that the tree as it would be written puts
// past the maximum depth, the nearest file row at or above it (a stored
// node moves with its ancestors), and reports whether it rejected any. The
// tree has no cycle: breakCycles ran first.
func (f *forest) tooDeep(drop func(int32, *rejection)) bool {
	depth := make([]int32, len(f.nodes)) // depth + 1; 0 while unknown
	var path []int32
	// Rows are dropped after the pass, which walks the tree as it stands.
	victims := map[int32]*rejection{}
	for i := range f.nodes {
		if f.nodes[i].id == 0 && !f.inFile(int32(i)) {
			continue // a new node whose row is rejected: in no tree
		}
		path = path[:0]
		x := int32(i)
		for x >= 0 && depth[x] == 0 {
			path = append(path, x)
			x = f.parentOf(x)
		}
		d := int32(0)
		if x >= 0 {
			d = depth[x]
		}
		for j := len(path) - 1; j >= 0; j-- {
			d++
			depth[path[j]] = d
		}
		if int(depth[i]-1) <= f.maxDepth {
			continue
		}
		x = int32(i)
		for x >= 0 && !f.inFile(x) {
			x = f.parentOf(x)
		}
		if _, seen := victims[x]; x >= 0 && !seen {
			victims[x] = reject(reasonTooDeep, "%s would be at depth %d, past the maximum depth of %d", f.show(int32(i)), depth[i]-1, f.maxDepth)
		}
	}
	for x, why := range victims {
		drop(x, why)
	}
	return len(victims) > 0
}

func (f *forest) show(i int32) string {
	if n := f.nodes[i]; n.legacy != "" {
		return n.legacy
	}
	return fmt.Sprintf("(id %d)", f.nodes[i].id)
}

// insertOrder orders the file's rows for writing: level 0 is the stored
// nodes and the new nodes whose parent is stored (or that are roots), level
// n+1 the new nodes whose parent is at level n. It returns the lines in that
// order with their new seq (1, 2, ...) and the number of rows per level.
func (f *forest) insertOrder() (lines, seqs, levels []int64) {
	level := make([]int32, len(f.nodes)) // level+1; 0 while unknown
	var path []int32
	for i := range f.nodes {
		if !f.inFile(int32(i)) || level[i] != 0 {
			continue
		}
		// Walk up through new parents to one whose level is known.
		path = path[:0]
		x := int32(i)
		base := int32(0)
		for {
			n := &f.nodes[x]
			if level[x] != 0 {
				base = level[x]
				break
			}
			path = append(path, x)
			if n.id != 0 || n.parent < 0 || f.nodes[n.parent].id != 0 {
				break // stored, a root, or under a stored node: level 0
			}
			x = n.parent
		}
		for j := len(path) - 1; j >= 0; j-- {
			base++
			level[path[j]] = base
		}
	}
	type row struct {
		line  int64
		level int32
	}
	var rows []row
	for i := range f.nodes {
		if f.inFile(int32(i)) {
			rows = append(rows, row{f.nodes[i].line, level[i] - 1})
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		if a.level != b.level {
			return int(a.level - b.level)
		}
		return int(a.line - b.line)
	})
	for i, r := range rows {
		lines = append(lines, r.line)
		seqs = append(seqs, int64(i+1))
		if int(r.level) == len(levels) {
			levels = append(levels, 0)
		}
		levels[r.level]++
	}
	return lines, seqs, levels
}

// mark records what a statement did to the node of legacy.
func (f *forest) mark(legacy string, inserted bool) {
	i, ok := f.byLegacy[legacy]
	if !ok {
		return
	}
	if inserted {
		f.nodes[i].inserted = true
	} else {
		f.nodes[i].changed = true
	}
}

func (f *forest) count(sum *Summary) {
	for i := range f.nodes {
		n := &f.nodes[i]
		switch {
		case !f.inFile(int32(i)):
		case n.inserted:
			sum.Inserted++
		case n.changed:
			sum.Updated++
		default:
			sum.Unchanged++
		}
	}
}
