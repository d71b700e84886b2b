package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"canopy/auth"
	"canopy/tree"
)

// seedForest adds n nodes to a tree table: about ten roots, every other
// node under a random earlier one (so depth grows like log n), named "node <i>".
func seedForest(t *testing.T, ts *testServer, table string, n int) {
	t.Helper()
	ctx := context.Background()
	insert := `INSERT INTO categories (name, position) SELECT 'node ' || g, g % 3 FROM generate_series(1, $1) g`
	if table == "departments" {
		insert = `INSERT INTO departments (name, position, code) SELECT 'node ' || g, g % 3, 'D' || g || '-' || $1 FROM generate_series(1, $1) g`
	}
	var lo, hi int64
	if err := ts.db.Pool.QueryRow(ctx, `WITH added AS (`+insert+` RETURNING id) SELECT min(id), max(id) FROM added`, n).Scan(&lo, &hi); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.db.Pool.Exec(ctx, `UPDATE `+table+` SET parent_id = $1 + floor(random() * (id - $1))::bigint
		WHERE id BETWEEN $1 AND $2 AND (id - $1) % ($3::bigint / 10 + 1) <> 0`, lo, hi, n); err != nil {
		t.Fatal(err)
	}
}

// node is a tree row as the API serves it.
type node = tree.Row

type treeResponse struct {
	Count   int         `json:"count"`
	Version int64       `json:"version"`
	Roots   []*nodeJSON `json:"roots"`
}

type nodeJSON struct {
	node
	Children []*nodeJSON `json:"children"`
}

func (n *nodeJSON) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &n.node); err != nil {
		return err
	}
	var c struct{ Children []*nodeJSON }
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	n.Children = c.Children
	return nil
}

