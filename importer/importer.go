// Package importer loads files of legacy records into canopy's tables, fast
// and without losing a row: every record read is either imported (inserted,
// updated, or found unchanged) or written to the rejects file with its line
// number and the reason.
//
// The engine, for every kind but the two trees:
//
//   - Natural keys (a department code, a patient uid, a course id) are turned
//     into row ids from maps loaded once per run (queries.Import's
//     DepartmentIDs, PatientIDs, ...), one statement per table the kind
//     refers to; never one per row.
//   - Records are validated in Go as they are read, in batches of a fixed
//     size (Options.Batch), so memory stays flat whatever the input's length:
//     a batch is all the importer holds (two of them, since reading and
//     writing overlap). A record that fails is rejected there and never
//     reaches the database, so no batch statement fails for one bad row.
//   - Each batch is written by queries.Import.Write: COPYed into a staging
//     table and upserted by natural key in one set-based statement, in a
//     transaction of its own, which counts the rows inserted and updated;
//     the rest are unchanged.
//   - A natural key met twice in one file is a duplicate: within a batch it
//     is caught in Go, across batches by the database, which keeps the run's
//     keys (not the importer's memory).
//   - Since every write is an upsert by natural key, an interrupted import is
//     simply run again: the batches already written come out unchanged.
//
// The tree kinds (categories, departments) work differently: see trees.go.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"canopy/queries"
)

// DefaultBatch is the number of rows per batch when Options.Batch is 0.
const DefaultBatch = 10_000

// Options configures one import.
type Options struct {
	// Format is the input's format for Import: "csv" (the default) or "ndjson".
	Format string
	// Size is the input's size in bytes, for the progress ETA; 0 if unknown.
	Size int64
	// Total is the number of rows ImportRows will be given, for the ETA.
	Total int64
	// Batch is the number of rows written per statement; DefaultBatch if 0.
	Batch int
	// Rejects receives the rejected rows as CSV (line, reason, the record as
	// read); nil only counts them.
	Rejects io.Writer
	// Progress receives progress reports; nil for none. ProgressTTY draws a
	// bar redrawn in place, for a terminal; otherwise a plain line is written
	// every ProgressEvery (default 5s; 200ms for the bar).
	Progress      io.Writer
	ProgressTTY   bool
	ProgressEvery time.Duration
}

// Summary counts what an import did with the rows it read: Read = Inserted
// + Updated + Unchanged + Rejected.
type Summary struct {
	Kind      string
	Read      int64
	Inserted  int64
	Updated   int64
	Unchanged int64 // imported, but the stored row already said the same
	Rejected  int64
	Elapsed   time.Duration
}

// Imported is the number of rows that are now in the database as the file says.
func (s Summary) Imported() int64 { return s.Inserted + s.Updated + s.Unchanged }

// String is the one-line summary canopy import prints.
func (s Summary) String() string {
	rate := ""
	if secs := s.Elapsed.Seconds(); secs > 0 {
		rate = fmt.Sprintf(", %s rows/s", thousands(int64(float64(s.Read)/secs)))
	}
	return fmt.Sprintf("%s: read %d = imported %d (inserted %d, updated %d, unchanged %d) + rejected %d, in %s%s",
		s.Kind, s.Read, s.Imported(), s.Inserted, s.Updated, s.Unchanged, s.Rejected, s.Elapsed.Round(time.Millisecond), rate)
}

// Kinds lists the kinds of records there are, in an order in which each
// kind's references are imported before it.
func Kinds() []string {
	names := make([]string, len(allKinds))
	for i, k := range allKinds {
		names[i] = k.name
	}
	return names
}

// Columns lists a kind's columns, in the order the README documents them.
func Columns(kind string) ([]string, error) {
	k, err := kindNamed(kind)
	if err != nil {
		return nil, err
	}
	return columnNames(k.columns), nil
}

// allKinds are the kinds in an order in which each one's references come first.
var allKinds = []*kind{
	{name: "categories", keyName: "legacy_id", columns: treeColumns, tree: queries.ImportCategories},
	{name: "departments", keyName: "legacy_id", columns: append(treeColumns[:len(treeColumns):len(treeColumns)], column{name: "code", required: true}), tree: queries.ImportDepartments},
	wardsKind,
	patientsKind,
	observationsKind,
	predictionsKind,
	newslettersKind,
	articlesKind,
	teachersKind,
	coursesKind,
	packagesKind,
	kitsKind,
	purchasesKind,
}

