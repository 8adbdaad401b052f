-- Events the bus refused for good (too large, an invalid subject): set aside with the reason so the
-- events behind them flow. An operator can inspect them, fix the cause and move them back into
-- the outbox.
CREATE TABLE outbox_dead_letters (
    id          uuid PRIMARY KEY,
    subject     text        NOT NULL,
    payload     bytea       NOT NULL,
    headers     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    reason      text        NOT NULL,
    set_aside_at timestamptz NOT NULL DEFAULT now()
);
