"""The country-holiday snapshot: taken when agreements are loaded, read by every lookup.

`holidays = { country = "DE", subdiv = "BE" }` calendars need the `holidays` package,
whose import alone takes most of a second: more than a whole `sladesk queue` over
SSH may. So when an agreements file is loaded, the holidays of its countries are
computed for the years its agreements can need and stored (schema/0002_outcomes.sql);
readers hand them to the calendar (`core.calendar.provide_country_holidays`) before
parsing any agreements. A stored year is never recomputed: upgrading the package
must not move a holiday under clocks that were already counted.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import AgreementSet

# Years around the load covered when an agreement leaves its validity open.
YEARS_BEFORE = 2
YEARS_AFTER = 3
MAX_YEARS = 15


def snapshot_holidays(conn: sqlite3.Connection, aset: AgreementSet, now: float) -> int:
    """Store the holidays `aset`'s country calendars can need (inside the caller's write
    transaction, with the load); return the years added."""
    from sladesk_tui.core.calendar import _country_holidays

    this_year = dt.datetime.fromtimestamp(now, dt.timezone.utc).year
    added = 0
    for cid, cdef in aset.calendars.items():
        if cdef.holiday_country is None:
            continue
        users = [a for a in aset.agreements if a.calendar == cid]
        first = min([this_year - YEARS_BEFORE, *(a.valid_from.year - 1 for a in users if a.valid_from)])
        last = max([this_year + YEARS_AFTER, *(a.valid_until.year + 1 for a in users if a.valid_until)])
        first = max(first, last - MAX_YEARS)
        subdiv = cdef.holiday_subdiv or ""
        have = {
            r[0] for r in conn.execute(
                "SELECT year FROM holiday_dates WHERE country = ? AND subdiv = ?", (cdef.holiday_country, subdiv)
            )
        }
        for year in range(first, last + 1):
            if year in have:
                continue
            dates = sorted(_country_holidays(cdef.holiday_country, cdef.holiday_subdiv, [year]))
            conn.execute(
                "INSERT INTO holiday_dates (country, subdiv, year, dates) VALUES (?, ?, ?, ?)",
                (cdef.holiday_country, subdiv, year, json.dumps([d.isoformat() for d in dates])),
            )
            added += 1
    return added


def prime_holidays(conn: sqlite3.Connection) -> int:
    """Hand the stored holidays to the calendar; return the years provided.

    A database from before the snapshot existed has no table: nothing to provide.
    """
    from sladesk_tui.core.calendar import provide_country_holidays

    try:
        rows = conn.execute("SELECT country, subdiv, year, dates FROM holiday_dates").fetchall()
    except sqlite3.OperationalError:
        return 0
    for country, subdiv, year, dates in rows:
        provide_country_holidays(country, subdiv or None, year, (dt.date.fromisoformat(d) for d in json.loads(dates)))
    return len(rows)