func kindNamed(name string) (*kind, error) {
	for _, k := range allKinds {
		if k.name == name {
			return k, nil
		}
	}
	return nil, fmt.Errorf("unknown kind %q: one of %s", name, strings.Join(Kinds(), ", "))
}

// Import reads records of kind from r (CSV with a header row, or NDJSON, as
// opts.Format says) and writes them to the database. The error is for what
// ends the import early (an unknown kind, a bad header, the input or the
// database failing); rejected rows are counted in the summary and written to
// opts.Rejects. Batches written before an error stay written.
func Import(ctx context.Context, db *queries.DB, kind string, r io.Reader, opts Options) (Summary, error) {
	return run(ctx, db, kind, opts, func(cols []column) (source, error) {
		switch opts.Format {
		case "", "csv":
			return newCSVSource(r, opts.Size, cols)
		case "ndjson":
			return newNDJSONSource(r, opts.Size, cols), nil
		}
		return nil, fmt.Errorf("format %q: csv or ndjson", opts.Format)
	})
}

// ImportRows imports rows that a program generates (canopy seed) through the
// same path as a file: next returns the cells of one row at a time in the
// order of columns, with the CSV conventions (empty is absent, \N is null),
// and io.EOF after the last. Line numbers in rejects count the rows from 2,
// as in a CSV file with a header.
func ImportRows(ctx context.Context, db *queries.DB, kind string, columns []string, next func() ([]string, error), opts Options) (Summary, error) {
	return run(ctx, db, kind, opts, func(cols []column) (source, error) {
		return newRowSource(columns, opts.Total, next, cols)
	})
}

func run(ctx context.Context, db *queries.DB, kindName string, opts Options, open func([]column) (source, error)) (sum Summary, err error) {
	k, err := kindNamed(kindName)
	if err != nil {
		return Summary{}, err
	}
	sum.Kind = k.name
	src, err := open(k.columns)
	if err != nil {
		return sum, fmt.Errorf("%s: %w", k.name, err)
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	start := time.Now()
	session, err := db.StartImport(ctx)
	if err != nil {
		return sum, err
	}
	defer session.Close()
	rej := newRejects(opts.Rejects, src.rejectColumns())
	prog := newProgress(opts.Progress, opts.ProgressTTY, opts.ProgressEvery, k.name, start)
	if k.tree != nil {
		err = importTree(ctx, session, k, src, opts, &sum, rej, prog)
	} else {
		err = importFlat(ctx, session, k, src, opts, &sum, rej, prog)
	}
	prog.finish()
	sum.Rejected = rej.count()
	sum.Elapsed = time.Since(start)
	if ferr := rej.flush(); err == nil && ferr != nil {
		err = fmt.Errorf("rejects file: %w", ferr)
	}
	if err == nil && sum.Read != sum.Imported()+sum.Rejected {
		err = fmt.Errorf("%s: the counts do not add up: %s", k.name, sum)
	}
	return sum, err
}

// kind is one kind of record: its columns, and how it is written.
type kind struct {
	name    string
	columns []column
	// keyName names the natural key in reasons: "uid", "(department_code, name)".
	keyName string

	// tree, for the tree kinds, is how the tree is written; the fields
	// below are for the others.
	tree *queries.TreeImport

	// write is how the kind's rows are written: the order of their values,
	// and the batch statement.
	write *queries.FlatImport
	// prepare loads what the kind refers to and returns its row parser.
	prepare func(ctx context.Context, session *queries.Import) (parser, error)
}

// parser validates one record and returns its values (in the order that
// kind.write documents) and its natural key. A bad field is reported
// through c; a reference to nothing as the rejection.
type parser func(c *checker) (values []any, key string, rej *rejection)

// batch is a batch of valid rows on their way to the staging table.
type batch struct {
	rows      [][]any // line, key, then the kind's values
	originals [][]string
}

func importFlat(ctx context.Context, session *queries.Import, k *kind, src source, opts Options, sum *Summary, rej *rejects, prog *progress) error {
	parse, err := k.prepare(ctx, session)
	if err != nil {
		return fmt.Errorf("%s: loading references: %w", k.name, err)
	}
	if err := session.Stage(ctx, k.write); err != nil {
		return fmt.Errorf("%s: staging table: %w", k.name, err)
	}

	// Reading and validating the next batch overlaps with writing this one.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *batch, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- readBatches(ctx, k, src, parse, opts.Batch, batches, sum, rej, prog)
	}()
	var writeErr error
	for b := range batches {
		if writeErr == nil {
			if writeErr = writeBatch(ctx, session, k, b, sum, rej); writeErr != nil {
				cancel()
			}
		}
	}
	// The writer's error comes first: the reader then only saw the cancellation.
	if err := <-readErr; writeErr == nil && err != nil {
		return err
	}
	if writeErr != nil {
		return writeErr
	}
	if err := session.Finish(ctx); err != nil {
		return fmt.Errorf("%s: %w", k.name, err)
	}
	return nil
}

