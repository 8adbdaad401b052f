-- Web sessions of the staff pages: started with an API key, acting as its principal until they end,
-- expire, or the key is revoked. Stored, like keys, only as hashes of their secrets.
CREATE TABLE sessions (
    id         uuid PRIMARY KEY,
    key_id     uuid        NOT NULL REFERENCES api_keys (id),
    hash       bytea       NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at   timestamptz,
    CHECK (expires_at > created_at)
);

CREATE INDEX sessions_key ON sessions (key_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
