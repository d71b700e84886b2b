package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"canopy/auth"
)

// alarmHospital is a hospital with an alarm rule for sepsis (open at 0.7,
// clear below 0.5) and two patients, ann in the ICU and bob in Recovery.
type alarmHospital struct {
	*hospital
	admin string
}

func newAlarmHospital(t *testing.T) *alarmHospital {
	t.Helper()
	h := &alarmHospital{hospital: newHospital(t)}
	h.admin = h.token(auth.ScopeAdmin)
	h.putRule(t, "sepsis", 0.7, 0.5)
	h.post(t, "/api/v1/patients/bulk", []map[string]any{
		{"uid": "ann", "ward_id": h.icu, "admitted_at": "2024-11-01T08:00:00Z"},
		{"uid": "bob", "ward_id": h.recovery, "admitted_at": "2024-11-01T08:00:00Z"},
	})
	return h
}

func (h *alarmHospital) putRule(t *testing.T, target string, openAt, clearBelow float64) {
	t.Helper()
	r := h.do("PUT", "/api/v1/alarm-rules/"+target, map[string]float64{"open_at": openAt, "clear_below": clearBelow}, bearer(h.admin)...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("PUT rule: %d %s", r.StatusCode, r.Body)
	}
}

// predict posts one prediction per (uid, hour, probability): sepsis by
// model m1, at hour hours after 2024-11-02T00:00Z.
func (h *alarmHospital) predict(t *testing.T, preds ...prediction) response {
	t.Helper()
	return h.post(t, "/api/v1/predictions/bulk", predictionBodies(preds))
}

type prediction struct {
	uid         string
	hour        int
	probability float64
}

func predictionBodies(preds []prediction) []map[string]any {
	body := make([]map[string]any, len(preds))
	for i, p := range preds {
		body[i] = map[string]any{"patient_uid": p.uid, "model": "m1", "target": "sepsis",
			"predicted_at": time.Date(2024, 11, 2, p.hour, 0, 0, 0, time.UTC).Format(time.RFC3339), "horizon_hours": 12, "probability": p.probability}
	}
	return body
}

type alarmPage struct {
	Alarms     []alarmJSON `json:"alarms"`
	NextCursor *string     `json:"next_cursor"`
}

// alarms lists the alarms of query (a query string), newest first.
func (h *alarmHospital) alarms(t *testing.T, query string) []alarmJSON {
	t.Helper()
	var page alarmPage
	h.get(t, "/api/v1/alarms?"+query, &page)
	return page.Alarms
}

// summary is each alarm as "uid:state:probability[:reason]", newest first.
func summary(alarms []alarmJSON) []string {
	out := make([]string, len(alarms))
	for i, a := range alarms {
		out[i] = fmt.Sprintf("%s:%s:%g", a.PatientUID, a.State, a.Probability)
		if a.ResolvedReason != nil {
			out[i] += ":" + *a.ResolvedReason
		}
	}
	return out
}

