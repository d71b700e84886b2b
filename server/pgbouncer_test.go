package server

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"canopy/auth"
	"canopy/internal/testdb"
	"canopy/queries"
)

// canopy's statements work through PgBouncer in transaction pooling mode,
// where consecutive transactions of one client connection may run on
// different server connections. Debian 12's PgBouncer (1.18) keeps no
// prepared statements across them, so the URL asks pgx for unnamed
// statements (default_query_exec_mode=cache_describe); PgBouncer refuses the
// statement_timeout and jit canopy sends at connection start unless told to
// ignore them, so they are set on PgBouncer's server connections instead. Every
// kind of endpoint runs twice, on fewer server connections than canopy's
// pool has clients, and then a burst of reads runs at once.
func TestThroughPgBouncer(t *testing.T) {
	db := testdb.New(t)
	through := testdb.PgBouncer(t, db, 2, "SET statement_timeout = 5000; SET jit = off", "ignore_startup_parameters = statement_timeout,jit")
	pool, err := queries.Open(context.Background(), queries.PoolConfig{
		URL: through + "&default_query_exec_mode=cache_describe", MaxConns: 6, StatementTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ts := newServerOn(t, db, pool)
	raw, err := pgxpool.New(context.Background(), through+"&default_query_exec_mode=cache_describe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	admin := bearer(ts.token(auth.ScopeAdmin))
	seedAcademy(t, ts)
	const user = "0b5f2b7e-51b4-4a4e-9f0e-8d6f3c2a1b00"

	for setting, want := range map[string]string{"statement_timeout": "5s", "jit": "off"} {
		var got string
		if err := raw.QueryRow(context.Background(), "SELECT current_setting($1)", setting).Scan(&got); err != nil || got != want {
			t.Errorf("%s through PgBouncer: %q, %v; want %s", setting, got, err, want)
		}
	}

	expect := func(t *testing.T, want int, method, path string, body any) response {
		t.Helper()
		r := ts.do(method, path, body, admin...)
		if r.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.StatusCode, r.Body, want)
		}
		return r
	}
	var reads []string
	for round := range 2 {
		t.Run(fmt.Sprint("round ", round+1), func(t *testing.T) {
			var root, child node
			expect(t, 201, "POST", "/api/v1/categories", `{"name":"Root"}`).decode(t, &root)
			expect(t, 201, "POST", "/api/v1/categories", fmt.Sprintf(`{"name":"Child","parent_id":%d}`, root.ID)).decode(t, &child)
			expect(t, 200, "PATCH", "/api/v1/categories/"+itoa(child.ID), `{"parent_id":null}`) // a move: the tree's advisory lock
			expect(t, 200, "PATCH", "/api/v1/categories/"+itoa(child.ID), fmt.Sprintf(`{"parent_id":%d,"name":"C"}`, root.ID))
			expect(t, 204, "DELETE", "/api/v1/categories/"+itoa(child.ID), nil)

			var dept node
			expect(t, 201, "POST", "/api/v1/departments", fmt.Sprintf(`{"name":"Surgery","code":"S%d"}`, round)).decode(t, &dept)
			var ward wardJSON
			expect(t, 201, "POST", "/api/v1/wards", fmt.Sprintf(`{"department_id":%d,"name":"ICU","beds":10}`, dept.ID)).decode(t, &ward)
			uid := fmt.Sprint("p", round)
			expect(t, 200, "POST", "/api/v1/patients/bulk", []map[string]any{{"uid": uid, "name": "Patient", "sex": "F",
				"birth_date": "1980-01-01", "ward_id": ward.ID, "admitted_at": "2024-11-03T08:00:00Z"}})
			expect(t, 200, "POST", "/api/v1/observations/bulk", []map[string]any{{"patient_uid": uid, "code": "heart_rate",
				"observed_at": "2024-11-03T08:15:00Z", "value": 70}})
			expect(t, 200, "POST", "/api/v1/articles/bulk", []map[string]any{rec(user, fmt.Sprint("t", round), "2024-11-05T10:00:00Z")})

			var tok tokenJSON
			expect(t, 201, "POST", "/api/v1/tokens", `{"name":"x","scopes":["trees:write"]}`).decode(t, &tok)
			expect(t, 204, "DELETE", "/api/v1/tokens/"+itoa(tok.ID), nil)

			reads = []string{
				"/api/v1/categories/tree", "/api/v1/categories/search?q=Ro", "/api/v1/categories/" + itoa(root.ID) + "/ancestors",
				"/api/v1/departments/tree", "/api/v1/wards/" + itoa(ward.ID), "/api/v1/wards/" + itoa(ward.ID) + "/patients",
				"/api/v1/patients/" + uid, "/api/v1/observations/hourly?from=2024-11-03T08:00:00Z&to=2024-11-03T09:00:00Z",
				"/api/v1/users", "/api/v1/users/" + user + "/articles?year=2024&month=11",
				"/api/v1/users/" + user + "/articles/calendar?year=2024&month=11",
				"/api/v1/settlements?year=2024&month=11", "/api/v1/tokens",
			}
			for _, path := range reads {
				expect(t, 200, "GET", path, nil)
			}
		})
	}

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, path := range reads {
				if r := ts.send("GET", path, nil, admin...); r.StatusCode != http.StatusOK {
					t.Errorf("concurrent GET %s: %d %s", path, r.StatusCode, r.Body)
				}
			}
		})
	}
	wg.Wait()
}
