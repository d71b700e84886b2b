// Package queries holds every SQL statement canopy runs, each a named constant
// beside the function that runs it, and returns plain Go values. It knows
// nothing of HTTP. Driver errors are translated to this package's error values
// in one place (errors.go).
package queries

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBTX is what the queries run on: a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, rows pgx.CopyFromSource) (int64, error)
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Store runs canopy's queries on a DBTX.
type Store struct {
	db DBTX
}

// New returns a Store that runs its queries on db.
func New(db DBTX) *Store { return &Store{db: db} }

// PoolConfig configures the connection pool.
type PoolConfig struct {
	URL string
	// MaxConns caps the pool; 0 keeps pgxpool's default (4 or the number of CPUs).
	MaxConns int32
	// StatementTimeout is set as the server-side statement_timeout of every
	// connection, so that no statement outlives it whatever the client does.
	StatementTimeout time.Duration
	// ConnectTimeout bounds each new connection, so that requests fail fast
	// while the database is down.
	ConnectTimeout time.Duration
	// Name names the pool in Stats.ServedBy; default "primary".
	Name string
}

// Open creates a connection pool whose statements are counted by the
// request's Stats (see WithStats). It does not wait for a connection.
func Open(ctx context.Context, cfg PoolConfig) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("queries: database url: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if cfg.StatementTimeout > 0 {
		pc.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	}
	if cfg.ConnectTimeout > 0 {
		pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "canopy"
	// Every statement canopy runs takes milliseconds, but the planner's
	// estimates for a big tree or a skewed ward can pass jit_above_cost,
	// and compiling the plan then costs more than running it (measured: a
	// ward-day of hourly means went from 20 ms to 160 ms). A URL that sets
	// jit itself keeps its setting.
	if _, set := pc.ConnConfig.RuntimeParams["jit"]; !set {
		pc.ConnConfig.RuntimeParams["jit"] = "off"
	}
	name := cmp.Or(cfg.Name, "primary")
	pc.ConnConfig.Tracer = tracer{pool: &name}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("queries: pool: %w", err)
	}
	return pool, nil
}
