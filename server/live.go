package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"canopy/queries"
)

// hub fans what the database announces out to the event streams this
// instance serves. One listening connection (queries.Listener) wakes it; it
// reads the new alarm events once, encodes each once, and hands the frame to
// every subscriber whose ward it concerns. A subscriber that does not keep
// up is dropped, never waited for: it replays what it missed when it
// reconnects (Last-Event-ID), so that one slow client costs neither the
// others' latency nor unbounded memory.
type hub struct {
	store    *queries.Store // the primary's: a replica may not have an event yet
	listener *queries.Listener
	log      *slog.Logger
	// buffer is how many frames a subscriber may fall behind by.
	buffer int
	wake   chan struct{}
	// known is closed once the hub knows where the events stand.
	known chan struct{}

	mu       sync.Mutex
	last     int64 // the last alarm event handed out, once known is closed
	alarms   map[*alarmSub]struct{}
	trees    map[string]map[*treeSub]struct{}
	versions map[string]int64 // the last version announced per tree
	closed   bool
}

// frame is one alarm event as a stream sends it.
type frame struct {
	id    int64
	event queries.AlarmEvent // which wards it concerns
	text  []byte
}

// alarmSub is one alarm stream: frames of ward (all when nil) arrive on ch;
// gone is closed when the hub drops it (too slow, or shutting down).
// through is the id of the last event the hub has handed out since it
// subscribed, whether or not it concerned the stream's ward.
type alarmSub struct {
	ward    *int64
	ch      chan *frame
	gone    chan struct{}
	through atomic.Int64
}

// treeSub is one tree's version stream: only the newest version matters, so
// ch holds one.
type treeSub struct {
	ch   chan int64
	gone chan struct{}
}

func newHub(store *queries.Store, listener *queries.Listener, buffer int, log *slog.Logger) *hub {
	return &hub{
		store: store, listener: listener, log: log, buffer: buffer,
		wake:     make(chan struct{}, 1),
		known:    make(chan struct{}),
		alarms:   map[*alarmSub]struct{}{},
		trees:    map[string]map[*treeSub]struct{}{},
		versions: map[string]int64{},
	}
}

// run listens and hands out events until ctx is done, then drops every
// subscriber. It prunes events older than retention as it goes.
func (h *hub) run(ctx context.Context, retention time.Duration) {
	defer h.close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		h.listener.Run(ctx, h.connected, h.changed)
	})
	wg.Go(func() { h.prune(ctx, retention) })
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		}
		if err := h.catchUp(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("reading alarm events failed; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			h.poke()
		}
	}
}

// connected runs each time the listener has begun to listen: what was
// announced before is read from the tables, as it may have been missed.
func (h *hub) connected() {
	h.poke()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, t := range []queries.TreeSpec{queries.Categories, queries.Departments} {
		if v, err := h.store.TreeVersion(ctx, t); err == nil {
			h.announce(t.Name(), v)
		}
	}
}

// changed takes one announcement. Events a catch-up has already handed
// out (it reads every event committed, those of later announcements too)
// need no read of their own.
func (h *hub) changed(c queries.Change) {
	if c.Tree != "" {
		h.announce(c.Tree, c.Version)
		return
	}
	h.mu.Lock()
	behind := c.AlarmEvent > h.last
	h.mu.Unlock()
	if behind {
		h.poke()
	}
}

// poke makes run read new alarm events; pokes while it reads coalesce.
func (h *hub) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// catchUp hands out every alarm event after the last handed out, in order.
// The first call only learns where the events stand: a subscriber gets the
// events from its own connection on, or replays from its Last-Event-ID.
func (h *hub) catchUp(ctx context.Context) error {
	select {
	case <-h.known:
	default:
		last, err := h.store.LastAlarmEvent(ctx)
		if err != nil {
			return err
		}
		h.mu.Lock()
		h.last = last
		h.mu.Unlock()
		close(h.known)
		return nil
	}
	h.mu.Lock()
	last := h.last
	h.mu.Unlock()
	for {
		events, err := h.store.AlarmEventsAfter(ctx, last, nil)
		if err != nil {
			return err
		}
		frames := make([]*frame, len(events))
		for i, e := range events {
			frames[i] = &frame{id: e.ID, event: e, text: alarmFrame(e)}
		}
		h.publish(frames)
		if len(events) < queries.AlarmEventsMax {
			return nil
		}
		last = events[len(events)-1].ID
	}
}

