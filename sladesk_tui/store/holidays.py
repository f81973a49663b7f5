"""The country-holiday snapshot: taken when agreements are loaded, read with them.

`holidays = { country = "DE", subdiv = "BE" }` calendars need the `holidays` package,
whose import alone takes most of a second: more than a whole `sladesk queue` over
SSH may. So when an agreements file is loaded, the holidays of its countries are
computed for the years its agreements can need and stored (`holiday_dates`,
schema/0004_holiday_dates_log.sql); readers build a `HolidaySnapshot` from them that
goes with the parsed agreements into every calendar. A stored year is never
recomputed: upgrading the package must not move a holiday under clocks that were
already counted. The rows are append-only and each load's rows are covered by its
audit row (key: the agreements version of the load).

The years an agreement needs are its validity plus one year on each side (a ticket
created on the last day still runs into the next year); an open end reaches the edge
of the accepted instants (`core.instants`: 1970 and 2199), so backfilled history and
far-future tickets are covered too. A calendar built from a snapshot counts no country
holiday in a year the snapshot lacks (only its `extra` dates): lookups never import
the package and never compute a year live (docs/reports.md, "Country holidays").
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import TYPE_CHECKING

from sladesk_tui.core.instants import EARLIEST_YEAR, LATEST_YEAR
from sladesk_tui.store.backend import Connection

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import AgreementSet
    from sladesk_tui.core.calendar import HolidaySnapshot

Rows = tuple[tuple[str, str, int, str], ...]


def snapshot_holidays(conn: Connection, aset: AgreementSet, version: int) -> int:
    """Store the holidays `aset`'s country calendars can need, as rows of agreements
    `version` (inside the caller's write transaction, with the load, whose audit row
    must cover them); return the years added."""
    from sladesk_tui.core.calendar import country_holidays

    added = 0
    for cid, cdef in aset.calendars.items():
        if cdef.holiday_country is None:
            continue
        spans = [needed_years(a.valid_from, a.valid_until) for a in aset.agreements if a.calendar == cid]
        if not spans:
            continue  # a calendar no agreement uses counts no clock
        first, last = min(f for f, _ in spans), max(last for _, last in spans)
        subdiv = cdef.holiday_subdiv or ""
        have = {
            r[0]
            for r in conn.execute(
                "SELECT year FROM holiday_dates WHERE country = ? AND subdiv = ?",
                (cdef.holiday_country, subdiv),
            )
        }
        for year in range(first, last + 1):
            if year in have:
                continue
            dates = sorted(country_holidays(cdef.holiday_country, cdef.holiday_subdiv, year))
            conn.execute(
                "INSERT INTO holiday_dates (version, country, subdiv, year, dates) VALUES (?, ?, ?, ?, ?)",
                (version, cdef.holiday_country, subdiv, year, json.dumps([d.isoformat() for d in dates])),
            )
            added += 1
    return added


def needed_years(valid_from: dt.date | None, valid_until: dt.date | None) -> tuple[int, int]:
    """The years (first, last) of country holidays an agreement valid over these dates
    can need: one more on each side, an open end reaching the window's edge."""
    first = EARLIEST_YEAR if valid_from is None else max(EARLIEST_YEAR, valid_from.year - 1)
    last = LATEST_YEAR if valid_until is None else min(LATEST_YEAR, valid_until.year + 1)
    return first, last


def stored_rows(conn: Connection) -> Rows:
    """The stored snapshot as raw rows (country, subdiv, year, dates JSON), in key order:
    cheap to read and to compare, so callers parse it only when it changed.

    A database from before the snapshot existed has no table: nothing is stored.
    """
    try:
        cur = conn.execute(
            "SELECT country, subdiv, year, dates FROM holiday_dates ORDER BY country, subdiv, year"
        )
        return tuple(tuple(r) for r in cur)
    except sqlite3.OperationalError:
        return ()


def parse_rows(rows: Rows) -> HolidaySnapshot:
    """The `HolidaySnapshot` of `stored_rows` (subdiv '' is a whole country)."""
    from sladesk_tui.core.calendar import HolidaySnapshot

    return HolidaySnapshot.of(
        (country, subdiv or None, year, (dt.date.fromisoformat(d) for d in json.loads(dates)))
        for country, subdiv, year, dates in rows
    )
