package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"canopy/queries"
)

// alarmSubscribers, when set, makes the bench the alarms scenario's client
// process instead: it holds that many alarm streams open on each base URL
// given as an argument, and reports what they received (holdSubscribers).
// The subscribers live in a process of their own so that their memory is
// not counted in canopy's, which the scenario measures in-process.
var alarmSubscribers = flag.Int("alarm-subscribers", 0, "internal: hold this many alarm streams on each base URL argument (the alarms scenario's client process)")

// subscriberTokenEnv carries the subscribers' bearer token to the client
// process (not on its command line).
const subscriberTokenEnv = "CANOPY_BENCH_TOKEN"

// The alarms scenario's feed: batches of alarmBatchSize predictions of
// alarmTarget, one every alarmPace, for patients P0000000..P0007999 well
// below the rule (clear_below 0.5), except alarmOpeners per batch for
// patients of their own (P0008000 on, two new ones per batch) at 0.9, each
// opening an alarm, and one low prediction for an opener of three batches
// before, resolving its alarm when it had one.
const (
	alarmTarget    = "sepsis"
	alarmBatchSize = 200
	alarmOpeners   = 2
	alarmPace      = 150 * time.Millisecond
	alarmBlock     = 2 // batches in a row with the rule off, then on: one to each instance
	alarmWarmup    = 4 // batches with the rule first, not timed
	lowPatients    = 8_000
)

var alarmRule = []byte(`{"open_at": 0.7, "clear_below": 0.5}`)

// alarmBatch is batch k of the feed.
func alarmBatch(k int) []queries.Prediction {
	at := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(k) * time.Minute)
	batch := make([]queries.Prediction, 0, alarmBatchSize)
	add := func(patient int, p float64) {
		batch = append(batch, queries.Prediction{PatientUID: fmt.Sprintf("P%07d", patient), Model: "sepsis-v1",
			Target: alarmTarget, PredictedAt: at, HorizonHours: 6, Probability: p})
	}
	for i := range alarmOpeners {
		add(openerPatient(k, i), 0.9)
	}
	if k >= 3 {
		add(openerPatient(k-3, 0), 0.1)
	}
	for i := 0; len(batch) < alarmBatchSize; i++ {
		add((k*alarmBatchSize+i)%lowPatients, 0.05+float64(i%40)/100)
	}
	return batch
}

// alarmBatchJSON is batch k as the feed posts it.
func alarmBatchJSON(k int) ([]byte, error) {
	type prediction struct {
		PatientUID   string  `json:"patient_uid"`
		Model        string  `json:"model"`
		Target       string  `json:"target"`
		PredictedAt  string  `json:"predicted_at"`
		HorizonHours int     `json:"horizon_hours"`
		Probability  float64 `json:"probability"`
	}
	var records []prediction
	for _, p := range alarmBatch(k) {
		records = append(records, prediction{p.PatientUID, p.Model, p.Target, p.PredictedAt.Format(time.RFC3339), p.HorizonHours, p.Probability})
	}
	return json.Marshal(records)
}

func openerPatient(k, i int) int { return lowPatients + k*alarmOpeners + i }

