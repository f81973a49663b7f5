"""The queue's row model: urgency order, state at now, countdown text, filters."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from sladesk_tui.core.clocks import Clock
from sladesk_tui.core.durations import format_clock_duration, format_countdown
from sladesk_tui.core.overrides import Override
from sladesk_tui.core.queue import (
    ClockCell,
    QueueFilter,
    badge,
    build_row,
    cell_text,
    counts,
    cycle,
    natural_key,
    next_change,
    sort_key,
)
from sladesk_tui.core.tickets import TicketRecord

H = 3600.0
NOW = 1_800_000_000.0  # a Friday, 2027-01-15T08:00:00Z


class NineToFive:
    """Open 09:00-17:00 UTC every day: enough calendar to test business countdowns."""

    def is_open_ts(self, at: float) -> bool:
        return 9 * H <= at % 86400 < 17 * H

    def elapsed_ts(self, start: float, end: float) -> float:
        total, t = 0.0, start
        while t < end:
            day = t - t % 86400
            lo, hi = max(t, day + 9 * H), min(end, day + 17 * H)
            total += max(0.0, hi - lo)
            t = day + 86400
        return total


def record(tid: str = "T-1", **kw) -> TicketRecord:
    base = dict(
        id=tid,
        customer="acme",
        service=None,
        title="Printer on fire",
        priority="P2",
        status="open",
        assignee="sam",
        agreement_id="acme-gold",
        agreement_version=1,
        no_agreement_reason=None,
        is_open=True,
        created_ts=NOW - H,
        updated_ts=NOW - H,
        ended_ts=None,
    )
    base.update(kw)
    return TicketRecord(**base)


def running(name: str, due: float, at_risk: float | None = None, target: float = 4 * H) -> Clock:
    return Clock(
        name=name,
        state="ok",
        target_s=target,
        remaining_s=due - NOW,
        due_at=due,
        at_risk_at=at_risk,
        running=True,
    )


def paused(name: str, remaining: float, breached_at: float | None = None) -> Clock:
    state = "breached" if breached_at is not None else "paused"
    return Clock(
        name=name, state=state, target_s=4 * H, remaining_s=remaining, breached_at=breached_at, running=False
    )


def stopped(name: str, state: str) -> Clock:
    return Clock(
        name=name,
        state=state,
        target_s=H,
        remaining_s=-60.0 if state == "breached" else 60.0,
        stopped_at=NOW - 60,
        running=False,
    )


def row(tid: str = "T-1", clocks: dict[str, Clock] | None = None, **kw):
    cal = kw.pop("calendar", None)
    desk = kw.pop("desk_calendar", None)
    clocks = clocks if clocks is not None else {"response": running("response", NOW + H)}
    return build_row(record(tid, **kw), clocks, NOW, calendar=cal, desk_calendar=desk)


# ---- state at now -------------------------------------------------------------


def test_running_clock_turns_at_risk_then_breaches_strictly_after_due() -> None:
    cell = ClockCell.from_clock(running("resolution", NOW + H, at_risk=NOW + 30 * 60))
    assert cell.phase == "running"
    assert cell.state_at(NOW) == "ok"
    assert cell.state_at(NOW + 30 * 60) == "at_risk"
    assert cell.state_at(NOW + H) == "at_risk"  # exactly at target: not breached
    assert cell.state_at(NOW + H + 0.001) == "breached"


def test_paused_clock_is_paused_unless_already_breached() -> None:
    assert ClockCell.from_clock(paused("resolution", 3 * H)).state_at(NOW + 10 * H) == "paused"
    late = ClockCell.from_clock(paused("resolution", -600, breached_at=NOW - 600))
    assert late.state_at(NOW) == "breached"


def test_stopped_and_absent_clocks_keep_the_engine_state() -> None:
    assert ClockCell.from_clock(stopped("response", "met")).state_at(NOW) == "met"
    assert ClockCell.from_clock(stopped("response", "breached")).phase == "stopped"
    assert ClockCell.from_clock(Clock(name="update", state="n/a")).phase == "none"
    assert ClockCell.from_clock(None).state_at(NOW) == "n/a"


def test_a_late_first_reply_does_not_make_the_row_breached() -> None:
    r = row(
        clocks={"response": stopped("response", "breached"), "resolution": running("resolution", NOW + 5 * H)}
    )
    assert r.state_at(NOW) == "ok"
    assert cell_text(r, r.response, NOW) == "missed"


def test_row_state_is_the_worst_live_clock() -> None:
    r = row(
        clocks={
            "response": running("response", NOW + 60, at_risk=NOW - 1),
            "resolution": running("resolution", NOW + 5 * H),
        }
    )
    assert r.state_at(NOW) == "at_risk"
    assert r.state_at(NOW + 61) == "breached"
    assert row(clocks={"resolution": paused("resolution", H)}).state_at(NOW) == "paused"
    held = row(clocks={"response": paused("response", 600), "resolution": running("resolution", NOW + 5 * H)})
    assert held.state_at(NOW) == "ok"  # one clock held, the other still runs: not PAUSED
    assert row(clocks={}).state_at(NOW) == "none"


# ---- countdowns ---------------------------------------------------------------


def test_format_countdown_examples() -> None:
    assert format_countdown(1 * H + 12 * 60 + 59) == "1h 12m"
    assert format_countdown(-25 * 60) == "-25m"
    assert format_countdown(45.9) == "45s"
    assert format_countdown(0) == "0s"
    assert format_countdown(52 * H + 5 * 60) == "52h 05m"
    assert format_countdown(3 * H, paused=True) == "paused 3h 00m left"
    assert format_countdown(3 * H, paused=True, compact=True) == "paused 3h 00m"
    assert format_countdown(-90, paused=True) == "paused -1m"
    assert format_countdown(None) == ""


@given(st.floats(min_value=-1e7, max_value=1e7, allow_nan=False))
def test_format_clock_duration_never_overstates(s: float) -> None:
    text = format_clock_duration(s)
    h = int(text.split("h")[0]) if "h" in text else 0
    rest = text.split("h")[-1].strip()
    m = int(rest[:-1]) if rest.endswith("m") else 0
    secs = int(rest[:-1]) if rest.endswith("s") else 0
    assert h * 3600 + m * 60 + secs <= abs(s) < h * 3600 + m * 60 + secs + (1 if secs or not (h or m) else 60)


def test_countdown_counts_business_time_and_stands_still_when_closed() -> None:
    cal = NineToFive()
    # Due Friday 11:00 UTC; at 08:00 the desk is closed: 2 business hours left.
    r = row(clocks={"response": running("response", NOW + 3 * H)}, calendar=cal)
    assert cell_text(r, r.response, NOW) == "2h 00m"
    assert cell_text(r, r.response, NOW - 5 * H) == "2h 00m"  # 03:00: nothing counts at night
    assert cell_text(r, r.response, NOW + 2.5 * H) == "30m"
    assert cell_text(r, r.response, NOW + 3 * H + 25 * 60) == "-25m"


def test_countdown_is_wall_clock_without_a_calendar() -> None:
    r = row(clocks={"response": running("response", NOW + 3 * H)})
    assert cell_text(r, r.response, NOW + 30) == "2h 59m"


def test_paused_cell_shows_time_left() -> None:
    r = row(clocks={"resolution": paused("resolution", 3 * H)})
    assert cell_text(r, r.resolution, NOW) == "paused 3h 00m left"
    assert cell_text(r, r.resolution, NOW, compact=True) == "paused 3h 00m"


def test_reply_column_moves_to_the_update_cycle_after_the_first_reply() -> None:
    r = row(
        clocks={
            "response": stopped("response", "met"),
            "update": running("update", NOW + 600),
            "resolution": running("resolution", NOW + 5 * H),
        }
    )
    cell, label = r.reply_cell
    assert (cell, label) == (r.update, "upd")
    plain = row(clocks={"response": running("response", NOW + 600)})
    assert plain.reply_cell == (plain.response, "")


# ---- off shift ----------------------------------------------------------------


def test_off_shift_flags_a_breach_while_the_desk_is_closed() -> None:
    desk = NineToFive()
    night = row(clocks={"resolution": running("resolution", NOW + 20 * H)}, desk_calendar=desk)  # 04:00 Sat
    day = row(clocks={"resolution": running("resolution", NOW + 4 * H)}, desk_calendar=desk)  # 12:00
    assert night.off_shift and not day.off_shift
    assert badge(night, night.state_at(NOW)) == "OFF SHIFT"
    assert badge(night, "at_risk") == "AT RISK OFF SHIFT"
    assert badge(night, "at_risk", compact=True) == "AT RISK OFF"
    assert badge(night, "breached") == "BREACHED"  # too late to warn
    assert not row(clocks={"resolution": running("resolution", NOW + 20 * H)}).off_shift  # no desk calendar


# ---- order --------------------------------------------------------------------


def test_urgency_breached_first_then_nearest_breach_then_paused_then_rest() -> None:
    rows = [
        row("T-none", clocks={}),
        row("T-paused-long", clocks={"resolution": paused("resolution", 5 * H)}),
        row("T-later", clocks={"resolution": running("resolution", NOW + 5 * H)}),
        row("T-paused-short", clocks={"resolution": paused("resolution", H)}),
        row(
            "T-soon",
            clocks={
                "response": running("response", NOW + 600),
                "resolution": running("resolution", NOW + 9 * H),
            },
        ),
        row("T-breached-old", clocks={"resolution": running("resolution", NOW - 2 * H)}),
        row("T-breached-paused", clocks={"resolution": paused("resolution", -600, breached_at=NOW - H)}),
    ]
    assert [r.id for r in sorted(rows, key=sort_key("urgency"))] == [
        "T-breached-old",
        "T-breached-paused",
        "T-soon",
        "T-later",
        "T-paused-short",
        "T-paused-long",
        "T-none",
    ]


@settings(max_examples=60)
@given(
    st.lists(st.floats(min_value=-10 * H, max_value=10 * H), min_size=1, max_size=12),
    st.floats(min_value=0, max_value=20 * H),
)
def test_urgency_order_puts_breached_rows_first_at_any_later_instant(dues: list[float], later: float) -> None:
    rows = sorted(
        (row(f"T-{i}", clocks={"resolution": running("resolution", NOW + d)}) for i, d in enumerate(dues)),
        key=sort_key("urgency"),
    )
    states = [r.state_at(NOW + later) for r in rows]
    first_unbreached = next((i for i, s in enumerate(states) if s != "breached"), len(states))
    assert all(s != "breached" for s in states[first_unbreached:])


def test_alternative_sorts() -> None:
    rows = [
        row("T-10", priority="P1", created_ts=NOW - 3 * H),
        row("T-2", priority="P3", created_ts=NOW - 9 * H),
        row("T-1", priority="P2", created_ts=NOW - 1 * H),
    ]
    assert [r.id for r in sorted(rows, key=sort_key("id"))] == ["T-1", "T-2", "T-10"]
    assert [r.id for r in sorted(rows, key=sort_key("priority"))] == ["T-10", "T-1", "T-2"]
    assert [r.id for r in sorted(rows, key=sort_key("age"))] == ["T-2", "T-10", "T-1"]
    assert natural_key("P10") > natural_key("P9")


# ---- filters and counts -------------------------------------------------------


def test_filters() -> None:
    rows = [
        row(
            "T-1",
            title="Invoices fail to post",
            assignee="sam",
            priority="P1",
            clocks={"response": running("response", NOW + 60, at_risk=NOW)},
        ),
        row(
            "T-2",
            title="VPN slow",
            assignee="kim",
            agreement_id="beta-std",
            clocks={"response": running("response", NOW + 9 * H)},
        ),
        row(
            "T-3",
            title="Password reset",
            customer="Initech",
            assignee=None,
            clocks={"response": running("response", NOW - 60)},
        ),
    ]
    ids = lambda f: [r.id for r in f.apply(rows, NOW)]  # noqa: E731 - a one-line local helper
    assert ids(QueueFilter()) == ["T-1", "T-2", "T-3"]
    assert ids(QueueFilter(text="INVOICE")) == ["T-1"]
    assert ids(QueueFilter(text="initech")) == ["T-3"]
    assert ids(QueueFilter(mine="sam")) == ["T-1"]
    assert ids(QueueFilter(urgent_only=True)) == ["T-1", "T-3"]
    assert ids(QueueFilter(agreement="beta-std")) == ["T-2"]
    assert ids(QueueFilter(priority="P1")) == ["T-1"]
    assert ids(QueueFilter(text="t-", mine="kim")) == ["T-2"]
    c = counts(rows, NOW)
    assert (c.open, c.at_risk, c.breached) == (3, 1, 1)


def test_cycle_walks_the_choices_then_back_to_all() -> None:
    assert cycle(None, ["P1", "P2"]) == "P1"
    assert cycle("P1", ["P1", "P2"]) == "P2"
    assert cycle("P2", ["P1", "P2"]) is None
    assert cycle("gone", ["P1"]) == "P1"
    assert cycle(None, []) is None


def test_next_change_is_the_next_threshold_crossing() -> None:
    rows = [
        row("T-1", clocks={"response": running("response", NOW + 600, at_risk=NOW + 300)}),
        row("T-2", clocks={"response": running("response", NOW + 100)}),
        row("T-3", clocks={"resolution": paused("resolution", 60)}),
    ]
    t = next_change(rows, NOW)
    assert NOW + 100 < t < NOW + 100.001
    assert counts(rows, t).breached == 1 and counts(rows, NOW + 100).breached == 0
    assert next_change(rows, NOW + 200) == NOW + 300
    assert next_change(rows, NOW + 700) == math.inf


def test_untrusted_text_is_neutralised_in_the_row() -> None:
    r = row(title="\x1b]52;c;AAAA\x07[@click=app.quit]x[/]", customer="\u202eevil")
    assert "\x1b" not in r.title and r.title.endswith("[@click=app.quit]x[/]")
    assert r.customer == "\ufffdevil"


def test_a_future_hold_end_asks_for_a_recompute() -> None:
    hold = Override(
        id=1,
        ticket="T-1",
        kind="hold",
        at=NOW - H,
        operator="sam",
        reason="third_party",
        justification="waiting on the vendor fix",
        until=NOW + 2 * H,
    )
    rejected = Override(
        id=2,
        ticket="T-1",
        kind="hold",
        at=NOW - H,
        operator="sam",
        reason="other",
        justification="another long justification",
        until=NOW + H,
        status="rejected",
    )
    assert row(overrides=(hold, rejected)).recompute_at == NOW + 2 * H
    assert row().recompute_at is None
