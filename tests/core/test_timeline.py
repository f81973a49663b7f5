"""The explanation's lines (core.timeline), shared by `sladesk ticket` and the ticket screen.

Times are Berlin wall-clock times in the week of Monday 2026-11-23 (CET, UTC+1).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from sladesk_tui.core.agreements import Agreement, Targets
from sladesk_tui.core.calendar import BusinessCalendar
from sladesk_tui.core.clocks import Segment, compute_clocks
from sladesk_tui.core.events import Event
from sladesk_tui.core.timeline import timeline_lines, visible_segments

BER = ZoneInfo("Europe/Berlin")
H = 3600.0


def at(hm: str, day: int = 23) -> float:
    h, m = (int(p) for p in hm.split(":"))
    return dt.datetime(2026, 11, day, h, m, tzinfo=BER).timestamp()


def test_a_zero_length_stretch_gets_no_line_and_markers_stay() -> None:
    segs = [
        Segment(at("09:00"), at("11:52"), "counted"),
        Segment(at("11:52"), at("11:52") + 2.4e-7, "closed"),  # float noise at `now`
        Segment(at("11:52"), at("11:52"), "rule", "priority P2 -> P1 (keep)"),
        Segment(at("11:52"), at("11:52"), "paused", "waiting"),
        Segment(at("11:52"), at("12:10"), "counted"),
    ]
    assert timeline_lines(segs, BER) == [
        "Mon 23 Nov 09:00-11:52     counted  2h 52m",
        "           11:52           ◆ priority P2 -> P1 (keep)",
        "           11:52-12:10     counted  18m",
    ]
    assert [s.kind for s in visible_segments(segs)] == ["counted", "rule", "counted"]


def test_limit_counts_only_the_stretches_that_get_a_line() -> None:
    segs = [Segment(at("09:00") + i * H, at("09:00") + (i + 1) * H, "counted") for i in range(3)]
    slivers = [Segment(s.end, s.end, "closed") for s in segs]
    mixed = sorted(segs + slivers, key=lambda s: (s.start, s.end))
    assert timeline_lines(mixed, BER, limit=2) == timeline_lines(segs, BER, limit=2)
    assert timeline_lines(mixed, BER, limit=2)[0] == "… 1 earlier stretches not shown"


@settings(max_examples=60, deadline=None)
@given(minutes=st.integers(1, 479), fraction=st.floats(0.0, 0.999_999_9))
def test_a_24x7_clock_never_explains_a_stretch_of_nothing(minutes: int, fraction: float) -> None:
    """A `now` with a fraction of a second (the app's clock) on a 24x7 agreement: one
    counted stretch, never a `closed hours 0s` sliver after it (as users reported)."""
    ag = Agreement(
        id="gold",
        name="Gold",
        customer="acme",
        calendar="24x7",
        targets={"P2": Targets(response=H, resolution=8 * H)},
    )
    created = Event(
        id="e1",
        type="created",
        at=at("09:00"),
        ticket="T-1",
        seq=1,
        customer="acme",
        priority="P2",
        title="t",
    )
    now = at("09:00") + minutes * 60 + fraction
    clock = compute_clocks(ag, BusinessCalendar.always("UTC"), [created], now, explain=True)["resolution"]
    lines = timeline_lines(clock.explanation, BER)
    assert len(lines) == 1 and " counted " in lines[0], lines
    assert all(s.kind == "counted" for s in visible_segments(clock.explanation))