// names renders a forest compactly: name(children...), siblings by spaces.
func names(nodes []*nodeJSON) string {
	var parts []string
	for _, n := range nodes {
		s := n.Name
		if len(n.Children) > 0 {
			s += "(" + names(n.Children) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// createNode makes a node through the API and returns its id.
func createNode(t *testing.T, ts *testServer, token, tree string, body string) int64 {
	t.Helper()
	r := ts.do("POST", "/api/v1/"+tree, body, bearer(token)...)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create %s %s: %d %s", tree, body, r.StatusCode, r.Body)
	}
	var n node
	r.decode(t, &n)
	return n.ID
}

func TestCategoryTree(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeTreesWrite)
	food := createNode(t, ts, w, "categories", `{"name":"Food"}`)
	fruit := createNode(t, ts, w, "categories", fmt.Sprintf(`{"name":"Fruit","parent_id":%d,"position":1}`, food))
	createNode(t, ts, w, "categories", fmt.Sprintf(`{"name":"Apples","parent_id":%d}`, fruit))
	createNode(t, ts, w, "categories", fmt.Sprintf(`{"name":"Bread","parent_id":%d,"position":0}`, food))
	createNode(t, ts, w, "categories", `{"name":"Books"}`)

	var whole treeResponse
	ts.do("GET", "/api/v1/categories/tree", nil).decode(t, &whole)
	// Without a position a node goes after its last sibling: Books after Food.
	if got := names(whole.Roots); got != "Food(Bread Fruit(Apples)) Books" {
		t.Errorf("forest %q", got)
	}
	if whole.Count != 5 || whole.Version < 1 {
		t.Errorf("count %d, version %d", whole.Count, whole.Version)
	}
	apples := whole.Roots[0].Children[1].Children[0]
	if apples.Depth != 2 || fmt.Sprint(apples.Path) != fmt.Sprint([]int64{food, fruit, apples.ID}) || apples.Kind != "category" {
		t.Errorf("apples %+v", apples.node)
	}

	var sub treeResponse
	ts.do("GET", fmt.Sprintf("/api/v1/categories/tree?root=%d&depth=0", food), nil).decode(t, &sub)
	if len(sub.Roots) != 1 || sub.Roots[0].ID != food || sub.Roots[0].ChildCount != 2 || len(sub.Roots[0].Children) != 0 || sub.Count != 1 {
		t.Errorf("depth 0: %s", mustJSON(sub))
	}
	ts.do("GET", fmt.Sprintf("/api/v1/categories/tree?root=%d&depth=1", food), nil).decode(t, &sub)
	if got := names(sub.Roots); got != "Food(Bread Fruit)" || sub.Roots[0].Children[1].ChildCount != 1 {
		t.Errorf("depth 1: %q %s", got, mustJSON(sub))
	}
	ts.do("GET", fmt.Sprintf("/api/v1/categories/tree?root=%d", fruit), nil).decode(t, &sub)
	if got := names(sub.Roots); got != "Fruit(Apples)" || sub.Roots[0].Depth != 1 {
		t.Errorf("subtree: %q, root depth %d", got, sub.Roots[0].Depth)
	}

	var one node
	ts.do("GET", fmt.Sprintf("/api/v1/categories/%d", fruit), nil).decode(t, &one)
	if one.Name != "Fruit" || *one.ParentID != food || one.ChildCount != 1 || one.Depth != 1 {
		t.Errorf("node %+v", one)
	}
	var anc struct {
		Path []struct {
			ID    int64
			Name  string
			Depth int
		}
	}
	ts.do("GET", fmt.Sprintf("/api/v1/categories/%d/ancestors", apples.ID), nil).decode(t, &anc)
	if len(anc.Path) != 3 || anc.Path[0].Name != "Food" || anc.Path[2].Name != "Apples" || anc.Path[2].Depth != 2 {
		t.Errorf("ancestors %+v", anc)
	}

	for _, tt := range []struct {
		name, path string
		status     int
		code       string
	}{
		{"unknown root", "/api/v1/categories/tree?root=999999", 404, "not_found"},
		{"root not a number", "/api/v1/categories/tree?root=x", 400, "bad_request"},
		{"negative depth", "/api/v1/categories/tree?depth=-1", 422, "validation"},
		{"unknown node", "/api/v1/categories/999999", 404, "not_found"},
		{"negative id", "/api/v1/categories/-3", 404, "not_found"},
		{"id not a number", "/api/v1/categories/abc", 400, "bad_request"},
		{"ancestors of unknown", "/api/v1/categories/999999/ancestors", 404, "not_found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do("GET", tt.path, nil)
			if r.StatusCode != tt.status || r.problem(t).Code != tt.code {
				t.Errorf("%d %s, want %d %s", r.StatusCode, r.Body, tt.status, tt.code)
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestTreeWrites(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeTreesWrite)
	a := createNode(t, ts, w, "categories", `{"name":"A"}`)
	b := createNode(t, ts, w, "categories", fmt.Sprintf(`{"name":"B","parent_id":%d}`, a))
	c := createNode(t, ts, w, "categories", fmt.Sprintf(`{"name":"C","parent_id":%d}`, b))
	path := func(id int64) string { return fmt.Sprintf("/api/v1/categories/%d", id) }

	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
		field  string
	}{
		{"create without name", "POST", "/api/v1/categories", `{}`, 422, "validation", "name"},
		{"create with blank name", "POST", "/api/v1/categories", `{"name":"   "}`, 422, "validation", "name"},
		{"create with long name", "POST", "/api/v1/categories", `{"name":"` + strings.Repeat("n", 201) + `"}`, 422, "validation", "name"},
		{"create under unknown parent", "POST", "/api/v1/categories", `{"name":"x","parent_id":999999}`, 422, "validation", "parent_id"},
		{"create with a code", "POST", "/api/v1/categories", `{"name":"x","code":"X"}`, 422, "validation", "code"},
		{"create with position out of range", "POST", "/api/v1/categories", `{"name":"x","position":99999999999}`, 422, "validation", "position"},
		{"move under itself", "PATCH", path(a), fmt.Sprintf(`{"parent_id":%d}`, a), 409, "cycle", ""},
		{"move under a descendant", "PATCH", path(a), fmt.Sprintf(`{"parent_id":%d}`, c), 409, "cycle", ""},
		{"move under unknown parent", "PATCH", path(b), `{"parent_id":999999}`, 422, "validation", "parent_id"},
		{"rename to blank", "PATCH", path(b), `{"name":""}`, 422, "validation", "name"},
		{"rename unknown", "PATCH", path(999999), `{"name":"x"}`, 404, "not_found", ""},
		{"delete with children", "DELETE", path(a), "", 409, "has_children", ""},
		{"delete unknown", "DELETE", path(999999), "", 404, "not_found", ""},
		{"cascade not a boolean", "DELETE", path(a) + "?cascade=maybe", "", 400, "bad_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before treeResponse
			ts.do("GET", "/api/v1/categories/tree", nil).decode(t, &before)
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := ts.do(tt.method, tt.path, body, bearer(w)...)
			if r.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", r.StatusCode, r.Body, tt.status)
			}
			p := r.problem(t)
			if p.Code != tt.code || tt.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.field) {
				t.Errorf("problem %s, want code %s field %q", r.Body, tt.code, tt.field)
			}
			var after treeResponse
			ts.do("GET", "/api/v1/categories/tree", nil).decode(t, &after)
			if after.Version != before.Version || names(after.Roots) != names(before.Roots) {
				t.Errorf("a refused write changed the tree: %s -> %s", names(before.Roots), names(after.Roots))
			}
		})
	}

	var moved node
	r := ts.do("PATCH", path(c), `{"parent_id":null,"name":"C root","position":5}`, bearer(w)...)
	r.decode(t, &moved)
	if r.StatusCode != 200 || moved.ParentID != nil || moved.Name != "C root" || moved.Position != 5 || moved.Depth != 0 {
		t.Errorf("move to root: %d %s", r.StatusCode, r.Body)
	}
	ts.do("PATCH", path(c), fmt.Sprintf(`{"parent_id":%d}`, a), bearer(w)...).decode(t, &moved)
	if moved.ParentID == nil || *moved.ParentID != a || moved.Name != "C root" || moved.Position != 5 {
		t.Errorf("a move kept other fields? %+v", moved)
	}
	if r := ts.do("DELETE", path(b), nil, bearer(w)...); r.StatusCode != 204 {
		t.Errorf("delete leaf: %d %s", r.StatusCode, r.Body)
	}
	r = ts.do("DELETE", path(a)+"?cascade=true", nil, bearer(w)...)
	var deleted struct{ Deleted int }
	r.decode(t, &deleted)
	if r.StatusCode != 200 || deleted.Deleted != 2 {
		t.Errorf("cascade: %d %s, want 2 deleted", r.StatusCode, r.Body)
	}
	var empty treeResponse
	ts.do("GET", "/api/v1/categories/tree", nil).decode(t, &empty)
	if empty.Count != 0 || empty.Roots == nil {
		t.Errorf("empty forest %s", mustJSON(empty))
	}
}

