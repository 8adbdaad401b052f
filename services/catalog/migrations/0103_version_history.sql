-- Each version says who committed it and when its data was current, for the version history
-- (`GET /api/views/{id}/versions`). Versions recorded before keep nulls.
ALTER TABLE versions
    ADD COLUMN committed_by_id   text,
    ADD COLUMN committed_by_name text,
    ADD COLUMN data_as_of        timestamptz;
