-- Alerts before the breach (docs/alerts.md): an outbox on the record.
-- Every table is append-only and covered by the audit log; state is derived:
--   an alert row is the intent (written before anything is sent), one per
--   (ticket, clock, cycle, level) and recipient; a message folds one recipient's
--   alerts (a digest when several) and carries the idempotency key sent with it;
--   alert_items says which message took which alert; an attempt records each
--   delivery try after it ends. A message without a 'sent' attempt is unfinished:
--   retried with backoff, or resent once after a crash with the same key.

CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    key          TEXT NOT NULL,              -- ticket|clock|cycle|level
    recipient    TEXT NOT NULL,              -- person:LOGIN or channel:ID
    ticket       TEXT NOT NULL,
    clock        TEXT NOT NULL CHECK (clock IN ('response','update','resolution')),
    cycle        INTEGER NOT NULL,
    level        TEXT NOT NULL,
    threshold_ts REAL NOT NULL,
    threshold_at TEXT NOT NULL,
    due_ts       REAL NOT NULL,
    assignee     TEXT,
    off_shift    INTEGER NOT NULL DEFAULT 0,
    ts           REAL NOT NULL,
    at           TEXT NOT NULL,
    UNIQUE (key, recipient)
);
CREATE INDEX alerts_ticket ON alerts(ticket, id);
CREATE INDEX alerts_ts ON alerts(ts);

CREATE TABLE alert_messages (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient TEXT NOT NULL,
    channel   TEXT NOT NULL,
    address   TEXT,                          -- a mail address for people
    idem_key  TEXT NOT NULL UNIQUE,           -- Message-ID / Idempotency-Key header
    alerts    INTEGER NOT NULL,               -- how many alerts it folds
    ts        REAL NOT NULL,
    at        TEXT NOT NULL
);
CREATE INDEX alert_messages_recipient ON alert_messages(recipient, ts);

CREATE TABLE alert_items (
    message_id INTEGER NOT NULL REFERENCES alert_messages(id),
    alert_id   INTEGER NOT NULL UNIQUE REFERENCES alerts(id),
    PRIMARY KEY (message_id, alert_id)
);

CREATE TABLE alert_attempts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL REFERENCES alert_messages(id),
    outcome    TEXT NOT NULL CHECK (outcome IN ('sent','failed','gave_up')),
    error      TEXT,
    ts         REAL NOT NULL,
    at         TEXT NOT NULL
);
CREATE INDEX alert_attempts_message ON alert_attempts(message_id, id);

CREATE TRIGGER alerts_no_update BEFORE UPDATE ON alerts BEGIN SELECT RAISE(ABORT, 'alerts is append-only'); END;
CREATE TRIGGER alerts_no_delete BEFORE DELETE ON alerts BEGIN SELECT RAISE(ABORT, 'alerts is append-only'); END;
CREATE TRIGGER alert_messages_no_update BEFORE UPDATE ON alert_messages BEGIN SELECT RAISE(ABORT, 'alert_messages is append-only'); END;
CREATE TRIGGER alert_messages_no_delete BEFORE DELETE ON alert_messages BEGIN SELECT RAISE(ABORT, 'alert_messages is append-only'); END;
CREATE TRIGGER alert_items_no_update BEFORE UPDATE ON alert_items BEGIN SELECT RAISE(ABORT, 'alert_items is append-only'); END;
CREATE TRIGGER alert_items_no_delete BEFORE DELETE ON alert_items BEGIN SELECT RAISE(ABORT, 'alert_items is append-only'); END;
CREATE TRIGGER alert_attempts_no_update BEFORE UPDATE ON alert_attempts BEGIN SELECT RAISE(ABORT, 'alert_attempts is append-only'); END;
CREATE TRIGGER alert_attempts_no_delete BEFORE DELETE ON alert_attempts BEGIN SELECT RAISE(ABORT, 'alert_attempts is append-only'); END;
-- INSERT OR REPLACE is refused as in 0003 (the program checks keys before inserting).
CREATE TRIGGER alerts_no_replace BEFORE INSERT ON alerts
WHEN (NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM alerts WHERE id = NEW.id))
  OR EXISTS (SELECT 1 FROM alerts WHERE key = NEW.key AND recipient = NEW.recipient)
BEGIN SELECT RAISE(ABORT, 'alerts is append-only'); END;
CREATE TRIGGER alert_messages_no_replace BEFORE INSERT ON alert_messages
WHEN (NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM alert_messages WHERE id = NEW.id))
  OR EXISTS (SELECT 1 FROM alert_messages WHERE idem_key = NEW.idem_key)
BEGIN SELECT RAISE(ABORT, 'alert_messages is append-only'); END;
CREATE TRIGGER alert_items_no_replace BEFORE INSERT ON alert_items
WHEN EXISTS (SELECT 1 FROM alert_items WHERE alert_id = NEW.alert_id)
BEGIN SELECT RAISE(ABORT, 'alert_items: the alert is already in a message'); END;
CREATE TRIGGER alert_attempts_no_replace BEFORE INSERT ON alert_attempts
WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM alert_attempts WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'alert_attempts is append-only'); END;
