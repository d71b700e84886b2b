package server

import (
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"canopy/queries"
)

// auditActions are the actions audit_log records, the values of its action filter.
var auditActions = []string{queries.ActionPatientsBulk, queries.ActionObservationsBulk, queries.ActionPredictionsBulk}

// actorOf is whom the request writes for: its token's id (never the token)
// and its request ids, canopy's and the client's, as the audit log keeps them.
func actorOf(c *gin.Context) queries.Actor {
	return queries.Actor{TokenID: principalOf(c).TokenID, RequestID: requestIDOf(c), ClientRequestID: c.GetString(clientRequestIDKey)}
}

type auditJSON struct {
	ID          int64   `json:"id"`
	TokenID     *int64  `json:"token_id"`
	TokenName   *string `json:"token_name"`
	Action      string  `json:"action"`
	RecordCount int     `json:"record_count"`
	Inserted    int     `json:"inserted"`
	Updated     *int    `json:"updated"`
	RequestID   *string `json:"request_id"`
	// ClientRequestID is the X-Request-Id the client sent, if any: its own
	// name for the request, not canopy's.
	ClientRequestID *string   `json:"client_request_id"`
	At              time.Time `json:"at"`
}

// listAudit serves a page of the audit log, newest first, from one
// statement; next_cursor continues it, with the same filters.
func (s *Server) listAudit(c *gin.Context) error {
	q, err := auditQuery(c)
	if err != nil {
		return err
	}
	entries, err := s.store.AuditLog(c.Request.Context(), q)
	if err != nil {
		return err
	}
	out := make([]auditJSON, len(entries))
	for i, e := range entries {
		out[i] = auditJSON{ID: e.ID, TokenID: e.TokenID, TokenName: e.TokenName, Action: e.Action, RecordCount: e.RecordCount,
			Inserted: e.Inserted, Updated: e.Updated, RequestID: e.RequestID, ClientRequestID: e.ClientRequestID, At: e.At.UTC()}
	}
	var next *string
	if len(entries) == q.Limit {
		last := entries[len(entries)-1]
		next = new(encodeAuditCursor(queries.AuditKey{At: last.At, ID: last.ID}))
	}
	c.JSON(http.StatusOK, gin.H{"entries": out, "next_cursor": next})
	return nil
}

// auditQuery parses the listing's parameters: limit, cursor and the
// filters action, token_id and the half-open window [since, until).
func auditQuery(c *gin.Context) (queries.AuditQuery, error) {
	var q queries.AuditQuery
	var err error
	if q.Limit, err = pageLimit(c); err != nil {
		return q, err
	}
	if raw, ok := c.GetQuery("cursor"); ok {
		if q.After, err = decodeAuditCursor(raw); err != nil {
			return q, err
		}
	}
	if action, ok := c.GetQuery("action"); ok {
		if !slices.Contains(auditActions, action) {
			return q, invalid("action", "must be one of %v", auditActions)
		}
		q.Action = &action
	}
	if q.TokenID, err = queryInt64(c, "token_id", 1); err != nil {
		return q, err
	}
	if q.Since, err = optionalQueryTime(c, "since"); err != nil {
		return q, err
	}
	if q.Until, err = optionalQueryTime(c, "until"); err != nil {
		return q, err
	}
	if q.Since != nil && q.Until != nil && !q.Until.After(*q.Since) {
		return q, invalid("until", "must be after since")
	}
	return q, nil
}

// optionalQueryTime is queryTime for a parameter that may be left out (nil).
func optionalQueryTime(c *gin.Context, name string) (*time.Time, error) {
	if _, ok := c.GetQuery(name); !ok {
		return nil, nil
	}
	t, err := queryTime(c, name)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// auditCursorVersion leads every audit cursor, so that a later format can
// tell old cursors apart.
const auditCursorVersion = 1

// encodeAuditCursor writes the key of a page's last entry as an opaque
// cursor: the version, at in microseconds (PostgreSQL's precision) and id.
func encodeAuditCursor(k queries.AuditKey) string {
	var b [17]byte
	b[0] = auditCursorVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(k.At.UnixMicro()))
	binary.BigEndian.PutUint64(b[9:], uint64(k.ID))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeAuditCursor reads a cursor encodeAuditCursor wrote: 400 otherwise.
func decodeAuditCursor(s string) (*queries.AuditKey, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 17 || b[0] != auditCursorVersion || int64(binary.BigEndian.Uint64(b[9:])) < 1 {
		return nil, badRequest("cursor %q is not a cursor of the audit log", s)
	}
	return &queries.AuditKey{At: time.UnixMicro(int64(binary.BigEndian.Uint64(b[1:9]))).UTC(), ID: int64(binary.BigEndian.Uint64(b[9:]))}, nil
}