// publish hands frames, in order, to every subscriber they concern, all
// at once so that a subscriber wakes to all of them, dropping those whose
// buffer is full.
func (h *hub) publish(frames []*frame) {
	if len(frames) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	last := frames[len(frames)-1].id
	h.last = last
	for s := range h.alarms {
		for _, f := range frames {
			if !f.event.Concerns(s.ward) {
				continue
			}
			select {
			case s.ch <- f:
				continue
			default:
			}
			h.log.Warn("alarm stream dropped: it fell behind", "buffer", h.buffer)
			delete(h.alarms, s)
			close(s.gone)
			break
		}
		s.through.Store(last)
	}
}

// announce hands tree's version to its subscribers, if it is newer than the
// last announced.
func (h *hub) announce(tree string, version int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if version <= h.versions[tree] {
		return
	}
	h.versions[tree] = version
	for s := range h.trees[tree] {
		select {
		case <-s.ch: // an older version not yet sent: the newer replaces it
		default:
		}
		s.ch <- version
	}
}

// knownWait bounds how long a new stream waits for the hub to learn where
// the events stand (at start, its first statement): past it, 503.
const knownWait = 5 * time.Second

// subscribeAlarms adds an alarm stream of ward (all when nil) and returns
// it with the id of the last event handed out before it: every later one
// reaches it (unless it is dropped). ok is false when the hub does not
// know where the events stand within knownWait, or is closed.
func (h *hub) subscribeAlarms(ctx context.Context, ward *int64) (s *alarmSub, after int64, ok bool) {
	select {
	case <-h.known:
	case <-ctx.Done():
		return nil, 0, false
	case <-time.After(knownWait):
		return nil, 0, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, 0, false
	}
	s = &alarmSub{ward: ward, ch: make(chan *frame, h.buffer), gone: make(chan struct{})}
	h.alarms[s] = struct{}{}
	return s, h.last, true
}

func (h *hub) unsubscribeAlarms(s *alarmSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.alarms[s]; ok {
		delete(h.alarms, s)
		close(s.gone)
	}
}

// subscribeTree adds a version stream of tree; false once the hub is closed.
func (h *hub) subscribeTree(tree string) (*treeSub, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	s := &treeSub{ch: make(chan int64, 1), gone: make(chan struct{})}
	if h.trees[tree] == nil {
		h.trees[tree] = map[*treeSub]struct{}{}
	}
	h.trees[tree][s] = struct{}{}
	return s, true
}

func (h *hub) unsubscribeTree(tree string, s *treeSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.trees[tree][s]; ok {
		delete(h.trees[tree], s)
		close(s.gone)
	}
}

// close drops every subscriber, ending their streams (on shutdown: a
// stream never ends by itself, and the server waits for every response).
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.alarms {
		delete(h.alarms, s)
		close(s.gone)
	}
	for _, subs := range h.trees {
		for s := range subs {
			delete(subs, s)
			close(s.gone)
		}
	}
}

// subscribers counts the streams open, for metrics.
func (h *hub) subscribers() (alarms, trees int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.trees {
		trees += len(subs)
	}
	return len(h.alarms), trees
}

// prune deletes the events older than retention, in one statement, now and
// then: every instance does, and whichever comes first does the work.
func (h *hub) prune(ctx context.Context, retention time.Duration) {
	every := min(max(retention/10, time.Second), 10*time.Minute)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n, err := h.store.PruneAlarmEvents(ctx, time.Now().Add(-retention)); err != nil {
			h.log.Warn("pruning alarm events failed", "err", err)
		} else if n > 0 {
			h.log.Info("alarm events pruned", "events", n, "retention", retention)
		}
	}
}

// alarmFrame is an alarm event as a text/event-stream frame.
func alarmFrame(e queries.AlarmEvent) []byte {
	data, err := json.Marshal(toAlarmJSON(e.Alarm))
	if err != nil { // an alarm's fields always encode
		panic(err)
	}
	return fmt.Appendf(nil, "id: %d\nevent: alarm\ndata: %s\n\n", e.ID, data)
}
