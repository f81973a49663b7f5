"""The lazily grown index of open intervals behind `BusinessCalendar`.

Open time is kept as sorted, disjoint, non-touching intervals in integer epoch
microseconds with a running total (`cum[i]` = open microseconds before interval
i), so every question the clock engine asks is one or two bisects and some integer
arithmetic, exact to the microsecond however long the span. The index covers a
contiguous range of local dates and grows on demand in either direction, a year or
more at a time, so no query ever walks day by day.

The state lives in one tuple (`IndexState`) that is replaced whole on growth,
never mutated: a reader that took a reference to it keeps a consistent view even
if another thread grows the index. `BusinessCalendar`'s hot paths read it directly
(`OpenIndex.state`) and answer inside its trusted window without a call into here.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Callable

DAY_US = 86_400_000_000
EPOCH_ORD = dt.date(1970, 1, 1).toordinal()
# Dates the index may span: zoneinfo and date arithmetic need some headroom
# around year 1 and year 9999.
MIN_ORD = dt.date(2, 1, 1).toordinal()
MAX_ORD = dt.date(9998, 12, 31).toordinal()
CHUNK_DAYS = 366

# Local dates [lo, hi) -> open intervals (start_us, end_us) of those dates, in any
# order, possibly empty or overlapping (DST gaps can make segments collide).
Builder = Callable[[int, int], list[tuple[int, int]]]

_RANGE_MSG = "instant or duration outside the calendar's supported years (3..9997)"


class OutOfRange(ValueError):
    """An instant or duration takes the calendar outside the years it can index."""


# One snapshot of the index, read by unpacking:
#     starts, ends, cum, cover_lo, cover_hi, lo_ord, hi_ord = state
# `starts`/`ends` are the open intervals, `cum[i]` the open µs before interval i
# (its lists are never changed once built); `cover_lo <= t < cover_hi` is the
# trusted window (see `OpenIndex`), built from local dates [lo_ord, hi_ord). A plain
# tuple, not a NamedTuple: unpacking an exact tuple costs a third as much, and the
# calendar's hot paths do it several times per ticket.
IndexState = tuple[list[int], list[int], list[int], int, int, int, int]


def _merge(pairs: list[tuple[int, int]]) -> tuple[list[int], list[int], list[int]]:
    """Sort, drop empty intervals, fuse overlapping and touching ones, total them."""
    pairs.sort()
    starts: list[int] = []
    ends: list[int] = []
    for s, e in pairs:
        if e <= s:
            continue
        if ends and s <= ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    cum = [0] * (len(starts) + 1)
    total = 0
    for i, (s, e) in enumerate(zip(starts, ends, strict=False)):
        total += e - s
        cum[i + 1] = total
    return starts, ends, cum


def _utc_day_us(ordinal: int) -> int:
    return (ordinal - EPOCH_ORD) * DAY_US


def _ordinal_of(us: int) -> int:
    """The UTC date of an instant; within a day of its local date in any zone."""
    return EPOCH_ORD + us // DAY_US


class OpenIndex:
    """Open intervals of a calendar, grown lazily; all instants are epoch µs (int).

    `cover_lo <= t < cover_hi` is the trusted window: every interval that starts
    before `cover_hi` is known, and every interval overlapping the window is known
    with its true bounds within it. The margins (3 days low, 2 days high, in UTC
    days) absorb zone offsets and overnight segments spilling from the previous
    date.
    """

    __slots__ = ("_build", "_week_us", "state")

    def __init__(self, build: Builder, week_open_us: int) -> None:
        self._build = build
        self._week_us = max(week_open_us, 1)
        # None until first used; replaced whole (never mutated) on each growth.
        self.state: IndexState | None = None

    # -- growth ------------------------------------------------------------

    def _grow(self, lo: int, hi: int) -> IndexState:
        """Cover local dates [lo, hi) (at least); returns the new state."""
        st = self.state
        if st is None:
            pairs = self._build(lo, hi)
        else:
            old_starts, old_ends, _cum, _cover_lo, _cover_hi, old_lo, old_hi = st
            lo, hi = min(lo, old_lo), max(hi, old_hi)
            pairs = list(zip(old_starts, old_ends, strict=False))
            if lo < old_lo:
                pairs += self._build(lo, old_lo)
            if hi > old_hi:
                pairs += self._build(old_hi, hi)
        starts, ends, cum = _merge(pairs)
        new = (starts, ends, cum, _utc_day_us(lo + 3), _utc_day_us(hi - 2), lo, hi)
        self.state = new
        return new

    def _state_for(self, lo_us: int, hi_us: int) -> IndexState:
        """A state whose trusted window contains [lo_us, hi_us]."""
        st = self.state
        if st is not None and st[3] <= lo_us and hi_us < st[4]:  # cover_lo, cover_hi
            return st
        need_lo = _ordinal_of(lo_us) - 4
        need_hi = _ordinal_of(hi_us) + 4
        if need_lo < MIN_ORD or need_hi > MAX_ORD:
            raise OutOfRange(_RANGE_MSG)
        if st is None:
            return self._grow(max(need_lo - CHUNK_DAYS // 2, MIN_ORD), min(need_hi + CHUNK_DAYS, MAX_ORD))
        lo, hi = st[5], st[6]  # lo_ord, hi_ord
        if need_lo < lo:
            lo = max(need_lo - CHUNK_DAYS, MIN_ORD)
        if need_hi > hi:
            hi = min(need_hi + CHUNK_DAYS, MAX_ORD)
        return self._grow(lo, hi)

    def _grow_right_for(self, st: IndexState, open_us: int) -> IndexState:
        """Grow far enough to hold roughly `open_us` more open time past the window."""
        # The estimate ignores holidays, so it undershoots: past the last year
        # already means out of range, without building the years in between.
        lo_ord, hi_ord = st[5], st[6]
        wanted = hi_ord + int(open_us * 7 // self._week_us)
        if wanted > MAX_ORD or hi_ord >= MAX_ORD:
            raise OutOfRange(_RANGE_MSG)
        hi = min(wanted + CHUNK_DAYS, MAX_ORD)
        return self._grow(lo_ord, hi)

    # -- queries (all µs) --------------------------------------------------

    def elapsed(self, a: int, b: int) -> int:
        starts, ends, cum, _lo, _hi, _lo_ord, _hi_ord = self._state_for(a, b)
        return _cum_at(starts, ends, cum, b) - _cum_at(starts, ends, cum, a)

    def is_open(self, t: int) -> bool:
        starts, ends, _cum, _lo, _hi, _lo_ord, _hi_ord = self._state_for(t, t)
        j = bisect_right(starts, t) - 1
        return j >= 0 and t < ends[j]

    def next_open(self, t: int) -> int:
        st = self._state_for(t, t)
        while True:
            starts, ends, _cum, _lo, cover_hi, _lo_ord, _hi_ord = st
            j = bisect_right(starts, t) - 1
            if j >= 0 and t < ends[j]:
                return t
            if j + 1 < len(starts) and starts[j + 1] < cover_hi:
                return starts[j + 1]
            st = self._grow_right_for(st, 0)

    def add(self, start: int, amount: int) -> int:
        """The latest instant t >= start with elapsed(start, t) == amount.

        Once the amount is reached we skip forward over closed time to where
        counting resumes: the breach instant of docs/calendars.md.
        """
        st = self._state_for(start, start)
        starts, ends, cum, _lo, cover_hi, _lo_ord, _hi_ord = st
        target = _cum_at(starts, ends, cum, start) + amount
        while True:
            i = bisect_right(cum, target) - 1
            if i < len(starts):
                r = starts[i] + target - cum[i]
                if r < cover_hi:
                    return r
            known = _cum_at(starts, ends, cum, cover_hi - 1)
            st = self._grow_right_for(st, max(target - known, 0))
            starts, ends, cum, _lo, cover_hi, _lo_ord, _hi_ord = st
            # Totals count from the index's first interval, which a concurrent
            # growth to the left (another thread) may have moved: re-anchor.
            target = _cum_at(starts, ends, cum, start) + amount

    def intervals(self, a: int, b: int) -> list[tuple[int, int]]:
        """Open intervals clipped to [a, b)."""
        starts, ends, _cum, _lo, _hi, _lo_ord, _hi_ord = self._state_for(a, b)
        j = max(bisect_right(starts, a) - 1, 0)
        out = []
        n = len(starts)
        while j < n and starts[j] < b:
            s, e = max(starts[j], a), min(ends[j], b)
            if s < e:
                out.append((s, e))
            j += 1
        return out


def _cum_at(starts: list[int], ends: list[int], cum: list[int], t: int) -> int:
    j = bisect_right(starts, t) - 1
    if j < 0:
        return 0
    e = ends[j]
    return cum[j + 1] if t >= e else cum[j] + t - starts[j]
