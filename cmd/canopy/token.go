package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"canopy/auth"
	"canopy/queries"
	"canopy/rules"
)

func tokenCommand(ctx context.Context, cfg config, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("canopy token", flag.ContinueOnError)
	cfg.databaseFlags(fs)
	name := fs.String("name", "", "create: the token's name (who or what holds it)")
	scopes := fs.String("scopes", "", "create: comma-separated scopes: "+strings.Join(auth.Scopes, ", "))
	userID := fs.String("user", "", "create: bind the token to one user (UUID): it reads only that user's articles")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: canopy token create --name NAME --scopes a,b [--user UUID] | list | revoke ID")
		fs.PrintDefaults()
	}
	action, rest, err := parseAction(fs, args, stdout)
	if err != nil {
		return err
	}

	var run func(*queries.Store) error
	if (action == "create" || action == "list") && len(rest) > 0 {
		fs.Usage()
		return errUsage
	}
	switch action {
	case "create":
		list := splitList(*scopes)
		switch {
		case strings.TrimSpace(*name) == "":
			return fmt.Errorf("token create: --name is required")
		case *userID != "" && !rules.ValidUUID(*userID):
			return fmt.Errorf("token create: --user %q is not a UUID", *userID)
		}
		if err := auth.CheckScopes(list, *userID); err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		run = func(store *queries.Store) error {
			token, row, err := auth.NewToken(strings.TrimSpace(*name), list, *userID)
			if err != nil {
				return err
			}
			stored, err := store.CreateToken(ctx, row)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "created token %d %q with scopes %s; it is shown only this once:\n%s\n",
				stored.ID, stored.Name, strings.Join(stored.Scopes, ","), token)
			return nil
		}
	case "list":
		run = func(store *queries.Store) error {
			tokens, err := store.Tokens(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tSCOPES\tUSER\tCREATED\tREVOKED")
			for _, t := range tokens {
				revoked := "-"
				if t.RevokedAt != nil {
					revoked = t.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(t.Scopes, ","),
					orDash(t.UserID), t.CreatedAt.Format(time.RFC3339), revoked)
			}
			return w.Flush()
		}
	case "revoke":
		if len(rest) != 1 {
			fs.Usage()
			return errUsage
		}
		id, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil {
			return fmt.Errorf("token revoke: %q is not a token id", rest[0])
		}
		run = func(store *queries.Store) error {
			t, err := store.RevokeToken(ctx, id)
			if err != nil {
				return fmt.Errorf("token revoke %d: %w", id, err)
			}
			fmt.Fprintf(stdout, "revoked token %d %q\n", t.ID, t.Name)
			return nil
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
	pool, err := queries.Open(ctx, queries.PoolConfig{URL: db.URL, MaxConns: 1})
	if err != nil {
		return err
	}
	defer pool.Close()
	if version, _, err := pool.SchemaVersion(ctx); err != nil {
		return err
	} else if version == 0 {
		return errors.New("token: the database has no tables yet: run `canopy migrate up` (or `canopy serve`) first")
	}
	return run(pool.Store)
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
