package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"canopy/auth"
	"canopy/internal/testdb"
	"canopy/pgcluster"
	"canopy/queries"
)

// The alarm streams under faults: several instances, restarts of canopy
// and of PostgreSQL, a lost listening connection, slow clients, concurrent
// writers, pruning. Every test compares what a client received with the
// events the database holds: each once, in id order, none missing.

// alarmSite is a database with the sepsis rule (open at 0.7, clear below
// 0.5) and patients p0, p1, ... without a ward, and tokens to write
// patients and predictions and to read alarms.
type alarmSite struct {
	pool           *pgxpool.Pool // the test's own, for checks and plain SQL
	writer, reader string
	uids           []string
}

// newAlarmSite sets the rule and the patients up through ts.
func newAlarmSite(t *testing.T, ts *testServer, patients int) *alarmSite {
	t.Helper()
	s := &alarmSite{pool: ts.db.Pool, writer: ts.token(auth.ScopePatientsWrite), reader: ts.token(auth.ScopePatientsRead)}
	if err := ts.store.PutAlarmRule(context.Background(), queries.AlarmRule{Target: "sepsis", OpenAt: 0.7, ClearBelow: 0.5}); err != nil {
		t.Fatal(err)
	}
	var body []map[string]any
	for i := range patients {
		s.uids = append(s.uids, fmt.Sprint("p", i))
		body = append(body, map[string]any{"uid": s.uids[i], "admitted_at": "2024-11-01T08:00:00Z"})
	}
	if r := ts.do("POST", "/api/v1/patients/bulk", body, bearer(s.writer)...); r.StatusCode != http.StatusOK {
		t.Fatalf("patients: %d %s", r.StatusCode, r.Body)
	}
	return s
}

// predict posts a batch of sepsis predictions through ts.
func (s *alarmSite) predict(t *testing.T, ts *testServer, preds ...prediction) {
	t.Helper()
	if r := ts.do("POST", "/api/v1/predictions/bulk", predictionBodies(preds), bearer(s.writer)...); r.StatusCode != http.StatusOK {
		t.Fatalf("predictions: %d %s", r.StatusCode, r.Body)
	}
}

// everyone is one prediction per patient at hour, all of probability p.
func (s *alarmSite) everyone(hour int, p float64) []prediction {
	preds := make([]prediction, len(s.uids))
	for i, uid := range s.uids {
		preds[i] = prediction{uid, hour, p}
	}
	return preds
}

// eventIDs are the ids of the events the database holds after after, in order.
func (s *alarmSite) eventIDs(t *testing.T, after int64) []int64 {
	t.Helper()
	rows, _ := s.pool.Query(context.Background(), `SELECT id FROM alarm_events WHERE id > $1 ORDER BY id`, after)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// listeners counts the listening connections on the test's database.
func (s *alarmSite) listeners(t *testing.T) int {
	t.Helper()
	return listeners(t, s.pool)
}

func listeners(t *testing.T, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'canopy listener'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// follower reads an alarm stream as EventSource does: when the stream ends
// it reconnects with the last id it saw as Last-Event-ID, retrying while
// canopy answers 503 (its database down, or its hub not yet listening).
type follower struct {
	t       *testing.T
	url     string // the stream's; a test may point it at another instance
	headers []string
	s       *sseStream
	last    string // the last id the stream sent
	ends    int    // how many times the stream ended
}

// follow opens the alarm stream of ts, after the event lastID unless it is "".
func follow(t *testing.T, ts *testServer, token, lastID string) *follower {
	t.Helper()
	f := &follower{t: t, url: ts.http.URL + "/api/v1/alarms/stream", headers: bearer(token), last: lastID}
	f.connect()
	return f
}

func (f *follower) connect() {
	f.t.Helper()
	headers := f.headers
	if f.last != "" {
		headers = append(slices.Clone(headers), "Last-Event-ID", f.last)
	}
	poll(f.t, "the alarm stream to open", func() bool {
		s, status := tryStream(f.t, f.url, headers...)
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			f.t.Fatalf("GET %s: %d", f.url, status)
		}
		f.s = s
		return s != nil
	})
}

// next is the next alarm or reset event, across reconnections.
func (f *follower) next() sseEvent {
	f.t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case e := <-f.s.events:
			if f.take(e) {
				return e
			}
			continue
		case <-timeout:
			f.t.Fatalf("no alarm event within a minute (last id %s)", f.last)
		case <-f.s.done:
		}
		// The stream ended: what it sent before comes first.
		select {
		case e := <-f.s.events:
			if f.take(e) {
				return e
			}
			continue
		default:
		}
		f.ends++
		f.connect()
	}
}

