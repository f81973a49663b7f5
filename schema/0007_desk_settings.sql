-- Desk settings an admin changes (docs/roles.md): append-only, each change covered by
-- its audit row; a key's latest row decides, and a key never set has its default.
-- `local-actions` off: agents' own replies, statuses, priorities, resolutions and
-- reopenings in the app are refused, the ticketing system being the one record.

CREATE TABLE desk_settings (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    key     TEXT NOT NULL CHECK (key IN ('local-actions')),
    value   TEXT NOT NULL,
    by_user TEXT NOT NULL,
    ts      REAL NOT NULL,
    at      TEXT NOT NULL
);

CREATE INDEX desk_settings_by_key ON desk_settings (key, id);

CREATE TRIGGER desk_settings_no_update BEFORE UPDATE ON desk_settings
BEGIN SELECT RAISE(ABORT, 'desk_settings is append-only'); END;

CREATE TRIGGER desk_settings_no_delete BEFORE DELETE ON desk_settings
BEGIN SELECT RAISE(ABORT, 'desk_settings is append-only'); END;

CREATE TRIGGER desk_settings_no_replace BEFORE INSERT ON desk_settings
WHEN EXISTS (SELECT 1 FROM desk_settings WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'desk_settings is append-only'); END;

-- The leads' figures count each agent's clock-moving local actions (events the app
-- recorded, source 'tui'): a small partial index keeps that off a scan of every event.
CREATE INDEX events_local ON events (actor, ts) WHERE source = 'tui';
