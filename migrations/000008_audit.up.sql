-- Who wrote what to the hospital feed: one row per accepted batch of
-- patients, observations or predictions, written by the same statement as
-- the batch, so that a row exists exactly when the batch committed. A token
-- is named by its id, never by its secret.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    -- the token the batch came with; null for writes made without one
    token_id     bigint REFERENCES api_tokens (id),
    action       text NOT NULL CHECK (action <> ''),
    -- records received; inserted and updated as the write counted them
    -- (updated is null where records are only ever inserted)
    record_count integer NOT NULL CHECK (record_count >= 0),
    inserted     integer NOT NULL CHECK (inserted >= 0),
    updated      integer CHECK (updated >= 0),
    request_id   text,
    at           timestamptz NOT NULL DEFAULT now()
);
-- The listing reads newest first by keyset (at, id).
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
