-- What each version's commit changed (rows created, changed, deleted), as `version_committed`
-- tells it, for the version history and the change feed. Versions recorded before keep zeros.
ALTER TABLE versions
    ADD COLUMN rows_created bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_updated bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_deleted bigint NOT NULL DEFAULT 0;
