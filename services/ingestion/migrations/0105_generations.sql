-- Versions since generations: the generation table each version's view selects from. Null for
-- versions committed before, whose table holds their rows alone.
ALTER TABLE versions ADD COLUMN generation text;
CREATE INDEX versions_generation ON versions (generation) WHERE generation IS NOT NULL;
