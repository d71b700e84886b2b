package queries

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"canopy/internal/testdb"
	"canopy/tree"
)

// outlineOf renders a forest as "a(b c) d", by ids, siblings in order.
func outlineOf(roots []*tree.Node[tree.Row]) string {
	parts := make([]string, len(roots))
	for i, n := range roots {
		parts[i] = fmt.Sprint(n.Item.ID)
		if n.Item.Leaf {
			parts[i] = "w" + parts[i]
		}
		if len(n.Children) > 0 {
			parts[i] += "(" + outlineOf(n.Children) + ")"
		}
	}
	return strings.Join(parts, " ")
}

func TestLinkWalked(t *testing.T) {
	// Rows as "id:parent:position" (parent 0: a root; a w before the id: a
	// leaf), in the order read; names are all equal.
	cases := []struct {
		name, rows string
		ok         bool
	}{
		{"walk order", "1:0:0 2:0:1 3:1:0 4:1:1 5:2:0 6:3:0", true},
		{"roots out of order are sorted", "2:0:1 1:0:0 3:2:0", true},
		{"a department's wards after its departments", "1:0:0 2:1:0 w1:1:1 w2:2:0", true},
		{"one node alone", "1:0:0", true},
		{"siblings out of order", "1:0:0 3:1:1 4:1:0", false},
		{"equal siblings", "1:0:0 3:1:0 w3:1:0", false},
		{"a node's children in two runs", "1:0:0 2:0:0 3:1:0 4:2:0 5:1:1", false},
		{"a child before its parent", "1:0:0 3:2:0 2:1:0", false},
		{"a parent that is a leaf", "1:0:0 w2:1:0 3:2:0", false},
		{"a subtree: the first row has a parent", "2:1:0 3:2:0", false},
		{"a root after other rows", "1:0:0 2:1:0 3:0:0", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rows []tree.Row
			for _, f := range strings.Fields(c.rows) {
				var r tree.Row
				id, rest, _ := strings.Cut(f, ":")
				r.Leaf = strings.HasPrefix(id, "w")
				var parent int64
				fmt.Sscanf(strings.TrimPrefix(id, "w")+":"+rest, "%d:%d:%d", &r.ID, &parent, &r.Position)
				if parent != 0 {
					r.ParentID = &parent
				}
				rows = append(rows, r)
			}
			nodes := wrap(rows)
			roots, ok := linkWalked(nodes)
			if ok != c.ok {
				t.Fatalf("linkWalked reports %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			want := outlineOf(tree.Build(rows, tree.ByPositionNameID[tree.Row]))
			if got := outlineOf(roots); got != want {
				t.Fatalf("linkWalked gives %s, tree.Build %s", got, want)
			}
			for i := range nodes {
				if nodes[i].Children == nil {
					t.Fatalf("row %d has nil Children, not an empty slice", i)
				}
			}
		})
	}
}

func wrap(rows []tree.Row) []tree.Node[tree.Row] {
	nodes := make([]tree.Node[tree.Row], len(rows))
	for i := range rows {
		nodes[i].Item = rows[i]
	}
	return nodes
}

// TestTreeRowsAsSent reads every kind of tree read through a connection that
// gets its results in binary (read by rowReader) and one that gets them in
// text (read by pgx's Scan), and wants the same rows; and it wants the
// statement's own rows for a whole forest in the walk's order, which is what
// lets linkWalked, not tree.Link, link them, and the version read with them.
func TestTreeRowsAsSent(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	for _, sql := range []string{
		`SELECT setseed(0.7)`,
		`INSERT INTO categories (id, parent_id, name, position) OVERRIDING SYSTEM VALUE
			SELECT g, CASE WHEN g <= 3 THEN NULL ELSE 1 + floor(random() * (g - 1))::bigint END, 'node ' || g % 7, g % 3
			FROM generate_series(1, 300) g`,
		`INSERT INTO departments (id, parent_id, name, code, position) OVERRIDING SYSTEM VALUE
			VALUES (1, NULL, 'Surgery', 'S', 0), (2, 1, 'Cardiac <&>', 'SC', 0), (3, 1, 'Ortho "é"', 'SO', 1), (4, NULL, 'Medicine', 'M', 0)`,
		`INSERT INTO wards (id, department_id, name, beds) OVERRIDING SYSTEM VALUE
			VALUES (1, 1, 'Ward A', 10), (2, 2, 'Ward B', 4), (3, 4, 'Ward C', 0)`,
		`INSERT INTO patients (uid, ward_id, admitted_at) VALUES ('p1', 2, now()), ('p2', 2, now()), ('p3', 1, now())`,
	} {
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	text, err := pgxpool.New(ctx, db.URL+"&default_query_exec_mode=simple_protocol")
	if err != nil {
		t.Fatal(err)
	}
	defer text.Close()
	inBinary, inText := New(db.Pool), New(text)
	type read func(*Store) (any, error)
	forest := func(f Forest, err error) (any, error) {
		rows := make([]string, len(f.Nodes))
		for i := range f.Nodes {
			rows[i] = string(f.Nodes[i].Item.AppendJSON(nil))
		}
		return fmt.Sprintf("%s %s", rows, outlineOf(f.Roots)), err
	}
	reads := map[string]read{}
	for _, spec := range []TreeSpec{Categories, Departments} {
		reads[spec.kind+" forest"] = func(s *Store) (any, error) { return forest(s.Tree(ctx, spec, TreeQuery{})) }
		reads[spec.kind+" subtree"] = func(s *Store) (any, error) {
			return forest(s.Tree(ctx, spec, TreeQuery{Root: new(int64(2))}))
		}
		reads[spec.kind+" depth"] = func(s *Store) (any, error) {
			return forest(s.Tree(ctx, spec, TreeQuery{Depth: new(1)}))
		}
		reads[spec.kind+" search"] = func(s *Store) (any, error) {
			f, truncated, version, err := s.Search(ctx, spec, "e", 5)
			got, _ := forest(f, err)
			return fmt.Sprint(got, truncated, version), err
		}
		reads[spec.kind+" node"] = func(s *Store) (any, error) {
			r, err := s.Node(ctx, spec, 3)
			return string(r.AppendJSON(nil)), err
		}
		reads[spec.kind+" ancestors"] = func(s *Store) (any, error) {
			rows, err := s.Ancestors(ctx, spec, 3)
			return forest(Forest{Nodes: wrap(rows)}, err)
		}
	}
	for name, r := range reads {
		binaryRows, err := r(inBinary)
		if err != nil {
			t.Fatalf("%s in binary: %v", name, err)
		}
		textRows, err := r(inText)
		if err != nil {
			t.Fatalf("%s in text: %v", name, err)
		}
		if fmt.Sprintf("%+v", binaryRows) != fmt.Sprintf("%+v", textRows) {
			t.Errorf("%s: binary and text results differ:\n%+v\n%+v", name, binaryRows, textRows)
		}
	}

	f, err := inBinary.Tree(ctx, Categories, TreeQuery{Root: new(int64(2))})
	if err != nil {
		t.Fatal(err)
	}
	if version, err := inBinary.TreeVersion(ctx, Categories); err != nil || f.Version != version || version == 0 {
		t.Fatalf("the tree read version %d, the version is %d (%v)", f.Version, version, err)
	}
	nodes, err := inBinary.queryRows(ctx, Categories, Categories.treeStatement(TreeQuery{}), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := linkWalked(nodes); !ok || len(nodes) != 300 {
		t.Fatalf("the forest's %d rows are not in the walk's order", len(nodes))
	}
}