func TestAlarmRules(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(auth.ScopeAdmin)
	r := ts.do("PUT", "/api/v1/alarm-rules/sepsis", `{"open_at":0.7,"clear_below":0.5}`, bearer(admin)...)
	if r.StatusCode != http.StatusOK || string(r.Body) != `{"target":"sepsis","open_at":0.7,"clear_below":0.5}` {
		t.Fatalf("PUT: %d %s", r.StatusCode, r.Body)
	}
	r.wantQueries(t, 1)
	ts.do("PUT", "/api/v1/alarm-rules/aki", `{"open_at":0.4,"clear_below":0.4}`, bearer(admin)...)
	ts.do("PUT", "/api/v1/alarm-rules/sepsis", `{"open_at":0.8,"clear_below":0}`, bearer(admin)...)
	r = ts.do("GET", "/api/v1/alarm-rules", nil, bearer(admin)...)
	want := `{"rules":[{"target":"aki","open_at":0.4,"clear_below":0.4},{"target":"sepsis","open_at":0.8,"clear_below":0}]}`
	if r.StatusCode != http.StatusOK || string(r.Body) != want {
		t.Errorf("GET: %d %s", r.StatusCode, r.Body)
	}
	r.wantQueries(t, 1)

	for _, c := range []struct{ body, field string }{
		{`{"open_at":1.5,"clear_below":0.5}`, "open_at"},
		{`{"open_at":0.5,"clear_below":-0.1}`, "clear_below"},
		{`{"open_at":0.5,"clear_below":0.6}`, "clear_below"},
		{`{"open_at":0.5}`, "clear_below"},
		{`{"open_at":null,"clear_below":0.1}`, "open_at"},
		{`{"open_at":0.5,"clear_below":0.1,"close_at":0.2}`, "close_at"},
	} {
		r := ts.do("PUT", "/api/v1/alarm-rules/sepsis", c.body, bearer(admin)...)
		if p := r.problem(t); r.StatusCode != http.StatusUnprocessableEntity || len(p.Errors) == 0 || p.Errors[0].Field != c.field {
			t.Errorf("PUT %s: %d %s, want 422 on %s", c.body, r.StatusCode, r.Body, c.field)
		}
	}
	long := fmt.Sprintf("%065d", 0)
	if r := ts.do("PUT", "/api/v1/alarm-rules/"+long, `{"open_at":0.5,"clear_below":0.1}`, bearer(admin)...); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("PUT a 65-character target: %d", r.StatusCode)
	}
	if r := ts.do("PUT", "/api/v1/alarm-rules/%FF", `{"open_at":0.5,"clear_below":0.1}`, bearer(admin)...); r.StatusCode != http.StatusBadRequest {
		t.Errorf("PUT a target that is not UTF-8: %d", r.StatusCode)
	}
	if r := ts.do("PUT", "/api/v1/alarm-rules/x", `{"open_at":0.5,"clear_below":0.1}`, bearer(ts.token(auth.ScopePatientsWrite))...); r.StatusCode != http.StatusForbidden {
		t.Errorf("PUT without admin: %d", r.StatusCode)
	}
	if r := ts.do("DELETE", "/api/v1/alarm-rules/aki", nil, bearer(admin)...); r.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", r.StatusCode, r.Body)
	}
	if r := ts.do("DELETE", "/api/v1/alarm-rules/aki", nil, bearer(admin)...); r.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE again: %d %s", r.StatusCode, r.Body)
	}
}

