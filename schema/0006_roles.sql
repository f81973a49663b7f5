-- Roles inside sladesk besides `lead` (docs/roles.md): `admin` loads agreements, grants
-- the admin and feed roles and changes desk settings; `feed` is the account that
-- imports the ticketing system's events. Everyone else is an agent.
--
-- SQLite cannot change a CHECK constraint in place, so `role_grants` is rebuilt with
-- the same columns and rows (ids and values unchanged: the audit digests that cover
-- them still match). DROP TABLE fires no trigger. The first admin of a database that
-- had none is recorded by the program right after this script (the first lead, else
-- the account of the first audit row), with its audit row: SQL cannot hash.

CREATE TABLE role_grants_new (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user    TEXT NOT NULL,
    role    TEXT NOT NULL CHECK (role IN ('lead', 'admin', 'feed')),
    action  TEXT NOT NULL CHECK (action IN ('grant','revoke')),
    by_user TEXT NOT NULL,
    ts      REAL NOT NULL,
    at      TEXT NOT NULL
);

INSERT INTO role_grants_new (id, user, role, action, by_user, ts, at)
SELECT id, user, role, action, by_user, ts, at FROM role_grants ORDER BY id;

DROP TABLE role_grants;

ALTER TABLE role_grants_new RENAME TO role_grants;

CREATE INDEX role_grants_by_user ON role_grants (user, role, id);

CREATE TRIGGER role_grants_no_update BEFORE UPDATE ON role_grants
BEGIN SELECT RAISE(ABORT, 'role_grants is append-only'); END;

CREATE TRIGGER role_grants_no_delete BEFORE DELETE ON role_grants
BEGIN SELECT RAISE(ABORT, 'role_grants is append-only'); END;

CREATE TRIGGER role_grants_no_replace BEFORE INSERT ON role_grants
WHEN EXISTS (SELECT 1 FROM role_grants WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'role_grants is append-only'); END;
