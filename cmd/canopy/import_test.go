package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"canopy/internal/testdb"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var summaryLine = regexp.MustCompile(`(\w+): read (\d+) = imported (\d+) \(inserted (\d+), updated (\d+), unchanged (\d+)\) \+ rejected (\d+)`)

// summaryOf is the counts of the summary line: read, imported, inserted,
// updated, unchanged, rejected.
func summaryOf(t *testing.T, out string) string {
	t.Helper()
	m := summaryLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary line in %q", out)
	}
	return strings.Join(m[2:], " ")
}

func TestImportCommand(t *testing.T) {
	db := testdb.New(t)
	dir := t.TempDir()
	departments := writeFile(t, dir, "departments.csv", "legacy_id,parent_legacy_id,name,code\nd2,d1,Cardiology,CARD\nd1,,Medicine,MED\nd3,d3,Loop,LOOP\n")
	wards := writeFile(t, dir, "wards.ndjson", `{"department_code": "CARD", "name": "Ward A", "beds": 12}
{"department_code": "NOPE", "name": "Ward B", "beds": 4}
`)
	patients := writeFile(t, dir, "feed.csv", "uid,name,ward_name,department_code\nP1,Ann,Ward A,CARD\nP2,Bo,,\n")

	steps := []struct {
		name    string
		args    []string
		summary string // read imported inserted updated unchanged rejected
		rejects string // the rejects file, "" when there must be none
	}{
		{"parents after children, a cycle", []string{"import", "departments", "--file", departments},
			"3 2 2 0 0 1", filepath.Join(dir, "departments.rejects.csv")},
		{"again: unchanged", []string{"import", "--file", departments, "departments"},
			"3 2 0 0 2 1", filepath.Join(dir, "departments.rejects.csv")},
		{"ndjson from the extension, rejects elsewhere", []string{"import", "wards", "--file", wards, "--rejects", filepath.Join(dir, "bad-wards.csv")},
			"2 1 1 0 0 1", filepath.Join(dir, "bad-wards.csv")},
		{"batches of one", []string{"import", "patients", "--file", patients, "--batch", "1"},
			"2 2 2 0 0 0", ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(s.args, "--database-url", db.URL, "--progress", "off")...)
			if code != 0 {
				t.Fatalf("exit %d: %s%s", code, out, errOut)
			}
			if got := summaryOf(t, out); got != s.summary {
				t.Errorf("summary %s, want %s:\n%s", got, s.summary, out)
			}
			if s.rejects == "" {
				if _, err := os.Stat(filepath.Join(dir, "feed.rejects.csv")); !os.IsNotExist(err) {
					t.Errorf("a rejects file is left without rejects: %v", err)
				}
				return
			}
			if !strings.Contains(out, s.rejects) {
				t.Errorf("the output does not name the rejects file %s:\n%s", s.rejects, out)
			}
			f, err := os.Open(s.rejects)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := csv.NewReader(f).ReadAll()
			if err != nil || len(rows) != 2 || rows[0][0] != "line" || rows[0][1] != "reason" {
				t.Fatalf("rejects file %q: %v", rows, err)
			}
		})
	}
	var ward string
	if err := db.Pool.QueryRow(context.Background(), `SELECT w.name FROM patients p JOIN wards w ON w.id = p.ward_id WHERE p.uid = 'P1'`).Scan(&ward); err != nil || ward != "Ward A" {
		t.Errorf("P1's ward %q, %v", ward, err)
	}

	refused := []struct {
		name string
		args []string
		want string
	}{
		{"no kind", []string{"import", "--file", patients}, "usage: canopy import KIND"},
		{"unknown kind", []string{"import", "beds", "--file", patients}, `unknown kind "beds"`},
		{"no file", []string{"import", "patients"}, "--file is required"},
		{"missing file", []string{"import", "patients", "--file", filepath.Join(dir, "nope.csv")}, "no such file"},
		{"bad format", []string{"import", "patients", "--file", patients, "--format", "xml"}, `--format "xml"`},
		{"bad header", []string{"import", "wards", "--file", patients}, `unknown column "uid"`},
		{"two kinds", []string{"import", "patients", "wards", "--file", patients}, "unexpected arguments"},
		{"rejects over the input", []string{"import", "patients", "--file", patients, "--rejects", patients}, "--rejects names the input file"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(tt.args, "--database-url", db.URL, "--progress", "off")...)
			if code == 0 || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("exit %d, want an error saying %q:\n%s%s", code, tt.want, out, errOut)
			}
		})
	}
}

func TestSeedCommand(t *testing.T) {
	db := testdb.New(t)
	args := []string{"seed", "--database-url", db.URL, "--progress", "off", "--scale", "0.2", "--seed", "5", "--now", "2025-03-14T15:00:00Z"}
	code, out, errOut := runCLI(t, append(args, "--if-empty")...)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if !strings.Contains(out, "seeded the demo profile") || !strings.Contains(out, "/api/v1/users/") {
		t.Errorf("output:\n%s", out)
	}
	var articles int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM articles`).Scan(&articles); err != nil || articles == 0 {
		t.Fatalf("%d articles, %v", articles, err)
	}

	// --if-empty leaves a database with data alone.
	code, out, _ = runCLI(t, append(args, "--if-empty")...)
	if code != 0 || !strings.Contains(out, "nothing seeded") {
		t.Errorf("--if-empty on seeded data: exit %d:\n%s", code, out)
	}
	// Without it, the same seed finds every row unchanged.
	code, out, _ = runCLI(t, args...)
	if code != 0 || strings.Contains(out, "inserted 1") || !strings.Contains(out, "unchanged") {
		t.Errorf("seeding again: exit %d:\n%s", code, out)
	}

	dir := t.TempDir()
	code, out, errOut = runCLI(t, "seed", "--out", dir, "--scale", "0.1", "--progress", "off")
	if code != 0 || !strings.Contains(out, filepath.Join(dir, "purchases.csv")) {
		t.Errorf("--out: exit %d: %s%s", code, out, errOut)
	}

	for _, bad := range [][]string{{"--profile", "huge"}, {"--scale", "0"}, {"--now", "yesterday"}, {"extra"}} {
		if code, _, _ := runCLI(t, append([]string{"seed", "--database-url", db.URL, "--progress", "off"}, bad...)...); code == 0 {
			t.Errorf("seed %v: exit 0", bad)
		}
	}
}
