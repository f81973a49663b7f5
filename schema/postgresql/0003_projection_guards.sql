-- The projections and the local events, guarded by the database (docs/postgresql.md,
-- "Roles and rules" and "Prevented, and detected"):
--
-- * The history puller's and the receiver's state (`sladesk_feed_tables()`:
--   pull_cursors, pull_problems, source_status) is written by a feed only.
-- * The report's daily rollup (`outcome_days`) is written by nobody but its trigger,
--   which now runs as the owner (SECURITY DEFINER): people keep it only by keeping
--   `outcomes`.
-- * `tickets` and `outcomes` change, for a person, only in a transaction that also
--   appended to that ticket's record (an event, an override, a review of one of its
--   overrides). The log tables' triggers note (transaction, ticket) in
--   `record_touches`, a table people cannot write; the projections' triggers look
--   there. A custom setting (set_config) could not serve as that mark: anyone may
--   set one.
-- * An event from the app (source 'tui') by a person: only the app's own types
--   (`sladesk_local_types()`, sladesk_tui.core.events.LOCAL_TYPES), under their own
--   name as author, dated within `sladesk_clock_tolerance_s()` of the server's clock,
--   and its recorded_at is the server's; an override's and a review's ts, and an
--   agreements version's loaded_ts, likewise.
-- * A sladesk role is granted only to a LOGIN role that is not one of the desk's
--   group roles.
--
-- The owner and superusers stay exempt (sladesk_exempt(), 0002): migrate-db copies
-- history as it was.

-- ---- lists the rules read (tests keep them equal to the Python ones) ------------------

-- How far an event's, override's or review's time may be from the server's clock,
-- either way, when a person records it: hosts kept by NTP agree within milliseconds;
-- five minutes (the usual bound of Kerberos, for the same reason) leaves room for a
-- host whose clock drifted and for a write that waited on the write lock, and no
-- room to date a reply before a due time that passed longer ago than that.
CREATE FUNCTION sladesk_clock_tolerance_s() RETURNS double precision
LANGUAGE sql IMMUTABLE
AS $$ SELECT 300.0::double precision $$;

-- The event types the app records (sladesk_tui.core.events.LOCAL_TYPES).
CREATE FUNCTION sladesk_local_types() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY['assign', 'priority', 'reopened', 'reply', 'resolved', 'status'] $$;

-- State of the feeds: written by a feed only (and the owner).
CREATE FUNCTION sladesk_feed_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY['pull_cursors', 'pull_problems', 'source_status'] $$;

-- Kept by triggers only: nobody but the owner has DML on them.
CREATE FUNCTION sladesk_kept_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY['outcome_days', 'record_touches'] $$;

-- The server's instant as the `*_at` columns spell it (store.instants.iso_utc): the
-- transaction's start, the same for every row of a write.
CREATE FUNCTION sladesk_recorded_at() RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

-- ---- which tickets this transaction appended to ---------------------------------------

-- (transaction, ticket) for every ticket whose record the transaction appended to;
-- '*' for a service event (an outage moves the clocks of many tickets; only a feed
-- records one). UNLOGGED: a mark means nothing after the transaction ends, and the
-- rows of finished transactions are deleted as new ones arrive.
CREATE UNLOGGED TABLE record_touches (
    xact   xid8 NOT NULL,
    ticket TEXT NOT NULL,
    PRIMARY KEY (xact, ticket)
);

-- AFTER INSERT on events, overrides, reviews: note the ticket, with the owner's rights
-- (people cannot write record_touches). For a person only: the owner's writes are not
-- checked, and migrate-db copies millions of rows.
CREATE FUNCTION sladesk_note_touch() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    tid text;
    me xid8;
BEGIN
    IF sladesk_exempt() THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'reviews' THEN
        SELECT o.ticket INTO tid FROM overrides o WHERE o.id = NEW.override_id;
    ELSE
        tid := coalesce(to_jsonb(NEW) ->> 'ticket', '*');
    END IF;
    me := pg_current_xact_id();
    -- A ticket's later events in the same transaction (an import's) find it marked.
    IF EXISTS (SELECT 1 FROM record_touches r WHERE r.xact = me AND r.ticket = tid) THEN
        RETURN NULL;
    END IF;
    -- Once per transaction: every transaction older than the snapshot's xmin has
    -- ended, and its marks go.
    IF NOT EXISTS (SELECT 1 FROM record_touches r WHERE r.xact = me) THEN
        DELETE FROM record_touches WHERE xact < pg_snapshot_xmin(pg_current_snapshot());
    END IF;
    INSERT INTO record_touches (xact, ticket) VALUES (me, tid) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

