package queries

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"canopy/internal/testdb"
)

func TestLagOf(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	samples := []walSample{{t0, 100}, {t0.Add(time.Second), 200}, {t0.Add(2 * time.Second), 300}}
	now := t0.Add(2500 * time.Millisecond)
	for _, tt := range []struct {
		name     string
		replayed int64
		lag      time.Duration
		known    bool
	}{
		{"caught up", 300, 0, true},
		{"ahead of the last check", 350, 0, true},
		{"lacks the last write", 250, 1500 * time.Millisecond, true},
		{"lacks two writes", 150, 2500 * time.Millisecond, true},
		{"lacks what the oldest check saw", 50, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lag, known := lagOf(samples, tt.replayed, now)
			if lag != tt.lag || known != tt.known {
				t.Errorf("lagOf(%d) = %s, %t; want %s, %t", tt.replayed, lag, known, tt.lag, tt.known)
			}
		})
	}
}

// A read-only request reads from the replica until it writes; from then on
// every statement of it runs on the primary. Other requests never leave the
// primary.
func TestReplicasRouting(t *testing.T) {
	rdb := testdb.NewReplicated(t)
	ctx := context.Background()
	primary, err := Open(ctx, PoolConfig{URL: rdb.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(primary.Close)
	r, err := OpenReplicas(ctx, primary, PoolConfig{}, ReplicaConfig{URLs: []string{rdb.ReplicaURL}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	for deadline := time.Now().Add(time.Minute); !r.Status()[0].Healthy; r.check(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("the replica never became healthy")
		}
	}

	onReplica := func(ctx context.Context) bool {
		t.Helper()
		var inRecovery bool
		if err := r.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil {
			t.Fatal(err)
		}
		return inRecovery
	}
	readOnly := ReadOnly(ctx)
	if !onReplica(readOnly) {
		t.Error("a read-only request's first read ran on the primary")
	}
	rows, err := r.Query(readOnly, `SELECT pg_is_in_recovery()`)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	var inRecovery bool
	if err := rows.Scan(&inRecovery); err != nil || !inRecovery {
		t.Errorf("a read-only request's Query ran on the primary (%v)", err)
	}
	rows.Close()
	if _, err := r.Exec(readOnly, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	if onReplica(readOnly) {
		t.Error("a read after a write ran on the replica")
	}
	if onReplica(ctx) {
		t.Error("a request not marked read-only read from the replica")
	}
}
