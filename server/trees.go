package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"canopy/optional"
	"canopy/queries"
	"canopy/rules"
	"canopy/tree"
)

// searchMaxQuery bounds the characters of a search's q.
const searchMaxQuery = 200

// jsonContentType is what gin's c.JSON sends, for the bodies written here.
const jsonContentType = "application/json; charset=utf-8"

// trees serves both hierarchies from one set of handlers, parameterised by
// the tree's spec.
type trees struct {
	s    *Server
	spec queries.TreeSpec
	name string // the path segment: categories or departments
}

func (t trees) etag(version int64) string { return fmt.Sprintf(`"%s-v%d"`, t.name, version) }

// notModified sets the ETag, etag being the identity representation's, and
// reports whether the client's copy of the representation it would get is
// current (see etagPerCoding).
func notModified(c *gin.Context, etag string) bool {
	etagPerCoding(c)
	c.Header("ETag", etag)
	c.Header("Cache-Control", "no-cache")
	current := codingETag(etag, codingOf(c))
	// Several If-None-Match lines are one list (RFC 9110, section 5.3).
	for _, candidate := range strings.Split(strings.Join(c.Request.Header.Values("If-None-Match"), ","), ",") {
		candidate = strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if candidate == current || candidate == "*" {
			c.Status(http.StatusNotModified)
			return true
		}
	}
	return false
}

// writeRow answers with one row, written as in a tree.
func writeRow(c *gin.Context, status int, r *tree.Row) {
	c.Data(status, jsonContentType, r.AppendJSON(nil))
}

// getTree serves the forest or a subtree: one statement to read the tree's
// version, and one recursive statement unless the rendered answer for that
// version is already in memory. The recursive statement reads the version
// again, with the rows.
func (t trees) getTree(c *gin.Context) error {
	var q queries.TreeQuery
	var err error
	if q.Root, err = queryInt64(c, "root", 1); err != nil {
		return err
	}
	if q.Depth, err = queryInt(c, "depth", 0, 1_000_000); err != nil {
		return err
	}
	ctx := c.Request.Context()
	version, err := t.s.store.TreeVersion(ctx, t.spec)
	if err != nil {
		return err
	}
	// The whole forest always exists; a subtree only if its root does, so
	// its If-None-Match is weighed once it is known to (a 404 has no ETag
	// to match): from the cache, or after the read.
	if q.Root == nil && notModified(c, t.etag(version)) {
		return nil
	}
	key := treeCacheKey{tree: t.name, version: version, root: -1, depth: -1}
	if q.Root != nil {
		key.root = *q.Root
	}
	if q.Depth != nil {
		key.depth = *q.Depth
	}
	if body, ok := t.s.trees.get(key); ok {
		if q.Root != nil && notModified(c, t.etag(version)) {
			return nil
		}
		t.s.trees.grew(key, body, t.s.writeEncoded(c, http.StatusOK, body))
		return nil
	}
	forest, err := t.s.store.Tree(ctx, t.spec, q)
	if err != nil {
		c.Writer.Header().Del("ETag")
		return err
	}
	// The rows are of the version their statement read, which a replica
	// further behind than the one that gave version may make older, or a
	// write since newer: the answer, its ETag and its cache key say theirs.
	key.version = forest.Version
	encoded := newEncodedBody(t.render(forest))
	if q.Root != nil && notModified(c, t.etag(forest.Version)) {
		t.s.trees.put(key, encoded)
		return nil
	}
	c.Header("ETag", t.etag(forest.Version))
	t.s.writeEncoded(c, http.StatusOK, encoded) // the body it adds is counted by put
	t.s.trees.put(key, encoded)
	return nil
}

// render writes a forest as the tree endpoint's body.
func (trees) render(forest queries.Forest) []byte {
	body := fmt.Appendf(make([]byte, 0, tree.JSONSize(forest.Nodes)), `{"count":%d,"version":%d,"roots":`, tree.Count(forest.Roots), forest.Version)
	return append(tree.AppendRows(body, forest.Roots), '}')
}

type searchMatch struct {
	ID   int64       `json:"id"`
	Kind string      `json:"kind"`
	Name string      `json:"name"`
	Path []crumbJSON `json:"path"`
}

type crumbJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// search serves every match with all its ancestors, as breadcrumbs and as
// the forest of the matches and their ancestors, from one statement.
func (t trees) search(c *gin.Context) error {
	q := c.Query("q")
	if strings.TrimSpace(q) == "" {
		return badRequest("q is required and must not be blank")
	}
	if utf8.RuneCountInString(q) > searchMaxQuery {
		return invalid("q", "at most %d characters", searchMaxQuery)
	}
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	found, truncated, version, err := t.s.store.Search(c.Request.Context(), t.spec, q, limit)
	if err != nil {
		return err
	}
	if notModified(c, t.etag(version)) {
		return nil
	}
	roots := found.Roots
	matches := []searchMatch{}
	var trail []crumbJSON
	tree.Walk(roots, func(n *tree.Node[tree.Row], depth int) bool {
		trail = append(trail[:depth], crumbJSON{n.Item.ID, n.Item.Name})
		if n.Item.Match {
			matches = append(matches, searchMatch{ID: n.Item.ID, Kind: n.Item.Kind, Name: n.Item.Name,
				Path: append([]crumbJSON(nil), trail...)})
		}
		return true
	})
	type forestJSON struct {
		Count int                    `json:"count"`
		Roots []*tree.Node[tree.Row] `json:"roots"`
	}
	c.JSON(http.StatusOK, struct {
		Query     string        `json:"query"`
		Truncated bool          `json:"truncated"`
		Matches   []searchMatch `json:"matches"`
		Tree      forestJSON    `json:"tree"`
	}{q, truncated, matches, forestJSON{tree.Count(roots), roots}})
	return nil
}

