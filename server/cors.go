package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// corsExposed are the response headers a browser app on another origin may
// read: among them Server-Timing, the query count canopy is about.
const corsExposed = "Server-Timing, X-Request-Id, ETag, Location, Retry-After, Canopy-Served-By"

// cors lets browser apps on the configured origins call the API. With no
// origins configured (the default) it adds nothing, and browsers keep
// cross-origin pages out. A preflight from an allowed origin is answered
// here, before routing.
func (s *Server) cors(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if len(s.cfg.CORSOrigins) > 0 {
		// Answers differ by Origin: a shared cache must not hand one
		// made for no origin (or another) to a browser page.
		c.Writer.Header().Add("Vary", "Origin")
	}
	if len(s.cfg.CORSOrigins) == 0 || origin == "" ||
		!slices.Contains(s.cfg.CORSOrigins, origin) && !slices.Contains(s.cfg.CORSOrigins, "*") {
		c.Next()
		return
	}
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", corsExposed)
	if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-None-Match, X-Request-Id")
		h.Set("Access-Control-Max-Age", "600")
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

// validOrigin: "*", or a scheme and host (and port) with no path.
func validOrigin(o string) bool {
	if o == "*" {
		return true
	}
	rest, ok := strings.CutPrefix(o, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(o, "http://")
	}
	return ok && rest != "" && !strings.ContainsAny(rest, "/?# ")
}
