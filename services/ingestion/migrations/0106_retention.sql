-- Retention: how long each dataset's replaced versions stay readable. A dataset without a row
-- follows the service's default (`ingestion.retention_days`, `ingestion.retention_versions`).
CREATE TABLE retention_policies (
    dataset_id    text        PRIMARY KEY,
    keep_days     integer     NOT NULL CHECK (keep_days BETWEEN 0 AND 36500),
    keep_versions integer     NOT NULL CHECK (keep_versions BETWEEN 1 AND 10000),
    set_by        text        NOT NULL,
    set_at        timestamptz NOT NULL DEFAULT now()
);

-- A purged version: dropped at once, whatever the retention, with who did it and why.
ALTER TABLE versions
    ADD COLUMN purged_at    timestamptz,
    ADD COLUMN purged_by    text,
    ADD COLUMN purge_reason text;