func runAlarms(e *env) (string, error) {
	perInstance, perMode := 500, 50
	if e.quick {
		perInstance, perMode = 100, 10
	}
	if _, err := e.seedHospital(); err != nil {
		return "", err
	}
	// Statistics, as autovacuum keeps them on a live database: with none on
	// the patients just seeded, the alarms trigger's join of the batch to
	// them is planned as a nested loop over every patient, and a batch with
	// the rule took 20 times as long as one without.
	if _, err := e.raw.Exec(e.ctx, `VACUUM ANALYZE patients`); err != nil {
		return "", err
	}
	var bases []string
	for range 2 {
		base, stop, err := e.serveDefaults()
		if err != nil {
			return "", err
		}
		defer stop()
		if err := waitForStream(e.ctx, base, e.token); err != nil {
			return "", err
		}
		bases = append(bases, base)
	}

	fmt.Println("alarms: the statement in PostgreSQL, alarms off and on")
	stmt, err := statementOf(e.ctx, e.raw.Config().ConnString(), func(q *queries.Store) error {
		_, err := q.InsertPredictions(e.ctx, queries.Actor{}, alarmBatch(2*(alarmWarmup+2*perMode)))
		return err
	})
	if err != nil {
		return "", err
	}
	pg, err := e.statementInPG(stmt, 25)
	if err != nil {
		return "", err
	}

	load := loadAverage()
	fmt.Printf("alarms: %d batches with alarms on, %d off, one every %s, no subscribers\n", perMode, perMode, alarmPace)
	bare, next, err := e.feed(bases, 0, perMode)
	if err != nil {
		return "", err
	}

	var firstEvent int64
	if err := e.raw.QueryRow(e.ctx, `SELECT coalesce(max(id), 0) FROM alarm_events`).Scan(&firstEvent); err != nil {
		return "", err
	}
	stopListening, err := e.listenFloor()
	if err != nil {
		return "", err
	}
	defer stopListening()
	fmt.Printf("alarms: %d subscribers on each of 2 instances\n", perInstance)
	mem, subs, err := measureSubscribers(e, bases, perInstance)
	if err != nil {
		return "", err
	}
	defer subs.kill()
	fmt.Printf("alarms: %d batches with alarms on, %d off, one every %s, %d subscribers\n", perMode, perMode, alarmPace, 2*perInstance)
	fed, _, err := e.feed(bases, next, perMode)
	if err != nil {
		return "", err
	}
	time.Sleep(time.Second) // the last events' way to the subscribers
	got, err := subs.finish()
	if err != nil {
		return "", err
	}
	floor := stopListening()

	events, err := e.committedEvents(firstEvent)
	if err != nil {
		return "", err
	}
	var delivered, notify, answered samples
	expected := len(events) * len(got.Receipts)
	for _, receipts := range got.Receipts {
		for _, r := range receipts {
			if ev, ok := events[r[0]]; ok {
				delivered = append(delivered, time.Duration(r[1]-ev.committed))
			}
		}
	}
	for id, at := range floor {
		if ev, ok := events[id]; ok {
			notify = append(notify, time.Duration(at-ev.committed))
		}
	}
	for _, ev := range events {
		if k, ok := ev.openedBy(); ok && fed.responded[k] != 0 {
			answered = append(answered, time.Duration(fed.responded[k]-ev.committed))
		}
	}

	subscribers := 2 * perInstance
	var b strings.Builder
	fmt.Fprintf(&b, "_Machine: %s; load average %s when the feed began (the cores are shared)._\n\n", e.machine(), load)
	fmt.Fprintf(&b, `Two canopy instances on the same database, each served in the bench's process as `+"`canopy serve`"+` serves
it with its defaults (its own pool of %d connections, its own listening connection and hub), and
%s subscribers, %s on each, as real HTTP clients over loopback TCP: `+"`GET /api/v1/alarms/stream`"+` without a
ward, so that every subscriber gets every event. The subscribers live in a child process (the bench
re-run with `+"`-alarm-subscribers`"+`), so that their memory is not canopy's; the machine's 2 cores serve
both processes and PostgreSQL. 10,000 patients in 50 wards (analyzed, as autovacuum would have them).

The feed: batches of %d sepsis predictions, one every %s, sent to the two instances in turn, in
blocks of %d alternately with the rule `+"`PUT /api/v1/alarm-rules/sepsis {\"open_at\": 0.7, \"clear_below\": 0.5}`"+`
(alarms on) and without any rule (alarms off: the trigger returns at once); %d batches of each, first
without subscribers, then again with the %s, each time after %d batches with the rule that are not
timed (they warm the pooled sessions: the trigger's first run in a session plans its statements). In each batch %d predictions of 0.9 for patients of their
own open as many alarms, one of 0.1 resolves the alarm opened three batches before (when that batch
had the rule), and the rest (0.05–0.44, for 8,000 of the patients in turn) are low: the trigger looks
at each (a low one resolves an alarm in force) and changes nothing for them.
- **commit → subscriber**: for every (subscriber, event) pair, the time the subscriber began to read
  the event's frame minus the commit time of the transaction that wrote the event, as PostgreSQL
  recorded it (`+"`track_commit_timestamp`"+`: `+"`pg_xact_commit_timestamp(xmin)`"+` of the event's row);
  both clocks are the machine's wall clock. (The POST's response reached the bench p50 %s ms after
  that commit time: timed from the response, the figures would be that much lower.)
- **NOTIFY**: the same from commit to a plain pgx `+"`LISTEN`"+` session in the bench receiving the
  notification: PostgreSQL's part, the floor under canopy's.
- **memory per idle subscriber**: the Go heap and stacks in use (`+"`runtime.MemStats` HeapInuse + StackInuse"+`)
  of the process serving both instances, after a GC, with all %s streams open and idle minus before
  any, divided by %s; beside it the process's resident set (VmRSS) grown over the same span. The
  kernel's socket buffers are not counted.
- **POST**: `+"`POST /api/v1/predictions/bulk`"+` as the bench's client times it (JSON encoding not timed).
  **statement in PG**: canopy's insert statement for one such batch under EXPLAIN ANALYZE, rolled back,
  25 times without the rule and 25 with it, alternately (PostgreSQL's execution time, the alarms
  trigger included).

`, defaultPoolSize, thousands(subscribers), thousands(perInstance), alarmBatchSize, alarmPace, alarmBlock,
		perMode, thousands(subscribers), alarmWarmup, alarmOpeners, ms(answered.p50()), thousands(subscribers), thousands(subscribers))
	b.WriteString("| subscribers | events | deliveries received / expected | NOTIFY p50 | NOTIFY p99 | commit → subscriber p50 | p99 | max |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %s | %d | %s / %s | %s | %s | %s | %s | %s |\n\n", thousands(subscribers), len(events),
		thousands(len(delivered)), thousands(expected), ms(notify.p50()), ms(notify.p99()),
		ms(delivered.p50()), ms(delivered.p99()), ms(delivered.pct(100)))
	b.WriteString("| batch of 200 | alarms off p50 | p99 | alarms on p50 | p99 | on ÷ off p50 |\n|---|---:|---:|---:|---:|---:|\n")
	row := func(what string, off, on samples) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", what, ms(off.p50()), ms(off.p99()), ms(on.p50()), ms(on.p99()), times(on.p50(), off.p50()))
	}
	row("statement in PG", pg.off, pg.on)
	row("POST, no subscribers", bare.off, bare.on)
	row(fmt.Sprintf("POST, %s subscribers", thousands(subscribers)), fed.off, fed.on)
	fmt.Fprintf(&b, "\nOf the statement with alarms on, the alarms trigger (`alarms_from_predictions`, EXPLAIN ANALYZE's trigger time) takes p50 %s ms;\n"+
		"its first run in a session, which plans the trigger functions' statements, %s ms (p50 of %d new connections).\n",
		ms(pg.trigger.p50()), ms(pg.firstTrigger.p50()), len(pg.firstTrigger))
	fmt.Fprintf(&b, "\nMemory per idle subscriber: %s of Go heap and stacks (heap %s, stacks %s; resident set %s); %.1f goroutines each.\n",
		kib(mem.heap+mem.stack), kib(mem.heap), kib(mem.stack), kib(mem.rss), mem.goroutines)
	if len(got.Errors) > 0 {
		fmt.Fprintf(&b, "\nStreams that ended before the run did: %d (%s).\n", len(got.Errors), got.Errors[0])
	}
	b.WriteString("\nTargets (issue 16):\n\n")
	b.WriteString(target(fmt.Sprintf("p99 commit → subscriber ≤ 100 ms at %s subscribers, every event delivered", thousands(subscribers)),
		delivered.p99() <= 100*time.Millisecond && len(delivered) == expected,
		fmt.Sprintf("%s ms, %s of %s", ms(delivered.p99()), thousands(len(delivered)), thousands(expected))) + "\n")
	b.WriteString(target("≤ 64 KiB per idle subscriber", mem.heap+mem.stack <= 64<<10, kib(mem.heap+mem.stack)) + "\n")
	b.WriteString(target(fmt.Sprintf("batch latency with alarms on within 1.2× of off (p50, %s subscribers)", thousands(subscribers)),
		fed.on.p50() <= fed.off.p50()*6/5, fmt.Sprintf("%s (%s vs %s ms)", times(fed.on.p50(), fed.off.p50()), ms(fed.on.p50()), ms(fed.off.p50()))) + "\n")
	return b.String(), nil
}

