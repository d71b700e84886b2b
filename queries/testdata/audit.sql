-- AuditLog: the newest 100 entries.
SELECT a.id, a.token_id, t.name, a.action, a.record_count, a.inserted, a.updated, a.request_id, a.client_request_id, a.at FROM audit_log a LEFT JOIN api_tokens t ON t.id = a.token_id ORDER BY a.at DESC, a.id DESC LIMIT 100;
