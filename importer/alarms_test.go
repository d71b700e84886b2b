package importer_test

import (
	"context"
	"testing"

	"canopy/internal/testdb"
)

// The import writes through the triggers the API writes through: the
// predictions it inserts or changes open and resolve alarms, and a patients
// import that discharges a patient or records a death resolves theirs.
func TestImportRaisesAndResolvesAlarms(t *testing.T) {
	db := testdb.New(t)
	if _, err := db.Pool.Exec(context.Background(), `INSERT INTO alarm_rules VALUES ('sepsis', 0.7, 0.5)`); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, db, "patients", "uid,admitted_at\nP1,2024-11-03T00:00:00Z\nP2,2024-11-03T00:00:00Z\nP3,2024-11-03T00:00:00Z\nP4,2024-11-03T00:00:00Z\n")
	const header = "patient_uid,model,target,predicted_at,horizon_hours,probability\n"
	steps := []struct {
		name, kind, input string
		alarms            string // by patient, then alarm
		events            int
	}{
		{"high predictions open, a later low one in the same file resolves", "predictions", header +
			"P1,m,sepsis,2024-11-03T08:00:00Z,6,0.9\nP2,m,sepsis,2024-11-03T08:00:00Z,6,0.95\n" +
			"P3,m,sepsis,2024-11-03T09:00:00Z,6,0.1\nP3,m,sepsis,2024-11-03T08:00:00Z,6,0.8\nP4,m,other,2024-11-03T08:00:00Z,6,0.99\n",
			"P1:open P2:open P3:resolved:recovered", 4},
		{"a prediction between the thresholds changes nothing", "predictions", header + "P1,m,sepsis,2024-11-03T10:00:00Z,6,0.6\n",
			"P1:open P2:open P3:resolved:recovered", 4},
		{"the same prediction imported again, now low, resolves (an update)", "predictions", header + "P1,m,sepsis,2024-11-03T10:00:00Z,6,0.1\n",
			"P1:resolved:recovered P2:open P3:resolved:recovered", 5},
		{"a patients import resolves: discharged, died", "patients", "uid,discharged_at,died_at\nP2,2024-11-03T12:00:00Z,\nP3,,2024-11-03T12:00:00Z\n",
			"P1:resolved:recovered P2:resolved:discharged P3:resolved:recovered", 6},
		{"a discharged patient gets no alarm", "predictions", header + "P2,m,sepsis,2024-11-03T13:00:00Z,6,0.9\nP1,m,sepsis,2024-11-03T13:00:00Z,6,0.9\n",
			"P1:open P1:resolved:recovered P2:resolved:discharged P3:resolved:recovered", 7},
	}
	for _, s := range steps {
		mustLoad(t, db, s.kind, s.input)
		got := scalar[string](t, db, `SELECT coalesce(string_agg(p.uid || ':' || a.state || coalesce(':' || a.resolved_reason, ''), ' ' ORDER BY p.uid, a.id DESC), '')
			FROM alarms a JOIN patients p ON p.id = a.patient_id`)
		if got != s.alarms {
			t.Errorf("%s: alarms %q, want %q", s.name, got, s.alarms)
		}
		if n := scalar[int](t, db, `SELECT count(*) FROM alarm_events`); n != s.events {
			t.Errorf("%s: %d events, want %d", s.name, n, s.events)
		}
	}
}
