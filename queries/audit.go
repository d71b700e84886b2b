package queries

import (
	"context"
	"fmt"
	"time"

	sq "github.com/Masterminds/squirrel"
)

// Actor is whom a write is made for, as audit_log records it: the id of the
// token it came with (0 for none), the id canopy gave the request and the
// one the client sent ("" for none). It is an id, never a token's secret.
type Actor struct {
	TokenID         int64
	RequestID       string
	ClientRequestID string
}

// Audited actions: the action column of audit_log.
const (
	ActionPatientsBulk     = "patients.bulk"
	ActionObservationsBulk = "observations.bulk"
	ActionPredictionsBulk  = "predictions.bulk"
)

// auditCTE is the WITH item a batch write adds to its own statement to
// record itself in audit_log, so that the row commits exactly when the batch
// does and costs no statement of its own. Its placeholders are $arg (token
// id), $arg+1 (request id), $arg+2 (records received) and $arg+3 (the
// client's request id), filled by Actor.auditArgs; inserted and updated are
// SQL expressions over the statement's other WITH items, and written the
// condition under which the batch was written (no audit row for a batch
// refused inside the statement). Every argument is a constant of this
// package, never request text.
func auditCTE(action string, arg int, inserted, updated, written string) string {
	return fmt.Sprintf(`
audit AS (
    INSERT INTO audit_log (token_id, request_id, action, record_count, inserted, updated, client_request_id)
    SELECT $%[2]d::bigint, $%[3]d::text, '%[1]s', $%[4]d::int, %[5]s, %[6]s, $%[8]d::text
    WHERE %[7]s
)`, action, arg, arg+1, arg+2, inserted, updated, written, arg+3)
}

// auditArgs are the values of auditCTE's placeholders for a batch of n records.
func (a Actor) auditArgs(n int) []any {
	var token *int64
	if a.TokenID != 0 {
		token = &a.TokenID
	}
	var request, client *string
	if a.RequestID != "" {
		request = &a.RequestID
	}
	if a.ClientRequestID != "" {
		client = &a.ClientRequestID
	}
	return []any{token, request, n, client}
}

// AuditEntry is one row of audit_log.
type AuditEntry struct {
	ID              int64
	TokenID         *int64
	TokenName       *string
	Action          string
	RecordCount     int
	Inserted        int
	Updated         *int
	RequestID       *string
	ClientRequestID *string
	At              time.Time
}

// AuditKey is where a page of the audit log starts after: the last entry
// of the page before.
type AuditKey struct {
	At time.Time
	ID int64
}

// AuditQuery selects a page of the audit log, newest first.
type AuditQuery struct {
	Limit   int
	After   *AuditKey
	Action  *string
	TokenID *int64
	// Since and Until bound at to the half-open window [Since, Until).
	Since, Until *time.Time
}

// AuditLog reads a page of the audit log, newest first (at, then id,
// descending), in one statement: a range scan of audit_log_at from the
// page's key, whatever the filters.
func (s *Store) AuditLog(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	rows, err := s.queryBuiltRows(ctx, auditStatement(q))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	entries := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, &e.TokenID, &e.TokenName, &e.Action, &e.RecordCount, &e.Inserted, &e.Updated, &e.RequestID, &e.ClientRequestID, &e.At); err != nil {
			return nil, translate(err)
		}
		entries = append(entries, e)
	}
	return entries, translate(rows.Err())
}

// auditStatement is AuditLog's statement for q: one WHERE term a filter.
func auditStatement(q AuditQuery) sq.SelectBuilder {
	statement := sq.Select("a.id", "a.token_id", "t.name", "a.action", "a.record_count", "a.inserted", "a.updated", "a.request_id", "a.client_request_id", "a.at").
		From("audit_log a").
		LeftJoin("api_tokens t ON t.id = a.token_id").
		OrderBy("a.at DESC", "a.id DESC").
		Limit(uint64(q.Limit))
	if q.After != nil {
		statement = statement.Where("(a.at, a.id) < (?, ?)", q.After.At, q.After.ID)
	}
	if q.Action != nil {
		statement = statement.Where(sq.Eq{"a.action": *q.Action})
	}
	if q.TokenID != nil {
		statement = statement.Where(sq.Eq{"a.token_id": *q.TokenID})
	}
	if q.Since != nil {
		statement = statement.Where(sq.GtOrEq{"a.at": *q.Since})
	}
	if q.Until != nil {
		statement = statement.Where(sq.Lt{"a.at": *q.Until})
	}
	return statement
}
