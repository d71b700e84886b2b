package migrations_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"canopy/internal/testdb"
	"canopy/migrations"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

func version(t *testing.T, url string) uint {
	t.Helper()
	g, err := migrations.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	v, dirty, err := g.Version()
	if err != nil {
		t.Fatal(err)
	}
	if dirty {
		t.Fatalf("version %d is dirty", v)
	}
	return v
}

func TestUpDownUp(t *testing.T) {
	db := testdb.NewEmpty(t)
	if v := version(t, db.URL); v != 0 {
		t.Fatalf("fresh database at version %d", v)
	}
	g, err := migrations.Open(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Up(); err != nil {
		t.Fatal(err)
	}
	if v := version(t, db.URL); v != migrations.Latest() {
		t.Fatalf("after up: version %d, want %d", v, migrations.Latest())
	}
	if err := g.Up(); err != nil {
		t.Fatalf("second up on a current database: %v", err)
	}
	if err := g.Down(int(migrations.Latest())); err != nil {
		t.Fatal(err)
	}
	if v := version(t, db.URL); v != 0 {
		t.Fatalf("after down to nothing: version %d", v)
	}
	var tables int
	if err := db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("down left %d tables behind", tables)
	}
	if err := g.Up(); err != nil {
		t.Fatalf("up after down: %v", err)
	}
	if v := version(t, db.URL); v != migrations.Latest() {
		t.Fatalf("after up again: version %d", v)
	}
}

// Several canopy instances starting at once each migrate up; golang-migrate's
// advisory lock must make them take turns.
func TestConcurrentUp(t *testing.T) {
	db := testdb.NewEmpty(t)
	const instances = 4
	var wg sync.WaitGroup
	errs := make([]error, instances)
	for i := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = migrations.Up(db.URL)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	if v := version(t, db.URL); v != migrations.Latest() {
		t.Fatalf("version %d, want %d", v, migrations.Latest())
	}
}

func TestForce(t *testing.T) {
	db := testdb.NewEmpty(t)
	g, err := migrations.Open(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Force(1); err != nil {
		t.Fatal(err)
	}
	if v := version(t, db.URL); v != 1 {
		t.Fatalf("version %d after force 1", v)
	}
}

func TestLatest(t *testing.T) {
	if migrations.Latest() < 1 {
		t.Fatalf("Latest() = %d: no migrations embedded", migrations.Latest())
	}
}
