package queries

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	sq "github.com/Masterminds/squirrel"

	"canopy/tree"
)

// TreeSpec describes one hierarchy stored as an adjacency list. Its fields
// are the only identifiers the tree statements are built from, and they are
// unexported so that nothing from a request can reach them: Categories and
// Departments are the trees there are.
type TreeSpec struct {
	table   string    // id, parent_id, name, position; aliased n
	kind    string    // Row.Kind of its nodes
	version string    // key in tree_versions
	code    string    // column read into Row.Code, or "" when the tree has none
	leaf    *leafSpec // rows hung under the nodes, or nil
	// forestRows is how many rows the last read of the whole forest
	// returned: the next one's capacity, so that its rows are read into
	// one array instead of one doubled and copied a dozen times.
	forestRows *atomic.Int64
}

// leafSpec describes rows that hang under a tree's nodes and have no
// children of their own; leaf rows are aliased w.
type leafSpec struct {
	table    string
	kind     string // Row.Kind of its rows
	parent   string // column holding the tree node's id
	beds     string // expression read into Row.Beds
	occupied string // expression read into Row.Occupied
}

// The trees. Departments carry their wards as leaves.
var (
	Categories  = TreeSpec{table: "categories", kind: "category", version: "categories", forestRows: new(atomic.Int64)}
	Departments = TreeSpec{table: "departments", kind: "department", version: "departments", code: "code",
		leaf:       &leafSpec{table: "wards", kind: "ward", parent: "department_id", beds: "w.beds", occupied: wardOccupiedSQL},
		forestRows: new(atomic.Int64)}
)

// Name is the tree's name, as tree_versions and the announcements of its
// versions (Listener) know it.
func (t TreeSpec) Name() string { return t.version }

// HasCode reports whether the tree's nodes carry a code (departments do):
// required when a node is created, and never changed.
func (t TreeSpec) HasCode() bool { return t.code != "" }

// Forest is what a read of a tree returns: Nodes holds every row read, in
// the order read, linked in place into the forest whose roots are Roots,
// siblings ordered by (position, name, id). A row that no root reaches (one
// on a loop written by hand, with the cycle trigger disabled) is in Nodes
// alone.
type Forest struct {
	Roots []*tree.Node[tree.Row]
	Nodes []tree.Node[tree.Row]
	// Version is the tree's version read by the same statement as the
	// rows (Tree only).
	Version int64
}

const treeVersionSQL = `SELECT version FROM tree_versions WHERE tree = $1`

// TreeVersion is the tree's version, which changes in the same transaction
// as every write to the tree (from any writer), so an ETag derived from it
// changes exactly when the tree does.
func (s *Store) TreeVersion(ctx context.Context, t TreeSpec) (int64, error) {
	var v int64
	err := s.db.QueryRow(ctx, treeVersionSQL, t.version).Scan(&v)
	return v, translate(err)
}

const (
	maxTreeDepthSQL    = `SELECT max_depth FROM tree_settings`
	setMaxTreeDepthSQL = `UPDATE tree_settings SET max_depth = $1`
)

// MaxTreeDepth is the greatest depth a tree node may have (a root is at
// depth 0). The database holds it (tree_settings, migration 000009) and
// its triggers refuse, for every writer, an insert or a move that would put
// a node deeper: a ValidationError on parent_id. The default is 1000.
func (s *Store) MaxTreeDepth(ctx context.Context) (int, error) {
	var d int
	err := s.db.QueryRow(ctx, maxTreeDepthSQL).Scan(&d)
	return d, translate(err)
}

// SetMaxTreeDepth changes the maximum depth for every writer. Nodes
// already deeper stay; nothing can be added below them, and a move can
// only bring them up.
func (s *Store) SetMaxTreeDepth(ctx context.Context, depth int) error {
	if depth < 0 {
		return invalidField("max_depth", "must not be negative")
	}
	_, err := s.db.Exec(ctx, setMaxTreeDepthSQL, depth)
	return translate(err)
}

// TreeQuery selects part of a tree.
type TreeQuery struct {
	// Root is the node whose subtree is read; nil reads the whole forest.
	Root *int64
	// Depth limits the levels read below Root (or below the roots): 0 reads
	// Root alone. Wards are one level below their department. nil: no limit.
	Depth *int
}