-- BEFORE INSERT, UPDATE, DELETE on tickets and outcomes; TG_ARGV[0]: the ticket column.
CREATE FUNCTION sladesk_projection_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    col text := TG_ARGV[0];
    ids text[];
    tid text;
BEGIN
    IF sladesk_exempt() THEN
        RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    ids := CASE TG_OP
        WHEN 'INSERT' THEN ARRAY[to_jsonb(NEW) ->> col]
        WHEN 'DELETE' THEN ARRAY[to_jsonb(OLD) ->> col]
        ELSE ARRAY[to_jsonb(OLD) ->> col, to_jsonb(NEW) ->> col] END;
    FOREACH tid IN ARRAY ids LOOP
        IF NOT EXISTS (SELECT 1 FROM record_touches r
                       WHERE r.xact = pg_current_xact_id() AND r.ticket IN (tid, '*')) THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
                '%s: ticket %s changes only with its record: no event, override or review of it was added in this transaction',
                TG_TABLE_NAME, tid);
        END IF;
    END LOOP;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE TRIGGER events_touch AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION sladesk_note_touch();
CREATE TRIGGER overrides_touch AFTER INSERT ON overrides
    FOR EACH ROW EXECUTE FUNCTION sladesk_note_touch();
CREATE TRIGGER reviews_touch AFTER INSERT ON reviews
    FOR EACH ROW EXECUTE FUNCTION sladesk_note_touch();
CREATE TRIGGER tickets_guard BEFORE INSERT OR UPDATE OR DELETE ON tickets
    FOR EACH ROW EXECUTE FUNCTION sladesk_projection_guard('id');
CREATE TRIGGER outcomes_guard BEFORE INSERT OR UPDATE OR DELETE ON outcomes
    FOR EACH ROW EXECUTE FUNCTION sladesk_projection_guard('ticket');
-- Row triggers do not fire on TRUNCATE; TRUNCATE is never granted to people, and
-- this refuses it to anyone but the owner besides.
CREATE FUNCTION sladesk_owner_truncates() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT sladesk_exempt() THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = format('%s: only the owner empties it', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER tickets_truncate BEFORE TRUNCATE ON tickets
    FOR EACH STATEMENT EXECUTE FUNCTION sladesk_owner_truncates();
CREATE TRIGGER outcomes_truncate BEFORE TRUNCATE ON outcomes
    FOR EACH STATEMENT EXECUTE FUNCTION sladesk_owner_truncates();

-- The rollup follows `outcomes` with the owner's rights: people have no DML on it.
ALTER FUNCTION sladesk_outcomes_rollup() SECURITY DEFINER;

-- ---- times and types a person may record ------------------------------------------------

-- A person's time on a log row is the server's, give or take the tolerance.
-- `what`: table.column, for the message.
CREATE FUNCTION sladesk_check_now(what text, ts double precision) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    off double precision := ts - extract(epoch FROM clock_timestamp());
BEGIN
    IF ts IS NULL OR abs(off) > sladesk_clock_tolerance_s() THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
            '%s: %s is %s s from the server''s clock (at most %s s either way): a person records the present',
            what, ts, round(off::numeric, 1), sladesk_clock_tolerance_s());
    END IF;
    IF clock_timestamp() - now() > make_interval(secs => sladesk_clock_tolerance_s()) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
            '%s: this transaction began more than %s s ago: a person records the present',
            what, sladesk_clock_tolerance_s());
    END IF;
END
$$;

CREATE FUNCTION sladesk_local_event_rules() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.source IS DISTINCT FROM 'tui' OR sladesk_exempt() THEN
        RETURN NEW;
    END IF;
    IF NOT (NEW.type = ANY (sladesk_local_types())) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
            'events: the app records no %s event (source tui: %s only)',
            NEW.type, array_to_string(sladesk_local_types(), ', '));
    END IF;
    -- The app acts on tickets the feed created: a person's event cannot conjure one
    -- (and with it, in the same transaction, a ticket row and outcomes of its own).
    IF NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = NEW.ticket) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
            'events: no ticket %s: the app records events of existing tickets only', coalesce(NEW.ticket, 'given'));
    END IF;
    IF NEW.author IS DISTINCT FROM session_user::text THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
            'events: %s may not record an app event by %s', session_user, coalesce(NEW.author, 'nobody'));
    END IF;
    PERFORM sladesk_check_now('events.ts', NEW.ts);
    NEW.recorded_at := sladesk_recorded_at();
    RETURN NEW;
