-- Webhook deliveries (docs/sources.md): one row per delivery stored, so a retry of
-- the same delivery is recognised and answered without storing anything twice.
-- Append-only and covered by the audit chain like the events it brought.
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    source       TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    body_sha256  TEXT NOT NULL,
    received_ts  REAL NOT NULL,
    received_at  TEXT NOT NULL,
    what         TEXT NOT NULL,
    inserted     INTEGER NOT NULL,
    already_present INTEGER NOT NULL,
    UNIQUE (source, delivery_id)
);
CREATE TRIGGER deliveries_no_update BEFORE UPDATE ON deliveries BEGIN SELECT RAISE(ABORT, 'deliveries is append-only'); END;
CREATE TRIGGER deliveries_no_delete BEFORE DELETE ON deliveries BEGIN SELECT RAISE(ABORT, 'deliveries is append-only'); END;

-- Per source, the latest delivery and the latest refusal with its reason, for
-- `sladesk sources`. A status board, not a record: it is overwritten.
CREATE TABLE source_status (
    source              TEXT PRIMARY KEY,
    deliveries          INTEGER NOT NULL DEFAULT 0,
    refusals            INTEGER NOT NULL DEFAULT 0,
    last_delivery_ts    REAL,
    last_delivery_what  TEXT,
    last_refusal_ts     REAL,
    last_refusal_status INTEGER,
    last_refusal_reason TEXT
);
