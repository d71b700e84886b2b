-- request_id is the id canopy gave the request; the id a client sent in
-- X-Request-Id is kept apart, so that a client cannot make its batch look
-- like another request (an earlier admin one, say) in the audit log.
ALTER TABLE audit_log ADD COLUMN client_request_id text;