func TestDepartmentsAndWards(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeTreesWrite)
	med := createNode(t, ts, w, "departments", `{"name":"Medicine","code":"MED"}`)
	cardio := createNode(t, ts, w, "departments", fmt.Sprintf(`{"name":"Cardiology","code":"CAR","parent_id":%d}`, med))

	r := ts.do("POST", "/api/v1/departments", `{"name":"Again","code":"MED"}`, bearer(w)...)
	if r.StatusCode != 409 || r.problem(t).Code != "conflict" {
		t.Errorf("duplicate code: %d %s", r.StatusCode, r.Body)
	}
	if r := ts.do("POST", "/api/v1/departments", `{"name":"No code"}`, bearer(w)...); r.StatusCode != 422 {
		t.Errorf("department without code: %d", r.StatusCode)
	}

	r = ts.do("POST", "/api/v1/wards", fmt.Sprintf(`{"department_id":%d,"name":"CCU","beds":4}`, cardio), bearer(w)...)
	if r.StatusCode != 201 || r.Header.Get("Location") == "" {
		t.Fatalf("create ward: %d %s", r.StatusCode, r.Body)
	}
	var ward wardJSON
	r.decode(t, &ward)
	if _, err := ts.db.Pool.Exec(context.Background(), `
		INSERT INTO patients (uid, ward_id, admitted_at, discharged_at, died_at) VALUES
		('p1', $1, now(), NULL, NULL), ('p2', $1, now(), NULL, NULL),
		('p3', $1, now(), now(), NULL), ('p4', $1, now(), NULL, now())`, ward.ID); err != nil {
		t.Fatal(err)
	}

	var forest treeResponse
	ts.do("GET", "/api/v1/departments/tree", nil).decode(t, &forest)
	if got := names(forest.Roots); got != "Medicine(Cardiology(CCU))" {
		t.Fatalf("department tree %q", got)
	}
	m, c, leaf := forest.Roots[0], forest.Roots[0].Children[0], forest.Roots[0].Children[0].Children[0]
	if m.Code != "MED" || c.ChildCount != 1 || leaf.Kind != "ward" || *leaf.Beds != 4 || *leaf.Occupied != 2 ||
		*leaf.ParentID != cardio || fmt.Sprint(leaf.Path) != fmt.Sprint([]int64{med, cardio, ward.ID}) || leaf.Children == nil {
		t.Errorf("ward leaf %s", mustJSON(forest))
	}

	var got wardJSON
	ts.do("GET", fmt.Sprintf("/api/v1/wards/%d", ward.ID), nil).decode(t, &got)
	if got.Occupied != 2 || got.DepartmentID != cardio {
		t.Errorf("ward %+v", got)
	}
	ts.do("PATCH", fmt.Sprintf("/api/v1/wards/%d", ward.ID), fmt.Sprintf(`{"beds":6,"department_id":%d}`, med), bearer(w)...).decode(t, &got)
	if got.Beds != 6 || got.DepartmentID != med || got.Name != "CCU" {
		t.Errorf("patched ward %+v", got)
	}
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"ward of unknown department", "POST", "/api/v1/wards", `{"department_id":999999,"name":"X","beds":1}`, 422, "department_id"},
		{"ward without beds", "POST", "/api/v1/wards", fmt.Sprintf(`{"department_id":%d,"name":"X"}`, med), 422, "beds"},
		{"negative beds", "PATCH", fmt.Sprintf("/api/v1/wards/%d", ward.ID), `{"beds":-1}`, 422, "beds"},
		{"unknown ward", "PATCH", "/api/v1/wards/999999", `{"beds":1}`, 404, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(tt.method, tt.path, tt.body, bearer(w)...)
			p := r.problem(t)
			if r.StatusCode != tt.status || tt.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.field) {
				t.Errorf("%d %s, want %d on %q", r.StatusCode, r.Body, tt.status, tt.field)
			}
		})
	}
	r = ts.do("DELETE", fmt.Sprintf("/api/v1/departments/%d", med), nil, bearer(w)...)
	if r.StatusCode != 409 || r.problem(t).Code != "has_children" {
		t.Errorf("delete department with a ward: %d %s", r.StatusCode, r.Body)
	}
	if r := ts.do("DELETE", fmt.Sprintf("/api/v1/wards/%d", ward.ID), nil, bearer(w)...); r.StatusCode != 204 {
		t.Errorf("delete ward: %d %s", r.StatusCode, r.Body)
	}
	if r := ts.do("GET", fmt.Sprintf("/api/v1/wards/%d", ward.ID), nil); r.StatusCode != 404 {
		t.Errorf("deleted ward: %d", r.StatusCode)
	}
}

