package queries

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The errors queries return. Callers match them with errors.Is; the HTTP
// layer maps each to one status.
var (
	// ErrNotFound: the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write clashes with a row that exists (a duplicate key).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the database could not be reached or did not answer in
	// time; the same request may succeed later.
	ErrUnavailable = errors.New("database unavailable")
	// ErrCycle: a tree node cannot move under itself or one of its descendants.
	ErrCycle = errors.New("cycle")
	// ErrHasChildren: a tree node still has children (or a department wards)
	// and was not deleted with them.
	ErrHasChildren = errors.New("has children")
	// ErrConnectionLost: the connection a statement ran on was found dead
	// (the server restarted, stopped or ended the session), so the statement
	// may not have run. It always comes wrapped with ErrUnavailable. A read
	// may be run again on a fresh connection; a write may not, since it may
	// have committed before the connection went.
	ErrConnectionLost = errors.New("connection lost")
	// errContention: the database aborted the transaction to break a
	// deadlock or a serialization conflict, so running it again may succeed.
	// translate wraps it in ErrUnavailable: once retries run out, the client
	// is told to try again shortly.
	errContention = errors.New("transaction aborted by contention")
)

// FieldError is one invalid field of a request; Index is the record's place
// in a batch body, or -1 outside a batch.
type FieldError struct {
	Index   int
	Field   string
	Message string
}

// MaxFieldErrors bounds the FieldErrors of one ValidationError: enough to
// fix a feed, never a response as large as the request.
const MaxFieldErrors = 100

// ValidationError is a request that is well formed but invalid.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	if len(e.Errors) == 0 {
		return "invalid request"
	}
	f := e.Errors[0]
	msg := f.Field + ": " + f.Message
	if f.Index >= 0 {
		msg = fmt.Sprintf("record %d: %s", f.Index, msg)
	}
	if len(e.Errors) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(e.Errors)-1)
	}
	return msg
}

// translate turns a driver error into one of this package's errors, keeping
// the original in the chain for logs. It is the only place that inspects
// driver errors.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %s", ErrConflict, pgErr.Detail)
		case pgErr.Code == "CY001": // raised by the tree triggers (migrations 000002, 000009)
			return fmt.Errorf("%w: %s", ErrCycle, pgErr.Message)
		case pgErr.Code == "DP001": // a node past tree_settings.max_depth (migration 000009)
			return fmt.Errorf("%w: %w", &ValidationError{Errors: []FieldError{{Index: -1, Field: "parent_id", Message: pgErr.Detail}}}, err)
		case pgErr.Code == "23503", // foreign_key_violation
			pgErr.Code == "23514": // check_violation
			// A single-column constraint is named <table>_<column>_fkey or
			// _check: the column is the field. An insert or update names the
			// referencing row; a delete that leaves rows referring to the
			// deleted one fails on the same constraint, and the caller, who
			// knows it deleted, reads this as ErrHasChildren.
			field := strings.TrimPrefix(pgErr.ConstraintName, pgErr.TableName+"_")
			field = strings.TrimSuffix(strings.TrimSuffix(field, "_fkey"), "_check")
			msg := "is invalid"
			if pgErr.Code == "23503" {
				msg = "does not exist"
			}
			return fmt.Errorf("%w: %w", &ValidationError{Errors: []FieldError{{Index: -1, Field: field, Message: msg}}}, err)
		case pgErr.Code == "40001", // serialization_failure
			pgErr.Code == "40P01": // deadlock_detected
			return fmt.Errorf("%w: %w: %w", ErrUnavailable, errContention, err)
		case pgErr.Code == "57P01", // admin_shutdown: the session was ended
			pgErr.Code == "57P02",  // crash_shutdown
			pgErr.Code[:2] == "08": // connection exceptions
			return fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrConnectionLost, err)
		case pgErr.Code == "57014", // query_canceled: statement_timeout or a cancelled request
			pgErr.Code == "53300", // too_many_connections
			pgErr.Code == "57P03": // cannot_connect_now: starting up or shutting down
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case errors.As(err, &connectErr), pgconn.Timeout(err),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.As(err, &netErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), pgconn.SafeToRetry(err):
		// The connection broke under the statement: a dead pooled
		// connection reports the server's closing as an unexpected EOF.
		return fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrConnectionLost, err)
	}
	return err
}

// contentionAttempts bounds the runs of a write the database keeps aborting
// to break deadlocks or serialization conflicts.
const contentionAttempts = 5

// retryContended runs fn, one statement or one transaction of its own,
// again while the database aborts it for contention (fn returns its error
// through translate), up to contentionAttempts runs in all, with a short
// random pause between runs so that the contenders do not meet again. It is
// the one retry of every writer, the API's batches and the import's. On a
// Store that runs in a transaction it runs fn once: the abort ended the
// caller's transaction, which only the caller can run again.
func (s *Store) retryContended(ctx context.Context, fn func() error) error {
	if _, inTx := s.db.(pgx.Tx); inTx {
		return fn()
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = fn()
		if !errors.Is(err, errContention) || attempt == contentionAttempts {
			return err
		}
		pause := time.NewTimer(time.Duration(1+rand.IntN(5<<attempt)) * time.Millisecond)
		select {
		case <-ctx.Done():
			pause.Stop()
			return err
		case <-pause.C:
		}
	}
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// unreachable reports whether err says the server could not be reached or
// went away (connection refused, reset, shut down), as opposed to refusing
// the statement: for a read, a sign to try another server.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" || pgErr.Code[:2] == "08"
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	return errors.As(err, &connectErr) || pgconn.SafeToRetry(err) ||
		(errors.As(err, &netErr) && !netErr.Timeout()) || errors.Is(err, io.ErrUnexpectedEOF)
}
