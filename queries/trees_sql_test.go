package queries

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	sq "github.com/Masterminds/squirrel"
)

var update = flag.Bool("update", false, "rewrite testdata/*.sql from the statements as built")

// The tree statements are composed at run time; testdata holds each one as
// it is sent, with the arguments of the example in a comment, so that a
// reader, and EXPLAIN, can see it whole. A change to a statement shows here
// as a failure, and in review as a diff of its testdata file:
//
//	go test ./queries -run TestTreeStatements -update
func TestTreeStatements(t *testing.T) {
	id, depth, position := int64(42), 2, int32(3)
	for _, spec := range []TreeSpec{Categories, Departments} {
		code := ""
		if spec.HasCode() {
			code = "NEW"
		}
		statements := []struct {
			name, does string
			statement  sq.Sqlizer
		}{
			{"tree", "Tree: the whole forest", spec.treeStatement(TreeQuery{})},
			{"tree_depth", "Tree: the forest down to depth 2", spec.treeStatement(TreeQuery{Depth: &depth})},
			{"subtree", "Tree: the subtree of node 42", spec.treeStatement(TreeQuery{Root: &id})},
			{"subtree_depth", "Tree: the subtree of node 42, two levels below it", spec.treeStatement(TreeQuery{Root: &id, Depth: &depth})},
			{"search", `Search: up to 100 matches of "apple" and their ancestors`, spec.searchStatement("apple", 100)},
			{"node", "Node: node 42", spec.nodeStatement(id)},
			{"ancestors", "Ancestors: the path to node 42", spec.ancestorsStatement(id)},
			{"create", "CreateNode: under node 42, after its last child", spec.insertStatement(NewNode{Name: "new", ParentID: &id, Code: code})},
			{"create_at", "CreateNode: a root at position 3", spec.insertStatement(NewNode{Name: "new", Position: &position, Code: code})},
			{"update", "UpdateNode: node 42 renamed, reordered and moved to the roots",
				spec.updateStatement(id, NodePatch{Name: new("renamed"), Position: &position, SetParent: true})},
			{"delete", "DeleteNode: node 42 alone", spec.deleteStatement(id, false)},
			{"delete_cascade", "DeleteNode: node 42 and everything below it", spec.deleteStatement(id, true)},
		}
		for _, s := range statements {
			name := spec.table + "_" + s.name
			t.Run(name, func(t *testing.T) {
				sql, args, err := dollarSQL(s.statement)
				if err != nil {
					t.Fatal(err)
				}
				got := fmt.Sprintf("-- %s (%s).\n", s.does, spec.table)
				for i, a := range args {
					got += fmt.Sprintf("-- $%d = %s\n", i+1, literal(a))
				}
				got += sql + ";\n"
				checkRendered(t, name, got)
			})
		}
	}
}

// literal writes an argument as SQL would, for the comment above a statement.
func literal(a any) string {
	switch v := a.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case *int64:
		if v == nil {
			return "NULL"
		}
		return fmt.Sprint(*v)
	case *int32:
		if v == nil {
			return "NULL"
		}
		return fmt.Sprint(*v)
	default:
		return fmt.Sprint(v)
	}
}