func TestSearch(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeTreesWrite)
	root := createNode(t, ts, w, "categories", `{"name":"Things"}`)
	mid := createNode(t, ts, w, "categories", fmt.Sprintf(`{"name":"Other","parent_id":%d}`, root))
	createNode(t, ts, w, "categories", fmt.Sprintf(`{"name":"Thermos","parent_id":%d}`, mid))
	createNode(t, ts, w, "categories", `{"name":"Unrelated"}`)

	type result struct {
		Query     string
		Truncated bool
		Matches   []searchMatch
		Tree      treeResponse
	}
	var res result
	r := ts.do("GET", "/api/v1/categories/search?q=TH", nil)
	r.decode(t, &res)
	if r.Header.Get("ETag") == "" {
		t.Error("search without ETag")
	}
	if len(res.Matches) != 3 || res.Truncated || res.Query != "TH" {
		t.Fatalf("matches %s", r.Body)
	}
	if got := names(res.Tree.Roots); got != "Things(Other(Thermos))" || res.Tree.Count != 3 {
		t.Errorf("pruned tree %q count %d", got, res.Tree.Count)
	}
	thermos := res.Matches[2]
	if thermos.Name != "Thermos" || len(thermos.Path) != 3 || thermos.Path[0].Name != "Things" || thermos.Path[2].Name != "Thermos" {
		t.Errorf("breadcrumbs %+v", thermos)
	}
	if !res.Tree.Roots[0].Match || res.Tree.Roots[0].Children[0].Match != true || !res.Tree.Roots[0].Children[0].Children[0].Match {
		// "Things", "Other" (has "th") and "Thermos" all match
		t.Errorf("match flags %s", mustJSON(res.Tree))
	}

	ts.do("GET", "/api/v1/categories/search?q=t&limit=1", nil).decode(t, &res)
	if len(res.Matches) != 1 || !res.Truncated {
		t.Errorf("limit 1: %d matches, truncated %t", len(res.Matches), res.Truncated)
	}
	for _, tt := range []struct {
		name, query string
		status      int
	}{
		{"no q", "", 400},
		{"blank q", "q=%20%20", 400},
		{"limit 0", "q=a&limit=0", 422},
		{"limit too big", "q=a&limit=1001", 422},
		{"limit not a number", "q=a&limit=ten", 400},
		{"q too long", "q=" + strings.Repeat("a", 201), 422},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do("GET", "/api/v1/categories/search?"+tt.query, nil)
			if r.StatusCode != tt.status {
				t.Errorf("%d %s, want %d", r.StatusCode, r.Body, tt.status)
			}
			r.problem(t)
		})
	}
}