// fed is what feed measured.
type fed struct {
	on, off   samples       // the POSTs' latencies with the rule and without
	responded map[int]int64 // batch (with the rule) → when its response arrived, Unix ns
}

// feed posts batches from batch from on, one every alarmPace, to the
// instances in turn: alarmWarmup with the rule, not timed, which warm the
// sessions the instances use (a session's first run of the alarms trigger
// plans its statements, a cost paid once per pooled connection); then
// blocks of alarmBlock alternately without the rule and with it, perMode of
// each. It returns the batch after the last.
func (e *env) feed(bases []string, from, perMode int) (fed, int, error) {
	f := fed{responded: map[int]int64{}}
	pace := time.NewTicker(alarmPace)
	defer pace.Stop()
	n := alarmWarmup + 2*perMode
	ruled := false
	for i := range n {
		k, j := from+i, i-alarmWarmup
		on := j < 0 || (j/alarmBlock)%2 == 1
		if i == 0 || on != ruled {
			if err := e.setAlarmRule(bases[0], on); err != nil {
				return f, 0, err
			}
			ruled = on
		}
		body, err := alarmBatchJSON(k)
		if err != nil {
			return f, 0, err
		}
		<-pace.C
		t := time.Now()
		if _, _, err := e.postTo(bases[k%2]+"/api/v1/predictions/bulk", body); err != nil {
			return f, 0, err
		}
		took := time.Since(t)
		switch {
		case j < 0:
		case on:
			f.on = append(f.on, took)
			f.responded[k] = time.Now().UnixNano()
		default:
			f.off = append(f.off, took)
		}
	}
	return f, from + n, nil
}

