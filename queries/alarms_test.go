package queries_test

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"canopy/internal/testdb"
	"canopy/queries"
)

// alarmDB is a database with the sepsis rule (open at 0.7, clear below 0.5)
// and patients p1, p2, p3.
func alarmDB(t *testing.T) (*testdb.DB, *queries.Store) {
	t.Helper()
	db := testdb.New(t)
	s := queries.New(db.Pool)
	ctx := context.Background()
	if err := s.PutAlarmRule(ctx, queries.AlarmRule{Target: "sepsis", OpenAt: 0.7, ClearBelow: 0.5}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO patients (uid) VALUES ('p1'), ('p2'), ('p3')`); err != nil {
		t.Fatal(err)
	}
	return db, s
}

// predictSQL inserts a sepsis prediction for patient $1 at hour $2 of
// 2024-11-02 with probability $3, as any writer of SQL would.
const predictSQL = `INSERT INTO predictions (patient_id, model, target, predicted_at, horizon_hours, probability)
SELECT id, 'm', 'sepsis', '2024-11-02T00:00:00Z'::timestamptz + make_interval(hours => $2), 6, $3 FROM patients WHERE uid = $1`

// eventsSince reads the events after after and returns their ids and
// "uid:state".
func eventsSince(t *testing.T, s *queries.Store, after int64) ([]int64, []string) {
	t.Helper()
	events, err := s.AlarmEventsAfter(context.Background(), after, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	var what []string
	for _, e := range events {
		ids = append(ids, e.ID)
		what = append(what, e.PatientUID+":"+e.State)
	}
	return ids, what
}

// Event ids follow commit order, not the order transactions began or
// wrote in: a reader that has seen id N never meets an event below N
// later, so reading after the last id seen misses nothing. Each commit
// announces its last id.
func TestAlarmEventsCommitOrder(t *testing.T) {
	db, s := alarmDB(t)
	ctx := context.Background()
	listener, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	if _, err := listener.Exec(ctx, `LISTEN canopy_alarms`); err != nil {
		t.Fatal(err)
	}
	begin := func() pgx.Tx {
		t.Helper()
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback(ctx) })
		return tx
	}
	early, late := begin(), begin()
	if _, err := early.Exec(ctx, predictSQL, "p1", 1, 0.9); err != nil {
		t.Fatal(err)
	}
	if _, err := late.Exec(ctx, predictSQL, "p2", 2, 0.9); err != nil {
		t.Fatal(err)
	}
	if _, err := late.Exec(ctx, predictSQL, "p3", 2, 0.8); err != nil {
		t.Fatal(err)
	}
	if ids, _ := eventsSince(t, s, 0); len(ids) != 0 {
		t.Fatalf("uncommitted events seen: %v", ids)
	}

	// The transaction that began and wrote last commits first.
	if err := late.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	firstIDs, first := eventsSince(t, s, 0)
	if !slices.Equal(first, []string{"p2:open", "p3:open"}) {
		t.Fatalf("after the first commit: %v", first)
	}
	if err := early.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	lastSeen := firstIDs[len(firstIDs)-1]
	secondIDs, second := eventsSince(t, s, lastSeen)
	if !slices.Equal(second, []string{"p1:open"}) {
		t.Errorf("after the second commit, the events after %d: %v, want p1's", lastSeen, second)
	}
	all, _ := eventsSince(t, s, 0)
	if want := append(firstIDs, secondIDs...); !slices.Equal(all, want) {
		t.Errorf("events %v, want %v", all, want)
	}

	for _, want := range []int64{lastSeen, secondIDs[0]} {
		wait, cancel := context.WithTimeout(ctx, 15*time.Second)
		n, err := listener.WaitForNotification(wait)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if n.Payload != strconv.FormatInt(want, 10) {
			t.Errorf("notified %s, want %d", n.Payload, want)
		}
	}
}

// The triggers serve every writer of SQL: inserts, updates of a stored
// prediction, patients discharged or dead; a transaction rolled back
// leaves neither alarms nor events. Each step runs on the state the
// previous ones left.
func TestAlarmTriggersForPlainSQL(t *testing.T) {
	db, s := alarmDB(t)
	ctx := context.Background()
	steps := []struct {
		name   string
		sql    string
		args   []any
		events []string // the step's events, in order
	}{
		{"an insert opens", predictSQL, []any{"p1", 1, 0.9}, []string{"p1:open"}},
		{"a rolled-back insert changes nothing", "rollback", []any{"p2", 1, 0.9}, nil},
		{"an update of the prediction that opened the alarm changes nothing", `UPDATE predictions SET probability = 0.1
			WHERE predicted_at = '2024-11-02T01:00:00Z'`, nil, nil},
		{"a newer low prediction resolves", predictSQL, []any{"p1", 2, 0.2}, []string{"p1:resolved"}},
		{"between the thresholds nothing changes", predictSQL, []any{"p1", 3, 0.6}, nil},
		{"an update raising a prediction newer than the last decision opens", `UPDATE predictions SET probability = 0.9
			WHERE predicted_at = '2024-11-02T03:00:00Z'`, nil, []string{"p1:open"}},
		{"a statement of several rows: opened and resolved at once, and opened", `INSERT INTO predictions (patient_id, model, target, predicted_at, horizon_hours, probability)
			SELECT p.id, 'm', 'sepsis', v.at, 6, v.probability
			FROM (VALUES ('p2', timestamptz '2024-11-02T05:00:00Z', 0.9), ('p2', '2024-11-02T06:00:00Z', 0.1), ('p3', '2024-11-02T05:00:00Z', 0.75)) v (uid, at, probability)
			JOIN patients p ON p.uid = v.uid`, nil, []string{"p2:open", "p2:resolved", "p3:open"}},
		{"acknowledged by SQL", `UPDATE alarms SET state = 'acknowledged', acknowledged_at = now(), acknowledged_by = 'sql' WHERE state = 'open'`, nil,
			[]string{"p1:acknowledged", "p3:acknowledged"}},
		{"a death and a discharge resolve", `UPDATE patients SET died_at = CASE uid WHEN 'p3' THEN now() END,
			discharged_at = CASE uid WHEN 'p1' THEN now() END WHERE uid IN ('p1', 'p3')`, nil, []string{"p1:resolved", "p3:resolved"}},
	}
	var last int64
	for _, step := range steps {
		if step.sql == "rollback" {
			tx, err := db.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, predictSQL, step.args...); err != nil {
				t.Fatal(err)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
		} else if _, err := db.Pool.Exec(ctx, step.sql, step.args...); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		ids, got := eventsSince(t, s, last)
		if !slices.Equal(got, step.events) {
			t.Errorf("%s: events %v, want %v", step.name, got, step.events)
		}
		if len(ids) > 0 {
			last = ids[len(ids)-1]
		}
	}
	alarms, err := s.Alarms(ctx, queries.AlarmQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, a := range alarms {
		reason := ""
		if a.ResolvedReason != nil {
			reason = ":" + *a.ResolvedReason
		}
		states = append(states, a.PatientUID+":"+a.State+reason)
	}
	if want := []string{"p3:resolved:died", "p2:resolved:recovered", "p1:resolved:discharged", "p1:resolved:recovered"}; !slices.Equal(states, want) {
		t.Errorf("alarms %v, want %v", states, want)
	}
}

// PruneAlarmEvents removes the events recorded before the cutoff and no
// other; a reader whose last id is below the newest pruned is told its
// events are lost, one at or past it is not, nor one at 0 before any
// pruning; an id the database never gave is lost too.
func TestPruneAlarmEvents(t *testing.T) {
	db, s := alarmDB(t)
	ctx := context.Background()
	for i, uid := range []string{"p1", "p2", "p3"} {
		if _, err := db.Pool.Exec(ctx, predictSQL, uid, i, 0.9); err != nil {
			t.Fatal(err)
		}
	}
	ids, _ := eventsSince(t, s, 0)
	if len(ids) != 3 {
		t.Fatalf("events %v, want 3", ids)
	}
	lost := func(after int64) bool {
		t.Helper()
		lost, err := s.AlarmEventsLost(ctx, after)
		if err != nil {
			t.Fatal(err)
		}
		return lost
	}
	if lost(0) || lost(ids[2]) || !lost(ids[2]+1000) {
		t.Errorf("before pruning: lost(0) %t, lost(last) %t, lost(past the last) %t; want false, false, true", lost(0), lost(ids[2]), lost(ids[2]+1000))
	}
	// The first two events are a day and an hour old, the last is new.
	now := time.Now()
	if _, err := db.Pool.Exec(ctx, `UPDATE alarm_events SET created_at = CASE id WHEN $1 THEN $3::timestamptz - interval '1 day'
		WHEN $2 THEN $3::timestamptz - interval '1 hour' ELSE created_at END`, ids[0], ids[1], now); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		before  time.Time
		pruned  int64
		left    []int64
		lostFor []int64 // ids whose reader has lost events
		kept    []int64 // ids whose reader has not
	}{
		{"nothing older than two days", now.Add(-48 * time.Hour), 0, ids, nil, []int64{0, ids[0]}},
		{"the day-old event", now.Add(-2 * time.Hour), 1, ids[1:], []int64{0}, []int64{ids[0], ids[1], ids[2]}},
		{"again: nothing more", now.Add(-2 * time.Hour), 0, ids[1:], []int64{0}, []int64{ids[0]}},
		{"the hour-old event", now.Add(-time.Minute), 1, ids[2:], []int64{0, ids[0]}, []int64{ids[1], ids[2]}},
	}
	for _, c := range cases {
		n, err := s.PruneAlarmEvents(ctx, c.before)
		if err != nil {
			t.Fatal(err)
		}
		left, _ := eventsSince(t, s, 0)
		if n != c.pruned || !slices.Equal(left, c.left) {
			t.Errorf("%s: pruned %d, left %v; want %d, %v", c.name, n, left, c.pruned, c.left)
		}
		for _, id := range c.lostFor {
			if !lost(id) {
				t.Errorf("%s: the events after %d are not reported lost", c.name, id)
			}
		}
		for _, id := range c.kept {
			if lost(id) {
				t.Errorf("%s: the events after %d are reported lost", c.name, id)
			}
		}
	}
}

// The listener calls connected each time it has begun to listen, the
// first time and after its connection is lost, and hands over what is
// announced in commit order.
func TestListener(t *testing.T) {
	db, s := alarmDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	connected := make(chan struct{}, 10)
	changes := make(chan queries.Change, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		queries.NewListener(db.URL, slog.New(slog.DiscardHandler)).Run(ctx,
			func() { connected <- struct{}{} },
			func(c queries.Change) { changes <- c })
	}()
	defer func() {
		cancel()
		<-done
	}()
	wait := func(what string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s within 30 s", what)
		}
	}
	change := func() queries.Change {
		t.Helper()
		select {
		case c := <-changes:
			return c
		case <-time.After(30 * time.Second):
			t.Fatal("no change announced within 30 s")
		}
		return queries.Change{}
	}
	wait("connection", connected)
	for _, round := range []string{"first connection", "after the connection was lost"} {
		if _, err := db.Pool.Exec(context.Background(), predictSQL, "p1", len(round), 0.9); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(context.Background(), predictSQL, "p1", len(round)+1, 0.1); err != nil {
			t.Fatal(err)
		}
		ids, _ := eventsSince(t, s, 0)
		for _, want := range ids[len(ids)-2:] {
			if c := change(); c.AlarmEvent != want {
				t.Errorf("%s: announced %+v, want event %d", round, c, want)
			}
		}
		if _, err := db.Pool.Exec(context.Background(), `INSERT INTO categories (name) VALUES ($1)`, round); err != nil {
			t.Fatal(err)
		}
		if c := change(); c.Tree != "categories" || c.Version < 1 {
			t.Errorf("%s: announced %+v, want a categories version", round, c)
		}
		var killed int
		if err := db.Pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'canopy listener'`).Scan(&killed); err != nil || killed != 1 {
			t.Fatalf("terminated %d listening sessions (%v), want 1", killed, err)
		}
		wait("reconnection", connected)
	}
}
