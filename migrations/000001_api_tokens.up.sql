-- Bearer tokens. Only a SHA-256 hash of each token's secret is stored; the
-- token itself is shown once, when it is created.
CREATE TABLE api_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- public part of the token, used to find the row before the secret is compared
    lookup      text NOT NULL UNIQUE,
    secret_hash bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
    name        text NOT NULL CHECK (name <> ''),
    scopes      text[] NOT NULL DEFAULT '{}',
    user_id     uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