// times is a/b to two decimals: near the 1.2× bound, ratio's one decimal
// would hide which side a figure is on.
func times(a, b time.Duration) string { return fmt.Sprintf("%.2f×", float64(a)/float64(b)) }

// loadAverage is the machine's load average over the last minute.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

func kib(bytes float64) string { return fmt.Sprintf("%.1f KiB", bytes/1024) }

// setAlarmRule puts the feed's rule (on) or deletes every rule (off).
func (e *env) setAlarmRule(base string, on bool) error {
	if on {
		_, err := e.send("PUT", base+"/api/v1/alarm-rules/"+alarmTarget, alarmRule, http.StatusOK)
		return err
	}
	_, err := e.send("DELETE", base+"/api/v1/alarm-rules/"+alarmTarget, nil, http.StatusNoContent)
	return err
}

// waitForStream waits until base serves alarm streams: its hub answers 503
// until it knows where the events stand.
func waitForStream(ctx context.Context, base, token string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithCancel(ctx)
		_, err := readStream(ctx, http.DefaultClient, base, token, cancel)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// committedEvent is an alarm event as the scenario reads it back.
type committedEvent struct {
	patientUID string
	state      string
	committed  int64 // the commit time of its transaction, Unix ns
}

// openedBy is the batch whose opener the event opened, if it did.
func (ev committedEvent) openedBy() (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(ev.patientUID, "P"))
	if ev.state != "open" || err != nil || n < lowPatients {
		return 0, false
	}
	return (n - lowPatients) / alarmOpeners, true
}

// committedEventsSQL reads the events after $1 with their commit times.
const committedEventsSQL = `
SELECT id, patient_uid, state, pg_xact_commit_timestamp(xmin) FROM alarm_events WHERE id > $1`

func (e *env) committedEvents(after int64) (map[int64]committedEvent, error) {
	rows, err := e.raw.Query(e.ctx, committedEventsSQL, after)
	if err != nil {
		return nil, err
	}
	events := map[int64]committedEvent{}
	var id int64
	var ev committedEvent
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &ev.patientUID, &ev.state, &at}, func() error {
		ev.committed = at.UnixNano()
		events[id] = ev
		return nil
	})
	return events, err
}

// inPG is the insert statement's execution times in PostgreSQL.
type inPG struct {
	off, on samples
	// trigger is the alarms trigger's part of on; firstTrigger its time in
	// a session's first run.
	trigger, firstTrigger samples
}

