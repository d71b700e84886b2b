package importer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"canopy/internal/testdb"
)

// parentOf is the legacy id of the parent of the node with legacy id
// legacy ("" for a root), read from table.
func parentOf(t *testing.T, db *testdb.DB, table, legacy string) string {
	t.Helper()
	return scalar[string](t, db, fmt.Sprintf(`SELECT coalesce(p.legacy_id, '') FROM %s c LEFT JOIN %[1]s p ON p.id = c.parent_id WHERE c.legacy_id = $1`, table), legacy)
}

const categoriesFile = `legacy_id,parent_legacy_id,name,position
c3,c2,Laptops,0
c2,c1,Computers,1
c1,,Electronics,0
x1,x2,Loop A,0
x2,x1,Loop B,0
s1,s1,Self,0
o1,nope,Orphan,0
o2,x1,Child of a loop,0
c1,,Electronics again,0
b1,,,0
b2,,Bad position,abc
`

var categoriesRejects = map[int]string{
	5:  "would make a cycle: ",
	6:  "would make a cycle: ",
	7:  "would make a cycle: s1 → s1",
	8:  `unknown reference: parent_legacy_id "nope"`,
	9:  `unknown reference: parent_legacy_id "x1": its row, on line `,
	10: `duplicate in file: legacy_id "c1" is on line `,
	11: "bad value: name: is required",
	12: "bad value: position: must be an integer",
}

func TestImportCategories(t *testing.T) {
	for _, format := range []string{"csv", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			db := testdb.New(t)
			input, wantRejects := categoriesFile, categoriesRejects
			if format == "ndjson" {
				input, wantRejects = csvToNDJSON(t, input), ndjsonLines(wantRejects)
			}
			sum, rej := load(t, db, "categories", format, input, 0)
			if got, want := counts(sum), "read 11 inserted 3 updated 0 unchanged 0 rejected 8"; got != want {
				t.Errorf("first import: %s, want %s", got, want)
			}
			checkRejects(t, rej, wantRejects)
			for child, parent := range map[string]string{"c1": "", "c2": "c1", "c3": "c2"} {
				if got := parentOf(t, db, "categories", child); got != parent {
					t.Errorf("parent of %s: %q, want %q", child, got, parent)
				}
			}
			if format == "csv" {
				// The rejects file keeps the record as read, less line and reason.
				for _, r := range rej {
					if r.line == 5 && strings.Join(r.record, ",") != "x1,x2,Loop A,0" {
						t.Errorf("rejected record %q", r.record)
					}
				}
			}

			sum, rej = load(t, db, "categories", format, input, 0)
			if got, want := counts(sum), "read 11 inserted 0 updated 0 unchanged 3 rejected 8"; got != want {
				t.Errorf("the same file again: %s, want %s", got, want)
			}
			checkRejects(t, rej, wantRejects)
			if n := scalar[int](t, db, `SELECT count(*) FROM categories`); n != 3 {
				t.Errorf("%d categories after the second import, want 3", n)
			}
		})
	}
}

func TestImportCategoryMoves(t *testing.T) {
	db := testdb.New(t)
	mustLoad(t, db, "categories", "legacy_id,parent_legacy_id,name\nc1,,Electronics\nc2,c1,Computers\nc3,c2,Laptops\nd1,,Books\n")
	// A node the API made: no legacy id, between d1 and its child d2.
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO categories (parent_id, name) SELECT id, 'Made by hand' FROM categories WHERE legacy_id = 'd1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO categories (parent_id, name, legacy_id) SELECT id, 'Novels', 'd2' FROM categories WHERE name = 'Made by hand'`); err != nil {
		t.Fatal(err)
	}
	handMade := scalar[int64](t, db, `SELECT id FROM categories WHERE name = 'Made by hand'`)

	steps := []treeStep{
		{"under a stored descendant", "legacy_id,parent_legacy_id,name\nc1,c3,Electronics\n",
			"read 1 inserted 0 updated 0 unchanged 0 rejected 1",
			map[int]string{2: "would make a cycle: c1 → c3 → c2 → c1"}, map[string]string{"c1": ""}},
		{"through a node without a legacy id", "legacy_id,parent_legacy_id,name\nd1,d2,Books\n",
			"read 1 inserted 0 updated 0 unchanged 0 rejected 1",
			map[int]string{2: fmt.Sprintf("would make a cycle: d1 → d2 → (id %d) → d1", handMade)}, map[string]string{"d1": ""}},
		{"moves and a rename", "legacy_id,parent_legacy_id,name\nc3,c1,Laptops and notebooks\nc2,,Computers\n",
			"read 2 inserted 0 updated 2 unchanged 0 rejected 0", nil, map[string]string{"c3": "c1", "c2": ""}},
		// c1 under c3 and c3 a root: fine at the end, though c1 under c3
		// while c3 is still under c1 would be a cycle.
		{"swap parent and child", "legacy_id,parent_legacy_id,name\nc1,c3,Electronics\nc3,,Laptops and notebooks\n",
			"read 2 inserted 0 updated 2 unchanged 0 rejected 0", nil, map[string]string{"c1": "c3", "c3": ""}},
		{"a new root above a stored one", "legacy_id,parent_legacy_id,name\nc3,top,Laptops and notebooks\ntop,,Everything\n",
			"read 2 inserted 1 updated 1 unchanged 0 rejected 0", nil, map[string]string{"c3": "top", "c1": "c3", "top": ""}},
	}
	runTreeSteps(t, db, steps)
}

