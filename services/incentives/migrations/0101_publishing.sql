-- The award table as a portal dataset: the key of DECD's automation account the service pushes
-- with, and what it last pushed.
CREATE TABLE publishing (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    api_key         text NOT NULL,
    set_by          text NOT NULL,
    set_at          timestamptz NOT NULL,
    -- the state of the awards table (and the day) at the last push; a push happens when it moves
    pushed_state    text NOT NULL DEFAULT '',
    last_pushed_at  timestamptz,
    rows_pushed     bigint NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT ''
);