// Tree reads a forest or one subtree in one statement. Rows keep their
// depth and path in the whole tree, so a subtree's root is at its real depth
// and the client can show its ancestors. An unknown Root is ErrNotFound.
func (s *Store) Tree(ctx context.Context, t TreeSpec, q TreeQuery) (Forest, error) {
	if q.Depth != nil && *q.Depth < 0 {
		return Forest{}, invalidField("depth", "must not be negative")
	}
	capacity := 0
	whole := q.Root == nil && q.Depth == nil
	if whole {
		// A little more, for the rows written since.
		capacity = int(t.forestRows.Load()) * 17 / 16
	}
	var version int64
	nodes, err := s.queryRows(ctx, t, t.treeStatement(q), capacity, &version)
	if err != nil {
		return Forest{}, err
	}
	if whole {
		t.forestRows.Store(int64(len(nodes)))
	}
	if q.Root != nil && len(nodes) == 0 {
		return Forest{}, fmt.Errorf("%w: %s %d", ErrNotFound, t.kind, *q.Root)
	}
	roots, ok := linkWalked(nodes)
	if !ok {
		roots = tree.Link(nodes, tree.ByPositionNameID[tree.Row])
	}
	f := complete(roots, nodes)
	f.Version = version
	return f, nil
}

// linkWalked links the rows of a walk down from the roots in one pass,
// without the index and sort of tree.Link, when they come as the walk gives
// them: the roots first, then level by level each node's children
// together, in sibling order, after those of the nodes read before it. That is the order PostgreSQL's recursive union
// produces when it probes the (parent_id, position, name, id) index once per
// node, but SQL promises no order without ORDER BY, so it is checked as it
// goes: rows in any other order report false, and tree.Link links them.
// A walk down from the roots cannot meet a loop, so its rows' keys are
// unique and every row's parent is read before it; a subtree's root may
// have its parent among the rows (a loop written by hand), so a subtree,
// which has no row without a parent, reports false at once.
func linkWalked(nodes []tree.Node[tree.Row]) ([]*tree.Node[tree.Row], bool) {
	less := func(a, b *tree.Node[tree.Row]) bool { return tree.ByPositionNameID(a.Item, b.Item) < 0 }
	top := 0
	for top < len(nodes) && nodes[top].Item.ParentID == nil {
		top++
	}
	roots := make([]*tree.Node[tree.Row], top)
	for i := range roots {
		roots[i] = &nodes[i]
	}
	slices.SortStableFunc(roots, func(a, b *tree.Node[tree.Row]) int { return tree.ByPositionNameID(a.Item, b.Item) })
	// Each node's children are carved, in turn, out of one array.
	children := make([]*tree.Node[tree.Row], len(nodes)-top)
	next, start, parent := 0, 0, -1
	for i := top; i < len(nodes); i++ {
		r := &nodes[i].Item
		if r.ParentID == nil {
			return nil, false
		}
		isParent := func(p int) bool { return !nodes[p].Item.Leaf && nodes[p].Item.ID == *r.ParentID }
		if parent < 0 || !isParent(parent) {
			// The next parent with children: a node after the last one.
			for parent++; parent < i && !isParent(parent); parent++ {
			}
			if parent == i {
				return nil, false
			}
			start = next
		}
		p := &nodes[parent]
		if n := len(p.Children); n > 0 && !less(p.Children[n-1], &nodes[i]) {
			return nil, false
		}
		children[next] = &nodes[i]
		next++
		p.Children = children[start:next:next]
	}
	for i := range nodes {
		if nodes[i].Children == nil {
			nodes[i].Children = children[:0:0]
		}
	}
	return roots, true
}

