package queries

import (
	"context"
	"fmt"
	"strings"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
)

// The helpers of the statements composed at run time with squirrel, and of
// the transactions and errors around them.

// queryBuilt runs a statement built at run time and scans its one row;
// no row is ErrNotFound.
func (s *Store) queryBuilt(ctx context.Context, b sq.Sqlizer, dest ...any) error {
	sql, args, err := dollarSQL(b)
	if err != nil {
		return err
	}
	return translate(s.db.QueryRow(ctx, sql, args...).Scan(dest...))
}

// queryBuiltRows runs a statement built at run time and returns its rows.
func (s *Store) queryBuiltRows(ctx context.Context, b sq.Sqlizer) (pgx.Rows, error) {
	sql, args, err := dollarSQL(b)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, sql, args...)
	return rows, translate(err)
}

// dollarSQL renders a statement built with squirrel's default ? placeholders
// as PostgreSQL's numbered ones, numbering across every sub-builder: the
// outermost-only use of sq.Dollar that RECIPES.md asks for.
func dollarSQL(b sq.Sqlizer) (string, []any, error) {
	sql, args, err := b.ToSql()
	if err == nil {
		sql, err = sq.Dollar.ReplacePlaceholders(sql)
	}
	if err != nil {
		return "", nil, fmt.Errorf("queries: build statement: %w", err)
	}
	return sql, args, nil
}

// The helpers below lay a statement out a clause a line, the bodies of
// CTEs indented, so that its rendered copy reads as written by hand. None of
// them is given text from a request; such values stay arguments.

// withRecursive is main after a WITH RECURSIVE clause of one or more ctes
// (made by cte).
func withRecursive(main sq.Sqlizer, ctes ...sq.Sqlizer) sq.Sqlizer {
	args := make([]any, 0, len(ctes)+1)
	for _, c := range ctes {
		args = append(args, c)
	}
	return sq.Expr("WITH RECURSIVE "+strings.Repeat("?,\n", len(ctes)-1)+"?\n?", append(args, main)...)
}

// cte is the common table expression "name AS (body)", its body on lines of
// its own, indented.
func cte(name string, body sq.Sqlizer) sq.Sqlizer {
	return sq.Expr(name+" AS (\n?\n)", indented{body})
}

// union joins two selects with op, UNION or UNION ALL, each on lines of its own.
func union(op string, a, b sq.Sqlizer) sq.Sqlizer {
	return sq.Expr("?\n"+op+"\n?", a, b)
}

// indented renders a statement with every line indented by four spaces.
type indented struct{ sq.Sqlizer }

func (i indented) ToSql() (string, []any, error) {
	sql, args, err := i.Sqlizer.ToSql()
	return "    " + strings.ReplaceAll(sql, "\n", "\n    "), args, err
}

// quoteLiteral quotes a constant name of this package as an SQL string.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// inTx runs fn in a transaction, or in a savepoint when s already runs in one.
func (s *Store) inTx(ctx context.Context, fn func(tx *Store) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback(ctx)
	if err := fn(&Store{db: tx}); err != nil {
		return err
	}
	return translate(tx.Commit(ctx))
}

// invalidField is a ValidationError on one field of a request outside a batch.
func invalidField(field, message string) error {
	return &ValidationError{Errors: []FieldError{{Index: -1, Field: field, Message: message}}}
}
