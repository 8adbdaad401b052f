-- What each committed upload changed, as Socrata's write API reports it: rows created, rows whose
-- values changed, rows deleted (an upsert's `:deleted` rows; a replace's old rows).
ALTER TABLE uploads
    ADD COLUMN rows_created bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_updated bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_deleted bigint NOT NULL DEFAULT 0;