func (t trees) getNode(c *gin.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	n, err := t.s.store.Node(c.Request.Context(), t.spec, id)
	if err != nil {
		return err
	}
	writeRow(c, http.StatusOK, &n)
	return nil
}

func (t trees) ancestors(c *gin.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	rows, err := t.s.store.Ancestors(c.Request.Context(), t.spec, id)
	if err != nil {
		return err
	}
	type step struct {
		ID    int64  `json:"id"`
		Name  string `json:"name"`
		Depth int    `json:"depth"`
	}
	path := make([]step, len(rows))
	for i, r := range rows {
		path[i] = step{r.ID, r.Name, r.Depth}
	}
	c.JSON(http.StatusOK, gin.H{"path": path})
	return nil
}

// nodeFields are the writable fields of a node, absent, null or set.
type nodeFields struct {
	Name     optional.Field[string] `json:"name"`
	ParentID optional.Field[int64]  `json:"parent_id"`
	Position optional.Field[int32]  `json:"position"`
	Code     optional.Field[string] `json:"code"`
}

// check validates the fields present; required names those that must be.
func (t trees) check(f *nodeFields, required ...string) error {
	var errs []queries.FieldError
	bad := func(field, msg string) {
		errs = append(errs, queries.FieldError{Index: -1, Field: field, Message: msg})
	}
	for _, r := range required {
		if r == "name" && !f.Name.Set || r == "code" && !f.Code.Set {
			bad(r, "is required")
		}
	}
	if f.Name.Set {
		f.Name.Value = strings.TrimSpace(f.Name.Value)
		if err := rules.Text(f.Name.Value, rules.NameMax); err != nil { // null is "": refused too
			bad("name", err.Error())
		}
	}
	if f.ParentID.Set && !f.ParentID.Null && f.ParentID.Value < 1 {
		bad("parent_id", "must be a positive id or null")
	}
	if f.Position.Null {
		bad("position", "must be an integer")
	}
	if f.Code.Set {
		if !t.spec.HasCode() {
			bad("code", "unknown field")
		} else if err := rules.Text(f.Code.Value, rules.CodeMax); err != nil {
			bad("code", err.Error())
		}
	}
	if len(errs) > 0 {
		return &queries.ValidationError{Errors: errs}
	}
	return nil
}

func (t trees) create(c *gin.Context) error {
	var f nodeFields
	if err := decodeJSON(c.Request, &f); err != nil {
		return err
	}
	required := []string{"name"}
	if t.spec.HasCode() {
		required = append(required, "code")
	}
	if err := t.check(&f, required...); err != nil {
		return err
	}
	n, err := t.s.store.CreateNode(c.Request.Context(), t.spec, queries.NewNode{
		Name: f.Name.Value, ParentID: f.ParentID.Ptr(), Position: f.Position.Ptr(), Code: strings.TrimSpace(f.Code.Value)})
	if err != nil {
		return err
	}
	c.Header("Location", "/api/v1/"+t.name+"/"+strconv.FormatInt(n.ID, 10))
	writeRow(c, http.StatusCreated, &n)
	return nil
}

// update renames, reorders or moves a node; "parent_id": null makes it a root.
func (t trees) update(c *gin.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var f nodeFields
	if err := decodeJSON(c.Request, &f); err != nil {
		return err
	}
	if f.Code.Set {
		return invalid("code", "cannot be changed")
	}
	if err := t.check(&f); err != nil {
		return err
	}
	n, err := t.s.store.UpdateNode(c.Request.Context(), t.spec, id, queries.NodePatch{
		Name: f.Name.Ptr(), Position: f.Position.Ptr(), SetParent: f.ParentID.Set, ParentID: f.ParentID.Ptr()})
	if err != nil {
		return err
	}
	writeRow(c, http.StatusOK, &n)
	return nil
}

// remove deletes a node: 204 alone, or 200 with the count for ?cascade=true.
func (t trees) remove(c *gin.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	cascade := false
	if raw, ok := c.GetQuery("cascade"); ok {
		if cascade, err = strconv.ParseBool(raw); err != nil {
			return badRequest("cascade %q is not a boolean", raw)
		}
	}
	deleted, err := t.s.store.DeleteNode(c.Request.Context(), t.spec, id, cascade)
	if err != nil {
		return err
	}
	if cascade {
		c.JSON(http.StatusOK, gin.H{"deleted": deleted})
		return nil
	}
	c.Status(http.StatusNoContent)
	return nil
}
