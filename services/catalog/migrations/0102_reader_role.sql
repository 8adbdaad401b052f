-- Row queries run as `opendata_reader` (`SET LOCAL ROLE`), so the catalog's database user must be
-- a member of it. Done here rather than by hand, so a database owner that is not a superuser (as
-- on managed PostgreSQL) works from the first start: the role is created when missing (ingestion
-- creates it too; whichever migrates first) and granted to the user the catalog connects as.
DO $$
BEGIN
    CREATE ROLE opendata_reader NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

DO $$
BEGIN
    -- PostgreSQL 16 separates being a member from being allowed to SET ROLE to it.
    IF NOT pg_has_role(
        current_user,
        'opendata_reader',
        CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END
    ) THEN
        EXECUTE format('GRANT opendata_reader TO %I', current_user);
    END IF;
EXCEPTION
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'the catalog''s database user % cannot be made a member of opendata_reader, which row queries run as', current_user
            USING HINT = format('as a user allowed to, run: GRANT opendata_reader TO %I', current_user);
END
$$;
