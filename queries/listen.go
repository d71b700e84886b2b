package queries

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The channels the database announces changes on (migration 000011): the
// id of the last alarm event a transaction committed, and a tree's new
// version.
const (
	alarmsChannel = "canopy_alarms"
	treesChannel  = "canopy_trees"
)

// Change is what one notification announced: alarm events up to AlarmEvent,
// or Tree's new Version.
type Change struct {
	AlarmEvent int64
	Tree       string
	Version    int64
}

// Listener holds canopy's one LISTEN session: one connection per instance,
// whatever the number of subscribers it serves. LISTEN needs a session of
// its own, which a pooler in transaction mode (PgBouncer) cannot give, so
// it connects to its own URL, straight to PostgreSQL.
type Listener struct {
	url string
	log *slog.Logger
}

// NewListener returns a listener to connect to url when run.
func NewListener(url string, log *slog.Logger) *Listener {
	return &Listener{url: url, log: log}
}

// listenerAppName names the session in pg_stat_activity.
const listenerAppName = "canopy listener"

// Run listens until ctx is done. It calls connected each time it has begun
// to listen (the first time and after every reconnect: what was announced
// while it was not listening is lost, and the caller reads it from the
// tables instead), and changed for each announcement, in commit order.
// A lost connection is retried with a backoff of up to maxBackoff.
func (l *Listener) Run(ctx context.Context, connected func(), changed func(Change)) {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for ctx.Err() == nil {
		began := time.Now()
		err := l.listen(ctx, connected, changed)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > maxBackoff {
			backoff = minBackoff
		}
		l.log.Warn("listening connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listen runs one session until it fails or ctx is done.
func (l *Listener) listen(ctx context.Context, connected func(), changed func(Change)) error {
	cfg, err := pgx.ParseConfig(l.url)
	if err != nil {
		return fmt.Errorf("listen url: %w", err)
	}
	cfg.RuntimeParams["application_name"] = listenerAppName
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+alarmsChannel+"; LISTEN "+treesChannel); err != nil {
		return err
	}
	connected()
	for {
		wait, cancel := context.WithTimeout(ctx, quietCheck)
		n, err := conn.WaitForNotification(wait)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = l.ping(ctx, conn)
			if err == nil {
				continue
			}
		}
		if err != nil {
			return err
		}
		c, err := parseChange(n.Channel, n.Payload)
		if err != nil {
			l.log.Error("unreadable notification", "channel", n.Channel, "payload", n.Payload, "err", err)
			continue
		}
		changed(c)
	}
}

// quietCheck is how long the session may stay silent before a ping checks
// that it is still there, and pingWait how long the ping may take. A
// session that a middlebox dropped without closing it, or whose server is
// gone without a word, looks idle to TCP for as long as its keepalive
// allows (minutes); the ping finds it out, and the listener connects again,
// reading what it missed.
const quietCheck, pingWait = 5 * time.Second, 5 * time.Second

func (l *Listener) ping(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, pingWait)
	defer cancel()
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("the listening session did not answer a ping: %w", err)
	}
	return nil
}

// parseChange reads a notification's payload: the last event id on the
// alarms channel, "<tree> <version>" on the trees channel.
func parseChange(channel, payload string) (Change, error) {
	switch channel {
	case alarmsChannel:
		id, err := strconv.ParseInt(payload, 10, 64)
		return Change{AlarmEvent: id}, err
	case treesChannel:
		tree, version, ok := strings.Cut(payload, " ")
		v, err := strconv.ParseInt(version, 10, 64)
		if !ok || err != nil {
			return Change{}, errors.New("want a tree and a version")
		}
		return Change{Tree: tree, Version: v}, nil
	}
	return Change{}, errors.New("unknown channel")
}
