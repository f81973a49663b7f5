-- People read the sequences, they do not draw from them (docs/postgresql.md, "Prevented,
-- and detected"). 0002 gave every group USAGE on each sequence, so a person could call
-- nextval: ids stayed the database's (0005), but numbers drawn between a writer's rows
-- split its audit row's cover into a range per row (the importer and the notifier cover
-- exactly the ids their rows were given). An identity column's default draws without
-- any privilege on its sequence; currval (0005's id check) and lastval (the app's new
-- row's id) need only SELECT.
--
-- The grants live in sladesk_apply_privileges(), which later migrations call again: it
-- keeps its body under another name and the new function takes USAGE back after it.

ALTER FUNCTION sladesk_apply_privileges() RENAME TO sladesk_apply_privileges_grants;

CREATE FUNCTION sladesk_apply_privileges() RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    t record;
    kind text;
BEGIN
    PERFORM sladesk_apply_privileges_grants();
    FOR t IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'S'
    LOOP
        FOREACH kind IN ARRAY ARRAY['agent', 'lead', 'admin', 'feed'] LOOP
            EXECUTE format('REVOKE USAGE ON SEQUENCE %I FROM %I', t.relname, sladesk_group(kind));
        END LOOP;
    END LOOP;
    EXECUTE 'REVOKE EXECUTE ON FUNCTION sladesk_apply_privileges() FROM PUBLIC';
END
$$;

SELECT sladesk_apply_privileges();
