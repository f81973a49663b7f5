-- The country-holiday snapshot (0002's `holiday_dates`) moves clocks as surely as the
-- agreements do, so it is kept like them: append-only, enforced here, and each row
-- covered by the audit row of the agreements load that stored it, through the new
-- `version` column (the agreements version of that load, one audit range per load).
-- `sladesk audit verify` then finds a holiday row edited, deleted or slipped in.
--
-- Rows stored before this migration were never audited and cannot be covered now
-- (SQL has no sha256), so they are dropped rather than carried over unverifiable.
-- Nothing is lost that cannot be recomputed: until the next load stores them
-- again, a year not in the snapshot is computed by the `holidays` package.

DROP TABLE holiday_dates;

CREATE TABLE holiday_dates (
    version INTEGER NOT NULL REFERENCES agreement_versions(version),
    country TEXT NOT NULL,
    subdiv  TEXT NOT NULL,               -- '' for a whole country
    year    INTEGER NOT NULL,
    dates   TEXT NOT NULL,               -- JSON list of ISO dates
    PRIMARY KEY (country, subdiv, year)
);

CREATE INDEX holiday_dates_by_version ON holiday_dates (version);

CREATE TRIGGER holiday_dates_no_update BEFORE UPDATE ON holiday_dates
BEGIN SELECT RAISE(ABORT, 'holiday_dates is append-only'); END;

CREATE TRIGGER holiday_dates_no_delete BEFORE DELETE ON holiday_dates
BEGIN SELECT RAISE(ABORT, 'holiday_dates is append-only'); END;

-- As in 0003: INSERT OR REPLACE would delete the row it collides with.
CREATE TRIGGER holiday_dates_no_replace BEFORE INSERT ON holiday_dates
WHEN EXISTS (SELECT 1 FROM holiday_dates WHERE country = NEW.country AND subdiv = NEW.subdiv AND year = NEW.year)
BEGIN SELECT RAISE(ABORT, 'holiday_dates is append-only'); END;
