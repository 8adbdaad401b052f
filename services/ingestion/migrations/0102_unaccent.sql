-- SoQL's unaccent() runs PostgreSQL's unaccent dictionary, kept beside the dataset tables so the
-- reader role finds it (the catalog calls data.unaccent('data.unaccent', ...)).
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA data;
