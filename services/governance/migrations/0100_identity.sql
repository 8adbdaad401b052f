-- Agencies, principals with one role each, and API keys stored only as hashes.
CREATE TABLE agencies (
    id         text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{1,31}$'),
    name       text        NOT NULL CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE principals (
    id         uuid PRIMARY KEY,
    name       text        NOT NULL CHECK (name <> ''),
    role       text        NOT NULL CHECK (role IN ('cdo', 'ado', 'publisher', 'panel', 'admin')),
    agency_id  text REFERENCES agencies (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((role IN ('ado', 'publisher')) = (agency_id IS NOT NULL))
);

CREATE INDEX principals_agency ON principals (agency_id);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    principal_id uuid        NOT NULL REFERENCES principals (id),
    kind         text        NOT NULL CHECK (kind IN ('api_key', 'app_token')),
    prefix       text        NOT NULL,
    hash         bytea       NOT NULL UNIQUE,
    label        text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE INDEX api_keys_principal ON api_keys (principal_id);

-- Append-only record of identity changes: who did what to what, when and why.
CREATE TABLE audit_log (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id text        NOT NULL,
    action   text        NOT NULL,
    subject  text        NOT NULL,
    reason   text        NOT NULL DEFAULT '',
    details  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    at       timestamptz NOT NULL DEFAULT now()
);
