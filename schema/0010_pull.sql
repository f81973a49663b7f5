-- The history puller's state per source (docs/pull.md).
--
-- `pull_cursors`: where the next pull of a source starts (RT: the id of the last
-- transaction stored). It moves in the same transaction as the events it covers, so
-- a pull cut off at any point resumes without a gap and, with the events' own
-- idempotency, without a duplicate.
CREATE TABLE pull_cursors (
    source TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    ts REAL NOT NULL,
    at TEXT NOT NULL
) STRICT;

-- `pull_problems`: the provider's tickets a pull could not store, one row per ticket
-- with the latest reason (an unmapped status, a queue not pulled, a history that does
-- not start with the creation...). `sladesk sources` lists them; a later pull that
-- stores the ticket removes its row. A status table, not a record: the record is the
-- events and the audit log.
CREATE TABLE pull_problems (
    source TEXT NOT NULL,
    provider_ticket TEXT NOT NULL,
    ticket TEXT NOT NULL,
    reason TEXT NOT NULL,
    first_ts REAL NOT NULL,
    last_ts REAL NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (source, provider_ticket)
) STRICT;
