package queries_test

import (
	"context"
	"testing"
	"time"

	"canopy/internal/testdb"
	"canopy/queries"
)

// Open sets what every connection of canopy runs with, unless the URL says
// otherwise.
func TestOpenSettings(t *testing.T) {
	db := testdb.New(t)
	cases := []struct {
		name, params string
		want         map[string]string
	}{
		{"defaults", "", map[string]string{"statement_timeout": "1500ms", "jit": "off", "application_name": "canopy"}},
		{"jit asked for in the URL", "&jit=on", map[string]string{"jit": "on"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pool, err := queries.Open(context.Background(), queries.PoolConfig{URL: db.URL + c.params, StatementTimeout: 1500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			for setting, want := range c.want {
				var got string
				if err := pool.Raw().QueryRow(context.Background(), "SELECT current_setting($1)", setting).Scan(&got); err != nil || got != want {
					t.Errorf("%s = %q (%v), want %q", setting, got, err, want)
				}
			}
		})
	}
}

func TestHoldsData(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	store := queries.New(db.Pool)
	if holds, err := store.HoldsData(ctx); err != nil || holds {
		t.Fatalf("a fresh database: holds data %v, %v", holds, err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO teachers (name, commission_rate) VALUES ('Kim', 0.1)`); err != nil {
		t.Fatal(err)
	}
	if holds, err := store.HoldsData(ctx); err != nil || !holds {
		t.Fatalf("with a teacher: holds data %v, %v", holds, err)
	}
}