// treeStatement is Tree's statement (testdata/*_tree*.sql).
func (t TreeSpec) treeStatement(q TreeQuery) sq.Sqlizer {
	// The walk carries the node's columns along, so the result needs no join
	// back to the table.
	carry := []string{"parent_id", "name", "position"}
	if t.HasCode() {
		carry = append(carry, t.code)
	}
	// A walk down from the roots cannot meet a loop (a node in one has a
	// parent in it, never a root above it); one from another node can only
	// come back to it, or to the ancestors it was found through.
	var ctes []sq.Sqlizer
	anchor := sq.Select(append([]string{"n.id", "ARRAY[n.id]", "0", "0"}, prefixed("n.", carry)...)...).
		From(t.table + " n").Where("n.parent_id IS NULL")
	var stop sq.Sqlizer
	if q.Root != nil {
		ctes = t.walkUp(sq.Eq{"n.id": *q.Root})
		anchor = sq.Select(append([]string{"n.id", "top.path", "0", "cardinality(top.path) - 1"}, prefixed("n.", carry)...)...).
			From(t.table + " n").Join("top ON top.id = n.id").Where(sq.Eq{"n.id": *q.Root})
		stop = sq.Expr("n.id NOT IN (SELECT unnest(path) FROM top)")
	}
	ctes = append(ctes, t.walkDown(anchor, stop, q.Depth, carry...))
	// Child counts come from the forest (link), except for the nodes a depth
	// limit cut off, whose children are not among the rows.
	var children sq.Sqlizer = sq.Expr("-1")
	if q.Depth != nil {
		children = sq.Expr("CASE WHEN r.lvl = ? THEN "+t.childCount("r")+" ELSE -1 END", *q.Depth)
	}
	// Only the walk's first rows carry their path; link derives the others'
	// (and the leaves') from them.
	var rows sq.Sqlizer = sq.Select("false", "r.id", "r.parent_id", "r.name", "r.position", "r.depth", "r.path").
		Column(children).Columns(t.codeColumn("r"), "NULL::int", "NULL::int", "false").From("down r")
	if t.leaf != nil {
		leaves := t.leafRows("down", "r.depth + 1", "NULL", "false")
		if q.Depth != nil {
			leaves = leaves.Where("r.lvl < ?", *q.Depth)
		}
		rows = union("UNION ALL", rows, leaves)
	}
	// The tree's version comes with the rows, from the same snapshot, so
	// that what is cached under it is that version's tree even when the
	// version was read elsewhere first (a replica further behind).
	ctes = append(ctes, cte("result", rows))
	return withRecursive(sq.Select("r.*", "v.version").From("tree_versions v").LeftJoin("result r ON true").
		Where(sq.Eq{"v.tree": t.version}), ctes...)
}

// link links the rows read into their forest, in place, and fills in what
// the statements leave to it: the ChildCount left at -1, that of a node
// whose children (and leaves) are all among the rows, and the Path of every
// row below a root, which is its parent's path and its own id. Both cost a
// pass here; in SQL they cost an index probe and an array per row. The
// paths share one array, sized from the rows' depths.
func link(nodes []tree.Node[tree.Row]) Forest {
	return complete(tree.Link(nodes, tree.ByPositionNameID[tree.Row]), nodes)
}

// complete is link's second half, for nodes already linked under roots.
func complete(roots []*tree.Node[tree.Row], nodes []tree.Node[tree.Row]) Forest {
	size := 0
	for i := range nodes {
		r := &nodes[i].Item
		if r.ChildCount < 0 {
			r.ChildCount = len(nodes[i].Children)
		}
		if r.Path == nil {
			size += r.Depth + 1
		}
	}
	paths := make([]int64, 0, size)
	var complete func(siblings []*tree.Node[tree.Row], parent []int64)
	complete = func(siblings []*tree.Node[tree.Row], parent []int64) {
		for _, n := range siblings {
			r := &n.Item
			switch {
			case r.Path != nil:
			case parent == nil: // a root the statement gave no path (none does)
				r.Path = []int64{}
			default:
				start := len(paths)
				paths = append(append(paths, parent...), r.ID)
				r.Path = paths[start:len(paths):len(paths)]
			}
			complete(n.Children, r.Path)
		}
	}
	complete(roots, nil)
	var loose []int
	for i := range nodes {
		if nodes[i].Item.Path == nil {
			loose = append(loose, i)
		}
	}
	if len(loose) > 0 {
		loopPaths(nodes, loose)
	}
	return Forest{Roots: roots, Nodes: nodes}
}

