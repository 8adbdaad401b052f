-- Generations made before diffs: the rows later versions began get their index (diffs within a
-- generation read them), as new generations have it from the start.
DO $$
DECLARE
    generation_name text;
    first_version   bigint;
BEGIN
    FOR generation_name, first_version IN
        SELECT generation, min(version) FROM versions
        WHERE generation IS NOT NULL GROUP BY generation
    LOOP
        IF to_regclass('data.' || quote_ident(generation_name)) IS NOT NULL THEN
            EXECUTE format(
                'CREATE INDEX ON data.%I (":from_version") WHERE ":from_version" > %s',
                generation_name, first_version);
        END IF;
    END LOOP;
END
$$;
