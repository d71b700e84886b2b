package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"canopy/auth"
	"canopy/queries"
)

type auditPage struct {
	Entries    []auditJSON `json:"entries"`
	NextCursor *string     `json:"next_cursor"`
}

func (h *hospital) audit(t *testing.T, admin, query string) auditPage {
	t.Helper()
	r := h.do("GET", "/api/v1/audit?"+query, nil, bearer(admin)...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/audit?%s: %d %s", query, r.StatusCode, r.Body)
	}
	var page auditPage
	r.decode(t, &page)
	return page
}

// Each accepted batch leaves one audit entry naming its token by id and its
// request; a refused or empty batch leaves none; admins page through the
// entries newest first, filtered; no token text is logged anywhere.
func TestAuditLog(t *testing.T) {
	h := newHospital(t)
	writer, writerID := h.newToken("", auth.ScopePatientsWrite)
	admin := h.token(auth.ScopeAdmin)
	type want struct {
		action            string
		records, inserted int
		updated           *int
		requestID         string
		clientRequestID   string
	}
	var wants []want  // oldest first
	var client string // an X-Request-Id to send, kept as the client's
	write := func(path, body string, status int, w *want) {
		t.Helper()
		headers := bearer(writer)
		if client != "" {
			headers = append(headers, "X-Request-Id", client)
		}
		r := h.do("POST", path, body, headers...)
		if r.StatusCode != status {
			t.Fatalf("POST %s %s: %d %s", path, body, r.StatusCode, r.Body)
		}
		if w != nil {
			w.requestID, w.clientRequestID = r.Header.Get("X-Request-Id"), client
			wants = append(wants, *w)
		}
	}
	write("/api/v1/patients/bulk", `[{"uid":"a"},{"uid":"b"},{"uid":"a","name":"A"}]`, 200, &want{"patients.bulk", 3, 2, new(0), "", ""})
	// A client that sends the first batch's request id as its own gets an
	// entry with canopy's id for its request, and its id apart.
	client = wants[0].requestID
	write("/api/v1/patients/bulk", `[{"uid":"a","sex":"F"}]`, 200, &want{"patients.bulk", 1, 0, new(1), "", ""})
	client = ""
	write("/api/v1/patients/bulk", `[{"uid":"c","ward_id":987654}]`, 422, nil)
	write("/api/v1/patients/bulk", `[]`, 200, nil)
	write("/api/v1/observations/bulk", `[
		{"patient_uid":"a","code":"hr","observed_at":"2024-11-03T08:00:00Z","value":80},
		{"patient_uid":"a","code":"hr","observed_at":"2024-11-03T08:00:00Z","value":81},
		{"patient_uid":"b","code":"hr","observed_at":"2024-11-03T08:00:00Z","value":70}]`, 200, &want{"observations.bulk", 3, 2, nil, "", ""})
	write("/api/v1/observations/bulk", `[{"patient_uid":"zz","code":"hr","observed_at":"2024-11-03T08:00:00Z","value":80}]`, 422, nil)
	write("/api/v1/predictions/bulk", `[{"patient_uid":"b","model":"m","target":"t","predicted_at":"2024-11-03T08:00:00Z","horizon_hours":6,"probability":0.2}]`,
		200, &want{"predictions.bulk", 1, 1, nil, "", ""})
	write("/api/v1/predictions/bulk", `[{"patient_uid":"zz","model":"m","target":"t","predicted_at":"2024-11-03T08:00:00Z","horizon_hours":6,"probability":0.2}]`, 422, nil)

	all := h.audit(t, admin, "")
	if len(all.Entries) != len(wants) || all.NextCursor != nil {
		t.Fatalf("%d entries (next %v), want %d: %+v", len(all.Entries), all.NextCursor, len(wants), all.Entries)
	}
	for i, e := range all.Entries {
		w := wants[len(wants)-1-i]
		if e.Action != w.action || e.RecordCount != w.records || e.Inserted != w.inserted ||
			(e.Updated == nil) != (w.updated == nil) || e.Updated != nil && *e.Updated != *w.updated ||
			e.TokenID == nil || *e.TokenID != writerID || e.TokenName == nil || *e.TokenName != "test "+auth.ScopePatientsWrite ||
			e.RequestID == nil || *e.RequestID != w.requestID ||
			(w.clientRequestID == "") != (e.ClientRequestID == nil) || e.ClientRequestID != nil && *e.ClientRequestID != w.clientRequestID {
			t.Errorf("entry %d: %+v, want %+v from token %d", i, e, w, writerID)
		}
	}

	var walked []int64
	for cursor := ""; ; {
		page := h.audit(t, admin, "limit=1"+cursor)
		for _, e := range page.Entries {
			walked = append(walked, e.ID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *page.NextCursor
	}
	if len(walked) != len(all.Entries) {
		t.Fatalf("paging one at a time walked %v", walked)
	}
	for i, id := range walked {
		if id != all.Entries[i].ID {
			t.Errorf("page %d holds entry %d, want %d", i, id, all.Entries[i].ID)
		}
	}

	newest, oldest := all.Entries[0], all.Entries[len(all.Entries)-1]
	filters := []struct {
		name, query string
		want        int
	}{
		{"action", "action=patients.bulk", 2},
		{"token", "token_id=" + itoa(writerID), 4},
		{"another token", "token_id=" + itoa(writerID+1000), 0},
		{"window is half-open", "since=" + url.QueryEscape(oldest.At.Format(time.RFC3339Nano)) + "&until=" + url.QueryEscape(newest.At.Format(time.RFC3339Nano)), 3},
		{"action and window", "action=patients.bulk&since=" + url.QueryEscape(oldest.At.Add(time.Microsecond).Format(time.RFC3339Nano)), 1},
	}
	for _, f := range filters {
		t.Run(f.name, func(t *testing.T) {
			if got := h.audit(t, admin, f.query); len(got.Entries) != f.want {
				t.Errorf("%d entries, want %d: %+v", len(got.Entries), f.want, got.Entries)
			}
		})
	}

	refused := []struct {
		name, query string
		status      int
	}{
		{"limit zero", "limit=0", 422},
		{"limit not a number", "limit=x", 400},
		{"cursor not one", "cursor=AAAA", 400},
		{"unknown action", "action=patients.delete", 422},
		{"token id zero", "token_id=0", 422},
		{"since not a time", "since=yesterday", 400},
		{"until before since", "since=2024-11-03T08:00:00Z&until=2024-11-03T07:00:00Z", 422},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("GET", "/api/v1/audit?"+tt.query, nil, bearer(admin)...)
			if r.StatusCode != tt.status {
				t.Errorf("%d %s, want %d", r.StatusCode, r.Body, tt.status)
			}
			r.problem(t)
		})
	}

	for _, secret := range []string{writer, admin, strings.SplitN(writer, "_", 3)[2]} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("the log holds token text %.16q…", secret)
		}
	}
}

