package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"canopy/importer"
)

const importUsage = `usage: canopy import KIND --file F [--format csv|ndjson] [--rejects R] [--batch N] [flags]

KIND is one of: %s.
Every row read is imported (inserted, updated or found unchanged) or written
to the rejects file with its line number and the reason; the summary counts
them. Importing the same file again changes nothing. File formats: README.md,
"Import and seed".

The rejects file is never one that was there before: the default, the file's
name with .rejects.csv, gives way to the first free .rejects-N.csv when it
exists, and the summary names the one written; an existing --rejects file is
refused (a device such as /dev/null, or a named pipe, is written to). A rejects
file this import created is removed again when nothing is rejected.
`

func importCommand(ctx context.Context, cfg config, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("canopy import", flag.ContinueOnError)
	cfg.databaseFlags(fs)
	fs.BoolVar(&cfg.Migrate, "migrate", cfg.Migrate, "apply pending migrations first (env CANOPY_MIGRATE)")
	file := fs.String("file", "", "the file to import; - reads standard input")
	format := fs.String("format", "", "csv or ndjson (default: ndjson for a .ndjson or .jsonl file, else csv)")
	rejectsPath := fs.String("rejects", "", "CSV file for the rejected rows; must not exist, unless a device or named pipe (default: the file's name with .rejects.csv, or .rejects-N.csv when that exists; removed when nothing is rejected)")
	batch := fs.Int("batch", importer.DefaultBatch, "rows per batch: per COPY and upsert statement, and per transaction")
	progress := fs.String("progress", "auto", "auto (a bar on a terminal, a line every 5s otherwise), bar, lines or off")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), importUsage, strings.Join(importer.Kinds(), ", "))
		fs.PrintDefaults()
	}
	args, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	switch {
	case len(args) == 0:
		fs.Usage()
		return errUsage
	case len(args) > 1:
		return fmt.Errorf("import: unexpected arguments %q", args[1:])
	case *file == "":
		return errors.New("import: --file is required (- for standard input)")
	case *batch < 1:
		return fmt.Errorf("import: --batch %d: at least 1", *batch)
	}
	kind := args[0]
	if _, err := importer.Columns(kind); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if *format == "" {
		*format = "csv"
		if ext := strings.ToLower(filepath.Ext(*file)); ext == ".ndjson" || ext == ".jsonl" {
			*format = "ndjson"
		}
	}
	if *format != "csv" && *format != "ndjson" {
		return fmt.Errorf("import: --format %q: csv or ndjson", *format)
	}
	opts := importer.Options{Format: *format, Batch: *batch}
	if err := progressTo(&opts.Progress, &opts.ProgressTTY, *progress); err != nil {
		return fmt.Errorf("import: %w", err)
	}

	var in io.Reader = os.Stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			opts.Size = st.Size()
		}
		in = f
	}
	explicitRejects := *rejectsPath != ""
	if !explicitRejects {
		*rejectsPath = kind + ".rejects.csv"
		if *file != "-" {
			*rejectsPath = strings.TrimSuffix(*file, filepath.Ext(*file)) + ".rejects.csv"
		}
	}
	if *file != "-" && sameFile(*file, *rejectsPath) {
		return errors.New("import: --rejects names the input file")
	}
	rejects, err := openRejects(*rejectsPath, explicitRejects)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	opts.Rejects = rejects.f

	pool, closeDB, err := openPool(ctx, cfg, log)
	if err != nil {
		rejects.close(false)
		return err
	}
	defer closeDB()
	sum, err := importer.Import(ctx, pool, kind, in, opts)
	if cerr := rejects.close(sum.Rejected > 0); err == nil && cerr != nil {
		err = fmt.Errorf("import: rejects file: %w", cerr)
	}
	if sum.Read > 0 || err == nil {
		fmt.Fprintln(stdout, sum)
	}
	if sum.Rejected > 0 {
		fmt.Fprintf(stdout, "rejected rows, with line numbers and reasons: %s", rejects.path)
		if rejects.taken != "" {
			fmt.Fprintf(stdout, " (%s exists and is left alone)", rejects.taken)
		}
		fmt.Fprintln(stdout)
	}
	if err != nil {
		return fmt.Errorf("import: %w (the batches written before this stay written; running the import again is safe)", err)
	}
	return nil
}

// rejectsFile is where an import's rejected rows go: a file this import
// created, or a device or named pipe that was there (written to as it is).
type rejectsFile struct {
	f       *os.File
	path    string
	created os.FileInfo // the file this import created; nil for a device or pipe
	taken   string      // the default path, when something there made us pick another name
}

// openRejects opens the rejects file without ever truncating or replacing
// what is there: files are created with O_EXCL, which also refuses a link,
// even one that points nowhere. An explicit path (--rejects) that exists is
// refused unless it is a device or a named pipe (/dev/null, a FIFO); the
// default path, when taken, gives way to the first free <name>-N.csv.
func openRejects(path string, explicit bool) (*rejectsFile, error) {
	const create = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if explicit {
		f, err := os.OpenFile(path, create, 0o644)
		if err == nil {
			return newRejectsFile(f, path, "")
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("rejects file: %w", err)
		}
		refused := fmt.Errorf("--rejects %s exists, and canopy writes rejects only to a file it creates (or to a device or named pipe): remove it or name another", path)
		if st, err := os.Stat(path); err != nil || st.Mode().IsRegular() || st.IsDir() {
			return nil, refused
		}
		if f, err = os.OpenFile(path, os.O_WRONLY, 0); err != nil {
			return nil, fmt.Errorf("rejects file: %w", err)
		}
		// Checked again on what was opened: a regular file swapped in since
		// the Stat above is written over by nothing.
		if st, err := f.Stat(); err != nil || st.Mode().IsRegular() || st.IsDir() {
			f.Close()
			return nil, refused
		}
		return &rejectsFile{f: f, path: path}, nil
	}
	base := strings.TrimSuffix(path, ".csv")
	for n := 1; n <= 1000; n++ {
		name := path
		if n > 1 {
			name = fmt.Sprintf("%s-%d.csv", base, n)
		}
		f, err := os.OpenFile(name, create, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("rejects file: %w", err)
		}
		taken := ""
		if n > 1 {
			taken = path
		}
		return newRejectsFile(f, name, taken)
	}
	return nil, fmt.Errorf("rejects file: %s and %s-2.csv to -1000.csv all exist: name one with --rejects", path, base)
}

func newRejectsFile(f *os.File, path, taken string) (*rejectsFile, error) {
	st, err := f.Stat()
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("rejects file: %w", err)
	}
	return &rejectsFile{f: f, path: path, created: st, taken: taken}, nil
}

// close closes the file and, unless keep, removes it: only if this import
// created it and it is still the file at its path.
func (r *rejectsFile) close(keep bool) error {
	err := r.f.Close()
	if !keep && r.created != nil {
		if st, serr := os.Lstat(r.path); serr == nil && os.SameFile(st, r.created) {
			os.Remove(r.path)
		}
	}
	return err
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}
