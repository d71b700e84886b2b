package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"canopy/migrations"
)

func migrateCommand(ctx context.Context, cfg config, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("canopy migrate", flag.ContinueOnError)
	cfg.databaseFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: canopy migrate [flags] up | down N | version | force V")
		fs.PrintDefaults()
	}
	action, rest, err := parseAction(fs, args, stdout)
	if err != nil {
		return err
	}
	var n int
	switch {
	case action == "up" || action == "version":
		if len(rest) != 0 {
			fs.Usage()
			return errUsage
		}
	case action == "down" || action == "force":
		var err error
		if len(rest) != 1 {
			fs.Usage()
			return errUsage
		}
		if n, err = strconv.Atoi(rest[0]); err != nil {
			return fmt.Errorf("migrate %s: %q is not a number", action, rest[0])
		}
	default:
		fs.Usage()
		return errUsage
	}

	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	g, err := migrations.Open(db.URL)
	if err != nil {
		return err
	}
	defer g.Close()
	switch action {
	case "up":
		err = g.Up()
	case "down":
		err = g.Down(n)
	case "force":
		err = g.Force(n)
	}
	if err != nil {
		return err
	}
	v, dirty, err := g.Version()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "version %d (latest %d)", v, migrations.Latest())
	if dirty {
		fmt.Fprint(stdout, ", dirty: repair by hand, then `canopy migrate force V`")
	}
	fmt.Fprintln(stdout)
	return nil
}
