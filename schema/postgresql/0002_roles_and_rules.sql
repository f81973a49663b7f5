-- The rules the database itself enforces on PostgreSQL (docs/postgresql.md, "Roles
-- and rules"), so they hold against a raw `psql` session as well as against sladesk:
--
-- * Group roles per database, named after it (database `sladesk`: `sladesk_owner`,
--   `sladesk_agent`, `sladesk_lead`, `sladesk_admin`, `sladesk_feed`), all NOLOGIN.
--   Every table and function belongs to `<db>_owner`, which nobody logs in as: an
--   owner could drop the triggers. A person is a LOGIN role of their own, a member
--   of `<db>_agent`; membership of lead/admin/feed follows the sladesk role log
--   (`role_grants`), kept in step by a trigger, never granted by hand.
-- * The log tables (`sladesk_log_tables()`) get SELECT and INSERT only; UPDATE,
--   DELETE and TRUNCATE are never granted. (0001's triggers refuse them too, and
--   refuse an operator column naming anyone but `session_user`.)
-- * A review only by a lead, never of one's own override; lead granted and revoked
--   only by a lead, admin and feed only by an admin, never the last admin or lead
--   (the rules of sladesk_tui/core/roles.py); agreements and desk settings only by
--   an admin; events from anywhere but the app (`source` 'tui') only by a feed, and
--   the app's clock-moving events not while local actions are off.
--
-- Superusers and members of `<db>_owner` are not bound by the rule triggers: they
-- can drop any trigger anyway, and `sladesk migrate-db` (run by the administrator)
-- copies history recorded under other names. They are who runs migrations.
--
-- Group roles are cluster-wide, so creating them needs CREATEROLE: this migration is
-- applied by the database's administrator, a superuser or the database's owner with
-- CREATEROLE (docs/postgresql.md, "Setting up"), who becomes a member of the owner
-- role.

DO $$
DECLARE
    db text := current_database();
    kind text;
BEGIN
    IF length(db) > 57 THEN
        RAISE EXCEPTION 'database name % is too long for its group roles (at most 57 characters)', db;
    END IF;
    FOREACH kind IN ARRAY ARRAY['owner', 'agent', 'lead', 'admin', 'feed'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = db || '_' || kind) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', db || '_' || kind);
        END IF;
    END LOOP;
    -- The owner's functions keep memberships in step with role_grants: they need
    -- the right to grant the three role groups.
    FOREACH kind IN ARRAY ARRAY['lead', 'admin', 'feed'] LOOP
        EXECUTE format('GRANT %I TO %I WITH ADMIN OPTION', db || '_' || kind, db || '_owner');
    END LOOP;
    -- The administrator applying this (a superuser, or the database's owner with
    -- CREATEROLE) becomes a member of the owner role: it may then hand the tables
    -- over to it, and runs later migrations as it.
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT %I TO %I', db || '_owner', current_user);
    END IF;
    EXECUTE format('GRANT CREATE, USAGE ON SCHEMA %I TO %I', current_schema(), db || '_owner');
END
$$;

-- ---- names and facts the rules read -------------------------------------------------

-- The tables that are a record (append-only, covered by the audit chain): the keys of
-- sladesk_tui.store.audit.COVERED_TABLES and audit_log (a test keeps them equal).
CREATE FUNCTION sladesk_log_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY[
    'agreement_versions', 'agreements', 'holiday_dates', 'events', 'overrides', 'reviews',
    'role_grants', 'desk_settings', 'deliveries', 'alerts', 'alert_messages', 'alert_items',
    'alert_attempts', 'audit_log'
] $$;

-- Which log tables each role group may insert into besides what every agent may.
CREATE FUNCTION sladesk_insert_grants() RETURNS TABLE (kind text, tbl text)
LANGUAGE sql IMMUTABLE
AS $$ VALUES
    ('agent', 'events'), ('agent', 'overrides'), ('agent', 'audit_log'),
    ('agent', 'alerts'), ('agent', 'alert_messages'), ('agent', 'alert_items'),
    ('agent', 'alert_attempts'),
    ('lead', 'reviews'), ('lead', 'role_grants'),
    ('admin', 'role_grants'), ('admin', 'agreement_versions'), ('admin', 'agreements'),
    ('admin', 'holiday_dates'), ('admin', 'desk_settings'),
    ('feed', 'deliveries')
$$;

-- `<db>_<kind>`: the group role of this database.
CREATE FUNCTION sladesk_group(kind text) RETURNS name
LANGUAGE sql STABLE
AS $$ SELECT (current_database() || '_' || kind)::name $$;

-- Whether the session is not bound by the rule triggers: a superuser or the owner.
CREATE FUNCTION sladesk_exempt() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
AS $$
    SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = session_user AND rolsuper)
        OR pg_has_role(session_user, sladesk_group('owner'), 'MEMBER')
$$;

