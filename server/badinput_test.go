package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"canopy/auth"
)

// fingerprint sums up every table of the database, its row count and a hash
// of its rows: equal fingerprints mean nothing was written.
func (ts *testServer) fingerprint(t *testing.T) string {
	t.Helper()
	var sums []string
	for _, table := range ts.tables(t) {
		sums = append(sums, fmt.Sprintf(`SELECT '%s' AS name, count(*) AS n, md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), '')) AS sum FROM %s r`,
			table, pgx.Identifier{table}.Sanitize()))
	}
	var fp string
	if err := ts.db.Pool.QueryRow(context.Background(),
		`SELECT string_agg(name || ' ' || n || ' ' || sum, E'\n' ORDER BY name) FROM (`+strings.Join(sums, " UNION ALL ")+`) s`).Scan(&fp); err != nil {
		t.Fatal(err)
	}
	return fp
}

// tables are the names of the database's tables.
func (ts *testServer) tables(t *testing.T) []string {
	t.Helper()
	rows, err := ts.db.Pool.Query(context.Background(), `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// stored counts the rows of every table whose text holds s as it is.
func (ts *testServer) stored(t *testing.T, s string) int {
	t.Helper()
	total := 0
	for _, table := range ts.tables(t) {
		var n int
		if err := ts.db.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()+` r WHERE strpos(r::text, $1) > 0`, s).Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// sqlLooking is text that would do harm were it ever pasted into SQL.
const sqlLooking = `'; DROP TABLE patients; --`

// Every write endpoint × every kind of bad input: the answer is a 4xx
// problem document and nothing at all is written. Text that looks like SQL
// is either refused or stored as it is, and every table is still there.
func TestBadInputAtEveryWriteEndpoint(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(auth.ScopeAdmin)
	category := createNode(t, ts, admin, "categories", `{"name":"Root"}`)
	department := createNode(t, ts, admin, "departments", `{"name":"Hospital","code":"H"}`)
	r := ts.do("POST", "/api/v1/wards", fmt.Sprintf(`{"department_id":%d,"name":"ICU","beds":4}`, department), bearer(admin)...)
	var ward wardJSON
	r.decode(t, &ward)
	const article = "33333333-3333-4333-8333-333333333333"
	for _, setup := range []struct{ path, body string }{
		{"/api/v1/patients/bulk", `[{"uid":"known"}]`},
		{"/api/v1/articles/bulk", `[{"id":"` + article + `","to_user_id":"` + alice + `","from_name":"N","from_domain":"n.example","title":"t","created_at":"2024-11-01T00:00:00Z"}]`},
	} {
		if r := ts.do("POST", setup.path, setup.body, bearer(admin)...); r.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", setup.path, r.StatusCode, r.Body)
		}
	}
	_, tokenID := ts.newToken("", auth.ScopePatientsRead)

	// Each endpoint's bodies: valid, and with TEXT standing for a JSON
	// string in a text field and NUM for a number in a numeric one.
	endpoints := []struct {
		method, path      string
		valid, text, num  string
		batch, numericIDs bool
	}{
		{"POST", "/api/v1/categories", `{"name":"n"}`, `{"name":TEXT}`, `{"name":"n","parent_id":NUM}`, false, false},
		{"PATCH", "/api/v1/categories/" + itoa(category), `{"name":"n"}`, `{"name":TEXT}`, `{"parent_id":NUM}`, false, true},
		{"DELETE", "/api/v1/categories/" + itoa(category), "", "", "", false, true},
		{"POST", "/api/v1/departments", `{"name":"n","code":"C"}`, `{"name":TEXT,"code":"Q"}`, `{"name":"n","code":"C","parent_id":NUM}`, false, false},
		{"PATCH", "/api/v1/departments/" + itoa(department), `{"name":"n"}`, `{"name":TEXT}`, `{"parent_id":NUM}`, false, true},
		{"DELETE", "/api/v1/departments/" + itoa(department), "", "", "", false, true},
		{"POST", "/api/v1/wards", fmt.Sprintf(`{"department_id":%d,"name":"w","beds":1}`, department),
			fmt.Sprintf(`{"department_id":%d,"name":TEXT,"beds":1}`, department), `{"department_id":NUM,"name":"w","beds":1}`, false, false},
		{"PATCH", "/api/v1/wards/" + itoa(ward.ID), `{"name":"w"}`, `{"name":TEXT}`, `{"beds":NUM}`, false, true},
		{"DELETE", "/api/v1/wards/" + itoa(ward.ID), "", "", "", false, true},
		{"POST", "/api/v1/patients/bulk", `[{"uid":"p"}]`, `[{"uid":"p","name":TEXT}]`, `[{"uid":"p","ward_id":NUM}]`, true, false},
		{"POST", "/api/v1/observations/bulk", `[{"patient_uid":"known","code":"hr","observed_at":"2024-11-03T08:00:00Z","value":1}]`,
			`[{"patient_uid":"known","code":TEXT,"observed_at":"2024-11-03T08:00:00Z","value":1}]`,
			`[{"patient_uid":"known","code":"hr","observed_at":"2024-11-03T08:00:00Z","value":NUM}]`, true, false},
		{"POST", "/api/v1/predictions/bulk", `[{"patient_uid":"known","model":"m","target":"t","predicted_at":"2024-11-03T08:00:00Z","horizon_hours":6,"probability":0.5}]`,
			`[{"patient_uid":"known","model":TEXT,"target":"t","predicted_at":"2024-11-03T08:00:00Z","horizon_hours":6,"probability":0.5}]`,
			`[{"patient_uid":"known","model":"m","target":"t","predicted_at":"2024-11-03T08:00:00Z","horizon_hours":NUM,"probability":0.5}]`, true, false},
		{"POST", "/api/v1/articles/bulk", `[{"to_user_id":"` + alice + `","from_name":"N","from_domain":"n.example","title":"t","created_at":"2024-11-01T00:00:00Z"}]`,
			`[{"to_user_id":"` + alice + `","from_name":"N","from_domain":"n.example","title":TEXT,"created_at":"2024-11-01T00:00:00Z"}]`,
			`[{"to_user_id":"` + alice + `","from_name":"N","from_domain":"n.example","title":"t","created_at":NUM}]`, true, false},
		{"PATCH", "/api/v1/articles/" + article, `{"is_read":true}`, `{"is_read":TEXT}`, `{"is_read":NUM}`, false, false},
		{"POST", "/api/v1/newsletters", `{"name":"n","domain":"d.example","image_url":"https://i.example/x.png"}`,
			`{"name":TEXT,"domain":"d.example","image_url":"https://i.example/x.png"}`,
			`{"name":"n","domain":NUM,"image_url":"https://i.example/x.png"}`, false, false},
		{"POST", "/api/v1/tokens", `{"name":"n","scopes":["admin"]}`, `{"name":TEXT,"scopes":["admin"]}`, `{"name":"n","scopes":NUM}`, false, false},
		{"DELETE", "/api/v1/tokens/" + itoa(tokenID), "", "", "", false, true},
	}

	// A negative number is a bad id everywhere but in an observation's
	// value, which may well be below zero.
	negative := map[string]int{"/api/v1/observations/bulk": http.StatusOK}

	type badCase struct {
		name, path, body string
		// status is the answer wanted; 0 takes any 4xx, and for sqlLooking
		// also a 2xx that stored the text as it is. Only a 2xx status
		// wanted lets the request write.
		status int
	}
	deepArrays := strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000)
	deepObjects := strings.Repeat(`{"a":`, 10_000) + "1" + strings.Repeat("}", 10_000)
	for _, ep := range endpoints {
		var cases []badCase
		if ep.valid != "" {
			text := func(s string) string { return strings.Replace(ep.text, "TEXT", s, 1) }
			num := func(s string) string { return strings.Replace(ep.num, "NUM", s, 1) }
			flipped := "[]"
			if ep.batch {
				flipped = "{}"
			}
			cases = append(cases,
				badCase{"malformed JSON", ep.path, ep.valid[:len(ep.valid)-1], 400},
				badCase{"trailing data", ep.path, ep.valid + " {}", 400},
				badCase{"wrong type", ep.path, text(`{"x":[1]}`), 422},
				badCase{"number beyond a double", ep.path, num("1e400"), 422},
				badCase{"integer beyond int64", ep.path, num("99999999999999999999"), 422},
				badCase{"negative number", ep.path, num("-1"), negative[ep.path]},
				badCase{"invalid UTF-8", ep.path, text("\"\xff\xfe\""), 400},
				badCase{"escaped NUL", ep.path, text(`"a\u0000b"`), 422},
				badCase{"SQL-looking text", ep.path, text(`"` + sqlLooking + `"`), 0},
				badCase{"unknown field", ep.path, strings.Replace(ep.valid, "{", `{"zzz":1,`, 1), 422},
				badCase{"empty body", ep.path, "", 400},
				badCase{"JSON null", ep.path, "null", 0},
				badCase{"top-level " + flipped, ep.path, flipped, 0},
				badCase{"arrays 10,000 deep", ep.path, deepArrays, 400},
				badCase{"objects 10,000 deep", ep.path, deepObjects, 400},
			)
		}
		if ep.numericIDs {
			base := ep.path[:strings.LastIndex(ep.path, "/")+1]
			cases = append(cases,
				badCase{"negative id", base + "-1", ep.valid, 404},
				badCase{"id not a number", base + "abc", ep.valid, 400},
				badCase{"id beyond int64", base + "99999999999999999999", ep.valid, 400},
				badCase{"SQL-looking id", base + url.PathEscape("1"+sqlLooking), ep.valid, 400},
			)
		}
		for _, tc := range cases {
			t.Run(ep.method+" "+ep.path+": "+tc.name, func(t *testing.T) {
				tables, before := ts.tables(t), ts.fingerprint(t)
				var body any
				if tc.body != "" || ep.method != "DELETE" {
					body = tc.body
				}
				r := ts.do(ep.method, tc.path, body, bearer(admin)...)
				switch {
				case tc.status >= 200 && tc.status < 300:
					if r.StatusCode != tc.status {
						t.Errorf("%d %s, want %d", r.StatusCode, r.Body, tc.status)
					}
					return
				case tc.status == 0 && tc.name == "SQL-looking text" && r.StatusCode < 300:
					if ts.stored(t, sqlLooking) == 0 {
						t.Errorf("%d %s, but the text is stored nowhere as it was sent", r.StatusCode, r.Body)
					}
					if after := ts.tables(t); strings.Join(after, " ") != strings.Join(tables, " ") {
						t.Errorf("tables %v became %v", tables, after)
					}
					return
				case tc.status == 0 && (r.StatusCode < 400 || r.StatusCode >= 500):
					t.Fatalf("%d %s, want a 4xx", r.StatusCode, r.Body)
				case tc.status != 0 && r.StatusCode != tc.status:
					t.Fatalf("%d %s, want %d", r.StatusCode, r.Body, tc.status)
				}
				p := r.problem(t)
				if p.Detail == "" {
					t.Errorf("a problem that says nothing: %s", r.Body)
				}
				if tc.name == "unknown field" && (len(p.Errors) == 0 || p.Errors[0].Field != "zzz") {
					t.Errorf("errors %+v, want one naming zzz", p.Errors)
				}
				if after := ts.fingerprint(t); after != before {
					t.Errorf("a refused request wrote:\n%s\nbecame\n%s", before, after)
				}
			})
		}
	}
}

