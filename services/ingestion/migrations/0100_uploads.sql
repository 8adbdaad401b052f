-- The `data` schema holds every dataset table; the reader role can only SELECT from them.
CREATE SCHEMA IF NOT EXISTS data;

DO $$
BEGIN
    CREATE ROLE opendata_reader NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

GRANT USAGE ON SCHEMA data TO opendata_reader;

-- Uploads and their reports.
CREATE TABLE uploads (
    id                    uuid PRIMARY KEY,
    dataset_id            text        NOT NULL,
    agency_id             text        NOT NULL,
    mode                  text        NOT NULL CHECK (mode IN ('replace', 'append', 'upsert')),
    state                 text        NOT NULL CHECK (state IN ('created', 'receiving', 'awaiting_schema', 'loaded', 'committed', 'failed', 'abandoned')),
    max_rejected_fraction double precision NOT NULL CHECK (max_rejected_fraction BETWEEN 0 AND 1),
    infer_schema          boolean     NOT NULL,
    schema                jsonb,
    inferred_schema       jsonb,
    file_columns          text[],
    base_version          bigint      NOT NULL,
    version               bigint,
    working_table         text        NOT NULL,
    rows_received         bigint      NOT NULL DEFAULT 0,
    rows_loaded           bigint      NOT NULL DEFAULT 0,
    rows_rejected         bigint      NOT NULL DEFAULT 0,
    bytes_received        bigint      NOT NULL DEFAULT 0,
    load_millis           bigint      NOT NULL DEFAULT 0,
    index_millis          bigint      NOT NULL DEFAULT 0,
    error                 text        NOT NULL DEFAULT '',
    created_by            text        NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    committed_at          timestamptz,
    table_dropped         boolean     NOT NULL DEFAULT false
);

CREATE INDEX uploads_dataset ON uploads (dataset_id, created_at);
CREATE INDEX uploads_open ON uploads (updated_at) WHERE state IN ('created', 'receiving', 'awaiting_schema', 'loaded');
CREATE INDEX uploads_to_drop ON uploads (id) WHERE state IN ('failed', 'abandoned') AND NOT table_dropped;

-- The raw file of an upload that asked for schema inference, kept until the schema is accepted.
CREATE TABLE upload_chunks (
    upload_id uuid   NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    seq       bigint NOT NULL,
    data      bytea  NOT NULL,
    PRIMARY KEY (upload_id, seq)
);

-- Rows that were not loaded, and why.
CREATE TABLE rejections (
    upload_id   uuid   NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    line        bigint NOT NULL,
    column_name text   NOT NULL,
    value       text   NOT NULL,
    reason      text   NOT NULL,
    PRIMARY KEY (upload_id, line)
);

-- Committed versions and the tables that hold them.
CREATE TABLE versions (
    dataset_id   text        NOT NULL,
    version      bigint      NOT NULL,
    table_name   text        NOT NULL,
    upload_id    uuid        NOT NULL REFERENCES uploads (id),
    row_count    bigint      NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz,
    dropped_at   timestamptz,
    PRIMARY KEY (dataset_id, version)
);

CREATE INDEX versions_retired ON versions (retired_at) WHERE retired_at IS NOT NULL AND dropped_at IS NULL;
