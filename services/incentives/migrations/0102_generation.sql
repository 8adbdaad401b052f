-- A counter every change to the awards or programs moves (statement-level triggers), so summaries
-- can be cached and known current by reading one row.
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
-- Program names label summaries and program kinds filter them.
CREATE TRIGGER programs_generation AFTER INSERT OR UPDATE OR DELETE ON programs
    FOR EACH STATEMENT EXECUTE FUNCTION next_awards_generation();