// statementInPG runs stmt n times without the rule and n times with it,
// alternately, each under EXPLAIN ANALYZE in a transaction that sets the
// rules first and is rolled back; then once on each of three new
// connections, with the rule.
func (e *env) statementInPG(stmt captured, n int) (inPG, error) {
	var r inPG
	run := func(db interface {
		Begin(context.Context) (pgx.Tx, error)
	}, on bool) (execution, trigger time.Duration, err error) {
		tx, err := db.Begin(e.ctx)
		if err != nil {
			return 0, 0, err
		}
		defer tx.Rollback(e.ctx)
		rules := `SET LOCAL jit = off; DELETE FROM alarm_rules`
		if on {
			rules += `; INSERT INTO alarm_rules (target, open_at, clear_below) VALUES ('` + alarmTarget + `', 0.7, 0.5)`
		}
		if _, err := tx.Exec(e.ctx, rules); err != nil {
			return 0, 0, err
		}
		var plan []struct {
			ExecutionTime float64 `json:"Execution Time"`
			Triggers      []struct {
				Name string  `json:"Trigger Name"`
				Time float64 `json:"Time"`
			}
		}
		if err := tx.QueryRow(e.ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+stmt.sql, stmt.args...).Scan(&plan); err != nil {
			return 0, 0, err
		}
		for _, t := range plan[0].Triggers {
			if t.Name == "predictions_alarms_insert" {
				trigger = time.Duration(t.Time * float64(time.Millisecond))
			}
		}
		return time.Duration(plan[0].ExecutionTime * float64(time.Millisecond)), trigger, nil
	}
	for i := range 2*n + 2 {
		on := i%2 == 1
		execution, trigger, err := run(e.raw, on)
		switch {
		case err != nil:
			return r, err
		case i < 2: // the first two warm the session
		case on:
			r.on, r.trigger = append(r.on, execution), append(r.trigger, trigger)
		default:
			r.off = append(r.off, execution)
		}
	}
	for range 3 {
		conn, err := pgx.Connect(e.ctx, e.raw.Config().ConnString())
		if err != nil {
			return r, err
		}
		_, trigger, err := run(conn, true)
		conn.Close(e.ctx)
		if err != nil {
			return r, err
		}
		r.firstTrigger = append(r.firstTrigger, trigger)
	}
	return r, nil
}

// listenFloor listens on the alarms channel with a plain pgx session until
// the function it returns is called; that returns when each announced event
// id was received (Unix ns).
func (e *env) listenFloor() (func() map[int64]int64, error) {
	conn, err := pgx.Connect(e.ctx, e.raw.Config().ConnString())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(e.ctx, "LISTEN canopy_alarms"); err != nil {
		conn.Close(e.ctx)
		return nil, err
	}
	ctx, cancel := context.WithCancel(e.ctx)
	received := map[int64]int64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				return
			}
			if id, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
				received[id] = time.Now().UnixNano()
			}
		}
	}()
	var once sync.Once
	stop := func() map[int64]int64 {
		once.Do(func() {
			cancel()
			<-done
			conn.Close(context.Background())
		})
		return received
	}
	return stop, nil
}

// subscriberMemory is what an idle subscriber costs the serving process.
type subscriberMemory struct {
	heap, stack, rss float64 // bytes per subscriber
	goroutines       float64
}

// measureSubscribers opens each streams on every base from a child process
// and measures what they cost this process, which serves them.
func measureSubscribers(e *env, bases []string, each int) (subscriberMemory, *subscriberProcess, error) {
	before := inUse()
	subs, err := startSubscribers(e.token, bases, each)
	if err != nil {
		return subscriberMemory{}, nil, err
	}
	after := inUse()
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(len(bases)*each) }
	return subscriberMemory{heap: per(after.heap, before.heap), stack: per(after.stack, before.stack),
		rss: per(after.rss, before.rss), goroutines: per(after.goroutines, before.goroutines)}, subs, nil
}

// memory is what inUse reads.
type memory struct{ heap, stack, rss, goroutines uint64 }

