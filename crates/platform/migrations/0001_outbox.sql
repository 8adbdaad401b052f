-- Transactional outbox: events written in the same transaction as the change they report, then
-- published to JetStream by the relay.
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,
    subject      text        NOT NULL,
    payload      bytea       NOT NULL,
    headers      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

CREATE INDEX outbox_pending ON outbox (created_at, id) WHERE published_at IS NULL;
