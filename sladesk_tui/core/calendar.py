"""Business calendars (docs/calendars.md): when the clock counts, and how far a target reaches.

A calendar is a weekly template of local wall-clock segments, minus holidays, in
one IANA zone. It answers through a lazily grown index of open intervals in integer
epoch microseconds with running totals (`_open_index`), so `add` and `elapsed` are
bisects and arithmetic, exact to the microsecond, whatever the span.

Two faces: the datetime API of the contract (aware in, aware out, in the calendar's
zone) and `*_ts` twins on epoch seconds (floats, UTC) for the clock engine's hot
loops. Conventions everywhere:

- counting is half-open: `elapsed(09:00, 09:30)` is 1800 s;
- `add(start, s)` is the breach instant: the latest t >= start with
  elapsed(start, t) == s; once s is reached we skip over closed hours and pauses to
  where counting resumes (so 8h from Mon 09:00 on 09:00-17:00 is Tue 09:00);
- hours are wall-clock, read with zoneinfo's fold=0: a time in a DST gap moves
  forward by the gap (a segment may shrink or vanish), an ambiguous time is its
  first occurrence; durations are real seconds;
- an overnight segment ("22:00-06:00") belongs to the day it starts on; "24:00"
  is a valid end; times are HH:MM (HH:MM:SS is accepted too).

Pauses are (from, to) pairs in any order, overlapping or not; the datetime API takes
None for an open end, the epoch API +-inf. A pause that never ends makes `add`
never due (`add_ts` returns inf, `add` raises ValueError).

Country holidays (`{"country": "DE", "subdiv": "BE"}`) come from the `holidays`
package, or from a `HolidaySnapshot` given to `from_dict`: the import alone costs
most of a second, more than a whole lookup over SSH may take. A calendar whose
snapshot holds its country takes every year from it, and a year it lacks has no
country holidays (only `extra` dates): computing it live would let a package upgrade
move a holiday (docs/reports.md). Without a snapshot, the package computes each year. The snapshot travels with the data (the store keeps one with the
agreements), never in module state, so two databases in one process cannot mix.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from sladesk_tui.core._open_index import DAY_US, EPOCH_ORD, OpenIndex

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEK_S = 7 * 86_400
_US = 1_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_US = dt.timedelta(microseconds=1)
_sub = dt.datetime.__sub__  # the stdlib subtraction, also for pendulum DateTimes
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_TOP_KEYS = frozenset({"tz", "hours", "holidays"})
_HOLIDAY_KEYS = frozenset({"country", "subdiv", "extra"})

Segment = tuple[int, int]  # seconds after local midnight; end > 86400 runs overnight
Pauses = Iterable[tuple[Any, Any]]


@dataclass(frozen=True, slots=True)
class HolidaySnapshot:
    """Country public holidays computed earlier: the dates of each (country, subdiv, year).

    Taken when agreements are loaded and kept with them, so lookups never import the
    `holidays` package and upgrading it never moves a holiday under clocks already
    counted. A (country, subdiv) it holds any year of counts as a valid name (it was
    checked when the snapshot was taken). Compared and hashed by value: calendars
    built with it are cached by it.
    """

    years: frozenset[tuple[str, str | None, int, frozenset[dt.date]]] = frozenset()
    _places: Mapping[tuple[str, str | None], Mapping[int, frozenset[dt.date]]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        places: dict[tuple[str, str | None], dict[int, frozenset[dt.date]]] = {}
        for country, subdiv, year, dates in self.years:
            held = places.setdefault((country, subdiv), {})
            if year in held:
                raise ValueError(f"holiday snapshot: {country}/{subdiv or '-'} {year} given twice")
            held[year] = dates
        object.__setattr__(self, "_places", {k: MappingProxyType(v) for k, v in places.items()})

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str | None, int, Iterable[dt.date]]]) -> HolidaySnapshot:
        """From (country, subdiv, year, dates) rows; subdiv None for a whole country."""
        return cls(frozenset((c, s, y, frozenset(d)) for c, s, y, d in rows))

    def place(self, country: str, subdiv: str | None) -> Mapping[int, frozenset[dt.date]] | None:
        """Year -> dates held for a country (and subdivision); None when none are."""
        return self._places.get((country, subdiv))


class BusinessCalendar:
    """Open hours of a service desk in one zone; see the module docstring."""

    __slots__ = (
        "tz",
        "zone",
        "_week",
        "_holidays",
        "_country",
        "_subdiv",
        "_country_years",
        "_held_years",
        "_live",
        "_index",
    )

    def __init__(
        self,
        tz: str,
        week: tuple[tuple[Segment, ...], ...],
        holidays: frozenset[dt.date] = frozenset(),
        country: str | None = None,
        subdiv: str | None = None,
        held_years: Mapping[int, frozenset[dt.date]] | None = None,
    ) -> None:
        """Low-level constructor from validated parts; use `from_dict` or `always`.

        `held_years` are the country's holidays already computed, by year (a
        snapshot's): given, a year it lacks has no country holidays; None, every
        year comes from the `holidays` package when needed.
        """
        self.tz = tz
        self.zone = _zone(tz)
        self._week = week
        self._holidays = set(holidays)
        self._country = country
        self._subdiv = subdiv
        self._country_years: set[int] = set()
        self._held_years = held_years or {}
        self._live = held_years is None  # no snapshot for the country: ask the package
        week_open = sum(e - s for segs in week for s, e in segs)
        if week_open <= 0:
            raise ValueError("calendar has no open hours")
        self._index = OpenIndex(self._build, week_open * _US)

    # -- construction ------------------------------------------------------

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], snapshot: HolidaySnapshot | None = None) -> BusinessCalendar:
        """Build from the mapping of docs/calendars.md; any bad value is a ValueError naming it.

        `snapshot` supplies country holidays computed earlier (see `HolidaySnapshot`);
        a year it lacks has none. Without one (or when it does not hold the country)
        the `holidays` package computes them.
        """
        if not isinstance(spec, Mapping):
            raise ValueError(f"calendar must be a mapping, not {spec!r}")
        unknown = sorted(str(k) for k in spec if k not in _TOP_KEYS)
        if unknown:
            raise ValueError(f"calendar: unknown key {unknown[0]!r} (expected tz, hours, holidays)")
        if "tz" not in spec:
            raise ValueError("calendar: 'tz' is required (an IANA zone such as 'Europe/Berlin')")
        tz = spec["tz"]
        _zone(tz)
        week = _parse_hours(spec.get("hours") or {})
        holidays, country, subdiv = _parse_holidays(spec.get("holidays"))
        held = None
        if country is not None:
            held = snapshot.place(country, subdiv) if snapshot is not None else None
            if held is None:
                _package_holidays(country, subdiv, [])  # validates both names now
        return cls(tz, week, holidays, country, subdiv, held)

    @classmethod
    def always(cls, tz: str = "UTC") -> BusinessCalendar:
        """The 24x7 calendar: every second counts (zone only shapes the output)."""
        return cls(tz, tuple(((0, 86_400),) for _ in WEEKDAYS))

    def __repr__(self) -> str:
        return f"BusinessCalendar(tz={self.tz!r})"

    # -- datetime API (docs/calendars.md) -----------------------------------

    def add(self, start: dt.datetime, seconds: float, pauses: Pauses = ()) -> dt.datetime:
        """The breach instant: `seconds` of business time from `start`, skipping pauses."""
        s = _to_us(start, "start")
        due = self._add_us(s, _amount_us(seconds), _pauses_us(pauses, s, None, _to_us))
        if due is None:
            raise ValueError("never due: a pause without end covers all remaining time")
        return self._to_dt(due)

    def elapsed(self, start: dt.datetime, end: dt.datetime, pauses: Pauses = ()) -> float:
        """Business seconds in [start, end), not counting pauses."""
        a, b = _to_us(start, "start"), _to_us(end, "end")
        return self._elapsed_us(a, b, _pauses_between_us(pauses, a, b, _to_us)) / _US

    def is_open(self, at: dt.datetime) -> bool:
        return self._index.is_open(_to_us(at, "at"))

    def next_open(self, at: dt.datetime) -> dt.datetime:
        """`at` itself when open, else the next opening."""
        return self._to_dt(self._index.next_open(_to_us(at, "at")))

    # -- epoch-second twins for hot loops -----------------------------------

    # The clock engine calls `add_ts` and `elapsed_ts` several times per ticket over
    # a whole queue, so each opens with a fast path for its common case: no pauses,
    # and every instant inside the trusted window of the index snapshot at hand.
    # There it does what `OpenIndex.add`/`elapsed` and `_cum_at` do, inline (one
    # float->µs conversion per input, one back; bisects on the snapshot's lists),
    # which saves the five or so Python calls of the general path. Anything else
    # (pauses, growth, bad or negative input, end before start) falls through to
    # the general path, which gives the same answers and raises the errors. The
    # snapshot is read once: another thread growing the index replaces it whole.

    def add_ts(self, start: float, seconds: float, pauses: Iterable[tuple[float, float]] = ()) -> float:
        """`add` on epoch seconds; `math.inf` when an endless pause swallows the rest."""
        if not pauses:
            try:
                s, amount = round(start * _US), round(seconds * _US)
            except (OverflowError, ValueError, TypeError):
                pass  # the general path names the bad value
            else:
                st = self._index.state
                if st is not None and amount >= 0 and st[3] <= s < st[4]:  # cover_lo, cover_hi
                    starts, ends, cum, _lo, cover_hi, _lo_ord, _hi_ord = st
                    j = bisect_right(starts, s) - 1
                    if j < 0:
                        target = amount
                    elif s >= ends[j]:
                        target = cum[j + 1] + amount
                    else:
                        target = cum[j] + s - starts[j] + amount
                    i = bisect_right(cum, target) - 1  # >= 0: cum[0] == 0 <= target
                    if i < len(starts):
                        fast_due = starts[i] + target - cum[i]
                        if fast_due < cover_hi:
                            return fast_due / _US
        s = _ts_us(start, "start")
        p = _pauses_us(pauses, s, None, _ts_us) if pauses else ()
        due = self._add_us(s, _amount_us(seconds), p)
        return math.inf if due is None else due / _US

    def elapsed_ts(self, start: float, end: float, pauses: Iterable[tuple[float, float]] = ()) -> float:
        if not pauses:
            try:
                a, b = round(start * _US), round(end * _US)
            except (OverflowError, ValueError, TypeError):
                pass  # the general path names the bad value
            else:
                st = self._index.state
                if st is not None and st[3] <= a <= b < st[4]:  # cover_lo, cover_hi
                    starts, ends, cum, _lo, _hi, _lo_ord, _hi_ord = st
                    j = bisect_right(starts, a) - 1
                    if j < 0:
                        ca = 0
                    elif a >= ends[j]:
                        ca = cum[j + 1]
                    else:
                        ca = cum[j] + a - starts[j]
                    j = bisect_right(starts, b) - 1
                    if j < 0:
                        cb = 0
                    elif b >= ends[j]:
                        cb = cum[j + 1]
                    else:
                        cb = cum[j] + b - starts[j]
                    return (cb - ca) / _US
        a, b = _ts_us(start, "start"), _ts_us(end, "end")
        return self._elapsed_us(a, b, _pauses_between_us(pauses, a, b, _ts_us) if pauses else ()) / _US

    def is_open_ts(self, t: float) -> bool:
        return self._index.is_open(_ts_us(t, "t"))

    def next_open_ts(self, t: float) -> float:
        return self._index.next_open(_ts_us(t, "t")) / _US

    def open_intervals_ts(self, start: float, end: float) -> list[tuple[float, float]]:
        """Open intervals clipped to [start, end): the "counted" lines of an explanation."""
        a, b = _ts_us(start, "start"), _ts_us(end, "end")
        if b < a:
            raise ValueError(f"end {end!r} is before start {start!r}")
        return [(s / _US, e / _US) for s, e in self._index.intervals(a, b)]

    # -- internals -----------------------------------------------------------

    def _elapsed_us(self, a: int, b: int, pauses: Iterable[tuple[int, int]]) -> int:
        if b < a:
            raise ValueError(f"end {self._to_dt(b).isoformat()} is before start {self._to_dt(a).isoformat()}")
        index = self._index
        total = index.elapsed(a, b)
        for p0, p1 in pauses:
            total -= index.elapsed(p0, p1)
        return total

    def _add_us(self, start: int, amount: int, pauses: Iterable[tuple[int, int | None]]) -> int | None:
        """Walk the (few, merged, sorted) pauses after start; None = never due.

        Before each pause, ask where the amount would be reached without it: if
        that is before the pause, it is the answer (and the index never has to
        grow as far as a distant pause); otherwise spend the open time up to the
        pause and carry on from its end.
        """
        index = self._index
        cur = start
        for p0, p1 in pauses:
            if p0 > cur:
                due = index.add(cur, amount)
                if due < p0:
                    return due
                amount -= index.elapsed(cur, p0)
            if p1 is None:
                return None
            cur = max(cur, p1)
        return index.add(cur, amount)

    def _to_dt(self, us: int) -> dt.datetime:
        """The instant as local wall time with that moment's fixed UTC offset.

        Not the ZoneInfo itself: by PEP 495 a datetime in a repeated (autumn) hour
        never compares equal across zones, so `add(...)` landing at 02:30 CEST would
        be `!=` the same instant in UTC. A fixed offset has no fold: every comparison
        is exact, and the wall time and offset shown are still the zone's.
        """
        local = (_EPOCH + dt.timedelta(microseconds=us)).astimezone(self.zone)
        return local.replace(tzinfo=dt.timezone(local.utcoffset(), local.tzname()))  # type: ignore[arg-type]  # an aware datetime always has an offset

    def _build(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """Open intervals (epoch µs) of local dates [lo, hi), before merging."""
        self._load_country_years(dt.date.fromordinal(lo).year, dt.date.fromordinal(hi).year)
        zone, week, holidays = self.zone, self._week, self._holidays
        out: list[tuple[int, int]] = []
        for o in range(lo, hi):
            segs = week[(o - 1) % 7]  # ordinal 1 (0001-01-01) was a Monday
            if not segs:
                continue
            day = dt.date.fromordinal(o)
            if day in holidays:
                continue
            midnight = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
            wall = (o - EPOCH_ORD) * DAY_US
            for s, e in segs:
                out.append((_local_us(midnight, wall, s), _local_us(midnight, wall, e)))
        return out

    def _load_country_years(self, y0: int, y1: int) -> None:
        if self._country is None:
            return
        missing = [y for y in range(y0, y1 + 1) if y not in self._country_years]
        if not missing:
            return
        held = self._held_years
        unheld: list[int] = []
        for y in missing:
            if y in held:
                self._holidays.update(held[y])
            else:
                unheld.append(y)
        if unheld and self._live:
            self._holidays.update(_package_holidays(self._country, self._subdiv, unheld))
        self._country_years.update(missing)


# -- conversions -------------------------------------------------------------


def _local_us(midnight: dt.datetime, wall_us: int, secs: int) -> int:
    """Epoch µs of `secs` after local midnight (wall clock, fold=0)."""
    offset = (midnight + dt.timedelta(seconds=secs)).utcoffset()
    assert offset is not None
    return wall_us + secs * _US - offset // _ONE_US


def _to_us(value: Any, what: str) -> int:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{what} must be a timezone-aware datetime, not {value!r}")
    try:
        delta = _sub(value, _EPOCH)
    except TypeError:
        raise ValueError(f"{what} {value.isoformat()} is naive: give it a time zone") from None
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _ts_us(value: Any, what: str) -> int:
    try:
        us: int = round(value * _US)
        return us
    except (OverflowError, ValueError, TypeError):
        raise ValueError(f"{what} {value!r} is not a finite epoch instant") from None


def _amount_us(seconds: Any) -> int:
    try:
        us: int = round(seconds * _US)
    except (OverflowError, ValueError, TypeError):
        raise ValueError(f"seconds {seconds!r} is not a finite number") from None
    if us < 0:
        raise ValueError(f"seconds {seconds!r} is negative")
    return us


def _pauses_us(pauses: Pauses, lo: int, hi: int | None, conv: Any) -> list[tuple[int, int | None]]:
    """Merge pauses and clip them to [lo, hi]; an end of None means "never ends"."""
    raw: list[tuple[int, int | None]] = []
    for pause in pauses:
        p0, p1 = pause
        a = lo if p0 is None or (isinstance(p0, float) and p0 == -math.inf) else conv(p0, "pause start")
        b = None if p1 is None or (isinstance(p1, float) and p1 == math.inf) else conv(p1, "pause end")
        if b is not None and b < a:
            raise ValueError(f"pause ({p0!r}, {p1!r}) ends before it begins")
        a = max(a, lo)
        if hi is not None:
            b = hi if b is None else min(b, hi)
        if b is not None and b <= a:
            continue
        raw.append((a, b))
    raw.sort(key=lambda p: p[0])
    merged: list[tuple[int, int | None]] = []
    for a, b in raw:
        if merged:
            ma, mb = merged[-1]
            if mb is None:
                break
            if a <= mb:
                merged[-1] = (ma, None if b is None else max(mb, b))
                continue
        merged.append((a, b))
    return merged


def _pauses_between_us(pauses: Pauses, lo: int, hi: int, conv: Any) -> list[tuple[int, int]]:
    """`_pauses_us` clipped to a known end: every pause then ends (at `hi` at the latest)."""
    return [(a, hi if b is None else b) for a, b in _pauses_us(pauses, lo, hi, conv)]


# -- parsing -----------------------------------------------------------------


def _zone(tz: Any) -> ZoneInfo:
    if not isinstance(tz, str) or not tz:
        raise ValueError(f"unknown time zone {tz!r}")
    try:
        return ZoneInfo(tz)
    except (LookupError, ValueError, OSError):  # not found, bad key, a directory ("Europe")
        raise ValueError(f"unknown time zone {tz!r}") from None


def _parse_time(text: str, segment: str, *, end: bool) -> int:
    m = _TIME_RE.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"hours: bad time {text.strip()!r} in {segment!r} (expected HH:MM)")
    h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
    if end and (h, mi, s) == (24, 0, 0):
        return 86_400
    if h > 23 or mi > 59 or s > 59:
        raise ValueError(f"hours: bad time {text.strip()!r} in {segment!r}")
    return h * 3600 + mi * 60 + s


def _parse_segment(text: Any, day: str) -> Segment:
    if not isinstance(text, str) or text.count("-") != 1:
        raise ValueError(f"hours: {day}: bad segment {text!r} (expected 'HH:MM-HH:MM')")
    a, b = text.split("-")
    start, end = _parse_time(a, text, end=False), _parse_time(b, text, end=True)
    if start == end:
        raise ValueError(f"hours: {day}: empty segment {text!r}")
    if end < start:
        end += 86_400  # runs past midnight; belongs to the day it starts on
    return start, end


def _parse_hours(hours: Any) -> tuple[tuple[Segment, ...], ...]:
    if not isinstance(hours, Mapping):
        raise ValueError(f"hours must map weekdays to segment lists, not {hours!r}")
    week: list[list[tuple[Segment, str]]] = [[] for _ in WEEKDAYS]
    for key, segs in hours.items():
        day = key.lower() if isinstance(key, str) else key
        if day not in WEEKDAYS:
            raise ValueError(f"hours: unknown weekday {key!r} (expected mon..sun)")
        if isinstance(segs, str) or not isinstance(segs, Iterable):
            raise ValueError(f"hours: {key}: expected a list of 'HH:MM-HH:MM' segments, not {segs!r}")
        for text in segs:
            week[WEEKDAYS.index(day)].append((_parse_segment(text, key), text))
    _check_overlaps(week)
    return tuple(tuple(sorted(seg for seg, _ in day)) for day in week)


def _check_overlaps(week: list[list[tuple[Segment, str]]]) -> None:
    """Refuse overlapping segments, across midnight and the week's end too."""
    flat = sorted(
        (d * 86_400 + s, d * 86_400 + e, f"{WEEKDAYS[d]} {text!r}")
        for d, segs in enumerate(week)
        for (s, e), text in segs
    )
    if not flat:
        return
    # The week wraps: repeat the first segments a week later to catch a Sunday
    # overnight segment running into Monday.
    flat += [(s + _WEEK_S, e + _WEEK_S, name) for s, e, name in flat if s < 86_400]
    reach, reach_name = flat[0][1], flat[0][2]
    for s, e, name in flat[1:]:
        if s < reach:
            raise ValueError(f"hours: {reach_name} overlaps {name}")
        if e > reach:
            reach, reach_name = e, name


