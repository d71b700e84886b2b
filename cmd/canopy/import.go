package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"canopy/importer"
	"canopy/migrations"
	"canopy/queries"
)

const importUsage = `usage: canopy import KIND --file F [--format csv|ndjson] [--rejects R] [--batch N] [flags]

KIND is one of: %s.
Every row read is imported (inserted, updated or found unchanged) or written
to the rejects file with its line number and the reason; the summary counts
them. Importing the same file again changes nothing. File formats: README.md,
"Import and seed".
`

func importCommand(ctx context.Context, cfg config, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("canopy import", flag.ContinueOnError)
	cfg.databaseFlags(fs)
	fs.BoolVar(&cfg.Migrate, "migrate", cfg.Migrate, "apply pending migrations first (env CANOPY_MIGRATE)")
	file := fs.String("file", "", "the file to import; - reads standard input")
	format := fs.String("format", "", "csv or ndjson (default: ndjson for a .ndjson or .jsonl file, else csv)")
	rejectsPath := fs.String("rejects", "", "CSV file for the rejected rows (default: the file's name with .rejects.csv; removed when nothing is rejected)")
	batch := fs.Int("batch", importer.DefaultBatch, "rows per batch: per COPY and upsert statement, and per transaction")
	progress := fs.String("progress", "auto", "auto (a bar on a terminal, a line every 5s otherwise), bar, lines or off")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), importUsage, strings.Join(importer.Kinds(), ", "))
		fs.PrintDefaults()
	}
	kind, err := parseWithArg(fs, args, stdout)
	if err != nil {
		return err
	}
	switch {
	case kind == "":
		fs.Usage()
		return errUsage
	case *file == "":
		return errors.New("import: --file is required (- for standard input)")
	case *batch < 1:
		return fmt.Errorf("import: --batch %d: at least 1", *batch)
	}
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
	if *rejectsPath == "" {
		*rejectsPath = kind + ".rejects.csv"
		if *file != "-" {
			*rejectsPath = strings.TrimSuffix(*file, filepath.Ext(*file)) + ".rejects.csv"
		}
	}
	if *file != "-" && sameFile(*file, *rejectsPath) {
		return errors.New("import: --rejects names the input file")
	}
	rejects, err := os.Create(*rejectsPath)
	if err != nil {
		return fmt.Errorf("import: rejects file: %w", err)
	}
	opts.Rejects = rejects

	pool, closeDB, err := openPool(ctx, cfg, log)
	if err != nil {
		rejects.Close()
		os.Remove(*rejectsPath)
		return err
	}
	defer closeDB()
	sum, err := importer.Import(ctx, pool, kind, in, opts)
	if cerr := rejects.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("import: rejects file: %w", cerr)
	}
	if sum.Rejected == 0 {
		os.Remove(*rejectsPath)
	}
	if sum.Read > 0 || err == nil {
		fmt.Fprintln(stdout, sum)
	}
	if sum.Rejected > 0 {
		fmt.Fprintf(stdout, "rejected rows, with line numbers and reasons: %s\n", *rejectsPath)
	}
	if err != nil {
		return fmt.Errorf("import: %w (the batches written before this stay written; running the import again is safe)", err)
	}
	return nil
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// parseWithArg parses flags that may stand before or after one positional
// argument, and returns that argument ("" if none). More than one is an error.
func parseWithArg(fs *flag.FlagSet, args []string, stderr io.Writer) (string, error) {
	if err := parseFlags(fs, args, stderr); err != nil {
		return "", err
	}
	if fs.NArg() == 0 {
		return "", nil
	}
	arg := fs.Arg(0)
	if err := parseFlags(fs, fs.Args()[1:], stderr); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return arg, nil
}

// progressTo sets where progress goes: standard error, drawn as a bar when
// it is a terminal (a character device) unless mode says otherwise.
func progressTo(w *io.Writer, tty *bool, mode string) error {
	isTerminal := false
	if st, err := os.Stderr.Stat(); err == nil {
		isTerminal = st.Mode()&os.ModeCharDevice != 0
	}
	switch mode {
	case "auto":
		*w, *tty = os.Stderr, isTerminal
	case "bar":
		*w, *tty = os.Stderr, true
	case "lines":
		*w, *tty = os.Stderr, false
	case "off":
		*w = nil
	default:
		return fmt.Errorf("--progress %q: auto, bar, lines or off", mode)
	}
	return nil
}

// openPool opens the database (the embedded one, or the URL), migrates it
// when cfg.Migrate says so, and returns a small pool on it: the import and
// the seed use one connection at a time.
func openPool(ctx context.Context, cfg config, log *slog.Logger) (*pgxpool.Pool, func(), error) {
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Migrate {
		if err := migrations.Up(db.URL); err != nil {
			db.Close()
			return nil, nil, err
		}
	}
	pool, err := queries.Open(ctx, queries.PoolConfig{URL: db.URL, MaxConns: 2})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return pool, func() { pool.Close(); db.Close() }, nil
}