// loopPaths gives the rows at loose, which no root reaches, a path that
// walks up their parents as far as it goes without repeating a row: their
// parent's, derived first as their stored depth is smaller, and their own
// id. Only a loop written by hand, with the cycle trigger disabled, leaves
// rows off the forest, so this pass and its index are for that case alone.
func loopPaths(nodes []tree.Node[tree.Row], loose []int) {
	index := make(map[tree.RowKey]int, len(nodes))
	for i := range nodes {
		if _, dup := index[nodes[i].Item.Key()]; !dup {
			index[nodes[i].Item.Key()] = i
		}
	}
	slices.SortStableFunc(loose, func(a, b int) int { return cmp.Compare(nodes[a].Item.Depth, nodes[b].Item.Depth) })
	for _, i := range loose {
		r := &nodes[i].Item
		var parent []int64
		if pk, ok := r.ParentKey(); ok {
			if p, found := index[pk]; found {
				parent = nodes[p].Item.Path
			}
		}
		r.Path = append(slices.Clip(parent), r.ID)
	}
}

// Search finds up to limit nodes (and, in the department tree, wards) whose
// name contains q, ignoring case and taking %, _ and \ literally. It returns
// the matches, flagged Match, and every ancestor of each, found by walking up
// from the matches; each node comes once. Of more than limit matches, those
// first by (name, kind, id) are kept and truncated is set. version is the
// tree's version read by the same statement, so that a search costs one
// statement with its ETag.
func (s *Store) Search(ctx context.Context, t TreeSpec, q string, limit int) (found Forest, truncated bool, version int64, err error) {
	if limit < 1 {
		return Forest{}, false, 0, invalidField("limit", "must be at least 1")
	}
	nodes, err := s.queryRows(ctx, t, t.searchStatement(q, limit), 0, &version, &truncated)
	if err != nil {
		return Forest{}, false, 0, err
	}
	return link(nodes), truncated, version, nil
}

// searchStatement is Search's statement (testdata/*_search.sql).
func (t TreeSpec) searchStatement(q string, limit int) sq.Sqlizer {
	pattern := "%" + likeEscaper.Replace(q) + "%"
	// found holds the first limit+1 matches, m the first limit of them;
	// node is the tree node a match hangs from (itself, or a ward's department).
	var found sq.Sqlizer = sq.Select(quoteLiteral(t.kind)+" AS kind", "n.id", "n.id AS node", "n.name").
		From(t.table+" n").Where(`n.name ILIKE ? ESCAPE '\'`, pattern)
	if l := t.leaf; l != nil {
		found = union("UNION ALL", found, sq.Select(quoteLiteral(l.kind), "w.id", "w."+l.parent, "w.name").
			From(l.table+" w").Where(`w.name ILIKE ? ESCAPE '\'`, pattern))
	}
	// The rows carry their stored depth, and only the roots their path:
	// link derives the others' from their parents, all of which are among
	// the rows. A path per row in SQL would cost an array the length of its
	// depth per row: quadratic in the depth of a deep match.
	var result sq.Sqlizer = t.nodeRows("anc", "n.depth", "CASE WHEN n.parent_id IS NULL THEN ARRAY[n.id] END",
		"n.id IN (SELECT id FROM m WHERE kind = "+quoteLiteral(t.kind)+")")
	if l := t.leaf; l != nil {
		result = union("UNION ALL", result,
			t.leafRows("anc", "r.depth + 1", "NULL", "true").Join("m ON m.kind = "+quoteLiteral(l.kind)+" AND m.id = w.id"))
	}
	// The left join yields one row of nulls when nothing matched, which
	// still carries the version.
	return withRecursive(sq.Select("r.*", "v.version").Column(sq.Expr("(SELECT count(*) FROM found) > ?", limit)).
		From("tree_versions v").LeftJoin("result r ON true").Where(sq.Eq{"v.tree": t.version}),
		cte("found", sq.Expr("?\nORDER BY name, kind, id LIMIT ?", found, limit+1)),
		cte("m", sq.Expr("SELECT kind, id, node FROM found ORDER BY name, kind, id LIMIT ?", limit)),
		t.ancestors(sq.Expr("n.id IN (SELECT node FROM m)")),
		cte("result", result))
}

