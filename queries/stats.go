package queries

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Stats counts the SQL statements run on behalf of one request and the time
// spent waiting for them: the measure of the query budget every endpoint has.
// Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT) is timed but not
// counted as a statement: the budget is about work sent to the database, and a
// write is no worse for being atomic.
type Stats struct {
	statements atomic.Int64
	nanos      atomic.Int64
	servedBy   atomic.Pointer[string]
}

// Statements is the number of statements run so far.
func (s *Stats) Statements() int { return int(s.statements.Load()) }

// DBTime is the time spent in the database so far, from each statement's send
// to its last row.
func (s *Stats) DBTime() time.Duration { return time.Duration(s.nanos.Load()) }

// ServedBy names the pool (PoolConfig.Name) that ran the latest statement,
// or is "" before the first: with replicas, which server answered a read.
func (s *Stats) ServedBy() string {
	if p := s.servedBy.Load(); p != nil {
		return *p
	}
	return ""
}

type statsKey struct{}
type startKey struct{}

// WithStats returns a context whose statements are counted in the returned Stats.
func WithStats(ctx context.Context) (context.Context, *Stats) {
	s := &Stats{}
	return context.WithValue(ctx, statsKey{}, s), s
}

// Uncounted returns a context whose statements count against no request: for
// work that is not the endpoint's own, such as checking a bearer token.
func Uncounted(ctx context.Context) context.Context {
	return context.WithValue(ctx, statsKey{}, (*Stats)(nil))
}

func statsFrom(ctx context.Context) *Stats {
	s, _ := ctx.Value(statsKey{}).(*Stats)
	return s
}

// tracer feeds Stats from pgx's tracing hooks for the pool it is named after.
// A batch counts each of its statements; a COPY counts one.
type tracer struct{ pool *string }

func (t tracer) start(ctx context.Context, statements int) context.Context {
	s := statsFrom(ctx)
	if s == nil {
		return ctx
	}
	s.statements.Add(int64(statements))
	s.servedBy.Store(t.pool)
	return context.WithValue(ctx, startKey{}, time.Now())
}

func (tracer) end(ctx context.Context) {
	s := statsFrom(ctx)
	if started, ok := ctx.Value(startKey{}).(time.Time); ok && s != nil {
		s.nanos.Add(int64(time.Since(started)))
	}
}

func (t tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	n := 1
	if isTransactionControl(data.SQL) {
		n = 0
	}
	return t.start(ctx, n)
}

func (t tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) { t.end(ctx) }

func (t tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	n := 0
	if data.Batch != nil {
		for _, q := range data.Batch.QueuedQueries {
			if !isTransactionControl(q.SQL) {
				n++
			}
		}
	}
	return t.start(ctx, n)
}

func (tracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (t tracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) { t.end(ctx) }

func (t tracer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	return t.start(ctx, 1)
}

func (t tracer) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromEndData) {
	t.end(ctx)
}

func isTransactionControl(sql string) bool {
	word, _, _ := strings.Cut(strings.TrimSpace(sql), " ")
	switch strings.ToLower(word) {
	case "begin", "commit", "rollback", "savepoint", "release":
		return true
	}
	return false
}
