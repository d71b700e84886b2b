package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"canopy/auth"
	"canopy/queries"
	"canopy/rules"
)

// A stream is a text/event-stream response that lasts as long as the client
// stays. The request timeout does not apply to it (see timeout), nor the
// read timeout once it has begun; each write has writeWait to get through,
// and a comment every KeepAlive keeps proxies from closing an idle stream.

// writeWait bounds each write to a stream: a client that takes longer is
// gone or stuck, and is cut off.
const writeWait = 10 * time.Second

// streamRetry is the reconnection delay the stream tells EventSource clients.
const streamRetry = time.Second

// stream writes one event stream's frames.
type stream struct {
	c  *gin.Context
	rc *http.ResponseController
}

// startStream sends a stream's headers and its first lines. A HEAD request
// gets the headers alone, and no stream (nil).
func startStream(c *gin.Context) (*stream, error) {
	st := &stream{c: c, rc: http.NewResponseController(c.Writer)}
	// The server's read timeout bounds reading a request; a stream's request
	// has been read, and its background read must not end it.
	if err := st.rc.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	// Tells nginx not to buffer the stream.
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	if c.Request.Method == http.MethodHead {
		c.Writer.WriteHeaderNow()
		return nil, nil
	}
	return st, st.write(fmt.Appendf(nil, ": canopy event stream\nretry: %d\n\n", streamRetry.Milliseconds()))
}

// write sends b at once.
func (st *stream) write(b []byte) error {
	if err := st.queue(b); err != nil {
		return err
	}
	return st.flush()
}

// queue writes b to the response's buffer, to go out with the next flush:
// frames that arrive together go out in one write to the socket.
func (st *stream) queue(b []byte) error {
	if err := st.rc.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	_, err := st.c.Writer.Write(b)
	return err
}

func (st *stream) flush() error { return st.rc.Flush() }

var keepAliveFrame = []byte(": keep-alive\n\n")

// lastEventID is the Last-Event-ID the client sent (EventSource sends the
// last id it saw when it reconnects): digits, else 400.
func lastEventID(c *gin.Context) (id int64, ok bool, err error) {
	raw := c.GetHeader("Last-Event-ID")
	if raw == "" {
		return 0, false, nil
	}
	id, err = rules.ParseInt(raw)
	if err != nil || id < 0 {
		return 0, false, badRequest("Last-Event-ID %q is not an event id of this stream", raw)
	}
	return id, true, nil
}

// alarmStream streams the changes of alarms, of one ward's patients or all.
// With Last-Event-ID it first replays, from the database, the events after
// it, so that a client that reconnects misses nothing; an id too old for
// that gets event reset. The subscription is taken before the replay is
// read, so that no event falls between the two, and an event both hold is
// sent once. The replay is read from the primary, as the hub reads: a
// replica may lack events the hub has handed out already.
func (s *Server) alarmStream(c *gin.Context) error {
	ward, err := queryInt64(c, "ward_id", 1)
	if err != nil {
		return err
	}
	from, replay, err := lastEventID(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	sub, after, ok := s.live.subscribeAlarms(ctx, ward)
	if !ok {
		return queries.ErrUnavailable
	}
	defer s.live.unsubscribeAlarms(sub)
	var missed []queries.AlarmEvent
	lost := false
	if replay {
		if missed, lost, err = s.replayPage(ctx, from, ward); err != nil {
			return err
		}
	}
	st, err := startStream(c)
	if st == nil || err != nil {
		return nil
	}
	sent := after
	switch {
	case lost:
		if st.write(fmt.Appendf(nil, "id: %d\nevent: reset\ndata: {\"last_event_id\":%d}\n\n", after, after)) != nil {
			return nil
		}
	case replay:
		if sent, err = s.replayAlarms(ctx, st, from, ward, missed); err != nil {
			return nil
		}
	default:
		// The id the stream starts after, for the client to send back.
		if st.write(fmt.Appendf(nil, "id: %d\n\n", after)) != nil {
			return nil
		}
	}
	runStream(s, c, st, sub.gone, sub.ch, func(f *frame) error {
		if f.id <= sent {
			return nil
		}
		sent = f.id
		return st.queue(f.text)
	}, func() []byte {
		// A stream of one ward may see no event for long: the id of the
		// last event the hub has handed it, once nothing is pending, keeps
		// its client's Last-Event-ID from falling behind the pruning.
		if through := sub.through.Load(); through > sent && len(sub.ch) == 0 {
			sent = through
			return fmt.Appendf(nil, ": keep-alive\nid: %d\n\n", through)
		}
		return keepAliveFrame
	})
	return nil
}

// runStream runs a stream until its client goes, the hub drops it, its token
// stops being valid, or a write fails: deliver queues each value from ch
// (those already waiting too, so that they go out in one flush), and every
// StreamKeepAlive the token is checked again and keepAlive's line sent.
func runStream[T any](s *Server, c *gin.Context, st *stream, gone <-chan struct{}, ch <-chan T, deliver func(T) error, keepAlive func() []byte) {
	tick := time.NewTicker(s.cfg.StreamKeepAlive)
	defer tick.Stop()
	ctx := c.Request.Context()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-gone:
			return
		case v := <-ch:
			err = deliver(v)
			for more := len(ch); err == nil && more > 0; more-- {
				err = deliver(<-ch)
			}
			if err == nil {
				err = st.flush()
			}
		case <-tick.C:
			if !s.stillAuthorized(c) {
				return
			}
			err = st.write(keepAlive())
		}
		if err != nil {
			return
		}
	}
}

