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

// withRecursive joins CTEs into a WITH RECURSIVE clause.
func withRecursive(ctes ...sq.Sqlizer) sq.Sqlizer {
	args := make([]any, len(ctes))
	for i, c := range ctes {
		args[i] = c
	}
	return sq.Expr("WITH RECURSIVE "+strings.TrimSuffix(strings.Repeat("?, ", len(ctes)), ", "), args...)
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
