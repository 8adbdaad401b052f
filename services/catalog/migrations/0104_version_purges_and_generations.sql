-- Purged versions, as ingestion announces them (`version_purged`), for the version history; and
-- the generation table each version's view selects from (null before generations), for diffs.
ALTER TABLE versions
    ADD COLUMN purged_at      timestamptz,
    ADD COLUMN purged_by_name text,
    ADD COLUMN purge_reason   text,
    ADD COLUMN generation     text;