// The audit listing runs one statement whatever the size of the log and
// whichever filters and cursor it is given.
func TestAuditQueryBudget(t *testing.T) {
	h := newHospital(t)
	admin := h.token(auth.ScopeAdmin)
	h.post(t, "/api/v1/patients/bulk", `[{"uid":"a"}]`)
	cursor := encodeAuditCursor(queries.AuditKey{At: time.Now().Add(time.Hour), ID: 1 << 40})
	params := map[string]string{
		"first page":   "",
		"next page":    "cursor=" + cursor,
		"every filter": "action=patients.bulk&token_id=1&since=2024-01-01T00:00:00Z&until=2099-01-01T00:00:00Z&limit=10&cursor=" + cursor,
	}
	measure := func() map[string]int {
		counts := map[string]int{}
		for name, q := range params {
			r := h.do("GET", "/api/v1/audit?"+q, nil, bearer(admin)...)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", name, r.StatusCode, r.Body)
			}
			counts[name] = r.queries(t)
		}
		return counts
	}
	small := measure()
	if _, err := h.db.Pool.Exec(context.Background(), `
		INSERT INTO audit_log (action, record_count, inserted, at)
		SELECT 'observations.bulk', 10, 10, now() - n * interval '1 minute' FROM generate_series(1, 20000) n`); err != nil {
		t.Fatal(err)
	}
	large := measure()
	for name := range params {
		if small[name] != 1 || large[name] != 1 {
			t.Errorf("%s: %d statements at 1 entry, %d at 20,001; budget 1", name, small[name], large[name])
		}
	}
}