// The rules' semantics, step by step on one hospital: each step posts a
// batch and says what the alarm list is then.
func TestAlarmLifecycle(t *testing.T) {
	h := newAlarmHospital(t)
	steps := []struct {
		name   string
		post   func()
		alarms []string
	}{
		{"a high prediction opens an alarm", func() { h.predict(t, prediction{"ann", 10, 0.9}) },
			[]string{"ann:open:0.9"}},
		{"a higher one opens no second", func() { h.predict(t, prediction{"ann", 11, 0.95}) },
			[]string{"ann:open:0.9"}},
		{"between the thresholds nothing changes", func() { h.predict(t, prediction{"ann", 12, 0.6}) },
			[]string{"ann:open:0.9"}},
		{"an older low prediction changes nothing", func() { h.predict(t, prediction{"ann", 9, 0.1}) },
			[]string{"ann:open:0.9"}},
		{"a low one resolves it", func() { h.predict(t, prediction{"ann", 13, 0.3}) },
			[]string{"ann:resolved:0.9:recovered"}},
		{"a late high one older than the resolution changes nothing", func() { h.predict(t, prediction{"ann", 12, 0.99}) },
			[]string{"ann:resolved:0.9:recovered"}},
		{"one batch, high low high: in predicted_at order, whatever the order sent", func() {
			h.predict(t, prediction{"ann", 16, 0.8}, prediction{"ann", 14, 0.91}, prediction{"ann", 15, 0.2})
		}, []string{"ann:open:0.8", "ann:resolved:0.91:recovered", "ann:resolved:0.9:recovered"}},
		{"a refused batch changes nothing", func() {
			r := h.do("POST", "/api/v1/predictions/bulk", predictionBodies([]prediction{{"bob", 17, 0.9}, {"nobody", 17, 0.9}}), bearer(h.writer)...)
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("batch with an unknown patient: %d", r.StatusCode)
			}
		}, []string{"ann:open:0.8", "ann:resolved:0.91:recovered", "ann:resolved:0.9:recovered"}},
		{"a discharge resolves", func() {
			h.predict(t, prediction{"bob", 17, 0.9})
			h.post(t, "/api/v1/patients/bulk", `[{"uid":"bob","discharged_at":"2024-11-02T18:00:00Z"}]`)
		}, []string{"bob:resolved:0.9:discharged", "ann:open:0.8", "ann:resolved:0.91:recovered", "ann:resolved:0.9:recovered"}},
		{"a discharged patient gets no alarm", func() { h.predict(t, prediction{"bob", 19, 0.9}) },
			[]string{"bob:resolved:0.9:discharged", "ann:open:0.8", "ann:resolved:0.91:recovered", "ann:resolved:0.9:recovered"}},
		{"a death resolves", func() { h.post(t, "/api/v1/patients/bulk", `[{"uid":"ann","died_at":"2024-11-02T20:00:00Z"}]`) },
			[]string{"bob:resolved:0.9:discharged", "ann:resolved:0.8:died", "ann:resolved:0.91:recovered", "ann:resolved:0.9:recovered"}},
	}
	for _, s := range steps {
		s.post()
		if got := summary(h.alarms(t, "")); fmt.Sprint(got) != fmt.Sprint(s.alarms) {
			t.Errorf("%s: alarms %v, want %v", s.name, got, s.alarms)
		}
	}
}

// Rules decide for other targets apart; a deleted rule leaves its alarms.
func TestAlarmTargets(t *testing.T) {
	h := newAlarmHospital(t)
	body := predictionBodies([]prediction{{"ann", 10, 0.9}})
	body[0]["target"] = "aki"
	h.post(t, "/api/v1/predictions/bulk", body)
	if got := h.alarms(t, ""); len(got) != 0 {
		t.Errorf("a target without a rule raised %v", summary(got))
	}
	h.putRule(t, "aki", 0.5, 0.5)
	body[0]["predicted_at"] = "2024-11-02T11:00:00Z"
	h.post(t, "/api/v1/predictions/bulk", body)
	h.predict(t, prediction{"ann", 11, 0.9})
	if got := summary(h.alarms(t, "")); fmt.Sprint(got) != "[ann:open:0.9 ann:open:0.9]" {
		t.Errorf("alarms %v, want one per target", got)
	}
	h.do("DELETE", "/api/v1/alarm-rules/sepsis", nil, bearer(h.admin)...)
	h.predict(t, prediction{"ann", 12, 0.1})
	if got := h.alarms(t, "state=open"); len(got) != 2 {
		t.Errorf("after the rule went, a low prediction changed the alarms: %v", summary(got))
	}
}

