-- Datasets: DCAT-US metadata, the column schema of the current version, and the pointer to the
-- table readers query. The pointer moves atomically when ingestion commits a version.
CREATE TABLE datasets (
    id                  text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{4}-[a-z0-9]{4}$'),
    agency_id           text        NOT NULL,
    metadata            jsonb       NOT NULL,
    schema              jsonb       NOT NULL,
    publication_stage   text        NOT NULL DEFAULT 'private' CHECK (publication_stage IN ('private', 'published')),
    current_version     bigint      NOT NULL DEFAULT 0,
    current_table       text,
    row_count           bigint      NOT NULL DEFAULT 0,
    owner_id            text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    metadata_updated_at timestamptz NOT NULL DEFAULT now(),
    data_updated_at     timestamptz,
    published_at        timestamptz
);

CREATE INDEX datasets_agency ON datasets (agency_id, id);
CREATE INDEX datasets_published ON datasets (id) WHERE publication_stage = 'published';

-- Every version the catalog activated.
CREATE TABLE versions (
    dataset_id   text        NOT NULL REFERENCES datasets (id),
    version      bigint      NOT NULL,
    table_name   text        NOT NULL,
    schema       jsonb       NOT NULL,
    row_count    bigint      NOT NULL,
    mode         text        NOT NULL,
    upload_id    text        NOT NULL,
    committed_at timestamptz NOT NULL,
    activated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, version)
);

-- Numeric column ids (Socrata's columns[].id), stable across versions for the same field name.
CREATE SEQUENCE column_ids START 1000;
