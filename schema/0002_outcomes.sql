-- Stored clock outcomes for reports (issue 6).
-- When a clock stops, its outcome is written in the same transaction as the event,
-- override or review that settled it (sladesk_tui.store.outcomes.refresh_outcomes),
-- so a month's report reads a few hundred rollup rows instead of replaying history.
-- Both tables are projections, not records: not append-only, not audited, and
-- recomputable from the log at any time (rebuild_outcomes).

-- One row per stopped clock (per cycle, for the update clock). `day` is the local
-- date of the stop in the agreement's calendar zone: a ticket counts in the period in
-- which its clock stopped. `adj_*` apply the overrides that count (pending and
-- approved), `raw_*` ignore them, and stay NULL while only the adjusted clock has
-- stopped (a `responded` override stops it before the raw clock).
CREATE TABLE outcomes (
    ticket            TEXT NOT NULL REFERENCES tickets(id),
    clock             TEXT NOT NULL CHECK (clock IN ('response','update','resolution')),
    cycle             INTEGER NOT NULL,          -- 0, or the update cycle's number from 1
    agreement_id      TEXT NOT NULL,
    agreement_version INTEGER NOT NULL,
    priority          TEXT NOT NULL,             -- in force when the clock stopped
    operator          TEXT NOT NULL,             -- assignee when it stopped, '' if none
    stopped_ts        REAL NOT NULL,
    day               TEXT NOT NULL,             -- local date (YYYY-MM-DD) of stopped_ts
    raw_state         TEXT CHECK (raw_state IS NULL OR raw_state IN ('met','breached')),
    raw_elapsed_s     REAL,
    raw_target_s      REAL,
    adj_state         TEXT NOT NULL CHECK (adj_state IN ('met','breached','exempt')),
    adj_elapsed_s     REAL NOT NULL,
    adj_target_s      REAL NOT NULL,
    PRIMARY KEY (ticket, clock, cycle)
) WITHOUT ROWID;

-- The daily rollup a report reads, kept equal to GROUP BY over `outcomes` by the
-- triggers below, whatever code writes the outcomes.
CREATE TABLE outcome_days (
    day               TEXT NOT NULL,
    agreement_id      TEXT NOT NULL,
    agreement_version INTEGER NOT NULL,
    priority          TEXT NOT NULL,
    clock             TEXT NOT NULL,
    operator          TEXT NOT NULL,
    n                 INTEGER NOT NULL,
    raw_met           INTEGER NOT NULL,
    raw_breached      INTEGER NOT NULL,
    adj_met           INTEGER NOT NULL,
    adj_breached      INTEGER NOT NULL,
    adj_exempt        INTEGER NOT NULL,
    PRIMARY KEY (day, agreement_id, agreement_version, priority, clock, operator)
) WITHOUT ROWID;

CREATE TRIGGER outcomes_rollup_insert AFTER INSERT ON outcomes BEGIN
    INSERT INTO outcome_days (day, agreement_id, agreement_version, priority, clock, operator,
                              n, raw_met, raw_breached, adj_met, adj_breached, adj_exempt)
    VALUES (NEW.day, NEW.agreement_id, NEW.agreement_version, NEW.priority, NEW.clock, NEW.operator,
            1, NEW.raw_state IS 'met', NEW.raw_state IS 'breached',
            NEW.adj_state = 'met', NEW.adj_state = 'breached', NEW.adj_state = 'exempt')
    ON CONFLICT (day, agreement_id, agreement_version, priority, clock, operator) DO UPDATE SET
        n = n + 1,
        raw_met = raw_met + excluded.raw_met,
        raw_breached = raw_breached + excluded.raw_breached,
        adj_met = adj_met + excluded.adj_met,
        adj_breached = adj_breached + excluded.adj_breached,
        adj_exempt = adj_exempt + excluded.adj_exempt;
END;

CREATE TRIGGER outcomes_rollup_delete AFTER DELETE ON outcomes BEGIN
    UPDATE outcome_days SET
        n = n - 1,
        raw_met = raw_met - (OLD.raw_state IS 'met'),
        raw_breached = raw_breached - (OLD.raw_state IS 'breached'),
        adj_met = adj_met - (OLD.adj_state = 'met'),
        adj_breached = adj_breached - (OLD.adj_state = 'breached'),
        adj_exempt = adj_exempt - (OLD.adj_state = 'exempt')
    WHERE day = OLD.day AND agreement_id = OLD.agreement_id AND agreement_version = OLD.agreement_version
      AND priority = OLD.priority AND clock = OLD.clock AND operator = OLD.operator;
    DELETE FROM outcome_days
    WHERE day = OLD.day AND agreement_id = OLD.agreement_id AND agreement_version = OLD.agreement_version
      AND priority = OLD.priority AND clock = OLD.clock AND operator = OLD.operator AND n = 0;
END;

-- Outcomes change by delete and insert only, so the rollup has a single path.
CREATE TRIGGER outcomes_no_update BEFORE UPDATE ON outcomes BEGIN
    SELECT RAISE(ABORT, 'outcomes change by delete and insert (the rollup follows them)');
END;

-- Country public holidays (`holidays = { country = ... }` calendars) as the `holidays`
-- package gave them when the agreements were loaded, one row per country, subdivision
-- and year. Lookups read these instead of importing the package (most of a second,
-- more than a lookup over SSH may take), and a later upgrade of the package never
-- moves a holiday under clocks already counted. A year missing here is computed by
-- the package when needed. `subdiv` is '' for a whole country.
CREATE TABLE holiday_dates (
    country TEXT NOT NULL,
    subdiv  TEXT NOT NULL,
    year    INTEGER NOT NULL,
    dates   TEXT NOT NULL,               -- JSON list of ISO dates
    PRIMARY KEY (country, subdiv, year)
) WITHOUT ROWID;
