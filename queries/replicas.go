package queries

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ReplicaConfig configures the read replicas.
type ReplicaConfig struct {
	// URLs are the replicas' connection URLs, each a streaming replica of
	// the primary (a standby made with pg_basebackup -R or the like).
	URLs []string
	// MaxLag is the longest a replica may trail the primary and still be
	// read from. Default 1s.
	MaxLag time.Duration
	// CheckInterval is how often each replica's lag is measured. Default 250ms.
	CheckInterval time.Duration
}

// Replicas is a DBTX that sends the reads of a read-only request (see
// ReadOnly) to a streaming replica whose replay lag is within MaxLag, and
// every other statement to the primary.
//
// Lag is measured by a background checker (Run), not per request, so that a
// request's statement budget is the same with replicas as without. Each check
// records the primary's WAL position (pg_current_wal_lsn) and reads each
// replica's replayed position (pg_last_wal_replay_lsn): a replica that has
// replayed the primary's current position is not behind at all, however long
// the primary has been idle, which pg_last_xact_replay_timestamp cannot tell;
// one that has not is behind since the last check at which the primary had
// not yet written what the replica still lacks. A replica is read from only
// while that lag is within MaxLag, so a read may be at most MaxLag plus one
// CheckInterval stale. A replica that cannot be checked, that is not in
// recovery (not a replica at all), or whose lag is unknown (at start, or while
// the primary cannot be reached) is not read from.
type Replicas struct {
	primary  *pgxpool.Pool
	replicas []*replica
	cfg      ReplicaConfig
	next     atomic.Uint64
	log      *slog.Logger
	samples  []walSample // the checker's alone
}

type replica struct {
	name    string
	pool    *pgxpool.Pool
	healthy atomic.Bool
	lag     atomic.Int64 // nanoseconds; negative while unknown
}

// walSample is the primary's WAL position at a check.
type walSample struct {
	at  time.Time
	lsn int64
}

// ReplicaStatus is what the last check found of one replica.
type ReplicaStatus struct {
	Name    string
	Healthy bool
	// Lag is how far the replica trailed the primary, negative when unknown.
	Lag time.Duration
}

// OpenReplicas opens a pool per replica URL, configured as pc is (statement
// timeout, size), named replica-1, replica-2 ... in Stats.ServedBy. Nothing is
// read from a replica until Run has checked it.
func OpenReplicas(ctx context.Context, primary *DB, pc PoolConfig, cfg ReplicaConfig, log *slog.Logger) (*Replicas, error) {
	if cfg.MaxLag <= 0 {
		cfg.MaxLag = time.Second
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = 250 * time.Millisecond
	}
	r := &Replicas{primary: primary.pool, cfg: cfg, log: log}
	for i, u := range cfg.URLs {
		pc.URL, pc.Name = u, fmt.Sprintf("replica-%d", i+1)
		pool, err := openPool(ctx, pc)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("%s: %w", pc.Name, err)
		}
		rep := &replica{name: pc.Name, pool: pool}
		rep.lag.Store(-1)
		r.replicas = append(r.replicas, rep)
	}
	return r, nil
}

// Close closes the replicas' pools (not the primary's).
func (r *Replicas) Close() {
	for _, rep := range r.replicas {
		rep.pool.Close()
	}
}

// Status is what the last check found, one entry per replica in URL order.
func (r *Replicas) Status() []ReplicaStatus {
	out := make([]ReplicaStatus, len(r.replicas))
	for i, rep := range r.replicas {
		out[i] = ReplicaStatus{Name: rep.name, Healthy: rep.healthy.Load(), Lag: time.Duration(rep.lag.Load())}
	}
	return out
}

// Run checks the replicas every CheckInterval until ctx is done.
func (r *Replicas) Run(ctx context.Context) {
	tick := time.NewTicker(r.cfg.CheckInterval)
	defer tick.Stop()
	for {
		r.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

const primaryWALSQL = `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint`

// replicaWALSQL reads how far a replica has replayed; on a server that is not
// in recovery pg_last_wal_replay_lsn is null.
const replicaWALSQL = `SELECT pg_is_in_recovery(), coalesce(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0'), 0)::bigint`

// check measures every replica's lag once.
func (r *Replicas) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(Uncounted(ctx), r.cfg.CheckInterval+time.Second)
	defer cancel()
	now := time.Now()
	var lsn int64
	if err := r.primary.QueryRow(ctx, primaryWALSQL).Scan(&lsn); err != nil {
		r.samples = nil
		for _, rep := range r.replicas {
			r.mark(rep, -1, fmt.Sprintf("the primary's WAL position is unknown: %v", err))
		}
		return
	}
	r.samples = append(r.samples, walSample{at: now, lsn: lsn})
	for len(r.samples) > 1 && r.samples[1].at.Before(now.Add(-r.cfg.MaxLag)) {
		r.samples = r.samples[1:]
	}
	var wg sync.WaitGroup
	for _, rep := range r.replicas {
		wg.Go(func() {
			var inRecovery bool
			var replayed int64
			if err := rep.pool.QueryRow(ctx, replicaWALSQL).Scan(&inRecovery, &replayed); err != nil {
				r.mark(rep, -1, err.Error())
				return
			}
			if !inRecovery {
				r.mark(rep, -1, "not a replica: the server is not in recovery")
				return
			}
			lag, known := lagOf(r.samples, replayed, now)
			if !known {
				r.mark(rep, -1, "behind by more than the lag bound")
				return
			}
			r.mark(rep, lag, "")
		})
	}
	wg.Wait()
}

// lagOf is how long the replica, having replayed up to replayed, has lacked
// something the primary wrote: since the last sample before the first one
// past replayed. It is unknown when even the oldest sample kept is past it.
func lagOf(samples []walSample, replayed int64, now time.Time) (time.Duration, bool) {
	for i, s := range samples {
		if s.lsn > replayed {
			if i == 0 {
				return 0, false
			}
			return now.Sub(samples[i-1].at), true
		}
	}
	return 0, true
}

// mark records a check's finding and logs a change of health; lag < 0 means
// unknown, with why.
func (r *Replicas) mark(rep *replica, lag time.Duration, why string) {
	rep.lag.Store(int64(lag))
	healthy := lag >= 0 && lag <= r.cfg.MaxLag
	if healthy == rep.healthy.Swap(healthy) {
		return
	}
	switch {
	case healthy:
		r.log.Info("replica in use", "replica", rep.name, "lag", lag)
	case why == "":
		r.log.Warn("replica skipped", "replica", rep.name, "lag", lag, "max_lag", r.cfg.MaxLag)
	default:
		r.log.Warn("replica skipped", "replica", rep.name, "reason", why)
	}
}

type routeKey struct{}

// route is one request's choice of server, made at its first statement and
// kept, so that all its reads see one server's state.
type route struct {
	mu      sync.Mutex
	chosen  bool
	replica *replica // nil: the primary
}

// ReadOnly marks ctx as a read-only request's: its reads may be served by a
// replica, all by the same one. A write (Exec, Begin, SendBatch, CopyFrom)
// moves the request to the primary, and every statement after it stays there.
// Without the mark, every statement goes to the primary.
func ReadOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, routeKey{}, &route{})
}