// likeEscaper makes a string match itself literally in a LIKE pattern
// whose escape character is the backslash.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Node reads one node of the tree, with its depth, path and child count, in
// one statement; an unknown id is ErrNotFound.
func (s *Store) Node(ctx context.Context, t TreeSpec, id int64) (tree.Row, error) {
	nodes, err := s.queryRows(ctx, t, t.nodeStatement(id), 1)
	if err != nil {
		return tree.Row{}, err
	}
	if len(nodes) == 0 {
		return tree.Row{}, fmt.Errorf("%w: %s %d", ErrNotFound, t.kind, id)
	}
	return nodes[0].Item, nil
}

// nodeStatement is Node's statement (testdata/*_node.sql).
func (t TreeSpec) nodeStatement(id int64) sq.Sqlizer {
	return withRecursive(t.nodeRows("top", "cardinality(r.path) - 1", "r.path", "false"), t.walkUp(sq.Eq{"n.id": id})...)
}

// Ancestors reads the path to a node, root first and the node last, in one
// statement; an unknown id is ErrNotFound. Each node's Path is a prefix of
// the last one's, sharing its array: the rows and the paths are linear in
// the depth.
func (s *Store) Ancestors(ctx context.Context, t TreeSpec, id int64) ([]tree.Row, error) {
	nodes, err := s.queryRows(ctx, t, t.ancestorsStatement(id), 0)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%w: %s %d", ErrNotFound, t.kind, id)
	}
	rows := make([]tree.Row, len(nodes))
	path := make([]int64, len(nodes))
	for i := range nodes {
		path[i] = nodes[i].Item.ID
		rows[i] = nodes[i].Item
		rows[i].Depth, rows[i].Path = i, path[:i+1:i+1]
	}
	return rows, nil
}

// ancestorsStatement is Ancestors' statement (testdata/*_ancestors.sql).
func (t TreeSpec) ancestorsStatement(id int64) sq.Sqlizer {
	return withRecursive(t.nodeRows("up", "0", "NULL::bigint[]", "false").OrderBy("r.depth"), t.walkUp(sq.Eq{"n.id": id})...)
}

// NewNode is a node to create.
type NewNode struct {
	Name     string
	ParentID *int64 // nil: a root
	// Position nil places the node after its last sibling (one past the
	// greatest position among them, 0 when it has none).
	Position *int32
	Code     string // departments only, required there
}

// CreateNode adds a node and reads it back, in one transaction of two
// statements. An unknown parent is a ValidationError on parent_id; a
// duplicate department code is ErrConflict.
func (s *Store) CreateNode(ctx context.Context, t TreeSpec, n NewNode) (tree.Row, error) {
	if !t.HasCode() && n.Code != "" {
		return tree.Row{}, invalidField("code", "is not a field of "+t.table)
	}
	var node tree.Row
	err := s.inTx(ctx, func(tx *Store) error {
		var id int64
		if err := tx.queryBuilt(ctx, t.insertStatement(n), &id); err != nil {
			return err
		}
		var err error
		node, err = tx.Node(ctx, t, id)
		return err
	})
	return node, err
}

// insertStatement is CreateNode's insert (testdata/*_create*.sql).
func (t TreeSpec) insertStatement(n NewNode) sq.Sqlizer {
	var position any = n.Position
	if n.Position == nil {
		siblings := sq.Eq{"parent_id": nil}
		if n.ParentID != nil {
			siblings = sq.Eq{"parent_id": *n.ParentID}
		}
		// After the last sibling; one at the largest position stays last
		// by name and id, rather than overflowing.
		position = sq.Expr("(?)", sq.Select("least(coalesce(max(position)::bigint + 1, 0), 2147483647)").From(t.table).Where(siblings))
	}
	insert := sq.Insert(t.table).Columns("parent_id", "name", "position").Suffix("RETURNING id")
	if !t.HasCode() {
		return insert.Values(n.ParentID, n.Name, position)
	}
	return insert.Columns(t.code).Values(n.ParentID, n.Name, position, n.Code)
}

