package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// errUsage is returned when a flag set has already said what was wrong.
var errUsage = errors.New("usage")

// parseArgs parses a subcommand's flags wherever they stand among its
// arguments (`canopy migrate up --database-url X` as well as `canopy
// migrate --database-url X up`) and returns the arguments that are not
// flags, in order. After "--" everything is an argument. Package flag
// alone stops at the first argument, so every subcommand parses through
// here.
func parseArgs(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, error) {
	fs.SetOutput(stderr)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// parseAction is parseArgs for a subcommand whose first argument is an
// action (migrate up, token list): the action ("" if none) and the rest.
func parseAction(fs *flag.FlagSet, args []string, stderr io.Writer) (action string, rest []string, err error) {
	rest, err = parseArgs(fs, args, stderr)
	if err != nil || len(rest) == 0 {
		return "", nil, err
	}
	return rest[0], rest[1:], nil
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
