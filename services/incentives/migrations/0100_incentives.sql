-- DECD's economic assistance (Executive Order 38): the programs registry, awards with every
-- revision, job reviews, and DRS's tax credit figures. Money is kept in cents (bigint).

CREATE TABLE programs (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    statutory_reference text NOT NULL DEFAULT '',
    assistance_types    text[] NOT NULL DEFAULT '{}',
    administering_agency text NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Narrow on purpose: summaries scan it whole. The values themselves are in award_values.
CREATE TABLE awards (
    id                      uuid PRIMARY KEY,
    revision                bigint NOT NULL,
    withdrawn               boolean NOT NULL DEFAULT false,
    withdrawn_reason        text NOT NULL DEFAULT '',
    -- columns the public queries filter, group and sum on, kept equal to award_values.fields
    fiscal_year             integer NOT NULL,
    company                 text NOT NULL,
    parent_company          text NOT NULL,
    municipality            text NOT NULL,
    industry                text NOT NULL,
    program_id              text NOT NULL REFERENCES programs (id),
    grant_cents             bigint NOT NULL CHECK (grant_cents >= 0),
    loan_cents              bigint NOT NULL CHECK (loan_cents >= 0),
    total_cents             bigint NOT NULL CHECK (total_cents >= 0),
    jobs_promised           bigint NOT NULL CHECK (jobs_promised >= 0),
    -- the latest job review, kept here for summaries
    latest_review_on        date,
    latest_actual_jobs      bigint,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    company_text            tsvector GENERATED ALWAYS AS
                                (to_tsvector('simple', company || ' ' || parent_company)) STORED
);

-- The current values of each award, as recorded or last corrected (see award_revisions for
-- every one).
CREATE TABLE award_values (
    award_id    uuid PRIMARY KEY REFERENCES awards (id),
    fields      jsonb NOT NULL
);

CREATE INDEX awards_company_text ON awards USING gin (company_text);
CREATE INDEX awards_order ON awards (fiscal_year DESC, company, id);
CREATE INDEX awards_municipality ON awards (municipality);
CREATE INDEX awards_program ON awards (program_id);

CREATE TABLE award_revisions (
    award_id    uuid NOT NULL REFERENCES awards (id),
    revision    bigint NOT NULL,
    change      text NOT NULL,
    fields      jsonb NOT NULL,
    actor_id    text NOT NULL,
    reason      text NOT NULL,
    at          timestamptz NOT NULL,
    PRIMARY KEY (award_id, revision)
);

CREATE TABLE job_reviews (
    award_id    uuid NOT NULL REFERENCES awards (id),
    seq         bigint NOT NULL,
    reviewed_on date NOT NULL,
    actual_jobs bigint NOT NULL CHECK (actual_jobs >= 0),
    notes       text NOT NULL DEFAULT '',
    actor_id    text NOT NULL,
    at          timestamptz NOT NULL,
    PRIMARY KEY (award_id, seq)
);

CREATE TABLE tax_credits (
    year                    integer NOT NULL,
    credit_type             text NOT NULL,
    tax_type                text NOT NULL,
    claim_count             bigint NOT NULL CHECK (claim_count >= 0),
    claimed_cents           bigint NOT NULL CHECK (claimed_cents >= 0),
    carried_forward_cents   bigint NOT NULL CHECK (carried_forward_cents >= 0),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (year, credit_type, tax_type)
);

-- History is never rewritten: revisions and reviews only grow.
CREATE FUNCTION refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'award history is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END $$;

CREATE TRIGGER award_revisions_append_only BEFORE UPDATE OR DELETE ON award_revisions
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER job_reviews_append_only BEFORE UPDATE OR DELETE ON job_reviews
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER award_revisions_no_truncate BEFORE TRUNCATE ON award_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER job_reviews_no_truncate BEFORE TRUNCATE ON job_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