-- Whether `who` holds sladesk role `r` now: their latest row for it is a grant.
CREATE FUNCTION sladesk_holds(who text, r text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
AS $$
    SELECT COALESCE(
        (SELECT g.action = 'grant' FROM role_grants g WHERE g."user" = who AND g.role = r
         ORDER BY g.id DESC LIMIT 1),
        false)
$$;

-- ---- privileges ---------------------------------------------------------------------

-- Owner, privileges and TRUNCATE guards for every table; re-run by any later migration
-- that adds a table (`SELECT sladesk_apply_privileges();` at its end).
CREATE FUNCTION sladesk_apply_privileges() RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    t record;
    logs text[] := sladesk_log_tables();
    agent name := sladesk_group('agent');
    g record;
    kind text;
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    -- No TEMPORARY: a temporary table named like one of ours would come first in
    -- the person's search_path (the functions below fix theirs, as a second wall).
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), agent);
    EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', current_schema());
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), agent);
    FOR t IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('ALTER TABLE %I OWNER TO %I', t.relname, sladesk_group('owner'));
        EXECUTE format('REVOKE ALL ON TABLE %I FROM PUBLIC', t.relname);
        FOREACH kind IN ARRAY ARRAY['agent', 'lead', 'admin', 'feed'] LOOP
            EXECUTE format('REVOKE ALL ON TABLE %I FROM %I', t.relname, sladesk_group(kind));
        END LOOP;
        EXECUTE format('GRANT SELECT ON TABLE %I TO %I', t.relname, agent);
        IF t.relname = ANY (logs) THEN
            IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = t.relname::regclass
                           AND tgname = t.relname || '_no_truncate') THEN
                EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT'
                               ' EXECUTE FUNCTION sladesk_append_only()', t.relname || '_no_truncate', t.relname);
            END IF;
        ELSIF t.relname NOT LIKE 'schema\_%' THEN
            -- Projections (tickets, outcomes, search, status boards): kept in step by
            -- every writer, rebuilt from the record, so everyone may change them.
            EXECUTE format('GRANT INSERT, UPDATE, DELETE ON TABLE %I TO %I', t.relname, agent);
        END IF;
    END LOOP;
    FOR g IN SELECT * FROM sladesk_insert_grants() LOOP
        IF to_regclass(g.tbl) IS NOT NULL THEN
            EXECUTE format('GRANT INSERT ON TABLE %I TO %I', g.tbl, sladesk_group(g.kind));
        END IF;
    END LOOP;
    FOR t IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'S'
    LOOP
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %I TO %I, %I, %I, %I', t.relname,
                       agent, sladesk_group('lead'), sladesk_group('admin'), sladesk_group('feed'));
    END LOOP;
    FOR t IN SELECT p.oid::regprocedure AS fn, p.prosecdef OR p.prorettype = 'trigger'::regtype AS guarded
             FROM pg_proc p
             WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'sladesk\_%'
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO %I', t.fn, sladesk_group('owner'));
        -- Fixed search_path, pg_temp last, for the triggers and SECURITY DEFINER
        -- functions: a trigger reading `audit_log` or `overrides` must read ours,
        -- never a same-named table of the session's (a definer one runs with the
        -- owner's rights besides). Pure helpers (sladesk_fold) keep the caller's.
        IF t.guarded THEN
            EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', t.fn, current_schema());
        END IF;
    END LOOP;
    EXECUTE 'REVOKE EXECUTE ON FUNCTION sladesk_sync_memberships() FROM PUBLIC';
    EXECUTE 'REVOKE EXECUTE ON FUNCTION sladesk_apply_privileges() FROM PUBLIC';
END
$$;

-- ---- triggers -----------------------------------------------------------------------

-- The role the trigger's argument names is needed for this insert.
CREATE FUNCTION sladesk_needs_role() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT sladesk_holds(session_user, TG_ARGV[0]) AND NOT sladesk_exempt() THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format('%s: %s does not hold the %s role', TG_TABLE_NAME, session_user, TG_ARGV[0]);
    END IF;
    RETURN NEW;
END
$$;

-- The app's own events (source 'tui', sladesk_tui.core.events.LOCAL_SOURCE) by anyone;
-- its clock-moving ones (LOCAL_CLOCK_TYPES) not while an admin has set local-actions
-- off (docs/roles.md); everything else only by a feed.
CREATE FUNCTION sladesk_event_rules() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF sladesk_exempt() THEN
        RETURN NEW;
    END IF;
    IF NEW.source IS DISTINCT FROM 'tui' AND NOT sladesk_holds(session_user, 'feed') THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format('events: only a feed account imports events (source %s), and %s does not hold the feed role',
                                      NEW.source, session_user);
    END IF;
    IF NEW.source = 'tui' AND NEW.type IN ('reply', 'status', 'priority', 'resolved', 'reopened')
       AND (SELECT d.value FROM desk_settings d WHERE d.key = 'local-actions' ORDER BY d.id DESC LIMIT 1) = 'off' THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
            'events: local actions are off on this desk: a %s from the app is refused', NEW.type);
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION sladesk_review_rules() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF sladesk_exempt() THEN
        RETURN NEW;
    END IF;
    IF NOT sladesk_holds(session_user, 'lead') THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format('reviews: %s is not a lead: only a lead reviews overrides', session_user);
    END IF;
    IF EXISTS (SELECT 1 FROM overrides o WHERE o.id = NEW.override_id AND o.operator = session_user) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format('reviews: %s may not review their own override %s', session_user, NEW.override_id);
    END IF;
    RETURN NEW;