// NodePatch changes a node; nil fields are kept.
type NodePatch struct {
	Name     *string
	Position *int32
	// SetParent moves the node under ParentID, or makes it a root when
	// ParentID is nil. A move keeps the node's position.
	SetParent bool
	ParentID  *int64
}

// UpdateNode renames, reorders or moves a node and reads it back, in one
// transaction of at most two statements. Moving a node under itself or a
// descendant is ErrCycle, refused by a trigger that also serialises
// concurrent moves, so that no interleaving of them can close a loop. An
// unknown id is ErrNotFound; an unknown new parent a ValidationError on
// parent_id.
func (s *Store) UpdateNode(ctx context.Context, t TreeSpec, id int64, p NodePatch) (tree.Row, error) {
	if p.Name == nil && p.Position == nil && !p.SetParent {
		return s.Node(ctx, t, id)
	}
	var node tree.Row
	err := s.inTx(ctx, func(tx *Store) error {
		if err := tx.queryBuilt(ctx, t.updateStatement(id, p), new(int64)); err != nil {
			return err
		}
		var err error
		node, err = tx.Node(ctx, t, id)
		return err
	})
	return node, err
}

// updateStatement is UpdateNode's update (testdata/*_update.sql).
func (t TreeSpec) updateStatement(id int64, p NodePatch) sq.Sqlizer {
	update := sq.Update(t.table).Set("updated_at", sq.Expr("now()")).Where(sq.Eq{"id": id}).Suffix("RETURNING id")
	if p.Name != nil {
		update = update.Set("name", *p.Name)
	}
	if p.Position != nil {
		update = update.Set("position", *p.Position)
	}
	if p.SetParent {
		update = update.Set("parent_id", p.ParentID)
	}
	return update
}

// DeleteNode deletes a node in one statement and returns how many rows went:
// without cascade the node alone, and ErrHasChildren if it has children or
// wards; with cascade its whole subtree and the wards in it. An unknown id
// is ErrNotFound.
func (s *Store) DeleteNode(ctx context.Context, t TreeSpec, id int64, cascade bool) (deleted int, err error) {
	err = s.queryBuilt(ctx, t.deleteStatement(id, cascade), &deleted)
	// A delete breaks a foreign key only when rows still refer to the
	// deleted one: a child, a ward, or one added by a concurrent write.
	if errors.As(err, new(*ValidationError)) {
		return 0, fmt.Errorf("%w: rows still refer to %s %d", ErrHasChildren, t.kind, id)
	}
	if err == nil && deleted == 0 {
		err = fmt.Errorf("%w: %s %d", ErrNotFound, t.kind, id)
	}
	return deleted, err
}

// deleteStatement is DeleteNode's statement (testdata/*_delete*.sql).
func (t TreeSpec) deleteStatement(id int64, cascade bool) sq.Sqlizer {
	if !cascade {
		return sq.Delete(t.table).Where(sq.Eq{"id": id}).Suffix("RETURNING 1")
	}
	anchor := sq.Select("id", "NULL::bigint[]", "0", "0").From(t.table).Where(sq.Eq{"id": id})
	ctes := []sq.Sqlizer{t.walkDown(anchor, sq.Expr("n.id <> ?", id), nil),
		cte("gone", sq.Expr("DELETE FROM "+t.table+" WHERE id IN (SELECT id FROM down) RETURNING 1"))}
	count := "(SELECT count(*) FROM gone)"
	if l := t.leaf; l != nil {
		ctes = append(ctes, cte("gone_leaves", sq.Expr("DELETE FROM "+l.table+" WHERE "+l.parent+" IN (SELECT id FROM down) RETURNING 1")))
		count += " + (SELECT count(*) FROM gone_leaves)"
	}
	return withRecursive(sq.Select(count), ctes...)
}