func TestAlarmList(t *testing.T) {
	h := newAlarmHospital(t)
	h.post(t, "/api/v1/patients/bulk", `[{"uid":"cat","ward_id":`+itoa(h.icu)+`}]`)
	h.predict(t, prediction{"ann", 10, 0.9}, prediction{"bob", 10, 0.9}, prediction{"cat", 10, 0.9})
	h.predict(t, prediction{"cat", 11, 0.1})
	for _, c := range []struct{ query, want string }{
		{"", "[cat:resolved:0.9:recovered bob:open:0.9 ann:open:0.9]"},
		{"ward_id=" + itoa(h.icu), "[cat:resolved:0.9:recovered ann:open:0.9]"},
		{"ward_id=" + itoa(h.icu) + "&state=open,acknowledged", "[ann:open:0.9]"},
		{"state=resolved", "[cat:resolved:0.9:recovered]"},
		{"patient_uid=bob", "[bob:open:0.9]"},
		{"patient_uid=nobody", "[]"},
		{"ward_id=999999", "[]"},
	} {
		r := h.get(t, "/api/v1/alarms?"+c.query, nil)
		r.wantQueries(t, 1)
		var page alarmPage
		r.decode(t, &page)
		if got := fmt.Sprint(summary(page.Alarms)); got != c.want {
			t.Errorf("?%s: %s, want %s", c.query, got, c.want)
		}
	}
	var seen []string
	cursor := ""
	for range 4 {
		var page alarmPage
		h.get(t, "/api/v1/alarms?limit=1"+cursor, &page)
		seen = append(seen, summary(page.Alarms)...)
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *page.NextCursor
	}
	if fmt.Sprint(seen) != "[cat:resolved:0.9:recovered bob:open:0.9 ann:open:0.9]" {
		t.Errorf("paged: %v", seen)
	}
	var whole alarmPage
	h.get(t, "/api/v1/alarms?limit=3", &whole)
	if len(whole.Alarms) != 3 || whole.NextCursor != nil {
		t.Errorf("a page that holds them all: %d alarms, next_cursor %v", len(whole.Alarms), whole.NextCursor)
	}
	for _, q := range []string{"state=closed", "state=open,", "cursor=abc", "ward_id=x", "limit=x", "patient_uid=%FF"} {
		if r := h.do("GET", "/api/v1/alarms?"+q, nil, bearer(h.reader)...); r.StatusCode != http.StatusBadRequest {
			t.Errorf("?%s: %d, want 400", q, r.StatusCode)
		}
	}
	if r := h.do("GET", "/api/v1/alarms", nil, bearer(h.writer)...); r.StatusCode != http.StatusForbidden {
		t.Errorf("without patients:read: %d", r.StatusCode)
	}
}

func TestAcknowledgeAlarm(t *testing.T) {
	h := newAlarmHospital(t)
	h.predict(t, prediction{"ann", 10, 0.9}, prediction{"bob", 10, 0.9})
	alarms := h.alarms(t, "")
	bob, ann := alarms[0], alarms[1]
	path := "/api/v1/alarms/" + strconv.FormatInt(ann.ID, 10) + "/acknowledge"
	r := h.do("POST", path, nil, bearer(h.writer)...)
	r.wantQueries(t, 1)
	var acked alarmJSON
	r.decode(t, &acked)
	if r.StatusCode != http.StatusOK || acked.State != "acknowledged" || acked.AcknowledgedAt == nil ||
		acked.AcknowledgedBy == nil || *acked.AcknowledgedBy != "test patients:write" {
		t.Fatalf("acknowledge: %d %s", r.StatusCode, r.Body)
	}
	r = h.do("POST", path, nil, bearer(h.admin)...)
	var again alarmJSON
	r.decode(t, &again)
	if r.StatusCode != http.StatusOK || !again.AcknowledgedAt.Equal(acked.AcknowledgedAt.Time) || *again.AcknowledgedBy != "test patients:write" {
		t.Errorf("acknowledge again: %d %s", r.StatusCode, r.Body)
	}
	h.predict(t, prediction{"ann", 11, 0.1})
	if r := h.do("POST", path, nil, bearer(h.writer)...); r.StatusCode != http.StatusConflict {
		t.Errorf("acknowledge a resolved alarm: %d %s", r.StatusCode, r.Body)
	}
	for _, c := range []struct {
		path   string
		token  string
		status int
	}{
		{"/api/v1/alarms/999999/acknowledge", h.writer, http.StatusNotFound},
		{"/api/v1/alarms/x/acknowledge", h.writer, http.StatusBadRequest},
		{"/api/v1/alarms/" + itoa(bob.ID) + "/acknowledge", h.reader, http.StatusForbidden},
	} {
		if r := h.do("POST", c.path, nil, bearer(c.token)...); r.StatusCode != c.status {
			t.Errorf("POST %s: %d, want %d", c.path, r.StatusCode, c.status)
		}
	}
}

