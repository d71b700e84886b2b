package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// methodOrder is the order an Allow header lists methods in.
var methodOrder = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// routeTable knows, for any path, which registered route pattern serves it
// and with which methods.
type routeTable struct {
	patterns []routePattern
}

type routePattern struct {
	path    string   // as registered: /api/v1/categories/:id
	parts   []string // its segments
	methods []string // in methodOrder
}

func newRouteTable(routes gin.RoutesInfo) *routeTable {
	var t routeTable
	index := map[string]int{}
	for _, r := range routes {
		i, ok := index[r.Path]
		if !ok {
			i = len(t.patterns)
			index[r.Path] = i
			t.patterns = append(t.patterns, routePattern{path: r.Path, parts: strings.Split(r.Path, "/")})
		}
		t.patterns[i].methods = append(t.patterns[i].methods, r.Method)
	}
	for i := range t.patterns {
		slices.SortFunc(t.patterns[i].methods, func(a, b string) int {
			return slices.Index(methodOrder, a) - slices.Index(methodOrder, b)
		})
	}
	return &t
}

// resource is the pattern that serves path: of those that match it, the
// one whose first segment that differs is fixed rather than a parameter,
// as gin chooses (/categories/search, not /categories/:id). Nil when none
// matches.
func (t *routeTable) resource(path string) *routePattern {
	parts := strings.Split(path, "/")
	var best *routePattern
	for i := range t.patterns {
		p := &t.patterns[i]
		if p.matches(parts) && (best == nil || p.moreSpecific(best)) {
			best = p
		}
	}
	return best
}

func (p *routePattern) matches(parts []string) bool {
	for i, seg := range p.parts {
		switch {
		case strings.HasPrefix(seg, "*"):
			return true
		case i >= len(parts):
			return false
		case strings.HasPrefix(seg, ":"):
			if parts[i] == "" {
				return false
			}
		case seg != parts[i]:
			return false
		}
	}
	return len(parts) == len(p.parts)
}

// moreSpecific reports whether p takes precedence over q for a path both match.
func (p *routePattern) moreSpecific(q *routePattern) bool {
	rank := func(seg string) int {
		switch {
		case strings.HasPrefix(seg, "*"):
			return 0
		case strings.HasPrefix(seg, ":"):
			return 1
		}
		return 2
	}
	for i := 0; i < len(p.parts) && i < len(q.parts); i++ {
		if a, b := rank(p.parts[i]), rank(q.parts[i]); a != b {
			return a > b
		}
	}
	return false
}

// allow answers 405, with the path's true Allow header, a request whose
// method the path does not have. gin alone gets two cases wrong: a method
// that a parameter route has (PATCH /categories/:id) takes a fixed path
// beside it (/categories/search) for its parameter, and its own Allow
// header can name methods of other paths.
func (s *Server) allow(c *gin.Context) {
	res := s.table.resource(c.Request.URL.Path)
	if res == nil || res.path == c.FullPath() {
		c.Next()
		return
	}
	c.Header("Allow", strings.Join(res.methods, ", "))
	s.fail(c, &apiError{status: http.StatusMethodNotAllowed, code: codeBadRequest,
		detail: fmt.Sprintf("method %s is not allowed on %s; it allows %s", c.Request.Method, c.Request.URL.Path, strings.Join(res.methods, ", "))})
}
