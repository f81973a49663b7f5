"""The window of instants the product accepts, checked wherever an instant enters.

An instant far outside any service desk's life (`9999-12-31`, `0001-01-01`) is not
data, it is a typo or an attack: every calendar, holiday table and `datetime`
conversion downstream has edges there (year 1 has no local time west of UTC, a due
instant after 9999 does not exist), and one such line used to stop the live feed.
So event `at`s, `--at`, `--since`, `--until`, override instants, agreement validity
dates and report periods are all refused outside one window, with one message
(see docs/instants.md).
"""

from __future__ import annotations

import datetime as dt

from sladesk_tui.core.errors import InputError

EARLIEST_YEAR = 1970
LATEST_YEAR = 2199
EARLIEST: float = dt.datetime(EARLIEST_YEAR, 1, 1, tzinfo=dt.UTC).timestamp()
"""The first instant accepted (1970-01-01T00:00:00Z)."""
END: float = dt.datetime(LATEST_YEAR + 1, 1, 1, tzinfo=dt.UTC).timestamp()
"""The first instant refused after the window (2200-01-01T00:00:00Z)."""

WINDOW_TEXT = f"{EARLIEST_YEAR}-01-01T00:00Z to {LATEST_YEAR}-12-31T23:59Z"


def window_problem(ts: float) -> str | None:
    """Why the epoch instant `ts` is refused, or None when it is inside the window."""
    if EARLIEST <= ts < END:
        return None
    return f"is outside the instants sladesk accepts ({WINDOW_TEXT})"


def check_instant(ts: float, shown: str) -> float:
    """`ts` when it is inside the window, else InputError naming the `shown` text."""
    problem = window_problem(ts)
    if problem:
        raise InputError(f"instant {shown!r} {problem}")
    return ts


def check_year(year: int, shown: str) -> int:
    """A calendar year (validity dates, report periods) inside the window, else InputError."""
    if EARLIEST_YEAR <= year <= LATEST_YEAR:
        return year
    raise InputError(f"{shown!r} is outside the years sladesk accepts ({EARLIEST_YEAR} to {LATEST_YEAR})")