func TestImportDepartments(t *testing.T) {
	db := testdb.New(t)
	if _, err := db.Pool.Exec(context.Background(), `INSERT INTO departments (name, code) VALUES ('By hand', 'HAND')`); err != nil {
		t.Fatal(err)
	}
	input := `legacy_id,parent_legacy_id,name,position,code
d3,d1,Cardiology,1,CARD
d1,,Medicine,0,MED
d2,d1,Nephrology,2,NEPH
d4,d1,Second cardiology,3,CARD
d5,,Taken,0,HAND
d6,,No code,0,
d7,d7,Own parent,0,SELF
`
	wantRejects := map[int]string{
		5: `duplicate in file: code "CARD" is on line 2 already`,
		6: `conflict: code "HAND" belongs to another department`,
		7: "bad value: code: is required",
		8: "would make a cycle: d7 → d7",
	}
	sum, rej := load(t, db, "departments", "csv", input, 0)
	if got, want := counts(sum), "read 7 inserted 3 updated 0 unchanged 0 rejected 4"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	checkRejects(t, rej, wantRejects)
	if got := parentOf(t, db, "departments", "d3"); got != "d1" {
		t.Errorf("parent of d3: %q", got)
	}

	sum, _ = load(t, db, "departments", "csv", input, 0)
	if got, want := counts(sum), "read 7 inserted 0 updated 0 unchanged 3 rejected 4"; got != want {
		t.Errorf("again: %s, want %s", got, want)
	}
	// A department keeps its legacy id when its code changes.
	sum, _ = load(t, db, "departments", "csv", "legacy_id,name,code,parent_legacy_id\nd2,Nephrology,RENAL,d1\n", 0)
	if got, want := counts(sum), "read 1 inserted 0 updated 1 unchanged 0 rejected 0"; got != want {
		t.Errorf("new code: %s, want %s", got, want)
	}
	if code := scalar[string](t, db, `SELECT code FROM departments WHERE legacy_id = 'd2'`); code != "RENAL" {
		t.Errorf("code %q", code)
	}
}

// Ten rows in batches of three, every parent after its children: the
// parents are staged in later batches than the rows that name them.
func TestImportTreeInBatches(t *testing.T) {
	db := testdb.New(t)
	var b strings.Builder
	b.WriteString("legacy_id,parent_legacy_id,name,position\n")
	for i := 9; i >= 0; i-- {
		parent := ""
		if i > 0 {
			parent = fmt.Sprintf("n%d", i-1)
		}
		fmt.Fprintf(&b, "n%d,%s,Node %d,%d\n", i, parent, i, i)
	}
	sum, _ := load(t, db, "categories", "csv", b.String(), 3)
	if got, want := counts(sum), "read 10 inserted 10 updated 0 unchanged 0 rejected 0"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	depth := scalar[int](t, db, `WITH RECURSIVE d(id, depth) AS (
        SELECT id, 0 FROM categories WHERE parent_id IS NULL
        UNION ALL SELECT c.id, d.depth + 1 FROM categories c JOIN d ON c.parent_id = d.id)
        SELECT max(depth) FROM d`)
	if depth != 9 {
		t.Errorf("depth %d, want a chain of 10 (depth 9)", depth)
	}
	sum, _ = load(t, db, "categories", "csv", b.String(), 3)
	if got, want := counts(sum), "read 10 inserted 0 updated 0 unchanged 10 rejected 0"; got != want {
		t.Errorf("again: %s, want %s", got, want)
	}
}

// Rows that would put a node past the maximum depth (tree_settings, which
// the database enforces for every writer) are rejected, not the import.
func TestImportTreeMaxDepth(t *testing.T) {
	db := testdb.New(t)
	if _, err := db.Pool.Exec(context.Background(), `UPDATE tree_settings SET max_depth = 2`); err != nil {
		t.Fatal(err)
	}
	steps := []treeStep{
		{"new rows", "legacy_id,parent_legacy_id,name\ne,d,E\nd,c,D\nc,b,C\nb,a,B\na,,A\np,,P\nq,p,Q\n",
			"read 7 inserted 5 updated 0 unchanged 0 rejected 2",
			map[int]string{2: "too deep: e would be at depth 4, past the maximum depth of 2", 3: "too deep: d would be at depth 3, past the maximum depth of 2"},
			map[string]string{"c": "b", "q": "p"}},
		{"a stored subtree moved too deep", "legacy_id,parent_legacy_id,name\np,b,P\n",
			"read 1 inserted 0 updated 0 unchanged 0 rejected 1",
			map[int]string{2: "too deep: q would be at depth 3, past the maximum depth of 2"}, map[string]string{"p": ""}},
		{"moved where it fits", "legacy_id,parent_legacy_id,name\np,a,P\n",
			"read 1 inserted 0 updated 1 unchanged 0 rejected 0", nil, map[string]string{"p": "a", "q": "p"}},
	}
	runTreeSteps(t, db, steps)
}

// treeStep is one import of categories in a sequence: its CSV input, the
// summary's counts, the rejects by line, and parents to check afterwards
// (legacy id to its parent's, "" for a root).
type treeStep struct {
	name    string
	input   string
	want    string
	rejects map[int]string
	parents map[string]string
}

// runTreeSteps imports each step's categories in turn, each a subtest.
func runTreeSteps(t *testing.T, db *testdb.DB, steps []treeStep) {
	t.Helper()
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			sum, rej := load(t, db, "categories", "csv", s.input, 0)
			if got := counts(sum); got != s.want {
				t.Errorf("%s, want %s", got, s.want)
			}
			checkRejects(t, rej, s.rejects)
			for child, parent := range s.parents {
				if got := parentOf(t, db, "categories", child); got != parent {
					t.Errorf("parent of %s: %q, want %q", child, got, parent)
				}
			}
		})
	}
}