// Search text is matched as it is: %, _ and \ are no wildcards or escapes.
func TestSearchTextIsLiteral(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeTreesWrite)
	names := []string{"100% cotton", "1000 cottons", "a_b", "axb", `back\slash`, "backslash", sqlLooking}
	for i, name := range names {
		createNode(t, ts, w, "categories", fmt.Sprintf(`{"name":%q}`, name))
		createNode(t, ts, w, "departments", fmt.Sprintf(`{"name":%q,"code":"C%d"}`, name, i))
	}
	for _, tree := range []string{"categories", "departments"} {
		for _, tt := range []struct{ q, want string }{
			{"%", "100% cotton"},
			{"0% c", "100% cotton"},
			{"_", "a_b"},
			{`\`, `back\slash`},
			{`k\s`, `back\slash`},
			{"'; DROP", sqlLooking},
		} {
			t.Run(tree+" "+tt.q, func(t *testing.T) {
				var res struct{ Matches []searchMatch }
				ts.do("GET", "/api/v1/"+tree+"/search?q="+url.QueryEscape(tt.q), nil).decode(t, &res)
				if len(res.Matches) != 1 || res.Matches[0].Name != tt.want {
					t.Errorf("matches %+v, want %q alone", res.Matches, tt.want)
				}
			})
		}
	}
}
