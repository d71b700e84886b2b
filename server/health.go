package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"canopy/queries"
)

// healthz says the process is up; it touches nothing else, so it stays 200
// while the database is away.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz says whether canopy can serve: the database answers and its schema
// is at the version this binary expects.
func (s *Server) readyz(c *gin.Context) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	version, dirty, err := s.db.SchemaVersion(ctx) // the primary's, which writes need
	if err != nil {
		return fmt.Errorf("%w: %w", queries.ErrUnavailable, err)
	}
	if dirty || version != s.schemaVersion {
		c.Header("Retry-After", "5")
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable,
			detail: fmt.Sprintf("database schema is at version %d (dirty %t); this canopy needs version %d: run `canopy migrate up`", version, dirty, s.schemaVersion)}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "schema_version": version})
	return nil
}
