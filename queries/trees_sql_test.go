package queries

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

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
				checkBuilt(t, name, fmt.Sprintf("%s (%s)", s.does, spec.table), s.statement)
			})
		}
	}
}

// checkBuilt is checkRendered for a statement built at run time: what it
// does, the example's arguments in comments, then the statement as sent.
func checkBuilt(t *testing.T, name, does string, statement sq.Sqlizer) {
	t.Helper()
	sql, args, err := dollarSQL(statement)
	if err != nil {
		t.Fatal(err)
	}
	got := "-- " + does + ".\n"
	for i, a := range args {
		got += fmt.Sprintf("-- $%d = %s\n", i+1, literal(a))
	}
	checkRendered(t, name, got+sql+";\n")
}

// The other statements built at run time, the audit log's and the hourly
// means', one example for each shape their filters give.
func TestReadStatements(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to, ward, uid := from.Add(24*time.Hour), int64(7), "P-1"
	action, token := ActionPatientsBulk, int64(3)
	statements := []struct {
		name, does string
		statement  sq.Sqlizer
	}{
		{"audit", "AuditLog: the newest 100 entries", auditStatement(AuditQuery{Limit: 100})},
		{"audit_filtered", "AuditLog: a page after a key, of one action and token, in a window",
			auditStatement(AuditQuery{Limit: 100, After: &AuditKey{At: to, ID: 99}, Action: &action, TokenID: &token, Since: &from, Until: &to})},
		{"hourly", "HourlyMeans: every patient's means over a day", hourlyStatement(HourlyQuery{From: from, To: to})},
		{"hourly_ward", "HourlyMeans: the means of ward 7's patients", hourlyStatement(HourlyQuery{From: from, To: to, WardID: &ward})},
		{"hourly_patient", "HourlyMeans: one patient's means", hourlyStatement(HourlyQuery{From: from, To: to, PatientUID: &uid})},
	}
	for _, s := range statements {
		t.Run(s.name, func(t *testing.T) { checkBuilt(t, s.name, s.does, s.statement) })
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
	case time.Time:
		return "'" + v.Format(time.RFC3339Nano) + "'"
	default:
		return fmt.Sprint(v)
	}
}