// decodeAlarm reads an alarm event's data.
func decodeAlarm(t *testing.T, e sseEvent) alarmJSON {
	t.Helper()
	if e.Event != "alarm" {
		t.Fatalf("event %+v, want an alarm", e)
	}
	var a alarmJSON
	if err := json.Unmarshal([]byte(e.Data), &a); err != nil {
		t.Fatalf("data %s: %v", e.Data, err)
	}
	return a
}

func TestAlarmStream(t *testing.T) {
	h := newAlarmHospital(t)
	all := openStream(t, h.testServer, "/api/v1/alarms/stream", bearer(h.reader)...)
	icu := openStream(t, h.testServer, "/api/v1/alarms/stream?ward_id="+itoa(h.icu), bearer(h.reader)...)
	start := all.startID(t)

	h.predict(t, prediction{"bob", 10, 0.9})
	h.predict(t, prediction{"ann", 10, 0.9}, prediction{"ann", 11, 0.2})
	var ids []string
	for _, want := range []string{"bob:open:0.9", "ann:open:0.9", "ann:resolved:0.9:recovered"} {
		e := all.next(t)
		if got := summary([]alarmJSON{decodeAlarm(t, e)})[0]; got != want {
			t.Errorf("all wards: %s, want %s", got, want)
		}
		ids = append(ids, e.ID)
	}
	for _, want := range []string{"ann:open:0.9", "ann:resolved:0.9:recovered"} {
		if got := summary([]alarmJSON{decodeAlarm(t, icu.next(t))})[0]; got != want {
			t.Errorf("ICU: %s, want %s", got, want)
		}
	}
	bob := h.alarms(t, "patient_uid=bob")[0]
	h.do("POST", "/api/v1/alarms/"+itoa(bob.ID)+"/acknowledge", nil, bearer(h.writer)...)
	if a := decodeAlarm(t, all.next(t)); a.State != "acknowledged" || a.ID != bob.ID {
		t.Errorf("after acknowledging: %+v", a)
	}
	icu.quiet(t, 300*time.Millisecond)

	// A client that reconnects with the id of the first event gets the rest,
	// then what is new, each once.
	again := openStream(t, h.testServer, "/api/v1/alarms/stream", append(bearer(h.reader), "Last-Event-ID", ids[0])...)
	h.predict(t, prediction{"bob", 12, 0.1})
	var replayed []string
	for range 4 {
		replayed = append(replayed, summary([]alarmJSON{decodeAlarm(t, again.next(t))})[0])
	}
	want := "[ann:open:0.9 ann:resolved:0.9:recovered bob:acknowledged:0.9 bob:resolved:0.9:recovered]"
	if fmt.Sprint(replayed) != want {
		t.Errorf("replayed %v, want %s", replayed, want)
	}
	again.quiet(t, 300*time.Millisecond)
	// From the start id: everything.
	fromStart := openStream(t, h.testServer, "/api/v1/alarms/stream", append(bearer(h.reader), "Last-Event-ID", start)...)
	for range 5 {
		fromStart.next(t)
	}
	fromStart.quiet(t, 300*time.Millisecond)

	// Events pruned, or an id never given: reset.
	if _, err := h.store.PruneAlarmEvents(context.Background(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{ids[0], "999999"} {
		s := openStream(t, h.testServer, "/api/v1/alarms/stream", append(bearer(h.reader), "Last-Event-ID", id)...)
		if e := s.next(t); e.Event != "reset" {
			t.Errorf("Last-Event-ID %s after pruning: %+v, want reset", id, e)
		}
	}
	for _, c := range []struct {
		headers []string
		status  int
	}{
		{append(bearer(h.reader), "Last-Event-ID", "x"), http.StatusBadRequest},
		{bearer(h.writer), http.StatusForbidden},
		{nil, http.StatusUnauthorized},
	} {
		if _, status := tryStream(t, h.http.URL+"/api/v1/alarms/stream", c.headers...); status != c.status {
			t.Errorf("GET stream with %v: %d, want %d", c.headers, status, c.status)
		}
	}
}

func TestTreeEvents(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeTreesWrite)
	s := openStream(t, ts, "/api/v1/categories/events")
	version := func(e sseEvent) int64 {
		t.Helper()
		var v struct{ Version int64 }
		if e.Event != "version" || json.Unmarshal([]byte(e.Data), &v) != nil {
			t.Fatalf("event %+v, want a version", e)
		}
		return v.Version
	}
	first := version(s.next(t))
	createNode(t, ts, w, "categories", `{"name":"A"}`)
	if v := version(s.next(t)); v <= first {
		t.Errorf("after a create: version %d, was %d", v, first)
	}
	if _, err := ts.db.Pool.Exec(context.Background(), `INSERT INTO categories (name) VALUES ('by SQL')`); err != nil {
		t.Fatal(err)
	}
	byAPI := first + 1
	if v := version(s.next(t)); v <= byAPI {
		t.Errorf("after an SQL insert: version %d", v)
	}
	createNode(t, ts, w, "departments", `{"name":"D","code":"D"}`)
	s.quiet(t, 300*time.Millisecond)
}

// A HEAD of a stream answers its headers at once, and no stream.
func TestStreamHead(t *testing.T) {
	ts := newTestServer(t)
	for _, path := range []string{"/api/v1/alarms/stream", "/api/v1/departments/events"} {
		r := ts.send("HEAD", path, nil, bearer(ts.token(auth.ScopePatientsRead))...)
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "text/event-stream" || len(r.Body) != 0 {
			t.Errorf("HEAD %s: %d %q %q", path, r.StatusCode, r.Header.Get("Content-Type"), r.Body)
		}
	}
}

// A patient who moves ward takes their alarms in force along: the streams
// of both wards hear of it, with the new ward.
func TestAlarmFollowsPatientMove(t *testing.T) {
	h := newAlarmHospital(t)
	icu := openStream(t, h.testServer, "/api/v1/alarms/stream?ward_id="+itoa(h.icu), bearer(h.reader)...)
	recovery := openStream(t, h.testServer, "/api/v1/alarms/stream?ward_id="+itoa(h.recovery), bearer(h.reader)...)
	h.predict(t, prediction{"ann", 10, 0.9})
	if a := decodeAlarm(t, icu.next(t)); *a.WardID != h.icu {
		t.Fatalf("the alarm opened in ward %d", *a.WardID)
	}
	h.post(t, "/api/v1/patients/bulk", `[{"uid":"ann","ward_id":`+itoa(h.recovery)+`}]`)
	for name, s := range map[string]*sseStream{"ICU": icu, "Recovery": recovery} {
		if a := decodeAlarm(t, s.next(t)); a.PatientUID != "ann" || a.State != "open" || a.WardID == nil || *a.WardID != h.recovery {
			t.Errorf("%s stream: %+v, want ann's open alarm in Recovery", name, a)
		}
	}
	if got := h.alarms(t, "ward_id="+itoa(h.recovery)); len(got) != 1 {
		t.Errorf("Recovery lists %v", summary(got))
	}
	// A patients batch that moves nobody sends nothing.
	h.post(t, "/api/v1/patients/bulk", `[{"uid":"ann","name":"Ann"}]`)
	icu.quiet(t, 300*time.Millisecond)
}

// Keep-alives: a comment line, and on a ward's stream the id of the events
// other wards had meanwhile, so that its Last-Event-ID keeps up.
func TestStreamKeepAlive(t *testing.T) {
	h := &alarmHospital{hospital: newHospitalWith(t, func(c *Config) { c.StreamKeepAlive = 50 * time.Millisecond })}
	h.admin = h.token(auth.ScopeAdmin)
	h.putRule(t, "sepsis", 0.7, 0.5)
	h.post(t, "/api/v1/patients/bulk", `[{"uid":"bob","ward_id":`+itoa(h.recovery)+`}]`)
	icu := openStream(t, h.testServer, "/api/v1/alarms/stream?ward_id="+itoa(h.icu), bearer(h.reader)...)
	start := icu.startID(t)
	h.predict(t, prediction{"bob", 10, 0.9})
	var last int64
	h.db.Pool.QueryRow(context.Background(), `SELECT max(id) FROM alarm_events`).Scan(&last)
	comments := 0
	for got := ""; got != itoa(last); {
		select {
		case e := <-icu.events:
			if e.Event != "" {
				t.Fatalf("the ICU stream sent %+v", e)
			}
			if e.Comment == "keep-alive" {
				comments++
			}
			if e.ID != "" {
				got = e.ID
			}
		case <-time.After(streamWait):
			t.Fatalf("the ICU stream's id stayed at %s (started at %s), want %d", got, start, last)
		}
	}
	if comments == 0 {
		t.Error("no keep-alive comment before the id")
	}
}

// A stream whose token is revoked ends at the next keep-alive.
func TestStreamEndsWhenTokenRevoked(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.StreamKeepAlive = 50 * time.Millisecond })
	token, id := ts.newToken("", auth.ScopePatientsRead)
	s := openStream(t, ts, "/api/v1/alarms/stream", bearer(token)...)
	public := openStream(t, ts, "/api/v1/categories/events")
	if r := ts.do("DELETE", "/api/v1/tokens/"+itoa(id), nil, bearer(ts.token(auth.ScopeAdmin))...); r.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	select {
	case <-s.done:
	case <-time.After(streamWait):
		t.Fatal("the stream of a revoked token goes on")
	}
	select {
	case <-public.done:
		t.Error("a public stream ended")
	case <-time.After(200 * time.Millisecond):
	}
}

