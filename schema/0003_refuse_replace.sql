-- INSERT OR REPLACE on an append-only table deletes the row it collides with, and that
-- delete fires the `*_no_delete` triggers only with recursive_triggers ON: sladesk's
-- own connections set it, a plain sqlite3 client does not. A BEFORE INSERT trigger
-- runs before any conflict resolution, so refusing an insert whose key exists closes
-- that path for every client. The program never inserts an existing key.
--
-- `events` is keyed twice (seq, and the event id): both are checked. `audit_log`
-- needs none: its chain trigger admits only seq = head + 1.

CREATE TRIGGER events_no_replace BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE id = NEW.id)
  OR (NEW.seq IS NOT NULL AND EXISTS (SELECT 1 FROM events WHERE seq = NEW.seq))
BEGIN SELECT RAISE(ABORT, 'events is append-only'); END;

CREATE TRIGGER agreement_versions_no_replace BEFORE INSERT ON agreement_versions
WHEN EXISTS (SELECT 1 FROM agreement_versions WHERE version = NEW.version)
BEGIN SELECT RAISE(ABORT, 'agreement_versions is append-only'); END;

CREATE TRIGGER agreements_no_replace BEFORE INSERT ON agreements
WHEN EXISTS (SELECT 1 FROM agreements WHERE version = NEW.version AND id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'agreements is append-only'); END;

CREATE TRIGGER overrides_no_replace BEFORE INSERT ON overrides
WHEN EXISTS (SELECT 1 FROM overrides WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'overrides is append-only'); END;

CREATE TRIGGER reviews_no_replace BEFORE INSERT ON reviews
WHEN EXISTS (SELECT 1 FROM reviews WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'reviews is append-only'); END;

CREATE TRIGGER role_grants_no_replace BEFORE INSERT ON role_grants
WHEN EXISTS (SELECT 1 FROM role_grants WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'role_grants is append-only'); END;
