"""Properties of BusinessCalendar, and agreement with a minute-by-minute oracle.

The oracle knows nothing of the index: it lists each date's segments straight from
the dict, localises them with `datetime(..., tzinfo=zone).timestamp()`, marks every
open minute in a set and walks minutes one by one. Random calendars use whole-minute
segments (so every open/closed change falls on a minute) in zones with DST,
including Lord Howe's half-hour shift and Sao Paulo's midnight changes, around
their transitions.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sladesk_tui.core.calendar import BusinessCalendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
US = 1_000_000
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

OFFICE = BusinessCalendar.from_dict(
    {
        "tz": "Europe/Berlin",
        "hours": {d: ["09:00-12:30", "13:30-17:00"] for d in WEEKDAYS[:5]} | {"sat": ["22:00-02:00"]},
        "holidays": {"country": "DE", "subdiv": "BY", "extra": ["2026-12-24"]},
    }
)
Y2025 = int(dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp()) * US
Y2028 = int(dt.datetime(2028, 1, 1, tzinfo=dt.UTC).timestamp()) * US

instants = st.integers(Y2025, Y2028).map(lambda us: us / US)
amounts = st.integers(0, 90 * 8 * 3600 * US).map(lambda us: us / US)


def us(x: float) -> int:
    return round(x * US)


@st.composite
def pause_lists(draw: st.DrawFn, around: float) -> list[tuple[float, float]]:
    out = []
    for _ in range(draw(st.integers(0, 4))):
        a = around + draw(st.integers(-3 * 86400 * US, 20 * 86400 * US)) / US
        out.append((a, a + draw(st.integers(0, 4 * 86400 * US)) / US))
    return out


# -- algebra on a realistic calendar (µs-exact, epoch and datetime faces) ---------------


@PROPS
@given(instants, amounts)
def test_elapsed_of_add_is_the_amount(a: float, s: float) -> None:
    assert us(OFFICE.elapsed_ts(a, OFFICE.add_ts(a, s))) == us(s)


@PROPS
@given(instants, amounts)
def test_add_lands_where_counting_resumes(a: float, s: float) -> None:
    due = OFFICE.add_ts(a, s)
    assert due >= a and OFFICE.is_open_ts(due)


@PROPS
@given(instants, amounts, amounts)
def test_add_is_monotonic(a: float, s1: float, s2: float) -> None:
    s1, s2 = sorted((s1, s2))
    assert OFFICE.add_ts(a, s1) <= OFFICE.add_ts(a, s2)


@PROPS
@given(st.lists(instants, min_size=3, max_size=3))
def test_elapsed_is_additive_and_bounded(points: list[float]) -> None:
    a, m, b = sorted(points)
    whole = OFFICE.elapsed_ts(a, b)
    assert us(whole) == us(OFFICE.elapsed_ts(a, m)) + us(OFFICE.elapsed_ts(m, b))
    assert us(whole) <= us(b) - us(a)


@PROPS
@given(st.data(), instants, st.integers(0, 40 * 86400 * US))
def test_pauses_never_add_time(data: st.DataObject, a: float, span: int) -> None:
    b = a + span / US
    pauses = data.draw(pause_lists(a))
    assert OFFICE.elapsed_ts(a, b, pauses) <= OFFICE.elapsed_ts(a, b)


@PROPS
@given(st.data(), instants, amounts)
def test_add_with_pauses_round_trips(data: st.DataObject, a: float, s: float) -> None:
    pauses = data.draw(pause_lists(a))
    due = OFFICE.add_ts(a, s, pauses)
    assert us(OFFICE.elapsed_ts(a, due, pauses)) == us(s)
    assert OFFICE.is_open_ts(due) and not any(us(p) <= us(due) < us(q) for p, q in pauses)


@PROPS
@given(instants, amounts)
def test_datetime_face_matches_epoch_face(a: float, s: float) -> None:
    start = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us(a))
    due = OFFICE.add(start, s)
    assert due == dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us(OFFICE.add_ts(a, s)))
    assert us(OFFICE.elapsed(start, due)) == us(s)


# -- the minute-by-minute oracle -------------------------------------------------------

ZONES_AND_ANCHORS = [
    ("UTC", dt.datetime(2026, 5, 11, tzinfo=dt.UTC)),
    ("Europe/Berlin", dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC)),
    ("Europe/Berlin", dt.datetime(2026, 10, 25, 1, tzinfo=dt.UTC)),
    ("America/Sao_Paulo", dt.datetime(2018, 11, 4, 3, tzinfo=dt.UTC)),
    ("America/Sao_Paulo", dt.datetime(2018, 2, 18, 2, tzinfo=dt.UTC)),
    ("Australia/Lord_Howe", dt.datetime(2026, 4, 4, 15, tzinfo=dt.UTC)),
    ("Australia/Lord_Howe", dt.datetime(2026, 10, 3, 15, 30, tzinfo=dt.UTC)),
]
minute_points = st.one_of(st.integers(0, 96).map(lambda q: q * 15), st.integers(0, 1440))


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def small_calendars(draw: st.DrawFn) -> tuple[dict, int]:
    """A random calendar dict and an anchor instant (epoch seconds) near a DST change."""
    tz, anchor = draw(st.sampled_from(ZONES_AND_ANCHORS))
    hours: dict[str, list[str]] = {}
    for day in WEEKDAYS:
        n = draw(st.integers(0, 3))
        points = sorted(draw(st.sets(minute_points, min_size=2 * n, max_size=2 * n)))
        segs = [(points[i], points[i + 1]) for i in range(0, 2 * n, 2)]
        if segs and draw(st.booleans()):
            start = segs[-1][0]
            segs[-1] = (start, draw(st.integers(0, start - 1)) if start > 0 else 0)
        segs = [(a, b) for a, b in segs if a != b]
        if segs:
            hours[day] = [f"{hhmm(a)}-{hhmm(b)}" for a, b in segs]
    assume(hours)
    local_anchor = anchor.astimezone(ZoneInfo(tz)).date()
    holidays = sorted(
        {str(local_anchor + dt.timedelta(days=k)) for k in draw(st.lists(st.integers(-8, 8), max_size=4))}
    )
    return {"tz": tz, "hours": hours, "holidays": holidays}, int(anchor.timestamp())


def oracle_open_minutes(spec: dict, lo: int, hi: int) -> set[int]:
    """Epoch seconds of every open minute in [lo, hi), straight from the definition."""
    zone = ZoneInfo(spec["tz"])
    holidays = {dt.date.fromisoformat(h) for h in spec["holidays"]}
    first = dt.datetime.fromtimestamp(lo, zone).date() - dt.timedelta(days=2)
    last = dt.datetime.fromtimestamp(hi, zone).date() + dt.timedelta(days=1)
    opened: set[int] = set()
    day = first
    while day <= last:
        if day not in holidays:
            for seg in spec["hours"].get(WEEKDAYS[day.weekday()], []):
                (sh, sm), (eh, em) = (map(int, t.split(":")) for t in seg.split("-"))
                start = dt.datetime(day.year, day.month, day.day, sh, sm, tzinfo=zone).timestamp()
                end_day = day if (eh, em) > (sh, sm) else day + dt.timedelta(days=1)
                if (eh, em) == (24, 0):
                    end_day, eh = day + dt.timedelta(days=1), 0
                end = dt.datetime(end_day.year, end_day.month, end_day.day, eh, em, tzinfo=zone).timestamp()
                opened.update(range(int(start), int(end), 60))
        day += dt.timedelta(days=1)
    return {m for m in opened if lo <= m < hi}


def calendar_or_reject(spec: dict) -> BusinessCalendar:
    try:
        return BusinessCalendar.from_dict(spec)
    except ValueError as err:
        assume("overlaps" not in str(err))
        raise


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(small_calendars(), st.integers(-3 * 1440, 3 * 1440), st.integers(0, 3 * 1440), st.data())
def test_agrees_with_minute_oracle(
    drawn: tuple[dict, int], offset: int, length: int, data: st.DataObject
) -> None:
    spec, anchor = drawn
    cal = calendar_or_reject(spec)
    a = anchor + offset * 60
    b = a + length * 60
    pauses = []
    for _ in range(data.draw(st.integers(0, 2))):
        p = a + data.draw(st.integers(-60, 4 * 1440)) * 60
        pauses.append((float(p), float(p + data.draw(st.integers(0, 600)) * 60)))
    horizon = a + 21 * 86400
    hours_open = oracle_open_minutes(spec, a, horizon)
    paused = {m for p, q in pauses for m in range(int(p), int(q), 60)}
    opened = hours_open - paused

    for m in range(a, b, 60):
        assert cal.is_open_ts(m) == (m in hours_open)
    # elapsed: count the open minutes
    expected = 60 * sum(1 for m in range(a, b, 60) if m in opened)
    assert cal.elapsed_ts(a, b, pauses) == expected

    # add: walk minutes; the due instant is the first open minute once the amount is spent
    budget = data.draw(st.integers(0, 12 * 60)) * 60
    remaining, m, due = budget, a, None
    while m < horizon:
        if m in opened:
            if remaining == 0:
                due = m
                break
            remaining -= 60
        m += 60
    if due is not None:
        assert cal.add_ts(a, budget, pauses) == due


# -- lazy growth is invisible -------------------------------------------------------------

SHIFTS = {
    "tz": "America/Sao_Paulo",  # DST changes at midnight until 2019
    "hours": {"mon": ["08:00-12:00", "13:00-18:00"], "fri": ["08:00-16:00"], "sat": ["23:00-01:00"]},
    "holidays": ["2018-11-02", "2019-02-18"],
}
SHARED = BusinessCalendar.from_dict(SHIFTS)
decade = st.integers(
    int(dt.datetime(2012, 1, 1, tzinfo=dt.UTC).timestamp()) * US,
    int(dt.datetime(2022, 1, 1, tzinfo=dt.UTC).timestamp()) * US,
).map(lambda us: us / US)


@settings(max_examples=100, deadline=None)
@given(decade, decade, st.integers(0, 400 * 3600))
def test_answers_do_not_depend_on_how_the_index_grew(a: float, b: float, s: int) -> None:
    a, b = sorted((a, b))
    fresh = BusinessCalendar.from_dict(SHIFTS)  # grows around a; SHARED grew in random order
    assert fresh.add_ts(a, s) == SHARED.add_ts(a, s)
    assert fresh.elapsed_ts(a, b) == SHARED.elapsed_ts(a, b)
    assert fresh.next_open_ts(b) == SHARED.next_open_ts(b)
    assert fresh.open_intervals_ts(a, a + 86400 * 9) == SHARED.open_intervals_ts(a, a + 86400 * 9)