// inUse is, after a collection, this process's Go heap and stacks in use
// (HeapInuse, StackInuse), its resident set, and its goroutines.
func inUse() memory {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	r := memory{heap: m.HeapInuse, stack: m.StackInuse, goroutines: uint64(runtime.NumGoroutine())}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				r.rss = kb << 10
			}
		}
	}
	return r
}

// subscriberProcess is the child process holding the subscribers.
type subscriberProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// subscriberReport is what the child prints when told to finish.
type subscriberReport struct {
	// Receipts are, per subscriber, the alarm events it read: [id, Unix ns
	// when its frame began to arrive].
	Receipts [][][2]int64 `json:"receipts"`
	// Errors are the streams that ended before they were told to.
	Errors []string `json:"errors"`
}

// startSubscribers starts the child process and returns once every stream
// is open.
func startSubscribers(token string, bases []string, each int) (*subscriberProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{"-alarm-subscribers", strconv.Itoa(each)}, bases...)...)
	cmd.Env = append(os.Environ(), subscriberTokenEnv+"="+token)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &subscriberProcess{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	if line, err := p.out.ReadString('\n'); err != nil || line != "ready\n" {
		p.kill()
		return nil, fmt.Errorf("subscriber process: %q %v", line, err)
	}
	return p, nil
}

// finish tells the child to close its streams and reads what they received.
func (p *subscriberProcess) finish() (subscriberReport, error) {
	var r subscriberReport
	p.stdin.Close()
	err := json.NewDecoder(p.out).Decode(&r)
	if werr := p.cmd.Wait(); err == nil {
		err = werr
	}
	return r, err
}

func (p *subscriberProcess) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

// holdSubscribers is the child process: it opens each alarm streams on
// every base (a few at a time), prints "ready" once all are open, and when
// its stdin closes ends them and prints a subscriberReport.
func holdSubscribers(each int, bases []string, token string, stdin io.Reader, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(context.Background())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1}}
	n := each * len(bases)
	report := subscriberReport{Receipts: make([][][2]int64, n)}
	var mu sync.Mutex
	var opened, ended sync.WaitGroup
	opening := make(chan struct{}, 32)
	for i := range n {
		opened.Add(1)
		ended.Add(1)
		opening <- struct{}{}
		go func() {
			defer ended.Done()
			var once sync.Once
			open := func() { once.Do(func() { <-opening; opened.Done() }) }
			defer open()
			got, err := readStream(ctx, client, bases[i%len(bases)], token, open)
			mu.Lock()
			defer mu.Unlock()
			report.Receipts[i] = got
			if err != nil && ctx.Err() == nil {
				report.Errors = append(report.Errors, err.Error())
			}
		}()
	}
	opened.Wait()
	mu.Lock()
	failed := len(report.Errors)
	mu.Unlock()
	if failed > 0 {
		cancel()
		return fmt.Errorf("%d of %d streams failed to open: %s", failed, n, report.Errors[0])
	}
	fmt.Fprintln(stdout, "ready")
	io.Copy(io.Discard, stdin)
	cancel()
	ended.Wait()
	return json.NewEncoder(stdout).Encode(report)
}

// readStream reads the alarm stream of base until ctx is done, calling
// opened once it has its first frame with an id (the one the stream starts
// after), and returns the alarm events it read.
func readStream(ctx context.Context, client *http.Client, base, token string, opened func()) ([][2]int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/alarms/stream", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	r := bufio.NewReader(resp.Body)
	var got [][2]int64
	var id, began int64
	hasID, alarm := false, false
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			if ctx.Err() != nil {
				return got, nil
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return got, err
		}
		if began == 0 {
			began = time.Now().UnixNano()
		}
		switch {
		case len(line) == 1: // the blank line that ends a frame
			if alarm {
				got = append(got, [2]int64{id, began})
			} else if hasID {
				opened()
			}
			began, hasID, alarm = 0, false, false
		case bytes.HasPrefix(line, []byte("id: ")):
			id, err = strconv.ParseInt(string(bytes.TrimSpace(line[4:])), 10, 64)
			if err != nil {
				return got, err
			}
			hasID = true
		case string(line) == "event: alarm\n":
			alarm = true
		}
	}
}