// stillAuthorized checks the stream's token again, as each request's is
// checked: a token revoked while its stream is open ends the stream within
// a keep-alive (plus the token cache's TTL). A database that cannot answer
// leaves the stream be.
func (s *Server) stillAuthorized(c *gin.Context) bool {
	_, _, err := s.authenticate(c)
	return !errors.Is(err, auth.ErrInvalidToken)
}

// replayAlarms sends the events after from, page by page from the first
// (missed), and returns the id of the last sent. Events pruned before a
// later page is read end the stream (errReplayPruned): the client
// reconnects from the last it got, and is told to reset.
func (s *Server) replayAlarms(ctx context.Context, st *stream, from int64, ward *int64, missed []queries.AlarmEvent) (int64, error) {
	sent := from
	for {
		for _, e := range missed {
			if err := st.write(alarmFrame(e)); err != nil {
				return sent, err
			}
			sent = e.ID
		}
		if len(missed) < queries.AlarmEventsMax {
			return sent, nil
		}
		var lost bool
		var err error
		if missed, lost, err = s.replayPage(ctx, sent, ward); err != nil {
			return sent, err
		}
		if lost {
			return sent, errReplayPruned
		}
	}
}

var errReplayPruned = errors.New("events to replay were pruned meanwhile")

// replayPage reads a page of the events after from, of ward (all when
// nil), from the primary, and whether some events after from are gone.
// That is asked after the page is read, so that pruning committed while it
// was read shows as lost events rather than as a gap in the page.
func (s *Server) replayPage(ctx context.Context, from int64, ward *int64) ([]queries.AlarmEvent, bool, error) {
	events, err := s.live.store.AlarmEventsAfter(ctx, from, ward)
	if err != nil {
		return nil, false, err
	}
	lost, err := s.live.store.AlarmEventsLost(ctx, from)
	return events, lost, err
}

// treeEvents streams a tree's versions: the current one at once, then each
// new one as it commits, from any writer. The current one is read from the
// primary: a replica's may be older than a version announced already.
func (t trees) events(c *gin.Context) error {
	sub, ok := t.s.live.subscribeTree(t.spec.Name())
	if !ok {
		return queries.ErrUnavailable
	}
	defer t.s.live.unsubscribeTree(t.spec.Name(), sub)
	ctx := c.Request.Context()
	version, err := t.s.live.store.TreeVersion(ctx, t.spec)
	if err != nil {
		return err
	}
	st, err := startStream(c)
	if st == nil || err != nil {
		return nil
	}
	if st.write(versionFrame(version)) != nil {
		return nil
	}
	runStream(t.s, c, st, sub.gone, sub.ch, func(v int64) error {
		if v <= version {
			return nil
		}
		version = v
		return st.queue(versionFrame(v))
	}, func() []byte { return keepAliveFrame })
	return nil
}

func versionFrame(v int64) []byte {
	return fmt.Appendf(nil, "event: version\ndata: {\"version\":%d}\n\n", v)
}
