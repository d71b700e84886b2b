package server

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
)

// openapi.yaml describes every route canopy serves, and nothing else: each
// method of each registered path (HEAD aside: every GET answers it) is an
// operation of the document, and each operation is a route. The web front
// end's assets (/assets/*filepath) are described with / and not one by one.
func TestOpenAPICoversRoutes(t *testing.T) {
	ts := newTestServer(t)
	served := map[string]bool{}
	param := regexp.MustCompile(`:([a-z_]+)`)
	for _, r := range ts.srv.engine.Routes() {
		if r.Method != http.MethodHead && !strings.Contains(r.Path, "*") {
			served[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
		}
	}
	doc, err := libopenapi.NewDocument(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().KeysFromOldest() {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for _, route := range slices.Sorted(maps.Keys(served)) {
		if !documented[route] {
			t.Errorf("%s is served but not in openapi.yaml", route)
		}
	}
	for _, op := range slices.Sorted(maps.Keys(documented)) {
		if !served[op] {
			t.Errorf("%s is in openapi.yaml but not served", op)
		}
	}
}

// The tree schema recurses: the validator follows TreeNode's $ref to itself, so
// a malformed node three levels down is caught, not waved through as "object".
func TestOpenAPITreeNodeRecurses(t *testing.T) {
	v, err := openAPIValidator()
	if err != nil {
		t.Fatal(err)
	}
	leaf := `{"id": 4, "kind": "category", "parent_id": 3, "name": "d", "position": 0, "depth": 3, "path": [1, 2, 3, 4], "child_count": 0, "children": []}`
	tree := func(deepest string) string {
		return `{"count": 4, "version": 1, "roots": [
			{"id": 1, "kind": "category", "parent_id": null, "name": "a", "position": 0, "depth": 0, "path": [1], "child_count": 1, "children": [
			{"id": 2, "kind": "category", "parent_id": 1, "name": "b", "position": 0, "depth": 1, "path": [1, 2], "child_count": 1, "children": [
			{"id": 3, "kind": "category", "parent_id": 2, "name": "c", "position": 0, "depth": 2, "path": [1, 2, 3], "child_count": 1, "children": [` +
			deepest + `]}]}]}]}`
	}
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"four levels", tree(leaf), true},
		{"great-grandchild without children", tree(strings.Replace(leaf, `, "children": []`, "", 1)), false},
		{"great-grandchild with a string id", tree(strings.Replace(leaf, `"id": 4`, `"id": "4"`, 1)), false},
		{"great-grandchild of an unknown kind", tree(strings.Replace(leaf, `"category"`, `"shelf"`, 1)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "/api/v1/categories/tree", nil)
			resp := &http.Response{
				StatusCode: http.StatusOK,
				Header:     http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Etag": {`"categories-v1"`}},
				Body:       io.NopCloser(bytes.NewReader([]byte(tc.body))),
				Request:    req,
			}
			ok, errs := v.ValidateHttpResponse(req, resp)
			if ok != tc.ok {
				for _, e := range errs {
					t.Logf("%s (%s)", e.Message, e.Reason)
				}
				t.Errorf("valid = %v, want %v", ok, tc.ok)
			}
		})
	}
}

// A control character in a header value is refused by net/http itself, in
// plain text, before canopy sees the request: openapi.yaml lists that answer
// under every operation's 400.
func TestOpenAPIGoPlainTextBadRequest(t *testing.T) {
	ts := newTestServer(t)
	conn, err := net.Dial("tcp", ts.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /api/v1/categories/tree HTTP/1.1\r\nHost: canopy\r\nX-Note: a\x01b\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", ts.http.URL+"/api/v1/categories/tree", nil)
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	checkOpenAPI(t, response{Response: resp, Body: body})
}
