package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"canopy/importer"
	"canopy/seed"
)

func seedCommand(ctx context.Context, cfg config, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("canopy seed", flag.ContinueOnError)
	cfg.databaseFlags(fs)
	fs.BoolVar(&cfg.Migrate, "migrate", cfg.Migrate, "apply pending migrations first (env CANOPY_MIGRATE)")
	opts := seed.Options{}
	fs.StringVar(&opts.Profile, "profile", "demo", "demo (a little of everything, for trying canopy) or bench (large, for benchmarks)")
	fs.Float64Var(&opts.Scale, "scale", 1, "multiply the profile's sizes (bench at 1: 1M articles, 200k purchases, 100k patients)")
	fs.Uint64Var(&opts.Seed, "seed", 1, "the same seed (and --now) gives the same data")
	ifEmpty := fs.Bool("if-empty", false, "do nothing when the database already holds data")
	now := fs.String("now", "", "RFC 3339 time where the generated time ranges end (default: the current hour)")
	out := fs.String("out", "", "write the generated rows to DIR/KIND.csv (files for canopy import) instead of the database")
	fs.IntVar(&opts.Batch, "batch", importer.DefaultBatch, "rows per batch")
	progress := fs.String("progress", "auto", "auto (a bar on a terminal, a line every 5s otherwise), bar, lines or off")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: canopy seed [--profile demo|bench] [--scale N] [--seed S] [--if-empty] [--out DIR] [flags]")
		fs.PrintDefaults()
	}
	args, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return fmt.Errorf("seed takes no arguments, got %q", args)
	}
	if *now != "" {
		t, err := time.Parse(time.RFC3339, *now)
		if err != nil {
			return fmt.Errorf("seed: --now %q: an RFC 3339 time such as 2025-03-01T12:00:00Z", *now)
		}
		opts.Now = t
	}
	if opts.Scale <= 0 {
		return errors.New("seed: --scale must be positive")
	}
	if err := progressTo(&opts.Progress, &opts.ProgressTTY, *progress); err != nil {
		return fmt.Errorf("seed: %w", err)
	}

	if *out != "" {
		paths, err := seed.WriteCSV(*out, opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", strings.Join(paths, ", "))
		return nil
	}

	pool, closeDB, err := openPool(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB()
	if *ifEmpty {
		holds, err := pool.HoldsData(ctx)
		if err != nil {
			return err
		}
		if holds {
			fmt.Fprintln(stdout, "the database already holds data: nothing seeded")
			return nil
		}
	}
	start := time.Now()
	res, err := seed.Run(ctx, pool, opts)
	for _, s := range res.Summaries {
		fmt.Fprintln(stdout, s)
	}
	if err != nil {
		return err
	}
	var rows int64
	for _, s := range res.Summaries {
		rows += s.Imported()
	}
	fmt.Fprintf(stdout, "seeded the %s profile: %d rows in %s\n", opts.Profile, rows, time.Since(start).Round(time.Millisecond))
	if len(res.Users) > 0 {
		fmt.Fprintf(stdout, "articles went to users %s (the first reads the most), e.g. GET /api/v1/users/%s/articles?year=%d&month=%d\n",
			strings.Join(res.Users[:min(len(res.Users), 5)], ", "), res.Users[0], time.Now().Year(), int(time.Now().Month()))
	}
	return nil
}
