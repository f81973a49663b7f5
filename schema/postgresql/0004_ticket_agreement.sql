-- A ticket keeps the agreement it was created under (docs/postgresql.md, "Prevented,
-- and detected").
--
-- The agreement and its version are chosen once, when a feed stores the ticket's
-- `created` event, from the agreements loaded then; no later write of the program
-- changes them, and no replay of the record gives them back, so `audit verify`'s
-- outcome check takes them as stored. 0003 lets a person change a ticket's row along
-- with its record (a reply moves its clocks); without this, that same transaction
-- could also move the ticket to a laxer agreement, or delete and re-create its row
-- under one, and recompute its outcomes to match. For anyone but the owner:
--
-- * the id, agreement, agreement version and the reason for having none never change;
-- * a ticket's row is never deleted;
-- * a ticket's row is created by a feed only (people create no tickets: their app
--   events go to existing ones, 0003).

CREATE FUNCTION sladesk_ticket_agreement_rules() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF sladesk_exempt() THEN
        RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
            'tickets: ticket %s stays: a ticket''s row is never deleted', OLD.id);
    ELSIF TG_OP = 'INSERT' THEN
        IF NOT sladesk_holds(session_user, 'feed') THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
                'tickets: only a feed creates a ticket (%s)', NEW.id);
        END IF;
    ELSIF NEW.id IS DISTINCT FROM OLD.id
          OR NEW.agreement_id IS DISTINCT FROM OLD.agreement_id
          OR NEW.agreement_version IS DISTINCT FROM OLD.agreement_version
          OR NEW.no_agreement_reason IS DISTINCT FROM OLD.no_agreement_reason THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format(
            'tickets: ticket %s keeps its id and the agreement it was created under (%s, version %s)',
            OLD.id, coalesce(OLD.agreement_id, 'none'), coalesce(OLD.agreement_version::text, 'none'));
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- "tickets_agreement" sorts before "tickets_guard" (0003): this refusal comes first.
CREATE TRIGGER tickets_agreement BEFORE INSERT OR UPDATE OR DELETE ON tickets
    FOR EACH ROW EXECUTE FUNCTION sladesk_ticket_agreement_rules();

-- Owner and fixed search_path for the new function (as for every sladesk function).
SELECT sladesk_apply_privileges();
