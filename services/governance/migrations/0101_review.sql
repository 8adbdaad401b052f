-- The data inventory: every dataset an agency holds, published or not, with where it is in the
-- review workflow of Executive Order 39, its access level and, when not public, why.
CREATE TABLE inventory (
    dataset_id           text PRIMARY KEY,
    agency_id            text        NOT NULL,
    title                text        NOT NULL DEFAULT '',
    category             text        NOT NULL DEFAULT '',
    state                text        NOT NULL DEFAULT 'inventoried' CHECK (state IN (
        'inventoried', 'nominated', 'under_review', 'approved', 'published', 'withheld', 'retired')),
    access_level         text        NOT NULL DEFAULT 'public' CHECK (access_level IN (
        'public', 'restricted public', 'non-public')),
    rights               text        NOT NULL DEFAULT '',
    accrual_periodicity  text        NOT NULL DEFAULT '',
    justification        text        NOT NULL DEFAULT '',
    withholding_ground   text CHECK (withholding_ground IN (
        'violates_law', 'endangers_public', 'hinders_government', 'undue_burden')),
    successor_dataset_id text        NOT NULL DEFAULT '',
    public               boolean     NOT NULL DEFAULT false,
    revision             bigint      NOT NULL DEFAULT 0,
    retired_at           timestamptz,
    -- When the catalog last reported the dataset (its newest metadata or data change), so an older
    -- event never overwrites a newer one.
    catalog_seen_at      timestamptz NOT NULL DEFAULT '-infinity',
    last_data_update     timestamptz,
    -- The due date a `dataset_stale` event was sent for, so each lapse is announced once.
    stale_announced_due  timestamptz,
    deleted              boolean     NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'withheld') = (withholding_ground IS NOT NULL))
);

CREATE INDEX inventory_agency ON inventory (agency_id, dataset_id);
CREATE INDEX inventory_retired ON inventory (retired_at) WHERE state = 'retired' AND public;

-- Every transition of every record.
CREATE TABLE transitions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset_id text        NOT NULL REFERENCES inventory (dataset_id),
    from_state text        NOT NULL,
    to_state   text        NOT NULL,
    actor_id   text        NOT NULL,
    reason     text        NOT NULL DEFAULT '',
    at         timestamptz NOT NULL
);

CREATE INDEX transitions_dataset ON transitions (dataset_id, id);

-- The audit log and the transitions are append-only: no role may change or remove an entry. The
-- triggers hold even for the table's owner; in production the service role should also lack the
-- privileges (REVOKE below), with a separate role owning the schema.
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER transitions_append_only BEFORE UPDATE OR DELETE ON transitions
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER transitions_no_truncate BEFORE TRUNCATE ON transitions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, transitions FROM PUBLIC;
