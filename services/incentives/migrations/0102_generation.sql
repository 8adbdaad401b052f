-- A counter every change to the awards moves (one statement-level trigger), so summaries can be
-- cached and known current by reading one row.
CREATE TABLE awards_generation (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    generation  bigint NOT NULL
);
INSERT INTO awards_generation (singleton, generation) VALUES (true, 0);

CREATE FUNCTION next_awards_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE awards_generation SET generation = generation + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER awards_generation AFTER INSERT OR UPDATE OR DELETE ON awards
    FOR EACH STATEMENT EXECUTE FUNCTION next_awards_generation();