// take notes e's id, and says whether it is an event to return.
func (f *follower) take(e sseEvent) bool {
	if e.ID != "" {
		f.last = e.ID
	}
	return e.Event != ""
}

// collect reads n events and checks that their ids strictly increase.
func (f *follower) collect(n int) []sseEvent {
	f.t.Helper()
	events := make([]sseEvent, n)
	for i := range events {
		events[i] = f.next()
	}
	wantIncreasing(f.t, events)
	return events
}

// wantIncreasing fails unless every event has an id above the one before.
func wantIncreasing(t *testing.T, events []sseEvent) {
	t.Helper()
	for i := 1; i < len(events); i++ {
		if eventID(t, events[i]) <= eventID(t, events[i-1]) {
			t.Fatalf("event %d has id %s after %s", i, events[i].ID, events[i-1].ID)
		}
	}
}

func eventID(t *testing.T, e sseEvent) int64 {
	t.Helper()
	id, err := strconv.ParseInt(e.ID, 10, 64)
	if err != nil {
		t.Fatalf("event %+v: id %v", e, err)
	}
	return id
}

func ids(t *testing.T, events []sseEvent) []int64 {
	t.Helper()
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = eventID(t, e)
	}
	return out
}

// wantAll fails unless events are exactly the database's events after
// after, in order, each once.
func (s *alarmSite) wantAll(t *testing.T, events []sseEvent, after int64) {
	t.Helper()
	if got, want := ids(t, events), s.eventIDs(t, after); !slices.Equal(got, want) {
		t.Errorf("received events %v, the database holds %v", got, want)
	}
}

// A batch posted to one instance reaches the streams of every instance,
// and each instance listens on one connection whatever its subscribers.
func TestAlarmStreamAcrossInstances(t *testing.T) {
	db := testdb.New(t)
	a := newServerOn(t, db, openPool(t, db.URL))
	b := newServerOn(t, db, openPool(t, db.URL))
	site := newAlarmSite(t, a, 2)
	const subscribers = 20
	var onB []*follower
	for range subscribers {
		onB = append(onB, follow(t, b, site.reader, ""))
	}
	onA := follow(t, a, site.reader, "")
	if n := site.listeners(t); n != 2 {
		t.Errorf("%d listening connections for two instances with %d streams, want 2", n, subscribers+1)
	}

	site.predict(t, a, site.everyone(10, 0.9)...)
	site.predict(t, b, prediction{"p0", 11, 0.1})
	for i, f := range append(onB, onA) {
		events := f.collect(3)
		site.wantAll(t, events, 0)
		if got := summary([]alarmJSON{decodeAlarm(t, events[2])}); got[0] != "p0:resolved:0.9:recovered" {
			t.Errorf("stream %d: last event %v", i, got)
		}
	}
	if n := site.listeners(t); n != 2 {
		t.Errorf("%d listening connections after the events, want 2", n)
	}
}

// A client of an instance that stops reconnects to another, started after
// changes were committed, and gets exactly what it missed, then what is new.
func TestAlarmStreamAcrossRestart(t *testing.T) {
	db := testdb.New(t)
	first := newServerOn(t, db, openPool(t, db.URL))
	site := newAlarmSite(t, first, 3)
	f := follow(t, first, site.reader, "")
	site.predict(t, first, prediction{"p0", 10, 0.9})
	seen := f.collect(1)

	first.stop()
	// Committed while no canopy runs, by plain SQL: the triggers record them.
	if _, err := site.pool.Exec(context.Background(), `INSERT INTO predictions (patient_id, model, target, predicted_at, horizon_hours, probability)
		SELECT id, 'm1', 'sepsis', '2024-11-02T11:00:00Z', 12, CASE uid WHEN 'p0' THEN 0.1 ELSE 0.95 END FROM patients`); err != nil {
		t.Fatal(err)
	}
	missed := len(site.eventIDs(t, eventID(t, seen[0])))
	if missed != 3 {
		t.Fatalf("%d events committed while canopy was down, want 3", missed)
	}

	second := newServerOn(t, db, openPool(t, db.URL))
	f.url = second.http.URL + "/api/v1/alarms/stream"
	seen = append(seen, f.collect(missed)...)
	site.predict(t, second, prediction{"p1", 12, 0.2})
	seen = append(seen, f.collect(1)...)
	wantIncreasing(t, seen)
	site.wantAll(t, seen, 0)
	if f.ends != 1 {
		t.Errorf("the stream ended %d times, want once (when its instance stopped)", f.ends)
	}
	f.s.quiet(t, 300*time.Millisecond)
}