// The ETag follows the tree version: a conditional GET of an unchanged tree
// is a 304 that runs no tree query, a repeat GET is served from memory, and
// any write, even one made straight in SQL, changes it.
func TestTreeETagAndCache(t *testing.T) {
	ts := newTestServer(t)
	w := ts.token(auth.ScopeTreesWrite)
	createNode(t, ts, w, "categories", `{"name":"A"}`)

	first := ts.do("GET", "/api/v1/categories/tree", nil)
	etag := first.Header.Get("ETag")
	first.wantQueries(t, 2)
	if etag == "" {
		t.Fatal("no ETag")
	}
	warm := ts.do("GET", "/api/v1/categories/tree", nil)
	warm.wantQueries(t, 1)
	if string(warm.Body) != string(first.Body) || warm.Header.Get("ETag") != etag {
		t.Error("warm answer differs")
	}
	r := ts.send("GET", "/api/v1/categories/tree", nil, "If-None-Match", etag)
	if r.StatusCode != http.StatusNotModified || len(r.Body) != 0 {
		t.Errorf("If-None-Match current: %d", r.StatusCode)
	}
	r.wantQueries(t, 1)

	if _, err := ts.db.Pool.Exec(context.Background(), `UPDATE categories SET name = 'A2'`); err != nil {
		t.Fatal(err)
	}
	r = ts.do("GET", "/api/v1/categories/tree", nil, "If-None-Match", etag)
	if r.StatusCode != http.StatusOK || r.Header.Get("ETag") == etag || !strings.Contains(string(r.Body), "A2") {
		t.Errorf("after a write by hand: %d, ETag %s, body %s", r.StatusCode, r.Header.Get("ETag"), r.Body)
	}
	if dept := ts.do("GET", "/api/v1/departments/tree", nil).Header.Get("ETag"); dept == etag {
		t.Error("the two trees share an ETag")
	}
}

// If-None-Match is weighed against a representation that exists: a subtree
// of an unknown root is 404 (with no ETag) whatever the client claims to
// hold; a known one is 304, from the cache in one statement; and several
// If-None-Match lines are one list.
func TestTreeConditionalGets(t *testing.T) {
	ts := newTestServer(t)
	root := createNode(t, ts, ts.token(auth.ScopeTreesWrite), "categories", `{"name":"A"}`)
	current := ts.do("GET", "/api/v1/categories/tree", nil).Header.Get("ETag")
	subtree := fmt.Sprintf("/api/v1/categories/tree?root=%d", root)
	cases := []struct {
		name, path string
		match      []string // If-None-Match lines
		status     int
		queries    int
	}{
		{"unknown root, *", "/api/v1/categories/tree?root=999999", []string{"*"}, http.StatusNotFound, 2},
		{"unknown root, the tree's ETag", "/api/v1/categories/tree?root=999999", []string{current}, http.StatusNotFound, 2},
		{"known root, not yet cached", subtree, []string{current}, http.StatusNotModified, 2},
		{"known root, cached", subtree, []string{current}, http.StatusNotModified, 1},
		{"the forest, two lines", "/api/v1/categories/tree", []string{`"other"`, current}, http.StatusNotModified, 1},
		{"the forest, a line of another tag", "/api/v1/categories/tree", []string{`"other"`}, http.StatusOK, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", ts.http.URL+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range c.match {
				req.Header.Add("If-None-Match", m)
			}
			r := ts.exchange(ts.http.Client(), req)
			if r.StatusCode != c.status {
				t.Fatalf("%d %s, want %d", r.StatusCode, r.Body, c.status)
			}
			if etag := r.Header.Get("ETag"); (c.status == http.StatusNotFound) != (etag == "") {
				t.Errorf("ETag %q on a %d", etag, r.StatusCode)
			}
			r.wantQueries(t, c.queries)
		})
	}
}

