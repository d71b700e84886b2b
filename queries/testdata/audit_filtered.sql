-- AuditLog: a page after a key, of one action and token, in a window.
-- $1 = '2026-03-02T00:00:00Z'
-- $2 = 99
-- $3 = 'patients.bulk'
-- $4 = 3
-- $5 = '2026-03-01T00:00:00Z'
-- $6 = '2026-03-02T00:00:00Z'
SELECT a.id, a.token_id, t.name, a.action, a.record_count, a.inserted, a.updated, a.request_id, a.client_request_id, a.at FROM audit_log a LEFT JOIN api_tokens t ON t.id = a.token_id WHERE (a.at, a.id) < ($1, $2) AND a.action = $3 AND a.token_id = $4 AND a.at >= $5 AND a.at < $6 ORDER BY a.at DESC, a.id DESC LIMIT 100;
