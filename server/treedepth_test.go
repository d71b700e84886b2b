package server

import (
	"context"
	"net/http"
	"testing"

	"canopy/auth"
)

// The cache is keyed by the parsed parameters: depth=1 and depth=01 are one
// entry, so the second costs only the version read. (depth=+1 is a 400:
// integers are plain digits, TestQueryStringsRefused.)
func TestTreeCacheKeyIsParsed(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeTreesWrite)
	a := createNode(t, ts, w, "categories", `{"name":"A"}`)
	createNode(t, ts, w, "categories", `{"name":"B","parent_id":`+itoa(a)+`}`)
	cases := []struct {
		name    string
		queries []string // the same request written differently: the first fills the cache
	}{
		{"depth", []string{"depth=1", "depth=01", "depth=001"}},
		{"root", []string{"root=" + itoa(a), "root=0" + itoa(a)}},
		{"root and depth in either order", []string{"root=" + itoa(a) + "&depth=0", "depth=00&root=" + itoa(a)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var first response
			for i, q := range c.queries {
				r := ts.do("GET", "/api/v1/categories/tree?"+q, nil)
				if r.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d %s", q, r.StatusCode, r.Body)
				}
				if i == 0 {
					first = r
					continue
				}
				r.wantQueries(t, 1)
				if string(r.Body) != string(first.Body) {
					t.Errorf("%s: %s, want %s", q, r.Body, first.Body)
				}
			}
		})
	}
}

// A create or a move that would put a node past the maximum depth is a 422
// on parent_id, in the query budget; below the maximum both work.
func TestTreeMaxDepth(t *testing.T) {
	ts := newTestServer(t)
	if err := ts.store.SetMaxTreeDepth(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	w := ts.token(auth.ScopeTreesWrite)
	for _, tree := range []string{"categories", "departments"} {
		t.Run(tree, func(t *testing.T) {
			code := func(c string) string {
				if tree == "departments" {
					return `,"code":"` + c + `"`
				}
				return ""
			}
			var parent int64
			ids := map[string]int64{}
			for _, name := range []string{"a", "b", "c", "d"} { // depths 0 to 3
				body := `{"name":"` + name + `"` + code(name)
				if parent != 0 {
					body += `,"parent_id":` + itoa(parent)
				}
				parent = createNode(t, ts, w, tree, body+`}`)
				ids[name] = parent
			}
			ids["p"] = createNode(t, ts, w, tree, `{"name":"p"`+code("p")+`}`)
			ids["q"] = createNode(t, ts, w, tree, `{"name":"q"`+code("q")+`,"parent_id":`+itoa(ids["p"])+`}`)
			cases := []struct {
				name, method, path, body string
				status, queries          int
			}{
				{"create past the maximum", "POST", "/api/v1/" + tree, `{"name":"e"` + code("e") + `,"parent_id":` + itoa(ids["d"]) + `}`, 422, 3},
				{"move a subtree past the maximum", "PATCH", "/api/v1/" + tree + "/" + itoa(ids["p"]), `{"parent_id":` + itoa(ids["c"]) + `}`, 422, 4},
				{"move it to the maximum", "PATCH", "/api/v1/" + tree + "/" + itoa(ids["p"]), `{"parent_id":` + itoa(ids["b"]) + `}`, 200, 4},
				{"create at the maximum", "POST", "/api/v1/" + tree, `{"name":"f"` + code("f") + `,"parent_id":` + itoa(ids["c"]) + `}`, 201, 3},
			}
			for _, c := range cases {
				r := ts.do(c.method, c.path, c.body, bearer(w)...)
				if r.StatusCode != c.status {
					t.Fatalf("%s: %d %s, want %d", c.name, r.StatusCode, r.Body, c.status)
				}
				if got := r.queries(t); got > c.queries {
					t.Errorf("%s: %d statements, budget %d", c.name, got, c.queries)
				}
				checkOpenAPI(t, r)
				if c.status != 422 {
					continue
				}
				p := r.problem(t)
				if p.Code != "validation" || len(p.Errors) != 1 || p.Errors[0].Field != "parent_id" {
					t.Errorf("%s: %+v, want a validation problem on parent_id", c.name, p)
				}
			}
		})
	}
}

// A chain as deep as the default maximum (1,000) is served whole; a
// create below it, the next step of an attacker building 3,000 levels, is
// a clean 422.
func TestDeepChain(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	if _, err := ts.db.Pool.Exec(ctx, `
		INSERT INTO categories (id, parent_id, name) OVERRIDING SYSTEM VALUE
		SELECT g, nullif(g - 1, 0), CASE WHEN g % 250 = 0 THEN 'needle ' ELSE 'level ' END || g FROM generate_series(1, 1001) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.db.Pool.Exec(ctx, `SELECT setval(pg_get_serial_sequence('categories', 'id'), 1001)`); err != nil {
		t.Fatal(err)
	}
	w := ts.token(auth.ScopeTreesWrite)
	r := ts.do("POST", "/api/v1/categories", `{"name":"level 1002","parent_id":1001}`, bearer(w)...)
	if r.StatusCode != http.StatusUnprocessableEntity || r.problem(t).Errors[0].Field != "parent_id" {
		t.Fatalf("create at depth 1,001: %d %s", r.StatusCode, r.Body)
	}

	var deepest node
	ts.do("GET", "/api/v1/categories/1001", nil).decode(t, &deepest)
	if deepest.Depth != 1000 || len(deepest.Path) != 1001 || deepest.Path[0] != 1 || deepest.Path[1000] != 1001 {
		t.Errorf("node 1001: depth %d, path of %d ids", deepest.Depth, len(deepest.Path))
	}
	var sub treeResponse
	ts.do("GET", "/api/v1/categories/tree?root=900", nil).decode(t, &sub)
	if sub.Count != 102 || sub.Roots[0].Depth != 899 || len(sub.Roots[0].Path) != 900 {
		t.Errorf("subtree of 900: %d nodes, root at depth %d", sub.Count, sub.Roots[0].Depth)
	}
	var found struct {
		Matches []struct {
			ID   int64 `json:"id"`
			Path []struct {
				ID int64 `json:"id"`
			} `json:"path"`
		} `json:"matches"`
		Tree struct {
			Count int `json:"count"`
		} `json:"tree"`
	}
	r = ts.do("GET", "/api/v1/categories/search?q=needle", nil)
	r.wantQueries(t, 1)
	r.decode(t, &found)
	if len(found.Matches) != 4 || found.Tree.Count != 1000 {
		t.Fatalf("search: %d matches, %d nodes; want 4, 1000", len(found.Matches), found.Tree.Count)
	}
	for _, m := range found.Matches {
		if int64(len(m.Path)) != m.ID || m.Path[0].ID != 1 || m.Path[len(m.Path)-1].ID != m.ID {
			t.Errorf("match %d: path of %d", m.ID, len(m.Path))
		}
	}
}