// walkUp is the pair of CTEs that walks from the nodes matching start up to
// their roots: up(start, id, parent_id, depth) holds each start node and
// its ancestors, with their stored depth, and top(id, path) each start
// node's path from the root. Each step reads the parent by one probe of the
// primary key (OFFSET 0 keeps the planner from making it a join that scans
// the table at every level) and carries no array, so a walk is linear in
// the depth. A step must reach a smaller stored depth: every parent has
// one (the triggers of migration 000009 keep depths), and a loop written
// by hand, with the triggers off, cannot have one all the way round, so
// it cannot hang the walk.
func (t TreeSpec) walkUp(start sq.Sqlizer) []sq.Sqlizer {
	anchor := sq.Select("n.id", "n.id", "n.parent_id", "n.depth").From(t.table + " n").Where(start)
	step := sq.Expr("SELECT u.start, p.id, p.parent_id, p.depth FROM up u CROSS JOIN LATERAL " +
		"(SELECT p.id, p.parent_id, p.depth FROM " + t.table + " p WHERE p.id = u.parent_id AND p.depth < u.depth OFFSET 0) p")
	return []sq.Sqlizer{
		cte("up(start, id, parent_id, depth)", union("UNION ALL", anchor, step)),
		cte("top(id, path)", sq.Expr("SELECT start, array_agg(id ORDER BY depth) FROM up GROUP BY start")),
	}
}

// ancestors is the CTE anc(id, parent_id, depth) of the nodes matching
// start and all their ancestors, each once however many of the start nodes
// it is above: a walk linear in the rows it returns. UNION ends it where it
// has been, so a loop written by hand cannot hang it.
func (t TreeSpec) ancestors(start sq.Sqlizer) sq.Sqlizer {
	anchor := sq.Select("n.id", "n.parent_id", "n.depth").From(t.table + " n").Where(start)
	step := sq.Expr("SELECT p.id, p.parent_id, p.depth FROM anc a CROSS JOIN LATERAL " +
		"(SELECT p.id, p.parent_id, p.depth FROM " + t.table + " p WHERE p.id = a.parent_id OFFSET 0) p")
	return cte("anc(id, parent_id, depth)", union("UNION", anchor, step))
}

// walkDown is the CTE down(id, path, lvl, depth, carry...) that walks from
// the anchor rows (id, path, lvl 0, depth, carry...) to their descendants,
// at most maxLevels below the anchor unless maxLevels is nil, carrying the
// named columns of each node and its depth; path stays the anchor's, null
// below it. The limit stops the recursion itself rather than filtering its
// result.
//
// stop (a condition on the child n, or nil) keeps out where a walk from a
// node in a loop written by hand would come back: that node and the
// ancestors it was found through. A walk can meet a loop only by starting
// in it, so that keeps any walk from hanging or repeating a node, without
// the growing path of every row checked at every step (that cost a third of
// a 10k-node forest's walk). It should cost a hash probe per row, not a
// scan of an array as long as the start's depth.
//
// Each node's children are read by a LATERAL subquery that OFFSET 0 keeps
// the planner from flattening: one probe of the (parent_id, ...) index per
// node. Left to itself the planner often picks a hash join, which scans the
// whole table once per level: three times slower at 10k nodes.
func (t TreeSpec) walkDown(anchor, stop sq.Sqlizer, maxLevels *int, carry ...string) sq.Sqlizer {
	children := "SELECT " + strings.Join(append([]string{"c.id"}, prefixed("c.", carry)...), ", ") +
		" FROM " + t.table + " c WHERE c.parent_id = d.id ORDER BY c.position, c.name, c.id OFFSET 0"
	step := sq.Select(append([]string{"n.id", "NULL::bigint[]", "d.lvl + 1", "d.depth + 1"}, prefixed("n.", carry)...)...).
		From("down d").JoinClause("CROSS JOIN LATERAL (" + children + ") n")
	if stop != nil {
		step = step.Where(stop)
	}
	if maxLevels != nil {
		step = step.Where("d.lvl < ?", *maxLevels)
	}
	columns := strings.Join(append([]string{"id", "path", "lvl", "depth"}, carry...), ", ")
	return cte("down("+columns+")", union("UNION ALL", anchor, step))
}

