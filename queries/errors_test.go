package queries

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// Every way a connection can break under a statement is ErrUnavailable (a
// 503, never a 500) and, where the statement may be run again on another
// connection, ErrConnectionLost.
func TestTranslateLostConnections(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		lost bool
	}{
		{"server closed the socket", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"EOF", io.EOF, true},
		{"connection reset", &netError{syscall.ECONNRESET}, true},
		{"session ended", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, false},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, false},
		{"request deadline", context.DeadlineExceeded, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := translate(c.err)
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("translate(%v) = %v, not ErrUnavailable", c.err, err)
			}
			if errors.Is(err, ErrConnectionLost) != c.lost {
				t.Errorf("translate(%v) = %v: ErrConnectionLost %v, want %v", c.err, err, !c.lost, c.lost)
			}
		})
	}
}

type netError struct{ errno syscall.Errno }

func (e *netError) Error() string   { return e.errno.Error() }
func (e *netError) Timeout() bool   { return false }
func (e *netError) Temporary() bool { return false }