// readBatches reads and validates records, rejecting the bad ones, and sends
// full batches of good ones to out. It alone writes sum.Read.
func readBatches(ctx context.Context, k *kind, src source, parse parser, size int, out chan<- *batch, sum *Summary, rej *rejects, prog *progress) error {
	b := &batch{}
	firstLine := make(map[string]int64, size) // keys of this batch
	send := func() error {
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		b = &batch{rows: make([][]any, 0, size), originals: make([][]string, 0, size)}
		clear(firstLine)
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
		values, key, why := parse(&c)
		switch {
		case c.err != nil:
			rej.add(rec.line, c.err, rec.original)
			continue
		case why != nil:
			rej.add(rec.line, why, rec.original)
			continue
		}
		if first, dup := firstLine[key]; dup {
			rej.add(rec.line, reject(reasonDuplicate, "the same %s %s as line %d", k.keyName, showKey(key), first), rec.original)
			continue
		}
		firstLine[key] = rec.line
		b.rows = append(b.rows, append([]any{rec.line, key}, values...))
		b.originals = append(b.originals, rec.original)
		if len(b.rows) == size {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if len(b.rows) > 0 {
		return send()
	}
	return nil
}

func showKey(key string) string {
	if strings.Contains(key, keySep) {
		return "(" + strings.ReplaceAll(key, keySep, ", ") + ")"
	}
	return fmt.Sprintf("%q", key)
}

// nextRecord reads the next well-formed record of src: it counts every
// record read in sum, reports progress every 1,024, and sends a malformed one
// to rej and reads on. At the end of the input it returns io.EOF.
func nextRecord(k *kind, src source, sum *Summary, rej *rejects, prog *progress) (record, error) {
	for {
		rec, err := src.next()
		if errors.Is(err, io.EOF) {
			return record{}, io.EOF
		}
		if err != nil {
			return record{}, fmt.Errorf("%s: reading: %w", k.name, err)
		}
		sum.Read++
		if sum.Read%1024 == 0 {
			done, total := src.progress()
			prog.update(time.Now(), sum.Read, done, total)
		}
		if rec.err == nil {
			return rec, nil
		}
		rej.add(rec.line, rec.err, rec.original)
	}
}

// writeBatch stages a batch and writes it in one transaction.
func writeBatch(ctx context.Context, session *queries.Import, k *kind, b *batch, sum *Summary, rej *rejects) error {
	counts, err := session.Write(ctx, b.rows)
	if err != nil {
		return fmt.Errorf("%s: writing the batch of lines %d to %d: %w", k.name, b.rows[0][0], b.rows[len(b.rows)-1][0], err)
	}
	sum.Inserted += counts.Inserted
	sum.Updated += counts.Updated
	sum.Unchanged += int64(len(b.rows)-len(counts.Duplicates)) - counts.Inserted - counts.Updated
	for _, line := range counts.Duplicates {
		i := sort.Search(len(b.rows), func(i int) bool { return b.rows[i][0].(int64) >= line })
		rej.add(line, reject(reasonDuplicate, "the same %s %s as an earlier line", k.keyName, showKey(b.rows[i][1].(string))), b.originals[i])
	}
	return nil
}