// prefixed returns each name with prefix before it.
func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// childCount is the expression counting the children (and leaves) of the
// node aliased alias.
func (t TreeSpec) childCount(alias string) string {
	children := "(SELECT count(*) FROM " + t.table + " c WHERE c.parent_id = " + alias + ".id)"
	if l := t.leaf; l != nil {
		children += " + (SELECT count(*) FROM " + l.table + " w WHERE w." + l.parent + " = " + alias + ".id)"
	}
	return children
}

// nodeRows selects the row columns of the tree nodes listed in rel r (with
// an id column), with the given expressions for their depth, path and match.
// Every tree read selects these columns, in the order queryRows scans them:
// leaf, id, parent_id, name, position, depth, path, child_count, code, beds,
// occupied, match. Leaf tells a ward from a department, so that no row
// carries its kind as text.
// Each node is read by a probe of the primary key (OFFSET 0 keeps the
// planner from making it a hash join, which scans the whole table), so the
// statement costs what it returns, whatever the size of the tree.
func (t TreeSpec) nodeRows(rel, depth, path, match string) sq.SelectBuilder {
	return sq.Select("false", "n.id", "n.parent_id", "n.name", "n.position",
		depth, path, t.childCount("n"), t.codeColumn("n"), "NULL::int", "NULL::int", match).
		From(rel + " r").JoinClause("CROSS JOIN LATERAL (SELECT * FROM " + t.table + " n WHERE n.id = r.id OFFSET 0) n")
}

// codeColumn is the expression read into Row.Code for the node aliased alias.
func (t TreeSpec) codeColumn(alias string) string {
	if !t.HasCode() {
		return "''"
	}
	return alias + "." + t.code
}

// leafRows selects the row columns of the leaves of the tree nodes in rel
// r, with the given expressions for their depth, path and match.
func (t TreeSpec) leafRows(rel, depth, path, match string) sq.SelectBuilder {
	l := t.leaf
	return sq.Select("true", "w.id", "w."+l.parent, "w.name", "0",
		depth, path, "0", "''", l.beds, l.occupied, match).
		From(rel + " r").Join(l.table + " w ON w." + l.parent + " = r.id")
}

// queryRows runs a statement that selects the row columns of tree t,
// followed by extra columns scanned into extra, which are the same on every
// row (the first row's are read), and reads each row straight into the Item
// of a node, ready for link, in an array of capacity rows to begin with. A
// row whose leaf column is null carries only the extra columns. The result
// is never nil.
func (s *Store) queryRows(ctx context.Context, t TreeSpec, b sq.Sqlizer, capacity int, extra ...any) ([]tree.Node[tree.Row], error) {
	rows, err := s.queryBuiltRows(ctx, b)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	nodes := make([]tree.Node[tree.Row], 0, capacity)
	reader := newRowReader(rows)
	dest := make([]any, treeColumns, treeColumns+len(extra))
	dest = append(dest, extra...)
	for rows.Next() {
		raw := rows.RawValues()
		if raw[0] == nil {
			clear(dest[:treeColumns]) // pgx skips nil destinations
			if err := rows.Scan(dest...); err != nil {
				return nil, translate(err)
			}
			continue
		}
		if len(nodes) == cap(nodes) {
			// Doubled by hand: append grows a large slice a quarter at a
			// time, which for a 100k-row forest allocated and copied
			// 97 MB to keep 16.
			nodes = slices.Grow(nodes, max(len(nodes), 64))
		}
		nodes = nodes[:len(nodes)+1]
		r := &nodes[len(nodes)-1].Item
		if reader.binary {
			if err := reader.read(raw, r); err != nil {
				return nil, err
			}
			clear(dest[:treeColumns])
		} else {
			copy(dest, []any{&r.Leaf, &r.ID, &r.ParentID, &r.Name, &r.Position, &r.Depth, &r.Path,
				&r.ChildCount, &r.Code, &r.Beds, &r.Occupied, &r.Match})
		}
		if !reader.binary || len(nodes) == 1 && len(extra) > 0 {
			if err := rows.Scan(dest...); err != nil {
				return nil, translate(err)
			}
		}
		r.Kind = t.kind
		if r.Leaf {
			r.Kind = t.leaf.kind
		}
	}
	return nodes, translate(rows.Err())
}