END
$$;

-- Who grants what (sladesk_tui.core.roles.GRANTED_BY), the last admin and lead kept,
-- and the person's membership of the role group kept in step.
CREATE FUNCTION sladesk_role_rules() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    granter text := CASE NEW.role WHEN 'lead' THEN 'lead' ELSE 'admin' END;
    granter_title text := CASE NEW.role WHEN 'lead' THEN 'a lead' ELSE 'an admin' END;
    exempt boolean := sladesk_exempt();
    person_exists boolean := EXISTS (SELECT 1 FROM pg_roles WHERE rolname = NEW."user");
BEGIN
    -- The same lock as every sladesk writer (store.pg.WRITE_LOCK_KEY): two revokes
    -- from raw sessions cannot both see another holder left.
    PERFORM pg_advisory_xact_lock(x'51ADE5C00001'::bigint);
    IF NOT exempt THEN
        IF NOT sladesk_holds(session_user, granter) THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format('role_grants: only %s may %s the %s role, and %s is not %s',
                                          granter_title, NEW.action, NEW.role, session_user, granter_title);
        END IF;
        IF NEW.action = 'grant' AND sladesk_holds(NEW."user", NEW.role) THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format('role_grants: %s already holds the %s role', NEW."user", NEW.role);
        END IF;
        IF NEW.action = 'revoke' AND NOT sladesk_holds(NEW."user", NEW.role) THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format('role_grants: %s does not hold the %s role', NEW."user", NEW.role);
        END IF;
        IF NEW.action = 'revoke' AND NEW.role IN ('admin', 'lead') AND NOT EXISTS (
            SELECT 1 FROM role_grants g
            WHERE g.role = NEW.role AND g."user" <> NEW."user" AND sladesk_holds(g."user", NEW.role)
        ) THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format('role_grants: %s is the last %s', NEW."user", NEW.role);
        END IF;
        IF NOT person_exists THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
                'role_grants: %s has no PostgreSQL role; the administrator creates it first: CREATE ROLE %I LOGIN IN ROLE %I',
                NEW."user", NEW."user", sladesk_group('agent'));
        END IF;
    END IF;
    IF person_exists THEN
        IF NEW.action = 'grant' THEN
            EXECUTE format('GRANT %I TO %I', sladesk_group(NEW.role), NEW."user");
        ELSE
            EXECUTE format('REVOKE %I FROM %I', sladesk_group(NEW.role), NEW."user");
        END IF;
    END IF;
    RETURN NEW;
END
$$;

-- Memberships of the role groups as role_grants says, for every existing person role:
-- run by the administrator after creating roles for people already named in the log
-- (or after `sladesk migrate-db`). Returns how many memberships changed.
CREATE FUNCTION sladesk_sync_memberships() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    r record;
    is_member boolean;
    changed integer := 0;
BEGIN
    FOR r IN SELECT DISTINCT g."user" AS person, g.role FROM role_grants g
             JOIN pg_roles p ON p.rolname = g."user"
    LOOP
        is_member := EXISTS (
            SELECT 1 FROM pg_auth_members m
            WHERE m.roleid = sladesk_group(r.role)::regrole AND m.member = r.person::regrole);
        IF sladesk_holds(r.person, r.role) AND NOT is_member THEN
            EXECUTE format('GRANT %I TO %I', sladesk_group(r.role), r.person);
            changed := changed + 1;
        ELSIF NOT sladesk_holds(r.person, r.role) AND is_member THEN
            EXECUTE format('REVOKE %I FROM %I', sladesk_group(r.role), r.person);
            changed := changed + 1;
        END IF;
    END LOOP;
    RETURN changed;
END
$$;

CREATE TRIGGER events_feed BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION sladesk_event_rules();
CREATE TRIGGER reviews_lead BEFORE INSERT ON reviews
    FOR EACH ROW EXECUTE FUNCTION sladesk_review_rules();
CREATE TRIGGER role_grants_rules BEFORE INSERT ON role_grants
    FOR EACH ROW EXECUTE FUNCTION sladesk_role_rules();
CREATE TRIGGER agreement_versions_admin BEFORE INSERT ON agreement_versions
    FOR EACH ROW EXECUTE FUNCTION sladesk_needs_role('admin');
CREATE TRIGGER agreements_admin BEFORE INSERT ON agreements
    FOR EACH ROW EXECUTE FUNCTION sladesk_needs_role('admin');
CREATE TRIGGER holiday_dates_admin BEFORE INSERT ON holiday_dates
    FOR EACH ROW EXECUTE FUNCTION sladesk_needs_role('admin');
CREATE TRIGGER desk_settings_admin BEFORE INSERT ON desk_settings
    FOR EACH ROW EXECUTE FUNCTION sladesk_needs_role('admin');
CREATE TRIGGER deliveries_feed BEFORE INSERT ON deliveries
    FOR EACH ROW EXECUTE FUNCTION sladesk_needs_role('feed');

SELECT sladesk_apply_privileges();
