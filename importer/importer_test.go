package importer_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"canopy/importer"
	"canopy/internal/testdb"
	"canopy/queries"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// rejected is one row of a rejects file.
type rejected struct {
	line   int
	reason string
	record []string
}

// load imports input (CSV or NDJSON) and returns the summary and the rejects.
func load(t *testing.T, db *testdb.DB, kind, format, input string, batch int) (importer.Summary, []rejected) {
	t.Helper()
	var rejects bytes.Buffer
	sum, err := importer.Import(context.Background(), queries.Wrap(db.Pool), kind, strings.NewReader(input),
		importer.Options{Format: format, Batch: batch, Rejects: &rejects})
	if err != nil {
		t.Fatalf("import %s: %v", kind, err)
	}
	if sum.Read != sum.Imported()+sum.Rejected {
		t.Errorf("%s: counts do not add up: %s", kind, sum)
	}
	return sum, readRejects(t, rejects.String(), sum.Rejected)
}

// mustLoad imports a CSV that must go in whole.
func mustLoad(t *testing.T, db *testdb.DB, kind, input string) {
	t.Helper()
	if sum, rej := load(t, db, kind, "csv", input, 0); sum.Rejected > 0 {
		t.Fatalf("setup %s: %s: %v", kind, sum, rej)
	}
}

func readRejects(t *testing.T, text string, want int64) []rejected {
	t.Helper()
	if text == "" {
		if want != 0 {
			t.Errorf("%d rejected but the rejects file is empty", want)
		}
		return nil
	}
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("rejects file: %v\n%s", err, text)
	}
	if len(rows[0]) < 2 || rows[0][0] != "line" || rows[0][1] != "reason" {
		t.Fatalf("rejects header %q", rows[0])
	}
	var out []rejected
	for _, row := range rows[1:] {
		line, err := strconv.Atoi(row[0])
		if err != nil {
			t.Fatalf("rejects line %q", row[0])
		}
		out = append(out, rejected{line: line, reason: row[1], record: row[2:]})
	}
	if int64(len(out)) != want {
		t.Errorf("rejects file has %d rows, the summary says %d", len(out), want)
	}
	return out
}

// csvToNDJSON turns a CSV into NDJSON with the same meaning: empty cells
// become absent members, \N null, the rest strings.
func csvToNDJSON(t *testing.T, text string) string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, row := range rows[1:] {
		obj := map[string]any{}
		for i, v := range row {
			switch v {
			case "":
			case `\N`:
				obj[rows[0][i]] = nil
			default:
				obj[rows[0][i]] = v
			}
		}
		line, _ := json.Marshal(obj)
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func scalar[T any](t *testing.T, db *testdb.DB, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := db.Pool.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// checkRejects compares rejects with want: line → the start of the reason.
func checkRejects(t *testing.T, got []rejected, want map[int]string) {
	t.Helper()
	seen := map[int]bool{}
	for _, r := range got {
		prefix, ok := want[r.line]
		switch {
		case !ok:
			t.Errorf("line %d rejected unexpectedly: %s", r.line, r.reason)
		case !strings.HasPrefix(r.reason, prefix):
			t.Errorf("line %d: reason %q, want it to start with %q", r.line, r.reason, prefix)
		}
		seen[r.line] = true
	}
	for line, prefix := range want {
		if !seen[line] {
			t.Errorf("line %d not rejected (want %q)", line, prefix)
		}
	}
}

func counts(s importer.Summary) string {
	return fmt.Sprintf("read %d inserted %d updated %d unchanged %d rejected %d", s.Read, s.Inserted, s.Updated, s.Unchanged, s.Rejected)
}

var lineRef = regexp.MustCompile(`line \d+`)

// ndjsonLines maps CSV line numbers (header on line 1) to NDJSON ones.
func ndjsonLines(want map[int]string) map[int]string {
	out := map[int]string{}
	for line, reason := range want {
		out[line-1] = lineRef.ReplaceAllStringFunc(reason, func(ref string) string {
			n, _ := strconv.Atoi(strings.TrimPrefix(ref, "line "))
			return "line " + strconv.Itoa(n-1)
		})
	}
	return out
}

func importString(db *testdb.DB, kind, input string) (importer.Summary, error) {
	return importer.Import(context.Background(), queries.Wrap(db.Pool), kind, strings.NewReader(input), importer.Options{})
}
