-- The per-row checks of 0005 and 0003, the same rules for less work on every row a
-- person inserts (a feed's import: a million events; docs/postgresql.md, "What the
-- rules cost"). Measured with benchmarks/pg_guard_bench.py: 0005 had taken a feed's
-- import from 8 % to 16 % slower than the owner's.
--
-- * The id check asked the catalog for the column's sequence on every row
--   (pg_get_serial_sequence) and turned the whole row into jsonb to read one column.
--   The trigger is now given the sequence's name when it is created, reads the column
--   by name, and asks whether the session is exempt only when the id was not drawn
--   (the owner's migrate-db gives ids; anyone else is refused then).
-- * The projection guard read the ticket column through jsonb too.

-- ---- ids from their sequences -----------------------------------------------------------

-- BEFORE INSERT; TG_ARGV[0]: the identity column (seq or id), TG_ARGV[1]: its sequence.
CREATE OR REPLACE FUNCTION sladesk_id_from_sequence() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    given bigint;
    drawn bigint;
BEGIN
    -- Every identity column is `seq` (events) or `id`; a branch not taken is never
    -- compiled against the table, so `NEW.seq` is read only where it exists.
    IF TG_ARGV[0] = 'seq' THEN
        given := NEW.seq;
    ELSE
        given := NEW.id;
    END IF;
    BEGIN
        drawn := currval(TG_ARGV[1]::regclass);
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
        drawn := NULL;  -- no value drawn in this session: the id was given
    END;
    IF drawn IS NOT DISTINCT FROM given OR sladesk_exempt() THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
        '%s: %s %s was given, not drawn from its sequence: ids are the database''s',
        TG_TABLE_NAME, TG_ARGV[0], given);
END
$$;

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT c.relname, a.attname FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
               AND a.attidentity <> '' AND NOT a.attisdropped
    LOOP
        IF t.attname NOT IN ('seq', 'id') THEN
            RAISE EXCEPTION 'identity column %.% is neither seq nor id: sladesk_id_from_sequence cannot read it',
                t.relname, t.attname;
        END IF;
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t.relname || '_a_ids', t.relname);
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %I FOR EACH ROW'
                       ' EXECUTE FUNCTION sladesk_id_from_sequence(%L, %L)',
                       t.relname || '_a_ids', t.relname, t.attname,
                       pg_get_serial_sequence(format('%I.%I', current_schema(), t.relname), t.attname));
    END LOOP;
END
$$;

-- ---- the projection guard ---------------------------------------------------------------

-- BEFORE INSERT, UPDATE, DELETE on tickets and outcomes; TG_ARGV[0]: the ticket column
-- (`id` on tickets, `ticket` on outcomes).
CREATE OR REPLACE FUNCTION sladesk_projection_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    ids text[];
    tid text;
BEGIN
    IF sladesk_exempt() THEN
        RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_ARGV[0] = 'id' THEN
        ids := CASE TG_OP
            WHEN 'INSERT' THEN ARRAY[NEW.id]
            WHEN 'DELETE' THEN ARRAY[OLD.id]
            ELSE ARRAY[OLD.id, NEW.id] END;
    ELSE
        ids := CASE TG_OP
            WHEN 'INSERT' THEN ARRAY[NEW.ticket]
            WHEN 'DELETE' THEN ARRAY[OLD.ticket]
            ELSE ARRAY[OLD.ticket, NEW.ticket] END;
    END IF;
    FOREACH tid IN ARRAY ids LOOP
        IF NOT EXISTS (SELECT 1 FROM record_touches r
                       WHERE r.xact = pg_current_xact_id() AND r.ticket IN (tid, '')) THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
                '%s: ticket %s changes only with its record: no event, override or review of it was added in this transaction',
                TG_TABLE_NAME, tid);
        END IF;
    END LOOP;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- Owner and fixed search_path for the replaced functions (as for every sladesk function).
SELECT sladesk_apply_privileges();