func TestPublicReadsOff(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.PublicReads = false })
	if r := ts.do("GET", "/api/v1/categories/tree", nil); r.StatusCode != 401 {
		t.Errorf("tree without a token: %d", r.StatusCode)
	}
	reader := ts.token(auth.ScopeArticlesRead)
	if r := ts.do("GET", "/api/v1/categories/tree", nil, bearer(reader)...); r.StatusCode != 200 {
		t.Errorf("tree with a token: %d %s", r.StatusCode, r.Body)
	}
	if r := ts.do("POST", "/api/v1/categories", `{"name":"x"}`, bearer(reader)...); r.StatusCode != 403 {
		t.Errorf("write without trees:write: %d", r.StatusCode)
	}
}

// Every tree endpoint runs the same number of statements on 10 nodes as on 10,000.
func TestTreeQueryBudgets(t *testing.T) {
	for _, table := range []string{"categories", "departments"} {
		t.Run(table, func(t *testing.T) {
			ts := newTestServer(t)
			w := ts.token(auth.ScopeTreesWrite)
			measure := func() map[string]int {
				counts := map[string]int{}
				var root node
				ts.do("GET", "/api/v1/"+table+"/"+itoa(firstID(t, ts, table)), nil).decode(t, &root)
				id := itoa(root.ID)
				code := ""
				if table == "departments" {
					code = `,"code":"NEW` + itoa(int64(len(counts))) + `"`
				}
				run := func(name, method, path string, body any, wantStatus int) response {
					r := ts.do(method, path, body, bearer(w)...)
					if r.StatusCode != wantStatus {
						t.Fatalf("%s: %d %s", name, r.StatusCode, r.Body)
					}
					counts[name] = r.queries(t)
					return r
				}
				run("tree cold", "GET", "/api/v1/"+table+"/tree", nil, 200)
				run("tree warm", "GET", "/api/v1/"+table+"/tree", nil, 200)
				run("subtree", "GET", "/api/v1/"+table+"/tree?root="+id+"&depth=2", nil, 200)
				run("search", "GET", "/api/v1/"+table+"/search?q=node%201", nil, 200)
				run("node", "GET", "/api/v1/"+table+"/"+id, nil, 200)
				run("ancestors", "GET", "/api/v1/"+table+"/"+id+"/ancestors", nil, 200)
				var created node
				run("create", "POST", "/api/v1/"+table, `{"name":"budget"`+code+`,"parent_id":`+id+`}`, 201).decode(t, &created)
				run("move", "PATCH", "/api/v1/"+table+"/"+itoa(created.ID), `{"parent_id":null,"name":"budget 2"}`, 200)
				run("delete", "DELETE", "/api/v1/"+table+"/"+itoa(created.ID), nil, 204)
				return counts
			}
			seedForest(t, ts, table, 10)
			small := measure()
			seedForest(t, ts, table, 10_000)
			large := measure()
			budget := map[string]int{"tree cold": 2, "tree warm": 1, "subtree": 2, "search": 1, "node": 1, "ancestors": 1, "create": 3, "move": 4, "delete": 3}
			for name, n := range small {
				if large[name] != n {
					t.Errorf("%s: %d statements at 10 nodes, %d at 10,010", name, n, large[name])
				}
				if n > budget[name] {
					t.Errorf("%s: %d statements, budget %d", name, n, budget[name])
				}
			}
		})
	}
}

func firstID(t *testing.T, ts *testServer, table string) int64 {
	t.Helper()
	var id int64
	if err := ts.db.Pool.QueryRow(context.Background(), "SELECT min(id) FROM "+table).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