// reader is the replica ctx's request reads from, or nil for the primary.
func (r *Replicas) reader(ctx context.Context) *replica {
	rt, _ := ctx.Value(routeKey{}).(*route)
	if rt == nil {
		return nil
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !rt.chosen {
		rt.chosen, rt.replica = true, r.pick()
	}
	return rt.replica
}

// pick is the next healthy replica round robin, or nil.
func (r *Replicas) pick() *replica {
	n := uint64(len(r.replicas))
	start := r.next.Add(1)
	for i := range n {
		if rep := r.replicas[(start+i)%n]; rep.healthy.Load() {
			return rep
		}
	}
	return nil
}

// writer moves ctx's request to the primary for good and returns it.
func (r *Replicas) writer(ctx context.Context) *pgxpool.Pool {
	if rt, _ := ctx.Value(routeKey{}).(*route); rt != nil {
		rt.mu.Lock()
		rt.chosen, rt.replica = true, nil
		rt.mu.Unlock()
	}
	return r.primary
}

// failed reports whether rep could not be reached for a read. It is then
// marked unhealthy until the next check, and the request moves to the
// primary, where the read, which did not run, is safe to run again.
func (r *Replicas) failed(ctx context.Context, rep *replica, err error) bool {
	if err == nil || ctx.Err() != nil || !unreachable(err) {
		return false
	}
	if rep.healthy.Swap(false) {
		r.log.Warn("replica skipped", "replica", rep.name, "reason", err.Error())
	}
	r.writer(ctx)
	return true
}

// Query runs on the request's replica, or on the primary. A replica found
// unreachable before the first row, when the query is sent or when its first
// row is awaited, is left for the primary.
func (r *Replicas) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if rep := r.reader(ctx); rep != nil {
		rows, err := rep.pool.Query(ctx, sql, args...)
		if !r.failed(ctx, rep, err) {
			return &replicaRows{Rows: rows, r: r, rep: rep, ctx: ctx, sql: sql, args: args}, err
		}
	}
	return r.primary.Query(ctx, sql, args...)
}

// replicaRows are a replica's rows that turn into the primary's when the
// replica fails before the first row.
type replicaRows struct {
	pgx.Rows
	r       *Replicas
	rep     *replica
	ctx     context.Context
	sql     string
	args    []any
	started bool
}

func (rows *replicaRows) Next() bool {
	if rows.started {
		return rows.Rows.Next()
	}
	rows.started = true
	if rows.Rows.Next() {
		return true
	}
	if !rows.r.failed(rows.ctx, rows.rep, rows.Rows.Err()) {
		return false
	}
	rows.Rows.Close()
	rows.Rows, _ = rows.r.primary.Query(rows.ctx, rows.sql, rows.args...)
	return rows.Rows.Next()
}

// QueryRow runs on the request's replica, or on the primary. On a replica the
// statement runs when the row is scanned, so that a replica found unreachable
// then can be left for the primary.
func (r *Replicas) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if rep := r.reader(ctx); rep != nil {
		return replicaRow{r: r, rep: rep, ctx: ctx, sql: sql, args: args}
	}
	return r.primary.QueryRow(ctx, sql, args...)
}

type replicaRow struct {
	r    *Replicas
	rep  *replica
	ctx  context.Context
	sql  string
	args []any
}

func (row replicaRow) Scan(dest ...any) error {
	err := row.rep.pool.QueryRow(row.ctx, row.sql, row.args...).Scan(dest...)
	if row.r.failed(row.ctx, row.rep, err) {
		return row.r.primary.QueryRow(row.ctx, row.sql, row.args...).Scan(dest...)
	}
	return err
}

// Exec may write: it runs on the primary.
func (r *Replicas) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return r.writer(ctx).Exec(ctx, sql, args...)
}

// SendBatch may write: it runs on the primary.
func (r *Replicas) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return r.writer(ctx).SendBatch(ctx, b)
}

// CopyFrom writes: it runs on the primary.
func (r *Replicas) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, rows pgx.CopyFromSource) (int64, error) {
	return r.writer(ctx).CopyFrom(ctx, table, columns, rows)
}

// Begin starts a transaction on the primary: canopy's transactions write.
func (r *Replicas) Begin(ctx context.Context) (pgx.Tx, error) {
	return r.writer(ctx).Begin(ctx)
}