// alarmEvents are the stored events of alarm id, in order, as
// "state@ward[<left]".
func alarmEvents(t *testing.T, h *alarmHospital, id int64) []string {
	t.Helper()
	rows, err := h.db.Pool.Query(context.Background(),
		`SELECT state, coalesce(ward_id, 0), left_ward_id FROM alarm_events WHERE alarm_id = $1 ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var state string
		var ward int64
		var left *int64
		if err := rows.Scan(&state, &ward, &left); err != nil {
			t.Fatal(err)
		}
		e := fmt.Sprintf("%s@%d", state, ward)
		if left != nil {
			e += fmt.Sprintf("<%d", *left)
		}
		out = append(out, e)
	}
	return out
}

// A move of a patient and a change of their alarms, run at once in either
// order, leave events that say where the alarm is and what state it is in
// (found by an outside probe: the move's event had the state, or the
// opening event the ward, from before the other committed).
func TestAlarmEventsRaceAMove(t *testing.T) {
	ctx := context.Background()
	// inTx runs sql in a transaction that stays open until the returned
	// commit is called.
	inTx := func(t *testing.T, h *alarmHospital, sql string, args ...any) (commit func()) {
		tx, err := h.db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	// whileWaiting runs post, which must wait for a lock, and commit.
	whileWaiting := func(t *testing.T, h *alarmHospital, commit func(), post func()) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			post()
		}()
		waitFor(t, "the API's write to wait for the transaction", func() bool { return lockWaiters(t, h.testServer) > 0 })
		commit()
		<-done
	}
	move := func(h *alarmHospital) func() {
		return func() { h.post(t, "/api/v1/patients/bulk", `[{"uid":"ann","ward_id":`+itoa(h.recovery)+`}]`) }
	}
	t.Run("a move while an alarm opens", func(t *testing.T) {
		h := newAlarmHospital(t)
		commit := inTx(t, h, `INSERT INTO predictions (patient_id, model, target, predicted_at, horizon_hours, probability)
			SELECT id, 'm1', 'sepsis', '2024-11-02T10:00:00Z', 6, 0.9 FROM patients WHERE uid = 'ann'`)
		whileWaiting(t, h, commit, move(h))
		a := h.alarms(t, "patient_uid=ann")[0]
		want := fmt.Sprintf("[open@%d open@%d<%d]", h.icu, h.recovery, h.icu)
		if got := fmt.Sprint(alarmEvents(t, h, a.ID)); got != want {
			t.Errorf("events %s, want %s", got, want)
		}
	})
	t.Run("an alarm opening while a move", func(t *testing.T) {
		h := newAlarmHospital(t)
		commit := inTx(t, h, `UPDATE patients SET ward_id = $1 WHERE uid = 'ann'`, h.recovery)
		whileWaiting(t, h, commit, func() { h.predict(t, prediction{"ann", 10, 0.9}) })
		a := h.alarms(t, "patient_uid=ann")[0]
		if got, want := fmt.Sprint(alarmEvents(t, h, a.ID)), fmt.Sprintf("[open@%d]", h.recovery); got != want {
			t.Errorf("events %s, want %s", got, want)
		}
	})
	t.Run("a move while an acknowledgement", func(t *testing.T) {
		h := newAlarmHospital(t)
		h.predict(t, prediction{"ann", 10, 0.9})
		a := h.alarms(t, "patient_uid=ann")[0]
		commit := inTx(t, h, `UPDATE alarms SET state = 'acknowledged', acknowledged_at = now(), acknowledged_by = 'nurse' WHERE id = $1`, a.ID)
		whileWaiting(t, h, commit, move(h))
		want := fmt.Sprintf("[open@%d acknowledged@%d acknowledged@%d<%d]", h.icu, h.icu, h.recovery, h.icu)
		if got := fmt.Sprint(alarmEvents(t, h, a.ID)); got != want {
			t.Errorf("events %s, want %s", got, want)
		}
	})
	t.Run("a move while a resolution", func(t *testing.T) {
		h := newAlarmHospital(t)
		h.predict(t, prediction{"ann", 10, 0.9})
		a := h.alarms(t, "patient_uid=ann")[0]
		commit := inTx(t, h, `INSERT INTO predictions (patient_id, model, target, predicted_at, horizon_hours, probability)
			SELECT id, 'm1', 'sepsis', '2024-11-02T11:00:00Z', 6, 0.1 FROM patients WHERE uid = 'ann'`)
		whileWaiting(t, h, commit, move(h))
		want := fmt.Sprintf("[open@%d resolved@%d]", h.icu, h.icu)
		if got := fmt.Sprint(alarmEvents(t, h, a.ID)); got != want {
			t.Errorf("events %s, want %s", got, want)
		}
	})
}

// Events of one batch come alarm by alarm: an alarm opened and resolved by
// the batch has both its events before the next alarm's. Models that
// disagree at one instant leave the alarm standing, in one batch or two.
func TestAlarmBatchOrderAndTies(t *testing.T) {
	h := newAlarmHospital(t)
	h.predict(t, prediction{"ann", 1, 0.9}, prediction{"ann", 2, 0.1}, prediction{"ann", 3, 0.9})
	alarms := h.alarms(t, "patient_uid=ann")
	var all []string
	for i := len(alarms) - 1; i >= 0; i-- {
		all = append(all, alarmEvents(t, h, alarms[i].ID)...)
	}
	var stored []string
	rows, _ := h.db.Pool.Query(context.Background(), `SELECT state FROM alarm_events ORDER BY id`)
	for rows.Next() {
		var s string
		rows.Scan(&s)
		stored = append(stored, s)
	}
	if fmt.Sprint(stored) != "[open resolved open]" {
		t.Errorf("events in id order: %v (by alarm: %v)", stored, all)
	}

	body := predictionBodies([]prediction{{"bob", 1, 0.1}, {"bob", 1, 0.9}})
	body[0]["model"] = "z-model" // sorts after m1: the low one is not later for that
	h.post(t, "/api/v1/predictions/bulk", body)
	body = predictionBodies([]prediction{{"bob", 1, 0.1}})
	body[0]["model"] = "a-model"
	h.post(t, "/api/v1/predictions/bulk", body)
	if got := summary(h.alarms(t, "patient_uid=bob")); fmt.Sprint(got) != "[bob:open:0.9]" {
		t.Errorf("bob's alarms %v, want one open", got)
	}
}