END
$$;

-- TG_ARGV[0]: the column holding the row's instant (epoch seconds).
CREATE FUNCTION sladesk_present_rules() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT sladesk_exempt() THEN
        PERFORM sladesk_check_now(TG_TABLE_NAME || '.' || TG_ARGV[0], (to_jsonb(NEW) ->> TG_ARGV[0])::double precision);
    END IF;
    RETURN NEW;
END
$$;

-- Named to run after events_feed (triggers of one event fire in name order).
CREATE TRIGGER events_local BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION sladesk_local_event_rules();
-- The clocks read an override's ts (a hold from then) and a review's; the agreements
-- version in force at an instant is the newest loaded by then (store.agreements).
-- Role grants, desk settings and alerts carry times too, but no clock or report reads
-- them: their order is their id's.
CREATE TRIGGER overrides_present BEFORE INSERT ON overrides
    FOR EACH ROW EXECUTE FUNCTION sladesk_present_rules('ts');
CREATE TRIGGER reviews_present BEFORE INSERT ON reviews
    FOR EACH ROW EXECUTE FUNCTION sladesk_present_rules('ts');
CREATE TRIGGER agreement_versions_present BEFORE INSERT ON agreement_versions
    FOR EACH ROW EXECUTE FUNCTION sladesk_present_rules('loaded_ts');

-- ---- role grants name people ----------------------------------------------------------

-- A grant names a person: a LOGIN role, never one of the desk's group roles (which
-- would pass the role to every member). Before the role rules, which grant membership.
CREATE FUNCTION sladesk_grantee_rules() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    kind text;
BEGIN
    IF NEW.action <> 'grant' THEN
        RETURN NEW;
    END IF;
    FOREACH kind IN ARRAY ARRAY['owner', 'agent', 'lead', 'admin', 'feed'] LOOP
        IF NEW."user" = sladesk_group(kind) THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
                'role_grants: %s is a group role of this desk, not a person: sladesk roles are granted to people',
                NEW."user");
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = NEW."user" AND NOT rolcanlogin)
       AND NOT sladesk_exempt() THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
            'role_grants: %s cannot log in (NOLOGIN): sladesk roles are granted to people, each a LOGIN role',
            NEW."user");
    END IF;
    RETURN NEW;
END
$$;

-- "role_grants_grantee" sorts before "role_grants_rules": it runs first.
CREATE TRIGGER role_grants_grantee BEFORE INSERT ON role_grants
    FOR EACH ROW EXECUTE FUNCTION sladesk_grantee_rules();

-- Memberships never go to a group role, even from a log written before this rule.
CREATE OR REPLACE FUNCTION sladesk_sync_memberships() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    r record;
    is_member boolean;
    changed integer := 0;
BEGIN
    FOR r IN SELECT DISTINCT g."user" AS person, g.role FROM role_grants g
             JOIN pg_roles p ON p.rolname = g."user"
             WHERE NOT g."user" = ANY (ARRAY(SELECT sladesk_group(k)
                                              FROM unnest(ARRAY['owner', 'agent', 'lead', 'admin', 'feed']) k))
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

-- ---- privileges: feed tables to the feed, kept tables to nobody -----------------------

CREATE OR REPLACE FUNCTION sladesk_apply_privileges() RETURNS void
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
        ELSIF t.relname = ANY (sladesk_feed_tables()) THEN
            EXECUTE format('GRANT INSERT, UPDATE, DELETE ON TABLE %I TO %I', t.relname, sladesk_group('feed'));
        ELSIF t.relname = ANY (sladesk_kept_tables()) OR t.relname LIKE 'schema\_%' THEN
            NULL;  -- kept by the owner's triggers (or the migrations): SELECT only
        ELSE
            -- Projections kept by every writer (tickets, outcomes): their triggers
            -- let a person change a ticket's rows only along with its record.
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

SELECT sladesk_apply_privileges();