// Events committed while the listening connection is gone, and after it is
// back, all reach an open stream, in order, once; the stream stays open.
func TestAlarmStreamListenerLost(t *testing.T) {
	ts := newTestServer(t)
	site := newAlarmSite(t, ts, 3)
	f := follow(t, ts, site.reader, "")
	site.predict(t, ts, prediction{"p0", 10, 0.9})
	seen := f.collect(1)

	// The database takes no new connection until told, so that the
	// listener stays away while events are committed; the commits go
	// through a connection opened before.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, ts.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// A database cannot refuse connections from a session of its own.
	u, err := neturl.Parse(ts.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/postgres"
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(ctx) })
	allow := func(allowed bool) {
		t.Helper()
		if _, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS %t`, pgx.Identifier{ts.db.Name}.Sanitize(), allowed)); err != nil {
			t.Fatal(err)
		}
	}
	allow(false)
	t.Cleanup(func() { allow(true) })
	var killed int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'canopy listener'`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d listening connections (%v), want 1", killed, err)
	}
	poll(t, "the listening connection to end", func() bool { return listeners(t, conn) == 0 })
	for _, sql := range []string{
		`INSERT INTO predictions (patient_id, model, target, predicted_at, horizon_hours, probability)
		SELECT id, 'm1', 'sepsis', '2024-11-02T11:00:00Z', 12, CASE uid WHEN 'p0' THEN 0.1 ELSE 0.95 END FROM patients`,
		`UPDATE alarms SET state = 'acknowledged', acknowledged_at = now(), acknowledged_by = 'sql' WHERE state = 'open'`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if n := listeners(t, conn); n != 0 {
		t.Fatalf("%d listening connections while the database took none", n)
	}
	allow(true)
	poll(t, "the listener to reconnect", func() bool { return site.listeners(t) == 1 })
	site.predict(t, ts, prediction{"p1", 12, 0.2}, prediction{"p0", 12, 0.8})
	seen = append(seen, f.collect(len(site.eventIDs(t, eventID(t, seen[0]))))...)
	wantIncreasing(t, seen)
	site.wantAll(t, seen, 0)
	if len(seen) != 1+3+2+2 {
		t.Errorf("%d events, want 8 (1 open, 3 while away: 1 resolved 2 opened, 2 acknowledged, then 1 resolved 1 opened)", len(seen))
	}
	if f.ends != 0 {
		t.Errorf("the stream ended %d times when only the listening connection was lost", f.ends)
	}
	f.s.quiet(t, 300*time.Millisecond)
}

// PostgreSQL stopped and started under a live stream: whether the stream
// stays or ends, a client that reconnects with Last-Event-ID (503 while the
// database is down) gets every event committed before and after, once.
func TestAlarmStreamDatabaseRestart(t *testing.T) {
	cluster, opts := privateCluster(t)
	ctx := context.Background()
	url := cluster.URL("canopy")
	own, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(own.Close)
	pool, err := queries.Open(ctx, queries.PoolConfig{URL: url, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ts := newServerOn(t, &testdb.DB{Name: "canopy", URL: url, Pool: own}, pool)
	site := newAlarmSite(t, ts, 4)
	f := follow(t, ts, site.reader, "")
	site.predict(t, ts, prediction{"p0", 10, 0.9}, prediction{"p1", 10, 0.9})
	seen := f.collect(2)

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	// A reconnection while the database is down is refused with 503.
	if _, status := tryStream(t, f.url, append(bearer(site.reader), "Last-Event-ID", seen[1].ID)...); status != http.StatusServiceUnavailable {
		t.Errorf("stream with Last-Event-ID while PostgreSQL is down: %d, want 503", status)
	}
	restarted, err := pgcluster.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restarted.Stop() })
	// The test's pool holds connections the restart ended.
	if site.pool, err = pgxpool.New(ctx, url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.pool.Close)
	// A write that met a dead connection is 503 and may be sent again: a
	// batch is idempotent.
	body := predictionBodies([]prediction{{"p0", 11, 0.1}, {"p2", 11, 0.9}, {"p3", 11, 0.9}})
	encoded, _ := json.Marshal(body)
	poll(t, "a batch to be taken after the restart", func() bool {
		r, err := fetch(ts.http, "POST", "/api/v1/predictions/bulk", string(encoded), site.writer)
		if err == nil && r.StatusCode != http.StatusOK && r.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("batch after the restart: %d %s", r.StatusCode, r.Body)
		}
		return err == nil && r.StatusCode == http.StatusOK
	})
	seen = append(seen, f.collect(3)...)
	wantIncreasing(t, seen)
	site.wantAll(t, seen, 0)
	t.Logf("the stream ended %d times across the restart", f.ends)
	f.s.quiet(t, 300*time.Millisecond)
}

