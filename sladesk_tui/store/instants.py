"""The store's one reading of the system clock, and the ISO spelling of its `*_at` columns.

Core never reads the clock (`now` is passed in); the store stamps what it records.
"""

from __future__ import annotations

import datetime as dt
import time


def now_ts() -> float:
    """Epoch seconds, UTC."""
    return time.time()


def iso_utc(ts: float) -> str:
    """``2026-11-27T08:05:00.000000Z``: the `*_at` columns' spelling (sorts as text)."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
