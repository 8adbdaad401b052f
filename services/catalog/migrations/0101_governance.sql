-- Visibility follows governance: the review state's effect on each dataset, and the revision of
-- the governance record last applied (older copies of a decision are ignored).
ALTER TABLE datasets
    ADD COLUMN withheld            boolean NOT NULL DEFAULT false,
    ADD COLUMN governance_revision bigint  NOT NULL DEFAULT 0;

CREATE INDEX datasets_disclosed ON datasets (id) WHERE publication_stage = 'published' OR withheld;