// The hub drops a subscriber whose buffer is full, and only it; the others
// get every frame, in order.
func TestHubDropsSlowSubscriber(t *testing.T) {
	h := newHub(nil, nil, 2, discardLogger())
	h.last = 10
	close(h.known)
	ctx := context.Background()
	ward, other := int64(1), int64(2)
	slow, after, ok := h.subscribeAlarms(ctx, nil)
	if !ok || after != 10 {
		t.Fatalf("subscribe: after %d, ok %t", after, ok)
	}
	reader, _, _ := h.subscribeAlarms(ctx, nil)
	inWard, _, _ := h.subscribeAlarms(ctx, &ward)
	elsewhere, _, _ := h.subscribeAlarms(ctx, &other)
	var got, gotWard []int64
	frameOf := func(id int64, ward *int64) []*frame {
		return []*frame{{id: id, event: queries.AlarmEvent{ID: id, Alarm: queries.Alarm{WardID: ward}}}}
	}
	for id := int64(11); id <= 15; id++ {
		h.publish(frameOf(id, &ward))
		h.publish(frameOf(100+id, nil)) // a patient without a ward
		for range 2 {
			got = append(got, (<-reader.ch).id)
		}
		gotWard = append(gotWard, (<-inWard.ch).id)
	}
	select {
	case <-slow.gone:
	default:
		t.Error("a subscriber that read nothing was kept")
	}
	for name, s := range map[string]*alarmSub{"reader": reader, "ward": inWard, "other ward": elsewhere} {
		select {
		case <-s.gone:
			t.Errorf("the %s subscriber, which kept up, was dropped", name)
		default:
		}
	}
	if want := []int64{11, 111, 12, 112, 13, 113, 14, 114, 15, 115}; !slices.Equal(got, want) {
		t.Errorf("the reader got %v, want %v", got, want)
	}
	if want := []int64{11, 12, 13, 14, 15}; !slices.Equal(gotWard, want) {
		t.Errorf("the ward's reader got %v, want %v", gotWard, want)
	}
	if len(elsewhere.ch) != 0 {
		t.Errorf("another ward's subscriber got %d frames", len(elsewhere.ch))
	}
	if _, after, _ := h.subscribeAlarms(ctx, nil); after != 115 {
		t.Errorf("a new subscriber starts after %d, want 115", after)
	}
	h.close()
	if _, _, ok := h.subscribeAlarms(ctx, nil); ok {
		t.Error("a closed hub took a subscriber")
	}
}

// smallBuffers makes the server's side of each connection it accepts
// absorb only a few KiB that its client has not read, so that a client
// that does not read blocks the stream's writes after a few dozen events
// rather than megabytes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	if raw, err := c.(*net.TCPConn).SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096) })
	}
	return c, nil
}