def _parse_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{where}: bad date {value!r} (expected YYYY-MM-DD)")


def _parse_holidays(value: Any) -> tuple[frozenset[dt.date], str | None, str | None]:
    if value is None:
        return frozenset(), None, None
    if isinstance(value, Mapping):
        unknown = sorted(str(k) for k in value if k not in _HOLIDAY_KEYS)
        if unknown:
            raise ValueError(f"holidays: unknown key {unknown[0]!r} (expected country, subdiv, extra)")
        country, subdiv = value.get("country"), value.get("subdiv")
        if country is not None:
            if not isinstance(country, str) or not country:
                raise ValueError(f"holidays: unknown country {country!r}")
            if subdiv is not None and not isinstance(subdiv, str):
                raise ValueError(f"holidays: unknown subdivision {subdiv!r} of {country!r}")
        elif subdiv is not None:
            raise ValueError(f"holidays: subdiv {subdiv!r} needs a country")
        extra = value.get("extra") or ()
        return _parse_date_list(extra, "holidays.extra"), country, subdiv
    return _parse_date_list(value, "holidays"), None, None


def _parse_date_list(value: Any, where: str) -> frozenset[dt.date]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(f"{where}: expected a list of dates, not {value!r}")
    return frozenset(_parse_date(v, where) for v in value)


# -- country holidays ------------------------------------------------------------


def country_holidays(country: str, subdiv: str | None, year: int) -> frozenset[dt.date]:
    """One year of public holidays of a country (and subdivision) from the `holidays`
    package: what a `HolidaySnapshot` holds. An unknown name is a ValueError."""
    return frozenset(_package_holidays(country, subdiv, [year]))


def _package_holidays(country: str, subdiv: str | None, years: list[int]) -> set[dt.date]:
    """The `holidays` package's dates for `years` (none: only check the names). Imported
    here, when first needed: the import alone takes most of a second."""
    import holidays

    try:
        found = holidays.country_holidays(country, subdiv=subdiv, years=years)
    except NotImplementedError:
        if subdiv is not None and country in holidays.list_supported_countries():
            raise ValueError(f"holidays: unknown subdivision {subdiv!r} of {country!r}") from None
        raise ValueError(f"holidays: unknown country {country!r}") from None
    return set(found.keys())
