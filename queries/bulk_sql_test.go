package queries

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The bulk writes' statements, the API's and the import's, are composed of
// parts (a column list both share, the import's batch frame, a tree's
// table); testdata holds each one whole, as for the tree statements, so that
// a reader and EXPLAIN see it and a change to a part shows in review as the
// statements it changes:
//
//	go test ./queries -run TestBulkStatements -update
func TestBulkStatements(t *testing.T) {
	type statement struct{ does, sql string }
	statements := map[string]statement{
		"patients_bulk":     {"UpsertPatients: a batch of patient records", patientUpsertSQL},
		"observations_bulk": {"InsertObservations: a batch COPY refused", observationsInsertSQL},
		"predictions_bulk":  {"InsertPredictions: a batch of predictions", predictionsInsertSQL},
		"articles_bulk":     {"InsertArticles: a batch of articles", articleBulkSQL},
	}
	for table, im := range map[string]*FlatImport{
		"wards": ImportWards, "patients": ImportPatients, "observations": ImportObservations,
		"predictions": ImportPredictions, "newsletters": ImportNewsletters, "articles": ImportArticles,
		"teachers": ImportTeachers, "courses": ImportCourses, "packages": ImportPackages, "kits": ImportKits,
		"purchases": ImportPurchases,
	} {
		sql := fmt.Sprintf(stageSetupSQL, im.columns.defs()) + ";\n\n" + im.upsert + ";\n"
		if im.finish != "" {
			sql += "\n" + im.finish + ";"
		}
		statements[table+"_import"] = statement{"Import: the staging tables, the batch statement, what runs after the last batch", sql}
	}
	for table, tr := range map[string]*TreeImport{"categories": ImportCategories, "departments": ImportDepartments} {
		statements[table+"_import"] = statement{"ImportTree: the stored nodes, then per batch upsert, detach, attach",
			tr.loadSQL + ";\n" + tr.upsertSQL + ";\n" + tr.detachSQL + ";\n" + tr.attachSQL + ";"}
	}
	for name, s := range statements {
		t.Run(name, func(t *testing.T) {
			checkRendered(t, name, "-- "+s.does+".\n"+strings.TrimSpace(s.sql)+"\n")
		})
	}
}

// checkRendered compares a statement as rendered now, got, with
// testdata/<name>.sql, or with -update writes it there.
func checkRendered(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name+".sql")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test ./queries -run %s -update writes it)", err, strings.SplitN(t.Name(), "/", 2)[0])
	}
	if got != string(want) {
		t.Errorf("%s differs from the statement as built (-update rewrites it):\n%s", file, got)
	}
}
