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
		{"again: unchanged, rejects beside the first run's", []string{"import", "--file", departments, "departments"},
			"3 2 0 0 2 1", filepath.Join(dir, "departments.rejects-2.csv")},
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

// import writes rejects only to a file it creates itself: a file already at the
// default rejects path (or a link there) is neither truncated nor removed, the
// rejects go to the next free name, and an existing --rejects file is refused.
func TestImportNeverOverwritesAFile(t *testing.T) {
	db := testdb.New(t)
	dir := t.TempDir()
	clean := writeFile(t, dir, "clean.csv", "legacy_id,parent_legacy_id,name,position\nc1,,Electronics,0\n")
	mixed := writeFile(t, dir, "mixed.csv", "legacy_id,parent_legacy_id,name,position\nc2,c1,Computers,0\nc9,nowhere,Lost,0\n")
	const precious = "kept by the user\n"
	cleanRejects := writeFile(t, dir, "clean.rejects.csv", precious)
	mixedRejects := writeFile(t, dir, "mixed.rejects.csv", precious)
	target := writeFile(t, dir, "elsewhere.txt", precious)
	link := filepath.Join(dir, "mixed.rejects-2.csv")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	mine := writeFile(t, dir, "mine.csv", precious)

	steps := []struct {
		name    string
		args    []string
		exit0   bool
		summary string // read imported inserted updated unchanged rejected; "" for a refusal
		say     string // in the output
		rejects string // where the rejects must be, "" for nowhere new
	}{
		{"nothing rejected, a file at the default path", []string{"--file", clean}, true,
			"1 1 1 0 0 0", "", ""},
		{"rejects, a file and a link at the default paths", []string{"--file", mixed}, true,
			"2 1 1 0 0 1", filepath.Join(dir, "mixed.rejects-3.csv") + " (" + mixedRejects + " exists and is left alone)",
			filepath.Join(dir, "mixed.rejects-3.csv")},
		{"an existing --rejects file", []string{"--file", mixed, "--rejects", mine}, false,
			"", "--rejects " + mine + " exists", ""},
		{"--rejects a device", []string{"--file", mixed, "--rejects", os.DevNull}, true,
			"2 1 0 0 1 1", "rejected rows, with line numbers and reasons: " + os.DevNull, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			args := append([]string{"import", "categories", "--database-url", db.URL, "--progress", "off"}, s.args...)
			code, out, errOut := runCLI(t, args...)
			if (code == 0) != s.exit0 {
				t.Fatalf("exit %d: %s%s", code, out, errOut)
			}
			if s.summary != "" {
				if got := summaryOf(t, out); got != s.summary {
					t.Errorf("summary %s, want %s:\n%s", got, s.summary, out)
				}
			}
			if !strings.Contains(out+errOut, s.say) {
				t.Errorf("the output does not say %q:\n%s%s", s.say, out, errOut)
			}
			for _, f := range []string{cleanRejects, mixedRejects, target, mine} {
				if b, err := os.ReadFile(f); err != nil || string(b) != precious {
					t.Errorf("%s now holds %q (%v)", f, b, err)
				}
			}
			if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the link %s was replaced: %v", link, err)
			}
			if st, err := os.Stat(os.DevNull); err != nil || st.Mode()&os.ModeCharDevice == 0 {
				t.Errorf("%s is no longer a device: %v", os.DevNull, err)
			}
			if s.rejects != "" {
				f, err := os.Open(s.rejects)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				rows, err := csv.NewReader(f).ReadAll()
				if err != nil || len(rows) != 2 || rows[1][2] != "c9" {
					t.Errorf("rejects file %q: %v", rows, err)
				}
			}
		})
	}
	var n int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM categories`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d categories, %v; want 2 (the refused import must import nothing)", n, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 8 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files left: %q; want the 7 made here and mixed.rejects-3.csv", names)
	}
}
