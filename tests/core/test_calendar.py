"""Hand-checked cases for BusinessCalendar (docs/calendars.md).

Dates: 2026-05-11 is a Monday. The cases follow what the public suites of
zendesk/biz, Zammad, Znuny, Business::Hours and businesstimedelta check (weekends,
opening/closing edges, holidays, lunch, overnight, 24x7, DST), with the breach
instant convention of docs/calendars.md where the peers differ.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from zoneinfo import ZoneInfo

import pendulum
import pytest

from sladesk_tui.core.calendar import BusinessCalendar, HolidaySnapshot, country_holidays

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
H = 3600
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def at(*args: int, tz: ZoneInfo = BERLIN) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)


@pytest.fixture(scope="module")
def office() -> BusinessCalendar:
    """Mon-Fri with a lunch break; Christmas closed."""
    return BusinessCalendar.from_dict(
        {
            "tz": "Europe/Berlin",
            "hours": {d: ["09:00-12:30", "13:30-17:00"] for d in WEEKDAYS},
            "holidays": ["2026-12-24", "2026-12-25", "2026-12-26"],
        }
    )


def nine_to_five(tz: str = "UTC", holidays: object = None) -> BusinessCalendar:
    spec: dict[str, object] = {"tz": tz, "hours": {d: ["09:00-17:00"] for d in WEEKDAYS}}
    if holidays is not None:
        spec["holidays"] = holidays
    return BusinessCalendar.from_dict(spec)


# -- ordinary days -------------------------------------------------------------


def test_inside_hours_counts_from_start(office: BusinessCalendar) -> None:
    assert office.add(at(2026, 5, 11, 9, 15), 2 * H) == at(2026, 5, 11, 11, 15)
    assert office.elapsed(at(2026, 5, 11, 9), at(2026, 5, 11, 9, 30)) == 1800


def test_before_opening_starts_at_opening(office: BusinessCalendar) -> None:
    assert office.add(at(2026, 5, 11, 7), H) == at(2026, 5, 11, 10)
    assert office.elapsed(at(2026, 5, 11, 7), at(2026, 5, 11, 10)) == H


def test_after_closing_rolls_to_next_morning(office: BusinessCalendar) -> None:
    assert office.add(at(2026, 5, 11, 18), H) == at(2026, 5, 12, 10)
    assert office.elapsed(at(2026, 5, 11, 17), at(2026, 5, 12, 9)) == 0


def test_weekend_is_skipped(office: BusinessCalendar) -> None:
    assert office.add(at(2026, 5, 15, 16), 2 * H) == at(2026, 5, 18, 10)
    assert office.elapsed(at(2026, 5, 15, 16), at(2026, 5, 18, 10)) == 2 * H
    assert office.add(at(2026, 5, 16, 10), 0) == at(2026, 5, 18, 9)
    assert office.elapsed(at(2026, 5, 16), at(2026, 5, 18)) == 0


def test_lunch_break_does_not_count(office: BusinessCalendar) -> None:
    assert office.add(at(2026, 5, 11, 12), H) == at(2026, 5, 11, 14)
    assert office.elapsed(at(2026, 5, 11, 12), at(2026, 5, 11, 14)) == H
    assert office.elapsed(at(2026, 5, 11, 12, 45), at(2026, 5, 11, 13, 15)) == 0
    # Reaching the target exactly at the start of lunch: due when counting resumes.
    assert office.add(at(2026, 5, 11, 12), 1800) == at(2026, 5, 11, 13, 30)


def test_due_exactly_at_closing_is_next_opening(office: BusinessCalendar) -> None:
    assert office.add(at(2026, 5, 11, 9), 7 * H) == at(2026, 5, 12, 9)
    assert office.add(at(2026, 5, 11, 16), H) == at(2026, 5, 12, 9)
    # One microsecond less is still today.
    assert office.add(at(2026, 5, 11, 16), H - 1e-6) == at(2026, 5, 11, 16, 59, 59, 999999)


def test_eight_hours_from_monday_morning_is_tuesday_morning() -> None:
    cal = nine_to_five("Europe/Berlin")
    assert cal.add(at(2026, 5, 11, 9), 8 * H) == at(2026, 5, 12, 9)
    assert cal.add(at(2026, 5, 11, 9), 8 * H + 1) == at(2026, 5, 12, 9, 0, 1)


def test_half_open_edges(office: BusinessCalendar) -> None:
    assert office.is_open(at(2026, 5, 11, 9))
    assert office.is_open(at(2026, 5, 11, 12, 29, 59, 999999))
    assert not office.is_open(at(2026, 5, 11, 12, 30))
    assert office.is_open(at(2026, 5, 11, 13, 30))
    assert not office.is_open(at(2026, 5, 11, 17))
    assert not office.is_open(at(2026, 5, 16, 10))


def test_next_open(office: BusinessCalendar) -> None:
    assert office.next_open(at(2026, 5, 11, 10)) == at(2026, 5, 11, 10)
    assert office.next_open(at(2026, 5, 11, 12, 30)) == at(2026, 5, 11, 13, 30)
    assert office.next_open(at(2026, 5, 15, 17)) == at(2026, 5, 18, 9)
    assert office.next_open(at(2026, 12, 23, 17)) == at(2026, 12, 28, 9)


def test_zero_durations(office: BusinessCalendar) -> None:
    t = at(2026, 5, 11, 10, 7, 3, 5)
    assert office.add(t, 0) == t
    assert office.add(at(2026, 5, 11, 17), 0) == at(2026, 5, 12, 9)
    assert office.elapsed(t, t) == 0


def test_microsecond_exactness(office: BusinessCalendar) -> None:
    t = at(2026, 5, 11, 9)
    assert office.add(t, 1e-6) == at(2026, 5, 11, 9, 0, 0, 1)
    assert office.elapsed(t, at(2026, 5, 11, 9, 0, 0, 1)) == 1e-6
    assert office.elapsed(at(2026, 5, 11, 12, 29, 59, 999999), at(2026, 5, 11, 13, 30, 0, 1)) == 2e-6


# -- holidays -------------------------------------------------------------------


def test_starting_on_a_holiday(office: BusinessCalendar) -> None:
    # Thu 24, Fri 25, Sat 26 holidays, Sun 27: next opening Mon 28.
    assert office.add(at(2026, 12, 24, 10), H) == at(2026, 12, 28, 10)
    assert not office.is_open(at(2026, 12, 24, 10))
    assert office.elapsed(at(2026, 12, 23, 16), at(2026, 12, 28, 10)) == 2 * H


def test_country_holidays_with_subdivision() -> None:
    bavaria = nine_to_five("Europe/Berlin", {"country": "DE", "subdiv": "BY"})
    berlin = nine_to_five("Europe/Berlin", {"country": "DE", "subdiv": "BE"})
    epiphany = at(2026, 1, 6, 10)  # a Tuesday; a holiday in Bavaria, not in Berlin
    assert not bavaria.is_open(epiphany)
    assert berlin.is_open(epiphany)
    labour_day = at(2026, 5, 1, 10)  # a Friday; everywhere in Germany
    assert not bavaria.is_open(labour_day) and not berlin.is_open(labour_day)


def test_country_holidays_load_lazily_for_any_year() -> None:
    us = nine_to_five("America/New_York", {"country": "US", "extra": ["2026-12-24"]})
    ny = ZoneInfo("America/New_York")
    assert not us.is_open(at(2026, 11, 26, 10, tz=ny))  # Thanksgiving
    assert not us.is_open(at(2026, 12, 24, 10, tz=ny))  # extra
    assert not us.is_open(at(2026, 7, 3, 10, tz=ny))  # Independence Day observed (Sat 4th)
    assert not us.is_open(at(2041, 11, 28, 10, tz=ny))  # Thanksgiving, far ahead
    assert not us.is_open(at(1999, 11, 25, 10, tz=ny))  # and far behind
    assert us.is_open(at(1999, 11, 24, 10, tz=ny))


def test_year_of_country_holidays_matches_the_package() -> None:
    import holidays

    cal = nine_to_five("Europe/Berlin", {"country": "DE", "subdiv": "BY"})
    known = holidays.country_holidays("DE", subdiv="BY", years=2027)
    days = [dt.date(2027, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    open_days = [d for d in days if d.weekday() < 5 and d not in known]
    assert len(open_days) < 261  # the package really removed some weekdays
    assert cal.elapsed(at(2027, 1, 1), at(2028, 1, 1)) == len(open_days) * 8 * H


# A snapshot that disagrees with the package on purpose, so answers show which was read:
# 2026 for Berlin holds only New Year and a made-up Tuesday 10 March.
ODD_2026 = HolidaySnapshot.of([("DE", "BE", 2026, [dt.date(2026, 1, 1), dt.date(2026, 3, 10)])])
BERLIN_DE = {"country": "DE", "subdiv": "BE"}


def test_a_snapshot_year_is_read_instead_of_the_package() -> None:
    cal = BusinessCalendar.from_dict(
        {"tz": "Europe/Berlin", "hours": {d: ["09:00-17:00"] for d in WEEKDAYS}, "holidays": BERLIN_DE},
        ODD_2026,
    )
    assert not cal.is_open(at(2026, 3, 10, 10))  # the snapshot's own date (a Tuesday)
    assert not cal.is_open(at(2026, 1, 1, 10))
    assert cal.is_open(at(2026, 5, 1, 10))  # Labour Day (a Friday): the package's, not the snapshot's
    # Years the snapshot lacks have no country holidays: never computed live, so a
    # package upgrade cannot move one (the store snapshots every year an agreement needs).
    assert cal.is_open(at(2025, 5, 1, 10))
    assert cal.is_open(at(2027, 1, 1, 10))


def test_the_plain_dict_form_still_asks_the_package_and_snapshots_do_not_leak() -> None:
    hours = {d: ["09:00-17:00"] for d in WEEKDAYS}
    with_snapshot = BusinessCalendar.from_dict(
        {"tz": "Europe/Berlin", "hours": hours, "holidays": BERLIN_DE}, ODD_2026
    )
    plain = BusinessCalendar.from_dict({"tz": "Europe/Berlin", "hours": hours, "holidays": BERLIN_DE})
    assert not with_snapshot.is_open(at(2026, 3, 10, 10))
    assert plain.is_open(at(2026, 3, 10, 10)) and not plain.is_open(at(2026, 5, 1, 10))
    other_place = BusinessCalendar.from_dict(
        {"tz": "Europe/Berlin", "hours": hours, "holidays": {"country": "DE", "subdiv": "BY"}}, ODD_2026
    )
    assert other_place.is_open(at(2026, 3, 10, 10)) and not other_place.is_open(at(2026, 1, 6, 10))


def test_country_holidays_is_one_year_of_the_package() -> None:
    import holidays

    assert country_holidays("DE", "BY", 2027) == frozenset(
        holidays.country_holidays("DE", subdiv="BY", years=2027)
    )
    assert dt.date(2027, 1, 6) in country_holidays("DE", "BY", 2027)
    with pytest.raises(ValueError, match="unknown subdivision 'ZZ'"):
        country_holidays("DE", "ZZ", 2027)
    with pytest.raises(ValueError, match="unknown country 'XX'"):
        country_holidays("XX", None, 2027)


def test_snapshot_values() -> None:
    same = HolidaySnapshot.of([("DE", "BE", 2026, (dt.date(2026, 3, 10), dt.date(2026, 1, 1)))])
    assert same == ODD_2026 and hash(same) == hash(ODD_2026)
    assert ODD_2026.place("DE", "BE") == {2026: frozenset({dt.date(2026, 1, 1), dt.date(2026, 3, 10)})}
    assert ODD_2026.place("DE", None) is None and ODD_2026.place("DE", "BY") is None
    with pytest.raises(ValueError, match="2026 given twice"):
        HolidaySnapshot.of([("DE", "BE", 2026, ()), ("DE", "BE", 2026, [dt.date(2026, 1, 1)])])


def test_a_snapshot_spares_lookups_the_package_import() -> None:
    """The point of the snapshot: importing `holidays` costs most of a second."""
    code = (
        "import sys, datetime as dt\n"
        "from sladesk_tui.core.calendar import BusinessCalendar, HolidaySnapshot\n"
        "snap = HolidaySnapshot.of([('DE', 'BE', y, [dt.date(y, 12, 25)]) for y in range(2020, 2033)])\n"
        "cal = BusinessCalendar.from_dict({'tz': 'Europe/Berlin', 'hours': {'fri': ['09:00-17:00']},\n"
        "                                  'holidays': {'country': 'DE', 'subdiv': 'BE'}}, snap)\n"
        "assert not cal.is_open(dt.datetime(2026, 12, 25, 10, tzinfo=dt.timezone.utc))\n"
        "assert cal.is_open(dt.datetime(2026, 12, 18, 10, tzinfo=dt.timezone.utc))\n"
        "assert 'holidays' not in sys.modules\n"
        "BusinessCalendar.from_dict({'tz': 'UTC', 'hours': {'fri': ['09:00-17:00']}, 'holidays': {'country': 'DE'}})\n"
        "assert 'holidays' in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


# -- overnight, 24:00 and 24x7 ----------------------------------------------------


def test_overnight_segment_belongs_to_the_day_it_starts() -> None:
    cal = BusinessCalendar.from_dict({"tz": "UTC", "hours": {"mon": ["22:00-06:00"]}})
    assert cal.is_open(at(2026, 5, 12, 3, tz=UTC))  # Tuesday early: Monday's shift
    assert not cal.is_open(at(2026, 5, 11, 3, tz=UTC))  # Monday early: no Sunday shift
    assert cal.add(at(2026, 5, 11, 23, tz=UTC), 2 * H) == at(2026, 5, 12, 1, tz=UTC)
    assert cal.add(at(2026, 5, 11, 23, tz=UTC), 7 * H) == at(2026, 5, 18, 22, tz=UTC)
    assert cal.elapsed(at(2026, 5, 11, tz=UTC), at(2026, 5, 13, tz=UTC)) == 8 * H


def test_holiday_removes_overnight_segment_whole_but_next_day_does_not_cut_it() -> None:
    hours = {"mon": ["22:00-06:00"]}
    on_monday = BusinessCalendar.from_dict({"tz": "UTC", "hours": hours, "holidays": ["2026-05-11"]})
    on_tuesday = BusinessCalendar.from_dict({"tz": "UTC", "hours": hours, "holidays": ["2026-05-12"]})
    assert not on_monday.is_open(at(2026, 5, 12, 3, tz=UTC))
    assert on_tuesday.is_open(at(2026, 5, 12, 3, tz=UTC))
    assert on_tuesday.elapsed(at(2026, 5, 11, tz=UTC), at(2026, 5, 13, tz=UTC)) == 8 * H


def test_24_00_end_and_segments_joined_across_midnight() -> None:
    cal = BusinessCalendar.from_dict({"tz": "UTC", "hours": {"mon": ["18:00-24:00"], "tue": ["00:00-02:00"]}})
    mon18 = at(2026, 5, 11, 18, tz=UTC)
    assert cal.add(at(2026, 5, 11, 23, tz=UTC), 2 * H) == at(2026, 5, 12, 1, tz=UTC)
    assert cal.open_intervals_ts(mon18.timestamp(), mon18.timestamp() + 86400) == [
        (mon18.timestamp(), mon18.timestamp() + 8 * H)
    ]
    ending_at_midnight = BusinessCalendar.from_dict({"tz": "UTC", "hours": {"mon": ["23:00-00:00"]}})
    assert ending_at_midnight.elapsed(mon18, mon18 + dt.timedelta(days=1)) == H


def test_always_counts_every_second() -> None:
    cal = BusinessCalendar.always()
    t = at(2026, 5, 11, 3, 4, 5, tz=UTC)
    assert cal.tz == "UTC" and cal.zone == UTC
    assert cal.add(t, 3 * 86400 + 0.5) == t + dt.timedelta(days=3, microseconds=500000)
    assert cal.elapsed(t, t + dt.timedelta(days=400)) == 400 * 86400
    assert cal.is_open(t) and cal.next_open(t) == t


def test_always_in_a_zone_counts_real_seconds_over_dst() -> None:
    cal = BusinessCalendar.always("Europe/Berlin")
    assert cal.elapsed(at(2026, 3, 29), at(2026, 3, 30)) == 23 * H
    assert cal.elapsed(at(2026, 10, 25), at(2026, 10, 26)) == 25 * H
    assert cal.add(at(2026, 3, 29), 23 * H) == at(2026, 3, 30)


# -- long spans -------------------------------------------------------------------


def test_a_year_a_month_and_a_decade() -> None:
    cal = nine_to_five()
    assert cal.elapsed(at(2026, 1, 1, tz=UTC), at(2027, 1, 1, tz=UTC)) == 261 * 8 * H
    assert cal.elapsed(at(2026, 2, 1, tz=UTC), at(2026, 3, 1, tz=UTC)) == 20 * 8 * H
    # All of 2026's business time from New Year's Day: due at the first opening of 2027.
    assert cal.add(at(2026, 1, 1, tz=UTC), 261 * 8 * H) == at(2027, 1, 1, 9, tz=UTC)
    start = at(2026, 5, 11, 10, tz=UTC)
    due = cal.add(start, 10 * 2000 * H)
    assert cal.elapsed(start, due) == 10 * 2000 * H
    assert at(2035, 6, 1, tz=UTC) < due < at(2036, 6, 1, tz=UTC)  # ~2500 working days


def test_index_grows_both_ways_and_stays_consistent() -> None:
    cal = nine_to_five("Europe/Berlin", {"country": "DE"})
    a, m, b = at(1995, 3, 1), at(2026, 5, 11), at(2061, 8, 1)
    mid = cal.elapsed(m, m + dt.timedelta(days=30))
    total = cal.elapsed(a, b)
    assert total == cal.elapsed(a, m) + cal.elapsed(m, b)
    assert cal.elapsed(m, m + dt.timedelta(days=30)) == mid


# -- DST ---------------------------------------------------------------------------


def sunday(tz: str, hours: list[str]) -> BusinessCalendar:
    return BusinessCalendar.from_dict({"tz": tz, "hours": {"sun": hours, "sat": hours}})


@pytest.mark.parametrize(
    ("tz", "day", "expected_hours"),
    [
        ("Europe/Berlin", (2026, 3, 29), 23),
        ("Europe/Berlin", (2026, 10, 25), 25),
        ("America/New_York", (2026, 3, 8), 23),
        ("America/New_York", (2026, 11, 1), 25),
        ("Australia/Sydney", (2026, 10, 4), 23),
        ("Australia/Sydney", (2026, 4, 5), 25),
        # Brazil changed its clocks at midnight until 2019.
        ("America/Sao_Paulo", (2018, 11, 4), 23),
        ("America/Sao_Paulo", (2018, 2, 17), 25),  # a Saturday: 23:00-24:00 happens twice
    ],
)
def test_dst_day_counts_real_hours(tz: str, day: tuple[int, int, int], expected_hours: int) -> None:
    zone = ZoneInfo(tz)
    cal = sunday(tz, ["00:00-24:00"])
    start = dt.datetime(*day, tzinfo=zone)
    next_midnight = dt.datetime.combine(start.date() + dt.timedelta(days=1), dt.time(), zone)
    assert cal.elapsed(start, next_midnight) == expected_hours * H
    # The true instant, counted in UTC: on the 25-hour day it is the *second* 23:59:59.
    last_second = start.astimezone(dt.UTC) + dt.timedelta(hours=expected_hours, seconds=-1)
    assert cal.add(start, expected_hours * H - 1) == last_second


def test_berlin_segment_spanning_the_spring_gap_shrinks() -> None:
    cal = sunday("Europe/Berlin", ["01:00-04:00"])
    assert cal.elapsed(at(2026, 3, 29), at(2026, 3, 30)) == 2 * H
    assert cal.elapsed(at(2026, 3, 22), at(2026, 3, 23)) == 3 * H
    assert cal.add(at(2026, 3, 29, 1), 1 * H) == at(2026, 3, 29, 3)  # 02:00 CET is 03:00 CEST


def test_berlin_times_inside_the_gap_move_forward() -> None:
    moved = sunday("Europe/Berlin", ["02:00-02:30"])  # read as 03:00-03:30 CEST
    assert moved.next_open(at(2026, 3, 29)) == at(2026, 3, 29, 3)
    assert moved.elapsed(at(2026, 3, 29), at(2026, 3, 30)) == 1800
    vanished = sunday("Europe/Berlin", ["02:30-03:00"])  # 03:30 CEST to 03:00 CEST: nothing
    assert vanished.elapsed(at(2026, 3, 29), at(2026, 3, 30)) == 0
    shrunk = sunday("Europe/Berlin", ["02:30-04:00"])  # 03:30-04:00 CEST
    assert shrunk.elapsed(at(2026, 3, 29), at(2026, 3, 30)) == 1800


def test_berlin_ambiguous_time_is_the_first_occurrence() -> None:
    cal = sunday("Europe/Berlin", ["02:30-03:30"])  # 02:30 CEST to 03:30 CET
    assert cal.elapsed(at(2026, 10, 25), at(2026, 10, 26)) == 2 * H
    first = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # 02:30 CEST
    assert cal.next_open(at(2026, 10, 25)) == first
    assert cal.next_open(at(2026, 10, 25)).utcoffset() == dt.timedelta(hours=2)


def test_overnight_shift_across_the_spring_gap() -> None:
    cal = BusinessCalendar.from_dict({"tz": "Europe/Berlin", "hours": {"sat": ["22:00-06:00"]}})
    assert cal.elapsed(at(2026, 3, 28), at(2026, 3, 30)) == 7 * H
    assert cal.elapsed(at(2026, 10, 24), at(2026, 10, 26)) == 9 * H


def test_weekday_calendar_across_new_york_spring_forward() -> None:
    ny = ZoneInfo("America/New_York")
    cal = nine_to_five("America/New_York")
    due = cal.add(at(2026, 3, 6, 16, tz=ny), 2 * H)
    assert due == at(2026, 3, 9, 10, tz=ny)
    assert due.utcoffset() == dt.timedelta(hours=-4)
    assert cal.elapsed(at(2026, 3, 2, tz=ny), at(2026, 3, 16, tz=ny)) == 10 * 8 * H


def test_sydney_segment_over_the_autumn_repeat() -> None:
    cal = sunday("Australia/Sydney", ["01:00-04:00"])
    syd = ZoneInfo("Australia/Sydney")
    assert cal.elapsed(at(2026, 4, 5, tz=syd), at(2026, 4, 6, tz=syd)) == 4 * H
    assert cal.elapsed(at(2026, 10, 4, tz=syd), at(2026, 10, 5, tz=syd)) == 2 * H


def test_sao_paulo_midnight_that_did_not_exist() -> None:
    sp = ZoneInfo("America/Sao_Paulo")
    cal = sunday("America/Sao_Paulo", ["00:00-02:00"])
    # 2018-11-04 00:00 never happened; it is read as 01:00 (-02:00).
    assert cal.next_open(at(2018, 11, 3, 12, tz=sp)) == at(2018, 11, 4, 1, tz=sp)
    assert cal.elapsed(at(2018, 11, 4, tz=sp), at(2018, 11, 5, tz=sp)) == H
    # After Brazil dropped DST (2019), the same day is ordinary.
    assert cal.elapsed(at(2019, 11, 3, tz=sp), at(2019, 11, 4, tz=sp)) == 2 * H


# -- pauses ------------------------------------------------------------------------


def test_pause_pushes_the_due_instant(office: BusinessCalendar) -> None:
    pause = [(at(2026, 5, 11, 10), at(2026, 5, 11, 11))]
    assert office.add(at(2026, 5, 11, 9), 2 * H, pause) == at(2026, 5, 11, 12)
    assert office.elapsed(at(2026, 5, 11, 9), at(2026, 5, 11, 12), pause) == 2 * H


def test_target_reached_at_pause_start_is_due_when_the_pause_ends(office: BusinessCalendar) -> None:
    pause = [(at(2026, 5, 11, 10), at(2026, 5, 11, 11))]
    assert office.add(at(2026, 5, 11, 9), H, pause) == at(2026, 5, 11, 11)
    # ...and a pause ending in closed hours carries it to the next opening.
    late = [(at(2026, 5, 11, 16), at(2026, 5, 11, 20))]
    assert office.add(at(2026, 5, 11, 15), H, late) == at(2026, 5, 12, 9)


def test_pauses_unsorted_overlapping_and_outside_the_span(office: BusinessCalendar) -> None:
    pauses = [
        (at(2026, 5, 11, 14), at(2026, 5, 11, 15)),
        (at(2026, 5, 11, 9, 30), at(2026, 5, 11, 10, 30)),
        (at(2026, 5, 11, 10), at(2026, 5, 11, 11)),  # overlaps the one above
        (at(2026, 5, 8), at(2026, 5, 11, 9, 15)),  # began before the start
        (at(2026, 5, 11, 16, 30), at(2026, 5, 20)),  # runs past the end
        (at(2026, 5, 11, 12), at(2026, 5, 11, 12)),  # empty
    ]
    a, b = at(2026, 5, 11, 9), at(2026, 5, 11, 17)
    # 7h open, minus 09:00-09:15, 09:30-11:00, 14:00-15:00, 16:30-17:00.
    assert office.elapsed(a, b, pauses) == 7 * H - 900 - 5400 - H - 1800
    # Counted: 09:15-09:30, 11:00-12:30, 13:30-14:00, 15:00-16:30 (225m), then May 20.
    assert office.add(a, 134 * 60, pauses) == at(2026, 5, 11, 13, 59)
    assert office.add(a, 135 * 60, pauses) == at(2026, 5, 11, 15)  # reached as a pause starts
    assert office.add(a, 225 * 60, pauses) == at(2026, 5, 20, 9)
    assert office.add(a, 226 * 60, pauses) == at(2026, 5, 20, 9, 1)


def test_pause_covering_the_start(office: BusinessCalendar) -> None:
    pause = [(at(2026, 5, 11, 8), at(2026, 5, 11, 10))]
    assert office.add(at(2026, 5, 11, 9), 0, pause) == at(2026, 5, 11, 10)
    assert office.add(at(2026, 5, 11, 9), H, pause) == at(2026, 5, 11, 11)


def test_endless_pause(office: BusinessCalendar) -> None:
    start = at(2026, 5, 11, 9).timestamp()
    assert office.add_ts(start, H, [(start + 1800, float("inf"))]) == float("inf")
    assert office.add_ts(start, 1800, [(start + 3600, float("inf"))]) == start + 1800
    assert office.elapsed_ts(start, start + 2 * H, [(start + 1800, float("inf"))]) == 1800
    with pytest.raises(ValueError, match="never due"):
        office.add(at(2026, 5, 11, 9), H, [(at(2026, 5, 11, 9, 30), None)])


# -- epoch twins and explanations --------------------------------------------------


def test_epoch_twins_agree_with_the_datetime_api(office: BusinessCalendar) -> None:
    a, b = at(2026, 5, 11, 10), at(2026, 5, 14, 15, 20)
    ta, tb = a.timestamp(), b.timestamp()
    pauses = [(at(2026, 5, 12, 10), at(2026, 5, 12, 16))]
    tpauses = [(p.timestamp(), q.timestamp()) for p, q in pauses]
    assert office.elapsed_ts(ta, tb, tpauses) == office.elapsed(a, b, pauses)
    assert office.add_ts(ta, 9 * H, tpauses) == office.add(a, 9 * H, pauses).timestamp()
    assert office.is_open_ts(ta) and not office.is_open_ts(at(2026, 5, 11, 12, 45).timestamp())
    assert office.next_open_ts(at(2026, 5, 11, 12, 45).timestamp()) == at(2026, 5, 11, 13, 30).timestamp()


def test_open_intervals_for_explanations(office: BusinessCalendar) -> None:
    def ts(*args: int) -> float:
        return at(*args).timestamp()

    got = office.open_intervals_ts(ts(2026, 5, 11, 10), ts(2026, 5, 12, 11))
    assert got == [
        (ts(2026, 5, 11, 10), ts(2026, 5, 11, 12, 30)),
        (ts(2026, 5, 11, 13, 30), ts(2026, 5, 11, 17)),
        (ts(2026, 5, 12, 9), ts(2026, 5, 12, 11)),
    ]
    assert office.open_intervals_ts(ts(2026, 5, 16), ts(2026, 5, 17)) == []


def test_results_are_stdlib_datetimes_at_the_zones_offset(office: BusinessCalendar) -> None:
    due = office.add(at(2026, 5, 11, 7, tz=UTC), H)
    assert type(due) is dt.datetime and due.utcoffset() == dt.timedelta(hours=2)
    assert due.tzname() == "CEST" and (due.hour, due.minute) == (10, 0)
    assert due == at(2026, 5, 11, 10)  # 07:00Z is 09:00 in Berlin


@pytest.mark.parametrize("seconds", [1800, 5400])  # the first and the second 02:30
def test_a_result_in_the_repeated_autumn_hour_equals_the_true_instant(seconds: int) -> None:
    # With ZoneInfo results, PEP 495 makes both compare unequal to the UTC instant.
    utc = dt.UTC
    cal = BusinessCalendar.always("Europe/Berlin")
    start = dt.datetime(2026, 10, 25, 0, tzinfo=utc)
    due = cal.add(start, seconds)
    assert due == start + dt.timedelta(seconds=seconds)
    assert cal.next_open(start + dt.timedelta(seconds=seconds)) == start + dt.timedelta(seconds=seconds)
    assert (due.hour, due.minute) == (2, 30)


def test_pendulum_datetimes_are_accepted(office: BusinessCalendar) -> None:
    start = pendulum.datetime(2026, 5, 11, 9, tz="Europe/Berlin")
    assert office.add(start, H) == at(2026, 5, 11, 10)
    assert office.elapsed(start, pendulum.datetime(2026, 5, 11, 8, tz="UTC")) == H
    assert office.is_open(start) and office.next_open(start) == start


# -- errors --------------------------------------------------------------------------


def test_naive_datetimes_are_refused(office: BusinessCalendar) -> None:
    naive = dt.datetime(2026, 5, 11, 9)
    aware = at(2026, 5, 11, 9)
    for call in (
        lambda: office.add(naive, 1),
        lambda: office.elapsed(naive, aware),
        lambda: office.elapsed(aware, naive),
        lambda: office.is_open(naive),
        lambda: office.next_open(naive),
        lambda: office.add(aware, 1, [(naive, aware)]),
    ):
        with pytest.raises(ValueError, match="naive"):
            call()


def test_bad_arguments(office: BusinessCalendar) -> None:
    a, b = at(2026, 5, 11, 9), at(2026, 5, 11, 10)
    with pytest.raises(ValueError, match="before start"):
        office.elapsed(b, a)
    with pytest.raises(ValueError, match="before start"):
        office.elapsed_ts(b.timestamp(), a.timestamp())
    with pytest.raises(ValueError, match="negative"):
        office.add(a, -1)
    with pytest.raises(ValueError, match="nan"):
        office.add_ts(a.timestamp(), float("nan"))
    with pytest.raises(ValueError, match="ends before it begins"):
        office.elapsed(a, b, [(b, a)])
    with pytest.raises(ValueError, match="supported years"):
        office.add(a, 1e13)


def hours_error(hours: object, tz: str = "UTC") -> str:
    with pytest.raises(ValueError) as err:
        BusinessCalendar.from_dict({"tz": tz, "hours": hours})
    return str(err.value)


@pytest.mark.parametrize(
    ("hours", "named"),
    [
        ({"mon": ["25:00-26:00"]}, "25:00"),
        ({"mon": ["9am-5pm"]}, "9am"),
        ({"mon": ["09:00-09:00"]}, "09:00-09:00"),
        ({"mon": ["09:60-10:00"]}, "09:60"),
        ({"mon": ["24:00-02:00"]}, "24:00"),
        ({"mon": ["09:00"]}, "09:00"),
        ({"mon": "09:00-17:00"}, "09:00-17:00"),
        ({"mon": [900]}, "900"),
        ({"mo": ["09:00-17:00"]}, "mo"),
        ({"mon": ["09:00-12:00", "11:00-13:00"]}, "11:00-13:00"),
        ({"mon": ["22:00-06:00"], "tue": ["05:00-12:00"]}, "tue '05:00-12:00'"),
        ({"sun": ["22:00-06:00"], "mon": ["05:30-12:00"]}, "sun '22:00-06:00'"),
    ],
)
def test_bad_hours_name_the_value(hours: object, named: str) -> None:
    assert named in hours_error(hours)


def test_touching_segments_are_fine() -> None:
    cal = BusinessCalendar.from_dict(
        {"tz": "UTC", "hours": {"mon": ["09:00-12:00", "12:00-13:00"], "sun": ["22:00-09:00"]}}
    )
    assert cal.elapsed(at(2026, 5, 10, tz=UTC), at(2026, 5, 12, tz=UTC)) == 15 * H


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"tz": "Mars/Olympus", "hours": {"mon": ["09:00-17:00"]}}, "Mars/Olympus"),
        ({"tz": "", "hours": {"mon": ["09:00-17:00"]}}, "''"),
        ({"tz": "Europe", "hours": {"mon": ["09:00-17:00"]}}, "Europe"),
        ({"hours": {"mon": ["09:00-17:00"]}}, "tz"),
        ({"tz": "UTC", "hours": {}}, "no open hours"),
        ({"tz": "UTC"}, "no open hours"),
        ({"tz": "UTC", "hours": {"mon": [], "tue": []}}, "no open hours"),
        ({"tz": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": ["2026-02-30"]}, "2026-02-30"),
        ({"tz": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": ["Christmas"]}, "Christmas"),
        ({"tz": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": {"country": "XX"}}, "XX"),
        (
            {"tz": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": {"country": "DE", "subdiv": "ZZ"}},
            "ZZ",
        ),
        (
            {"tz": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": {"country": "DE", "extra": ["x"]}},
            "'x'",
        ),
        ({"tz": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": {"county": "DE"}}, "county"),
        ({"tz": "UTC", "hours": {"mon": ["09:00-17:00"]}, "timezone": "UTC"}, "timezone"),
    ],
)
def test_bad_calendars_name_the_value(spec: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError) as err:
        BusinessCalendar.from_dict(spec)
    assert named in str(err.value)


def test_unknown_zone_for_always() -> None:
    with pytest.raises(ValueError, match="Nowhere/Land"):
        BusinessCalendar.always("Nowhere/Land")


def test_toml_dates_and_tuples_are_accepted() -> None:
    cal = BusinessCalendar.from_dict(
        {"tz": "UTC", "hours": {"Mon": ("09:00-17:00",)}, "holidays": (dt.date(2026, 5, 11),)}
    )
    assert not cal.is_open(at(2026, 5, 11, 10, tz=UTC))
    assert cal.is_open(at(2026, 5, 18, 10, tz=UTC))
