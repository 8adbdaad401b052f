-- Each committed version records the schema its table was built with, so appends and upserts load
-- with the columns the latest version really has, whatever the catalog has activated so far.
ALTER TABLE versions ADD COLUMN schema jsonb;
ALTER TABLE uploads ADD COLUMN new_schema boolean NOT NULL DEFAULT false;
