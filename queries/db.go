// Package queries holds every SQL statement canopy runs, the importer's COPY,
// staging and upserts included, and returns plain Go values. A fixed
// statement is a named constant beside the function that runs it; one
// composed at run time is built by a function of its own, and its rendered
// text is kept under testdata, checked by a test, for a reader and EXPLAIN.
// It knows nothing of HTTP. Driver errors are translated to this package's
// error values in one place (errors.go), and contention is retried in one
// place beside it. No other package imports pgx (tests aside).
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

// DB is a connection pool with a Store on it. It is all a program outside
// this package holds of the database: the pool itself (closing it, dropping
// its dead connections, its statistics) is reached through DB, so that no
// other package handles pgx.
type DB struct {
	*Store
	pool *pgxpool.Pool
}

// Open creates a connection pool whose statements are counted by the
// request's Stats (see WithStats). It does not wait for a connection.
func Open(ctx context.Context, cfg PoolConfig) (*DB, error) {
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return Wrap(pool), nil
}

// Wrap makes a DB of a pool opened elsewhere: by a test or a benchmark.
func Wrap(pool *pgxpool.Pool) *DB { return &DB{Store: New(pool), pool: pool} }

// Close closes the pool's connections, waiting for those in use.
func (d *DB) Close() { d.pool.Close() }

// Reset drops the pool's idle connections, after one was found dead: they
// died together (a restart, a failover), and the next statements should
// not each pay for finding out.
func (d *DB) Reset() { d.pool.Reset() }

// PoolStat is a snapshot of the pool, for metrics.
type PoolStat struct {
	MaxConns, TotalConns, AcquiredConns, IdleConns int32
	Acquires, EmptyAcquires                        int64
	AcquireWait                                    time.Duration
}

// Stat reports the pool's size and use.
func (d *DB) Stat() PoolStat {
	s := d.pool.Stat()
	return PoolStat{
		MaxConns: s.MaxConns(), TotalConns: s.TotalConns(), AcquiredConns: s.AcquiredConns(), IdleConns: s.IdleConns(),
		Acquires: s.AcquireCount(), EmptyAcquires: s.EmptyAcquireCount(), AcquireWait: s.AcquireDuration(),
	}
}

func openPool(ctx context.Context, cfg PoolConfig) (*pgxpool.Pool, error) {
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
