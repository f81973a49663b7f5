-- sladesk schema, version 1.
-- Instants: `ts` columns are epoch seconds (UTC, REAL); `*_at` TEXT columns are the
-- same instant as ISO 8601 UTC ("2026-11-27T08:05:00.000000Z") for people reading
-- the file with the sqlite3 shell.
-- Append-only tables refuse UPDATE and DELETE by trigger; with recursive_triggers ON
-- (set on every connection) INSERT OR REPLACE is refused too.

-- Agreement files, each load a new version; the text is kept and re-parsed by core.
CREATE TABLE agreement_versions (
    version       INTEGER PRIMARY KEY,
    loaded_at     TEXT NOT NULL,
    loaded_ts     REAL NOT NULL,
    loaded_by     TEXT NOT NULL,
    source_name   TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    source_text   TEXT NOT NULL
);

-- The agreements of each version, for queries (which agreement covers a customer).
CREATE TABLE agreements (
    version     INTEGER NOT NULL REFERENCES agreement_versions(version),
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    customer    TEXT NOT NULL,
    services    TEXT NOT NULL DEFAULT '[]',   -- JSON list
    calendar    TEXT NOT NULL,
    valid_from  TEXT,                         -- local date, inclusive
    valid_until TEXT,                         -- local date, inclusive
    PRIMARY KEY (version, id)
);

-- Tickets: a projection of the events for fast reads, maintained in the same
-- transaction as the events that change it. Not append-only.
CREATE TABLE tickets (
    id                TEXT PRIMARY KEY,
    customer          TEXT NOT NULL,
    service           TEXT,
    title             TEXT NOT NULL,
    priority          TEXT NOT NULL,
    status            TEXT NOT NULL,           -- new/open/waiting/... ; resolved/closed when ended
    assignee          TEXT,
    agreement_id      TEXT,                    -- NULL: no agreement in force
    agreement_version INTEGER REFERENCES agreement_versions(version),
    no_agreement_reason TEXT,
    is_open           INTEGER NOT NULL DEFAULT 1,
    created_ts        REAL NOT NULL,
    updated_ts        REAL NOT NULL,
    ended_ts          REAL
);
CREATE INDEX tickets_open ON tickets(is_open, id);

-- Events: the ticket (and service) history of SPEC §4. Append-only.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order; ties in ts keep it
    id          TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    ticket      TEXT,                               -- NULL for outage_start/outage_end
    ts          REAL NOT NULL,
    at          TEXT NOT NULL,
    customer    TEXT,
    service     TEXT,
    priority    TEXT,
    title       TEXT,
    status      TEXT,
    assignee    TEXT,
    author      TEXT,
    agreement   TEXT,
    body        TEXT,
    digest      TEXT NOT NULL,   -- sha256 of the canonical JSON of the event's fields
    actor       TEXT NOT NULL,   -- login user who recorded it
    source      TEXT NOT NULL,   -- e.g. "import:events.jsonl", "tui", "cli", "demo"
    recorded_at TEXT NOT NULL
);
CREATE INDEX events_ticket ON events(ticket, ts, seq);
CREATE INDEX events_type_ts ON events(type, ts);

-- Overrides of SPEC §6. Append-only; status is derived from the latest review.
CREATE TABLE overrides (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket        TEXT NOT NULL REFERENCES tickets(id),
    kind          TEXT NOT NULL CHECK (kind IN ('hold','extend','exempt','responded','reprioritize','out_of_order')),
    clock         TEXT CHECK (clock IS NULL OR clock IN ('response','update','resolution')),
    ts            REAL NOT NULL,
    at            TEXT NOT NULL,
    until_ts      REAL,
    by_s          REAL,
    responded_ts  REAL,
    to_priority   TEXT,
    ahead_of      TEXT,
    reason        TEXT NOT NULL CHECK (reason IN ('customer_unreachable','third_party','customer_request','misclassified','major_incident','other')),
    justification TEXT NOT NULL,
    operator      TEXT NOT NULL,
    before_json   TEXT NOT NULL,
    after_json    TEXT NOT NULL
);
CREATE INDEX overrides_ticket ON overrides(ticket, id);

-- Reviews of overrides by team leads. Append-only; the latest review of an override wins.
CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    override_id INTEGER NOT NULL REFERENCES overrides(id),
    decision    TEXT NOT NULL CHECK (decision IN ('approved','rejected')),
    reviewer    TEXT NOT NULL,
    comment     TEXT,
    ts          REAL NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX reviews_override ON reviews(override_id, id);

-- Lead role grants and revocations. Append-only; the latest row per user wins.
CREATE TABLE role_grants (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user    TEXT NOT NULL,
    role    TEXT NOT NULL CHECK (role IN ('lead')),
    action  TEXT NOT NULL CHECK (action IN ('grant','revoke')),
    by_user TEXT NOT NULL,
    ts      REAL NOT NULL,
    at      TEXT NOT NULL
);

-- The hash-chained audit log, written only by sladesk_tui.store.audit. seq must be
-- head+1 and prev_hash the head's row_hash; row_hash = sha256(canonical JSON of every
-- other column, prev_hash included). `covers` (JSON list or NULL) records the rows of
-- append-only tables the write added: per range {"table", "first", "last", "count",
-- "columns", "digest"}, so `audit verify` also finds an event, override, review...
-- edited, removed or slipped in behind the program's back.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT,
    covers      TEXT,
    source      TEXT,
    app_version TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    row_hash    TEXT NOT NULL
);

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log)
  OR NEW.prev_hash IS NOT COALESCE(
        (SELECT row_hash FROM audit_log ORDER BY seq DESC LIMIT 1),
        '0000000000000000000000000000000000000000000000000000000000000000')
BEGIN
    SELECT RAISE(ABORT, 'audit_log: prev_hash is not the current head');
END;

CREATE TRIGGER agreement_versions_no_update BEFORE UPDATE ON agreement_versions BEGIN SELECT RAISE(ABORT, 'agreement_versions is append-only'); END;
CREATE TRIGGER agreement_versions_no_delete BEFORE DELETE ON agreement_versions BEGIN SELECT RAISE(ABORT, 'agreement_versions is append-only'); END;
CREATE TRIGGER agreements_no_update BEFORE UPDATE ON agreements BEGIN SELECT RAISE(ABORT, 'agreements is append-only'); END;
CREATE TRIGGER agreements_no_delete BEFORE DELETE ON agreements BEGIN SELECT RAISE(ABORT, 'agreements is append-only'); END;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events is append-only'); END;
CREATE TRIGGER overrides_no_update BEFORE UPDATE ON overrides BEGIN SELECT RAISE(ABORT, 'overrides is append-only'); END;
CREATE TRIGGER overrides_no_delete BEFORE DELETE ON overrides BEGIN SELECT RAISE(ABORT, 'overrides is append-only'); END;
CREATE TRIGGER reviews_no_update BEFORE UPDATE ON reviews BEGIN SELECT RAISE(ABORT, 'reviews is append-only'); END;
CREATE TRIGGER reviews_no_delete BEFORE DELETE ON reviews BEGIN SELECT RAISE(ABORT, 'reviews is append-only'); END;
CREATE TRIGGER role_grants_no_update BEFORE UPDATE ON role_grants BEGIN SELECT RAISE(ABORT, 'role_grants is append-only'); END;
CREATE TRIGGER role_grants_no_delete BEFORE DELETE ON role_grants BEGIN SELECT RAISE(ABORT, 'role_grants is append-only'); END;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