// A client that stops reading is cut off while another keeps receiving;
// when it reads again it finds its stream ended, and reconnecting with its
// last id it gets every event exactly once, in order.
func TestAlarmStreamSlowClient(t *testing.T) {
	const buffer, batches = 8, 40
	ts := newTestServer(t, func(c *Config) { c.StreamBuffer = buffer })
	site := newAlarmSite(t, ts, buffer/2) // a batch is at most buffer events
	reader := follow(t, ts, site.reader, "")

	// The slow client: its side absorbs little, and nothing reads it yet.
	front := httptest.NewUnstartedServer(ts.srv)
	front.Listener = smallBuffers{front.Listener}
	front.Start()
	t.Cleanup(front.Close)
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", front.URL+"/api/v1/alarms/stream", nil)
	req.Header.Set("Authorization", "Bearer "+site.reader)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("slow client's stream: %v %v", resp, err)
	}

	// Each batch turns every patient's alarm over (opened, then resolved),
	// and the reader takes it all before the next: its buffer never fills.
	var all []sseEvent
	for i := range batches {
		p := 0.9
		if i%2 == 1 {
			p = 0.1
		}
		site.predict(t, ts, site.everyone(10+i, p)...)
		all = append(all, reader.collect(len(site.uids))...)
	}
	wantIncreasing(t, all)
	site.wantAll(t, all, 0)
	if reader.ends != 0 {
		t.Errorf("the reader's stream ended %d times", reader.ends)
	}

	slow := &follower{t: t, url: front.URL + "/api/v1/alarms/stream", headers: bearer(site.reader), s: readStream(t, resp, cancel)}
	var prefix []sseEvent
	for slow.ends == 0 {
		select {
		case e := <-slow.s.events:
			if e.ID != "" {
				slow.last = e.ID
			}
			if e.Event != "" {
				prefix = append(prefix, e)
			}
		case <-slow.s.done:
			if len(slow.s.events) == 0 {
				slow.ends++
			}
		case <-time.After(streamWait):
			t.Fatalf("the slow client's stream did not end; it got %d of %d events", len(prefix), len(all))
		}
	}
	if len(prefix) >= len(all) {
		t.Fatalf("the slow client got all %d events before its stream ended", len(all))
	}
	if !slices.Equal(ids(t, prefix), ids(t, all[:len(prefix)])) {
		t.Fatalf("the slow client got %v before its stream ended, not the first events %v", ids(t, prefix), ids(t, all[:len(prefix)]))
	}
	slow.connect()
	rest := slow.collect(len(all) - len(prefix))
	if got := append(prefix, rest...); !slices.Equal(ids(t, got), ids(t, all)) {
		t.Errorf("after reconnecting the slow client has %v, want %v", ids(t, got), ids(t, all))
	}
	slow.s.quiet(t, 300*time.Millisecond)
	t.Logf("the slow client was cut off after %d of %d events", len(prefix), len(all))
}

