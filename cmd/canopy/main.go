// Command canopy serves hierarchical and time-ranged data from PostgreSQL.
//
//	canopy serve                      serve the HTTP API (and the web front end)
//	canopy migrate up|down N|version|force V
//	canopy token create|list|revoke   manage bearer tokens
//	canopy import KIND --file F       load a file of legacy records
//	canopy seed [--profile demo|bench] generate synthetic data
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `canopy serves trees, hospital feeds and monthly listings from PostgreSQL.

Usage:
  canopy serve   [flags]                       serve HTTP (default :8080)
  canopy migrate [flags] up|down N|version|force V
  canopy token   [flags] create --name N --scopes a,b [--user UUID] | list | revoke ID
  canopy import  [flags] KIND --file F [--format csv|ndjson] [--rejects R] [--batch N]
  canopy seed    [flags] [--profile demo|bench] [--scale N] [--seed S] [--if-empty]

Run 'canopy COMMAND -h' for a command's flags. Every flag also has an
environment variable (CANOPY_...); flags win.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal a second one ends the process at once; the
	// embedded PostgreSQL follows it through its parent-death signal.
	go func() { <-ctx.Done(); stop() }()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cfg, err := fromEnv()
	if err != nil {
		fmt.Fprintln(stderr, "canopy:", err)
		return 2
	}
	var cmd func(context.Context, config, []string, io.Writer, *slog.Logger) error
	switch args[0] {
	case "serve":
		cmd = serveCommand
	case "migrate":
		cmd = migrateCommand
	case "token":
		cmd = tokenCommand
	case "import":
		cmd = importCommand
	case "seed":
		cmd = seedCommand
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "canopy: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := cmd(ctx, cfg, args[1:], stdout, newLogger(cfg.LogFormat, stderr)); err != nil {
		if err != errUsage {
			fmt.Fprintln(stderr, "canopy:", err)
		}
		return 1
	}
	return 0
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