// Concurrent batches over the same patients, in shuffled orders, with
// discharges and low predictions mixed in: every request succeeds, no
// deadlock is ever detected, a (patient, target) never has two alarms in
// force, each alarm's events arrive in the order of its changes, and the
// stream's ids strictly increase. A last batch, newer than everything,
// brings the alarms to a state known in advance.
func TestAlarmsUnderConcurrentWriters(t *testing.T) {
	db := testdb.New(t)
	pool := openPool(t, db.URL)
	ts := newServerOn(t, db, pool)
	const patients, writers, batches = 12, 8, 12
	site := newAlarmSite(t, ts, patients)
	f := follow(t, ts, site.reader, "")

	type call struct {
		path, body string
		conflictOK bool // acknowledging an alarm resolved meanwhile
	}
	run := func(batch func(w, b int, rng *rand.Rand) call) {
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 16))
				for b := range batches {
					c := batch(w, b, rng)
					r, err := fetch(ts.http, "POST", c.path, c.body, site.writer)
					switch {
					case err != nil:
						t.Errorf("POST %s: %v", c.path, err)
					case r.StatusCode != http.StatusOK && (r.StatusCode != http.StatusConflict || !c.conflictOK):
						t.Errorf("POST %s: %d %s", c.path, r.StatusCode, r.Body)
					}
				}
			})
		}
		wg.Wait()
	}
	// some is a shuffled batch over about half the patients, predicted
	// at hours from hour on, so that writers overlap in time too.
	some := func(rng *rand.Rand, hour int, p func() float64) string {
		var preds []prediction
		for _, i := range rng.Perm(patients)[:patients/2+rng.IntN(patients/2)] {
			preds = append(preds, prediction{site.uids[i], hour + rng.IntN(8), p()})
		}
		body, _ := json.Marshal(predictionBodies(preds))
		return string(body)
	}

	// High predictions alone: each patient gets exactly one alarm.
	run(func(_, _ int, rng *rand.Rand) call {
		return call{path: "/api/v1/predictions/bulk", body: some(rng, 0, func() float64 { return 0.7 + 0.3*rng.Float64() })}
	})
	var alarms, open int
	if err := site.pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE state = 'open') FROM alarms`).Scan(&alarms, &open); err != nil {
		t.Fatal(err)
	}
	if alarms != patients || open != patients {
		t.Errorf("after high predictions alone: %d alarms, %d open, want %d of each", alarms, open, patients)
	}

	// The mix: high and low predictions, acknowledgements, and the first
	// quarter of the patients discharged by one of the writers.
	discharged := site.uids[:patients/4]
	run(func(w, b int, rng *rand.Rand) call {
		switch {
		case w == 0 && rng.IntN(3) == 0:
			var body []map[string]any
			for _, i := range rng.Perm(len(discharged)) {
				body = append(body, map[string]any{"uid": discharged[i], "discharged_at": "2024-11-03T00:00:00Z"})
			}
			encoded, _ := json.Marshal(body)
			return call{path: "/api/v1/patients/bulk", body: string(encoded)}
		case w == 1:
			var id int64
			if err := site.pool.QueryRow(context.Background(), `SELECT coalesce(max(id), 0) FROM alarms WHERE state = 'open'`).Scan(&id); err != nil {
				t.Error(err)
			}
			if id != 0 {
				return call{path: "/api/v1/alarms/" + itoa(id) + "/acknowledge", conflictOK: true}
			}
		}
		return call{path: "/api/v1/predictions/bulk", body: some(rng, 10+3*b, func() float64 { return []float64{0.1, 0.6, 0.8, 0.95}[rng.IntN(4)] })}
	})
	if _, err := site.pool.Exec(context.Background(), `UPDATE patients SET discharged_at = '2024-11-03T00:00:00Z'
		WHERE uid = ANY ($1) AND discharged_at IS NULL`, discharged); err != nil {
		t.Fatal(err)
	}

	// The last word, at hour 100: newer than anything before, high for even patients,
	// low for odd ones.
	var last []prediction
	for i, uid := range site.uids {
		last = append(last, prediction{uid, 100, []float64{0.9, 0.1}[i%2]})
	}
	site.predict(t, ts, last...)
	rows, _ := site.pool.Query(context.Background(), `SELECT p.uid FROM alarms a JOIN patients p ON p.id = a.patient_id
		WHERE a.state <> 'resolved' ORDER BY p.uid`)
	inForce, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, uid := range site.uids[len(discharged):] {
		if (len(discharged)+i)%2 == 0 {
			want = append(want, uid)
		}
	}
	slices.Sort(want)
	if !slices.Equal(inForce, want) {
		t.Errorf("alarms in force at the end: %v, want %v (even patients not discharged)", inForce, want)
	}

	// The stream: every event once, in id order, each alarm's in the order
	// of its changes, ending in the state the table holds.
	events := f.collect(len(site.eventIDs(t, 0)))
	site.wantAll(t, events, 0)
	t.Logf("%d events, the stream reopened %d times", len(events), f.ends)
	rank := map[string]int{"open": 0, "acknowledged": 1, "resolved": 2}
	lastState := map[int64]alarmJSON{}
	for _, e := range events {
		a := decodeAlarm(t, e)
		if before, ok := lastState[a.ID]; !ok && a.State != "open" {
			t.Errorf("alarm %d: first event %s, want open", a.ID, a.State)
		} else if ok && rank[a.State] <= rank[before.State] {
			t.Errorf("alarm %d: %s after %s", a.ID, a.State, before.State)
		}
		lastState[a.ID] = a
	}
	var final []alarmJSON
	var page alarmPage
	ts.do("GET", "/api/v1/alarms?limit=1000", nil, bearer(site.reader)...).decode(t, &page)
	final = page.Alarms
	if len(final) != len(lastState) {
		t.Errorf("%d alarms listed, %d in the stream", len(final), len(lastState))
	}
	for _, a := range final {
		if got := lastState[a.ID]; got.State != a.State {
			t.Errorf("alarm %d: last event %s, listed %s", a.ID, got.State, a.State)
		}
	}

	// Deadlocks, even retried ones, are counted once every backend has
	// reported: after the server and its pool are gone.
	ts.stop()
	pool.Close()
	poll(t, "canopy's connections to close", func() bool {
		var n int
		site.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name LIKE 'canopy%'`).Scan(&n)
		return n == 0
	})
	var deadlocks int64
	if err := site.pool.QueryRow(context.Background(), `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&deadlocks); err != nil {
		t.Fatal(err)
	}
	if deadlocks != 0 {
		t.Errorf("%d deadlocks detected", deadlocks)
	}
	t.Logf("%d alarms", len(final))
}

// With rules present, the batches keep their budgets, however many alarms
// they open or resolve: one statement each, as GET /alarms.
func TestAlarmQueryBudgets(t *testing.T) {
	ts := newTestServer(t)
	const n = 2000
	site := newAlarmSite(t, ts, n)
	r := ts.do("POST", "/api/v1/predictions/bulk", predictionBodies(site.everyone(10, 0.9)), bearer(site.writer)...)
	r.wantQueries(t, 1)
	var discharges []map[string]any
	for _, uid := range site.uids {
		discharges = append(discharges, map[string]any{"uid": uid, "discharged_at": "2024-11-03T00:00:00Z"})
	}
	r = ts.do("POST", "/api/v1/patients/bulk", discharges, bearer(site.writer)...)
	r.wantQueries(t, 1)
	r = ts.do("GET", "/api/v1/alarms?limit=1000&state=resolved", nil, bearer(site.reader)...)
	r.wantQueries(t, 1)
	var page alarmPage
	r.decode(t, &page)
	if len(page.Alarms) != 1000 || page.Alarms[0].ResolvedReason == nil || *page.Alarms[0].ResolvedReason != "discharged" {
		t.Errorf("%d alarms listed, the first %+v", len(page.Alarms), page.Alarms[0])
	}
	if got := len(site.eventIDs(t, 0)); got != 2*n {
		t.Errorf("%d events, want %d (opened and resolved)", got, 2*n)
	}
}

// A server prunes the events older than its retention by itself; a client
// whose last id was pruned gets one reset, then the events after it.
func TestAlarmEventsPrunedByServer(t *testing.T) {
	// Config.Validate asks for a minute at least; the test server is not
	// validated, and a tenth of a second keeps the test short.
	ts := newTestServer(t, func(c *Config) { c.EventRetention = 100 * time.Millisecond })
	site := newAlarmSite(t, ts, 2)
	f := follow(t, ts, site.reader, "")
	site.predict(t, ts, prediction{"p0", 10, 0.9})
	first := f.collect(1)[0]
	poll(t, "the event to be pruned", func() bool { return len(site.eventIDs(t, 0)) == 0 })

	late := &follower{t: t, url: f.url, headers: bearer(site.reader), last: "0"}
	late.connect()
	reset := late.next()
	if reset.Event != "reset" || eventID(t, reset) < eventID(t, first) {
		t.Fatalf("Last-Event-ID 0 after pruning: %+v, want a reset at or after %s", reset, first.ID)
	}
	site.predict(t, ts, prediction{"p1", 10, 0.9})
	for _, s := range []*follower{f, late} {
		if a := decodeAlarm(t, s.next()); a.PatientUID != "p1" || a.State != "open" {
			t.Errorf("after the reset: %+v, want p1's alarm opened", a)
		}
	}
}

// A replica may trail the primary, where the hub reads the events it hands
// out: a stream's replay and a tree stream's first version are read from
// the primary too, or a client reconnecting to a GET served by a replica
// misses the events the replica lacks, and a tree stream starts from a
// version older than the one it will never be told about.
func TestStreamsReadThePrimary(t *testing.T) {
	rs := newReplicaSetup(t)
	ts := rs.ts
	site := newAlarmSite(t, ts, 2)
	f := follow(t, ts, site.reader, "")
	site.predict(t, ts, prediction{"p0", 10, 0.9})
	seen := f.collect(1)
	// The replica serves reads, and then stops replaying while the checker,
	// stopped too, still counts it as fresh.
	rs.getFrom(t, "/api/v1/categories/tree", "replica-1")
	rs.stopChecker()
	rs.onReplica(t, "SELECT pg_wal_replay_pause()")
	t.Cleanup(func() { rs.onReplica(t, "SELECT pg_wal_replay_resume()") })

	site.predict(t, ts, prediction{"p1", 10, 0.9})
	seen = append(seen, f.collect(1)...)
	again := follow(t, ts, site.reader, seen[0].ID)
	site.predict(t, ts, prediction{"p1", 11, 0.1})
	seen = append(seen, f.collect(1)...)
	for _, want := range seen[1:] {
		if e := again.next(); e.ID != want.ID || e.Event != "alarm" {
			t.Fatalf("reconnected after %s: got %s %s, want alarm %s", seen[0].ID, e.Event, e.ID, want.ID)
		}
	}

	createNode(t, ts, ts.token(auth.ScopeTreesWrite), "categories", `{"name":"A"}`)
	var version int64
	if err := site.pool.QueryRow(context.Background(), `SELECT version FROM tree_versions WHERE tree = 'categories'`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	s := openStream(t, ts, "/api/v1/categories/events")
	if e := s.next(t); e.Data != fmt.Sprintf(`{"version":%d}`, version) {
		t.Errorf("a tree stream opened while the replica trails starts at %s, want version %d", e.Data, version)
	}
}

// Pruning that commits while a reconnecting client's replay is read is
// not missed: the client gets a reset, not the events after a gap.
func TestAlarmReplayRacesPruning(t *testing.T) {
	ts := newTestServer(t)
	site := newAlarmSite(t, ts, 3)
	f := follow(t, ts, site.reader, "")
	site.predict(t, ts, site.everyone(10, 0.9)...)
	seen := f.collect(3)

	// The replay's read waits on the table until the pruning commits.
	ctx := context.Background()
	tx, err := site.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE alarm_events IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		resp *http.Response
		err  error
	}
	answered := make(chan answer, 1)
	reqCtx, cancel := context.WithCancel(ctx)
	go func() {
		req, _ := http.NewRequestWithContext(reqCtx, "GET", f.url, nil)
		req.Header.Set("Authorization", "Bearer "+site.reader)
		req.Header.Set("Last-Event-ID", seen[0].ID)
		resp, err := http.DefaultClient.Do(req)
		answered <- answer{resp, err}
	}()
	poll(t, "the replay to wait for the table", func() bool {
		var n int
		if err := site.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FROM alarm_events%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
	if _, err := tx.Exec(ctx, `UPDATE alarm_events SET created_at = created_at - interval '1 day' WHERE id <= $1`, eventID(t, seen[1])); err != nil {
		t.Fatal(err)
	}
	if n, err := queries.New(tx).PruneAlarmEvents(ctx, time.Now().Add(-time.Hour)); err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want 2", n, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	a := <-answered
	if a.err != nil || a.resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %v %v", a.resp, a.err)
	}
	s := readStream(t, a.resp, cancel)
	if e := s.next(t); e.Event != "reset" {
		t.Errorf("Last-Event-ID %s, its next event pruned during the replay: got %s %s, want a reset", seen[0].ID, e.Event, e.ID)
	}
}

// blackHole forwards TCP connections to PostgreSQL's unix socket until
// swallow, after which what the connections open then carry in either
// direction vanishes while both ends stay open: a peer gone silent behind a
// middlebox, which neither side's TCP notices. Later connections pass.
type blackHole struct {
	ln     net.Listener
	socket string
	mu     sync.Mutex
	open   []*atomic.Bool // per connection: swallowing
}

func newBlackHole(t *testing.T, dbURL string) (*blackHole, string) {
	t.Helper()
	u, err := neturl.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	b := &blackHole{ln: ln, socket: filepath.Join(q.Get("host"), ".s.PGSQL."+q.Get("port"))}
	go b.serve()
	q.Del("host")
	q.Del("port")
	u.Host, u.RawQuery = ln.Addr().String(), q.Encode()
	return b, u.String()
}

func (b *blackHole) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		pg, err := net.Dial("unix", b.socket)
		if err != nil {
			c.Close()
			continue
		}
		swallowing := &atomic.Bool{}
		b.mu.Lock()
		b.open = append(b.open, swallowing)
		b.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer dst.Close()
			defer src.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := src.Read(buf)
				if err != nil {
					return
				}
				if !swallowing.Load() {
					if _, err := dst.Write(buf[:n]); err != nil {
						return
					}
				}
			}
		}
		go pipe(pg, c)
		go pipe(c, pg)
	}
}

// swallow makes the connections open now go silent.
func (b *blackHole) swallow() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.open {
		s.Store(true)
	}
}

// A listening connection that goes silent without closing (a middlebox
// dropped it) is found out and replaced: the events committed meanwhile
// and after reach the streams.
func TestAlarmStreamListenerSilenced(t *testing.T) {
	db := testdb.New(t)
	hole, viaHole := newBlackHole(t, db.URL)
	ts := newServerOn(t, db, openPool(t, db.URL), func(c *Config) { c.ListenURL = viaHole })
	site := newAlarmSite(t, ts, 2)
	f := follow(t, ts, site.reader, "")
	site.predict(t, ts, prediction{"p0", 10, 0.9})
	seen := f.collect(1)

	hole.swallow()
	site.predict(t, ts, prediction{"p1", 10, 0.9})
	seen = append(seen, f.collect(1)...)
	site.predict(t, ts, prediction{"p0", 11, 0.1})
	seen = append(seen, f.collect(1)...)
	site.wantAll(t, seen, 0)
	if f.ends != 0 {
		t.Errorf("the stream ended %d times", f.ends)
	}
}
