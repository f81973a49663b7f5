"""The clock engine (docs/clocks.md): hand-checked scenarios on two calendars, and properties.

Times are Berlin wall-clock times in the week of Monday 2026-11-23 (CET, UTC+1). The
"berlin" calendar is Mon-Fri 09:00-17:00; "24x7" counts every second. Each scenario
states what both calendars must give, worked out by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sladesk_tui.core.agreements import NO_AGREEMENT, Agreement, AtRisk, Targets
from sladesk_tui.core.calendar import BusinessCalendar
from sladesk_tui.core.clocks import (
    NO_UPDATE_DUE,
    Segment,
    compute_clocks,
    priority_at,
    ticket_clocks,
)
from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override

BER = ZoneInfo("Europe/Berlin")
H = 3600.0
M = 60.0
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
BERLIN = BusinessCalendar.from_dict({"tz": "Europe/Berlin", "hours": {d: ["09:00-17:00"] for d in WEEKDAYS}})
LUNCH = BusinessCalendar.from_dict(
    {"tz": "Europe/Berlin", "hours": {d: ["09:00-12:30", "13:30-17:00"] for d in WEEKDAYS}}
)
ALWAYS = BusinessCalendar.always("UTC")
CALS = {"berlin": BERLIN, "24x7": ALWAYS}
DAYS = {"last_sat": 21, "mon": 23, "tue": 24, "wed": 25, "thu": 26, "fri": 27, "sat": 28, "sun": 29}


def at(day: str, hm: str) -> float:
    """Epoch seconds of a Berlin wall-clock time, 'HH:MM' or 'HH:MM:SS', that week."""
    parts = [int(p) for p in hm.split(":")]
    h, m, s = (parts + [0])[:3]
    return dt.datetime(2026, 11, DAYS[day], h, m, s, tzinfo=BER).timestamp()


def agreement(**kw) -> Agreement:
    base = {
        "id": "acme-gold",
        "name": "ACME Gold",
        "customer": "acme",
        "calendar": "berlin",
        "targets": {
            "P1": Targets(response=15 * M, update=H, resolution=4 * H),
            "P2": Targets(response=H, resolution=8 * H),
            "P3": Targets(response=4 * H, resolution=40 * H),
            "P4": Targets(),
        },
    }
    base.update(kw)
    return Agreement(**base)


GOLD = agreement()


class History:
    """Builds one ticket's events in order, as the store hands them over."""

    def __init__(self, priority: str = "P2", day: str = "mon", hm: str = "09:00") -> None:
        self.seq = itertools.count()
        self.events: list[Event] = []
        self.add("created", day, hm, priority=priority, customer="acme", title="t")

    def add(self, type: str, day: str, hm: str, **kw) -> History:
        n = next(self.seq)
        self.events.append(Event(id=f"e{n}", type=type, at=at(day, hm), ticket="T-1", seq=n, **kw))
        return self

    def clocks(self, now: float, cal: BusinessCalendar = BERLIN, ag: Agreement = GOLD, overrides=(), **kw):
        return compute_clocks(ag, cal, self.events, now, overrides, **kw)


def ov(kind: str, day: str, hm: str, *, status: str = "approved", oid: int = 1, **kw) -> Override:
    return Override(
        id=oid,
        ticket="T-1",
        kind=kind,
        at=at(day, hm),
        operator="sam",
        reason="other",
        justification="a good reason, written down",
        status=status,
        **kw,
    )


# ---- pauses -------------------------------------------------------------------------


@pytest.mark.parametrize("cal", ["berlin", "24x7"])
def test_pause_while_waiting_then_resume(cal: str) -> None:
    h = History("P2", "mon", "10:00").add("reply", "mon", "10:30")
    h.add("status", "mon", "11:00", status="waiting")
    # While waiting: 10:00-11:00 counted, then standing still; no due instant.
    c = h.clocks(at("mon", "15:00"), CALS[cal])["resolution"]
    assert (c.state, c.elapsed_s, c.remaining_s, c.due_at, c.running) == ("paused", H, 7 * H, None, False)
    h.add("status", "tue", "10:00", status="open")
    # Resumed: 1h Monday + 2h Tuesday (the pause swallows the night on both calendars).
    c = h.clocks(at("tue", "12:00"), CALS[cal])["resolution"]
    assert (c.state, c.elapsed_s, c.remaining_s, c.ratio) == ("ok", 3 * H, 5 * H, 3 / 8)
    # 5h left from Tue 12:00: Berlin reaches 8h at 17:00 sharp, whose breach instant
    # is the next opening (Wed 09:00); 24x7 simply at 17:00. 75% (6h) at Tue 15:00.
    assert c.due_at == (at("wed", "09:00") if cal == "berlin" else at("tue", "17:00"))
    assert c.at_risk_at == at("tue", "15:00")
    resp = h.clocks(at("tue", "12:00"), CALS[cal])["response"]
    assert (resp.state, resp.elapsed_s, resp.stopped_at) == ("met", 30 * M, at("mon", "10:30"))


def test_a_status_outside_pause_statuses_does_not_pause() -> None:
    h = History("P2").add("status", "mon", "10:00", status="on_hold")
    c = h.clocks(at("mon", "12:00"))["resolution"]
    assert (c.state, c.elapsed_s) == ("ok", 3 * H)
    c = h.clocks(at("mon", "12:00"), ag=agreement(pause_statuses=frozenset({"waiting", "on_hold"})))[
        "resolution"
    ]
    assert (c.state, c.elapsed_s) == ("paused", H)


# ---- reopen ---------------------------------------------------------------------------


@pytest.mark.parametrize("cal", ["berlin", "24x7"])
@pytest.mark.parametrize("policy", ["resume", "restart"])
def test_reopen(cal: str, policy: str) -> None:
    h = History("P2", "mon", "09:00").add("resolved", "mon", "12:00").add("reopened", "tue", "09:00")
    clocks = h.clocks(at("tue", "11:00"), CALS[cal], agreement(on_reopen=policy))
    c = clocks["resolution"]
    if policy == "resume":
        # 3h Monday + 2h since the reopen; the resolved stretch does not count.
        assert (c.elapsed_s, c.started_at, c.due_at) == (5 * H, at("mon", "09:00"), at("tue", "14:00"))
    else:
        # A fresh 8h from the reopen instant.
        assert (c.elapsed_s, c.started_at) == (2 * H, at("tue", "09:00"))
        assert c.due_at == (at("wed", "09:00") if cal == "berlin" else at("tue", "17:00"))
    assert c.running and c.stopped_at is None
    # `resolved` also stopped the unanswered response clock, late: 3h > 1h.
    r = clocks["response"]
    assert (r.state, r.stopped_at, r.breached_at) == ("breached", at("mon", "12:00"), at("mon", "10:00"))


def test_resolution_stopped_then_closed_keeps_its_first_stop() -> None:
    h = (
        History("P2")
        .add("reply", "mon", "09:10")
        .add("resolved", "mon", "11:00")
        .add("closed", "tue", "11:00")
    )
    c = h.clocks(at("wed", "09:00"))["resolution"]
    assert (c.state, c.elapsed_s, c.stopped_at, c.running) == ("met", 2 * H, at("mon", "11:00"), False)


# ---- priority change ------------------------------------------------------------------


@pytest.mark.parametrize("cal", ["berlin", "24x7"])
def test_priority_change_keep(cal: str) -> None:
    h = History("P3").add("reply", "mon", "09:30").add("priority", "mon", "10:00", priority="P1")
    clocks = h.clocks(at("mon", "12:00"), CALS[cal])
    c = clocks["resolution"]
    # P1's 4h target, the 3h since creation kept: exactly 75% now.
    assert (c.target_s, c.elapsed_s, c.due_at, c.at_risk_at) == (
        4 * H,
        3 * H,
        at("mon", "13:00"),
        at("mon", "12:00"),
    )
    assert c.state == "at_risk"
    # The response clock had stopped before the change: it keeps P3's target.
    r = clocks["response"]
    assert (r.state, r.target_s, r.elapsed_s) == ("met", 4 * H, 30 * M)


@pytest.mark.parametrize("cal", ["berlin", "24x7"])
def test_priority_change_restart(cal: str) -> None:
    h = History("P3").add("reply", "mon", "09:30").add("priority", "mon", "10:00", priority="P1")
    c = h.clocks(at("mon", "12:00"), CALS[cal], agreement(on_priority_change="restart"))["resolution"]
    assert (c.state, c.target_s, c.elapsed_s, c.started_at) == ("ok", 4 * H, 2 * H, at("mon", "10:00"))
    assert c.due_at == at("mon", "14:00")


def test_priority_raise_under_keep_can_breach_at_once() -> None:
    h = History("P3").add("reply", "mon", "09:30").add("priority", "mon", "14:00", priority="P1")
    c = h.clocks(at("mon", "14:00"))["resolution"]
    # 5h elapsed against P1's 4h: breached the moment the change lands.
    assert (c.state, c.breached_at, c.remaining_s, c.running) == ("breached", at("mon", "13:00"), -H, True)


def test_priority_without_target_is_na_and_a_later_target_applies() -> None:
    h = History("P4")
    clocks = h.clocks(at("mon", "10:00"))
    assert {n: c.state for n, c in clocks.items()} == {
        "response": "n/a",
        "update": "n/a",
        "resolution": "n/a",
    }
    assert clocks["resolution"].reason == "no resolution target for priority P4"
    h.add("priority", "mon", "10:00", priority="P2")
    c = h.clocks(at("mon", "11:00"))["resolution"]
    assert (c.state, c.elapsed_s, c.target_s) == ("ok", 2 * H, 8 * H)


# ---- exactly at the target --------------------------------------------------------------


@pytest.mark.parametrize("cal", ["berlin", "24x7"])
def test_a_clock_exactly_at_its_target_is_met(cal: str) -> None:
    r = History("P2").add("reply", "mon", "10:00").clocks(at("mon", "12:00"), CALS[cal])["response"]
    assert (r.state, r.elapsed_s, r.remaining_s, r.breached_at) == ("met", H, 0.0, None)


@pytest.mark.parametrize("cal", ["berlin", "24x7"])
def test_breached_one_second_past_the_target(cal: str) -> None:
    r = History("P2").add("reply", "mon", "10:00:01").clocks(at("mon", "12:00"), CALS[cal])["response"]
    assert (r.state, r.elapsed_s, r.remaining_s, r.breached_at) == (
        "breached",
        H + 1,
        -1.0,
        at("mon", "10:00"),
    )


@pytest.mark.parametrize("cal", ["berlin", "24x7"])
def test_running_clock_at_its_due_instant_is_not_yet_breached(cal: str) -> None:
    h = History("P2")
    r = h.clocks(at("mon", "10:00"), CALS[cal])["response"]
    assert (r.state, r.due_at, r.elapsed_s) == ("at_risk", at("mon", "10:00"), H)
    r = h.clocks(at("mon", "10:00:01"), CALS[cal])["response"]
    assert (r.state, r.breached_at, r.running) == ("breached", at("mon", "10:00"), True)


def test_target_reached_at_closing_time_breaches_at_the_next_opening() -> None:
    h = History("P2")
    for now in (at("mon", "17:00"), at("mon", "23:00"), at("tue", "09:00")):
        c = h.clocks(now)["resolution"]
        assert (c.state, c.elapsed_s, c.due_at) == ("at_risk", 8 * H, at("tue", "09:00"))
    c = h.clocks(at("tue", "09:00:01"))["resolution"]
    assert (c.state, c.breached_at, c.elapsed_s) == ("breached", at("tue", "09:00"), 8 * H + 1)
    c = h.clocks(at("mon", "17:00:01"), ALWAYS)["resolution"]
    assert (c.state, c.breached_at) == ("breached", at("mon", "17:00"))


def test_clock_started_outside_hours_counts_from_the_opening() -> None:
    h = History("P2", "last_sat", "10:00")
    c = h.clocks(at("mon", "09:30"))["response"]
    assert (c.started_at, c.elapsed_s, c.due_at) == (at("last_sat", "10:00"), 30 * M, at("mon", "10:00"))


# ---- breached wins ------------------------------------------------------------------------


@pytest.mark.parametrize("cal", ["berlin", "24x7"])
def test_breached_wins_over_paused(cal: str) -> None:
    h = History("P2").add("status", "mon", "10:30", status="waiting")
    clocks = h.clocks(at("mon", "11:00"), CALS[cal])
    r = clocks["response"]
    assert (r.state, r.elapsed_s, r.breached_at, r.due_at, r.running) == (
        "breached",
        1.5 * H,
        at("mon", "10:00"),
        None,
        False,
    )
    c = clocks["resolution"]
    assert (c.state, c.remaining_s, c.due_at) == ("paused", 6.5 * H, None)


def test_breached_clock_keeps_running_until_it_stops() -> None:
    h = History("P2")
    r = h.clocks(at("mon", "10:20"))["response"]
    assert (r.state, r.running, r.elapsed_s, r.stopped_at) == ("breached", True, 80 * M, None)
    h.add("reply", "mon", "11:00")
    r = h.clocks(at("mon", "12:00"))["response"]
    assert (r.state, r.running, r.elapsed_s, r.stopped_at) == ("breached", False, 2 * H, at("mon", "11:00"))


# ---- overrides ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cal", ["berlin", "24x7"])
def test_hold_override(cal: str) -> None:
    h = History("P2")
    hold = ov("hold", "mon", "10:00", until=at("mon", "14:00"))
    raw, adj = ticket_clocks(GOLD, CALS[cal], h.events, at("mon", "12:00"), [hold])
    assert (raw["resolution"].state, raw["resolution"].elapsed_s) == ("ok", 3 * H)
    assert raw["response"].state == "breached"
    c = adj["resolution"]
    assert (c.state, c.elapsed_s, c.due_at, c.resumes_at) == ("paused", H, None, at("mon", "14:00"))
    # Held at exactly its target: paused, not breached.
    assert (adj["response"].state, adj["response"].elapsed_s) == ("paused", H)
    # After the hold: 1h before it + 1h since; 6h left from 15:00.
    adj = compute_clocks(GOLD, CALS[cal], h.events, at("mon", "15:00"), [hold])
    c = adj["resolution"]
    assert (c.state, c.elapsed_s) == ("ok", 2 * H)
    assert c.due_at == (at("tue", "13:00") if cal == "berlin" else at("mon", "21:00"))
    # The response target was reached at 10:00, and stood there through the hold:
    # the breach instant is when counting resumed.
    assert (adj["response"].state, adj["response"].breached_at) == ("breached", at("mon", "14:00"))


def test_hold_on_one_clock_leaves_the_others() -> None:
    h = History("P2")
    hold = ov("hold", "mon", "10:00", until=at("mon", "14:00"), clock="resolution")
    adj = compute_clocks(GOLD, BERLIN, h.events, at("mon", "12:00"), [hold])
    assert adj["resolution"].state == "paused"
    assert (adj["response"].state, adj["response"].elapsed_s) == ("breached", 3 * H)


def test_hold_during_a_status_pause_has_no_resume_instant() -> None:
    h = History("P2").add("status", "mon", "10:00", status="waiting")
    hold = ov("hold", "mon", "11:00", until=at("mon", "14:00"))
    c = compute_clocks(GOLD, BERLIN, h.events, at("mon", "12:00"), [hold])["resolution"]
    assert (c.state, c.resumes_at) == ("paused", None)


def test_extend_override() -> None:
    h = History("P2").add("reply", "mon", "10:15")
    raw, adj = ticket_clocks(
        GOLD,
        BERLIN,
        h.events,
        at("mon", "12:00"),
        [ov("extend", "mon", "10:05", clock="response", by_s=30 * M)],
    )
    assert (raw["response"].state, raw["response"].target_s) == ("breached", H)
    assert (adj["response"].state, adj["response"].target_s, adj["response"].remaining_s) == (
        "met",
        1.5 * H,
        15 * M,
    )
    assert adj["resolution"] == raw["resolution"]


def test_exempt_override_keeps_figures() -> None:
    h = History("P2")
    raw, adj = ticket_clocks(
        GOLD, BERLIN, h.events, at("mon", "18:00"), [ov("exempt", "mon", "17:30", clock="resolution", oid=9)]
    )
    c = adj["resolution"]
    assert (c.state, c.elapsed_s, c.remaining_s) == ("exempt", 8 * H, 0.0)
    assert c.reason is not None and "override 9" in c.reason
    assert raw["resolution"].state == "at_risk"
    assert adj["response"].state == "breached"
    everything = compute_clocks(GOLD, BERLIN, h.events, at("mon", "18:00"), [ov("exempt", "mon", "17:30")])
    assert everything["response"].state == "exempt"
    assert everything["response"].breached_at == at("mon", "10:00")


def test_responded_override_stops_the_response_clock_at_its_instant() -> None:
    h = History("P2")
    o = ov("responded", "mon", "11:00", clock="response", responded_at=at("mon", "09:45"))
    raw, adj = ticket_clocks(GOLD, BERLIN, h.events, at("mon", "12:00"), [o])
    assert (raw["response"].state, raw["response"].running) == ("breached", True)
    r = adj["response"]
    assert (r.state, r.stopped_at, r.elapsed_s, r.running) == ("met", at("mon", "09:45"), 45 * M, False)
    assert adj["resolution"] == raw["resolution"]


@pytest.mark.parametrize("policy", ["keep", "restart"])
def test_reprioritize_override_acts_as_a_priority_change(policy: str) -> None:
    h = History("P2").add("reply", "mon", "09:30")
    ag = agreement(on_priority_change=policy)
    raw, adj = ticket_clocks(
        ag, BERLIN, h.events, at("mon", "12:00"), [ov("reprioritize", "mon", "10:00", to_priority="P1")]
    )
    assert (raw["resolution"].target_s, raw["resolution"].state) == (8 * H, "ok")
    c = adj["resolution"]
    if policy == "keep":
        assert (c.target_s, c.elapsed_s, c.state) == (4 * H, 3 * H, "at_risk")
    else:
        assert (c.target_s, c.elapsed_s, c.started_at, c.state) == (4 * H, 2 * H, at("mon", "10:00"), "ok")


def test_priority_at_a_stop_follows_events_then_counting_reprioritizations() -> None:
    h = History("P2").add("priority", "mon", "10:00", priority="P3").add("resolved", "mon", "11:00")
    h.add("priority", "mon", "12:00", priority="P2")  # after the stop: does not count
    stop = at("mon", "11:00")
    moved = ov(
        "reprioritize", "mon", "10:00", to_priority="P1"
    )  # same instant as the event: applied after it
    refused = ov("reprioritize", "mon", "10:30", to_priority="P2", status="rejected", oid=2)
    assert priority_at(h.events, (), stop) == "P3"
    assert priority_at(h.events, [moved, refused], stop) == "P1"
    assert priority_at(h.events, [moved], at("mon", "10:00")) == "P2"  # a change at the stop is too late
    raw, adj = ticket_clocks(GOLD, BERLIN, h.events, at("mon", "13:00"), [moved, refused])
    assert (raw["resolution"].target_s, adj["resolution"].target_s) == (40 * H, 4 * H)


_CHANGE = st.tuples(
    st.sampled_from(["event", "override", "rejected"]),
    st.integers(0, 8),  # half hours after Monday 09:00
    st.sampled_from(["P1", "P2", "P3"]),
)


@settings(max_examples=60, deadline=None)
@given(changes=st.lists(_CHANGE, max_size=5), stop_slot=st.integers(1, 9))
def test_priority_at_is_the_priority_the_engine_counts_with(changes, stop_slot: int) -> None:
    """With a distinct resolution target per priority, the adjusted clock's target names
    the priority the engine used; `priority_at` (the reports' rule) must agree, changes
    after the stop included (they must not count)."""
    h = History("P2")
    overrides = []
    for i, (kind, slot, prio) in enumerate(sorted(changes, key=lambda c: c[1])):
        hm = f"{9 + slot // 2:02d}:{30 * (slot % 2):02d}"
        if kind == "event":
            h.add("priority", "mon", hm, priority=prio)
        else:
            status = "approved" if kind == "override" else "rejected"
            overrides.append(ov("reprioritize", "mon", hm, to_priority=prio, status=status, oid=i + 1))
    stop_hm = f"{9 + stop_slot // 2:02d}:{30 * (stop_slot % 2):02d}"
    h.add("resolved", "mon", stop_hm)
    h.events.sort(key=lambda e: (e.at, e.seq))
    _, adj = ticket_clocks(GOLD, BERLIN, h.events, at("mon", "17:00"), overrides)
    prio = priority_at(h.events, overrides, at("mon", stop_hm))
    assert adj["resolution"].stopped_at == at("mon", stop_hm)
    assert adj["resolution"].target_s == GOLD.targets[prio].resolution


def test_out_of_order_has_no_clock_effect() -> None:
    h = History("P2").add("reply", "mon", "10:30")
    raw, adj = ticket_clocks(
        GOLD, BERLIN, h.events, at("mon", "12:00"), [ov("out_of_order", "mon", "11:00", ahead_of="T-9")]
    )
    assert adj == raw


@pytest.mark.parametrize(
    "o",
    [
        ov("extend", "mon", "10:05", clock="response", by_s=30 * M, status="rejected"),
        ov("hold", "mon", "10:00", until=at("mon", "14:00"), status="rejected"),
        ov("exempt", "mon", "10:00", status="rejected"),
        ov("responded", "mon", "11:00", responded_at=at("mon", "09:45"), status="rejected"),
        ov("reprioritize", "mon", "10:00", to_priority="P1", status="rejected"),
    ],
    ids=lambda o: o.kind,
)
def test_a_rejected_override_changes_nothing(o: Override) -> None:
    h = History("P2").add("reply", "mon", "10:15")
    raw, adj = ticket_clocks(GOLD, BERLIN, h.events, at("mon", "12:00"), [o])
    assert adj == raw
    assert compute_clocks(GOLD, BERLIN, h.events, at("mon", "12:00"), [o]) == raw
    pending = Override(**{**{f: getattr(o, f) for f in o.__slots__}, "status": "pending"})
    assert ticket_clocks(GOLD, BERLIN, h.events, at("mon", "12:00"), [pending])[1] != raw


def test_an_override_made_after_now_does_not_count_yet() -> None:
    h = History("P2").add("reply", "mon", "10:15")
    o = ov("extend", "mon", "13:00", clock="response", by_s=30 * M)
    raw, adj = ticket_clocks(GOLD, BERLIN, h.events, at("mon", "12:00"), [o])
    assert adj == raw


# ---- update clock ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cal", ["berlin", "24x7"])
def test_update_clock_cycles(cal: str) -> None:
    h = History("P1").add("reply", "mon", "09:10")
    assert h.clocks(at("mon", "09:30"), CALS[cal])["update"].reason == NO_UPDATE_DUE
    h.add("customer_reply", "mon", "10:00").add("reply", "mon", "10:30")  # cycle 1: 30m, met
    h.add("customer_reply", "mon", "11:00").add("customer_reply", "mon", "11:30")  # one cycle
    h.add("reply", "mon", "12:30")  # cycle 2: 1h30m, breached
    h.add("customer_reply", "mon", "13:00")  # cycle 3, running
    u = h.clocks(at("mon", "13:45"), CALS[cal])["update"]
    assert (u.state, u.started_at, u.elapsed_s, u.due_at, u.running) == (
        "at_risk",
        at("mon", "13:00"),
        45 * M,
        at("mon", "14:00"),
        True,
    )
    assert (u.cycles, u.breached_cycles) == (3, 1)
    u = h.clocks(at("mon", "14:00:01"), CALS[cal])["update"]
    assert (u.state, u.breached_cycles) == ("breached", 2)
    h.add("reply", "mon", "14:30")
    u = h.clocks(at("mon", "15:00"), CALS[cal])["update"]
    assert (u.state, u.elapsed_s, u.stopped_at, u.breached_at, u.cycles, u.breached_cycles) == (
        "breached",
        1.5 * H,
        at("mon", "14:30"),
        at("mon", "14:00"),
        3,
        2,
    )


def test_update_clock_without_a_target_and_after_resolution() -> None:
    h = History("P2").add("customer_reply", "mon", "10:00")
    assert h.clocks(at("mon", "11:00"))["update"].reason == "no update target for priority P2"
    h = History("P1").add("customer_reply", "mon", "10:00").add("resolved", "mon", "10:20")
    h.add("customer_reply", "mon", "11:00")  # "thanks!" on a resolved ticket: no cycle
    u = h.clocks(at("mon", "12:00"))["update"]
    assert (u.state, u.cycles, u.stopped_at, u.elapsed_s) == ("met", 1, at("mon", "10:20"), 20 * M)


def test_update_extension_applies_to_its_own_cycle() -> None:
    h = History("P1").add("customer_reply", "mon", "09:30").add("reply", "mon", "11:00")
    h.add("customer_reply", "mon", "12:00").add("reply", "mon", "13:30")
    o = ov("extend", "mon", "10:00", clock="update", by_s=H)
    u = compute_clocks(GOLD, BERLIN, h.events, at("mon", "14:00"), [o])["update"]
    # Cycle 1 (1h30m) is saved by the extension; cycle 2 (1h30m) is not.
    assert (u.target_s, u.state, u.cycles, u.breached_cycles) == (H, "breached", 2, 1)
    raw = compute_clocks(GOLD, BERLIN, h.events, at("mon", "14:00"))["update"]
    assert raw.breached_cycles == 2


# ---- no agreement ---------------------------------------------------------------------------------


def test_no_agreement_in_force_gives_na_with_the_reason() -> None:
    h = History("P2")
    clocks = compute_clocks(None, BERLIN, h.events, at("mon", "12:00"))
    assert [(c.name, c.state, c.reason) for c in clocks.values()] == [
        ("response", "n/a", NO_AGREEMENT),
        ("update", "n/a", NO_AGREEMENT),
        ("resolution", "n/a", NO_AGREEMENT),
    ]
    why = "agreement 'acme-gold' begins 2027-01-01 (ticket created 2026-11-23)"
    clocks = compute_clocks(None, BERLIN, h.events, at("mon", "12:00"), no_agreement_reason=why)
    assert {c.reason for c in clocks.values()} == {why}


def test_events_after_now_are_ignored() -> None:
    h = History("P2").add("reply", "mon", "11:00")
    r = h.clocks(at("mon", "09:30"))["response"]
    assert (r.state, r.elapsed_s, r.stopped_at) == ("ok", 30 * M, None)
    assert History("P2", "tue").clocks(at("mon", "12:00"))["response"].state == "n/a"


# ---- at risk ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("risk", "flag"),
    [
        (AtRisk(ratio=0.75), "09:45"),
        (AtRisk(ratio=None, remaining_s=30 * M), "09:30"),
        (AtRisk(ratio=0.75, remaining_s=30 * M), "09:30"),  # either: the earlier
        (AtRisk(ratio=0.25, remaining_s=30 * M), "09:15"),
        (AtRisk(ratio=None, remaining_s=None), None),
    ],
)
def test_at_risk_by_ratio_or_remaining(risk: AtRisk, flag: str | None) -> None:
    h = History("P2")
    ag = agreement(at_risk=risk)
    r = h.clocks(at("mon", "09:00"), ag=ag)["response"]
    assert r.at_risk_at == (None if flag is None else at("mon", flag))
    if flag is not None:
        assert h.clocks(at("mon", flag) - 1, ag=ag)["response"].state == "ok"
        assert h.clocks(at("mon", flag), ag=ag)["response"].state == "at_risk"
    else:
        assert h.clocks(at("mon", "10:00"), ag=ag)["response"].state == "ok"


def test_at_risk_reached_at_closing_time_holds_overnight() -> None:
    h = History("P2", "mon", "11:00")
    c = h.clocks(at("mon", "20:00"))["resolution"]
    # 6h of 8h by 17:00: at risk from then, not from Tuesday's opening.
    assert (c.state, c.ratio, c.at_risk_at, c.due_at) == (
        "at_risk",
        0.75,
        at("mon", "17:00"),
        at("tue", "11:00"),
    )
    assert h.clocks(at("mon", "12:00"))["resolution"].state_at(at("mon", "17:00")) == "at_risk"


# ---- the cheap state agrees with the engine ----------------------------------------------------------


@pytest.mark.parametrize("cal", ["berlin", "24x7"])
def test_state_at_agrees_with_the_engine_at_many_instants(cal: str) -> None:
    # Three clocks running from 16:00 on: response (2m of 15m), update (0 of 1h),
    # resolution (2m of 4h); followed over two days, through the night.
    h = History("P1", "mon", "15:50").add("status", "mon", "15:52", status="waiting")
    h.add("customer_reply", "mon", "15:55").add("status", "mon", "16:00", status="open")
    t0 = at("mon", "16:00")
    base = h.clocks(t0, CALS[cal])
    assert all(c.running for c in base.values())
    instants = {t0 + k * 7 * M for k in range(400)}
    for c in base.values():
        for t in (c.due_at, c.at_risk_at):
            instants |= {t - 1e-6, t, t + 1e-6, t + 1}
    seen = set()
    for now in sorted(instants):
        fresh = h.clocks(now, CALS[cal])
        for name, c in base.items():
            assert c.state_at(now) == fresh[name].state, (name, now)
            seen.add(fresh[name].state)
    assert {"ok", "at_risk", "breached"} <= seen


_KINDS = st.sampled_from(
    ["reply", "customer_reply", "waiting", "open", "P1", "P2", "P3", "resolved", "reopened", "closed"]
)


_HOLDS = st.lists(
    st.tuples(
        st.floats(0, 1),  # made at this fraction of the ticket's life
        st.one_of(st.none(), st.integers(1, 30 * 3600)),  # lasting (None: open-ended)
        st.sampled_from([None, "response", "update", "resolution"]),
    ),
    max_size=2,
)


@settings(max_examples=80, deadline=None)
@given(
    steps=st.lists(st.tuples(_KINDS, st.integers(0, 20 * 3600)), max_size=8),
    holds=_HOLDS,
    start=st.integers(0, 7 * 86400),
    later=st.integers(0, 3 * 86400),
    cal=st.sampled_from(["berlin", "24x7"]),
    on_prio=st.sampled_from(["keep", "restart"]),
    on_reopen=st.sampled_from(["resume", "restart"]),
)
def test_states_follow_the_figures(steps, holds, start, later, cal, on_prio, on_reopen) -> None:
    """Whatever the history: breached iff elapsed > target, at risk iff the rule holds,
    paused and stopped clocks have no due instant, `state_at` predicts the engine, the
    due instant is where elapsed reaches the target, and the explanation's counted
    stretches (built another way) add up to the elapsed time."""
    t0 = t = at("mon", "00:00") + start
    events = [Event(id="c", type="created", at=t, seq=0, priority="P1", customer="acme", title="t")]
    for i, (kind, gap) in enumerate(steps, 1):
        t += gap
        if kind in ("waiting", "open"):
            events.append(Event(id=str(i), type="status", at=t, seq=i, status=kind))
        elif kind.startswith("P"):
            events.append(Event(id=str(i), type="priority", at=t, seq=i, priority=kind))
        else:
            events.append(Event(id=str(i), type=kind, at=t, seq=i))
    now = t + 1
    overrides = [
        Override(
            id=k,
            ticket="T-1",
            kind="hold",
            at=t0 + f * (now - t0),
            operator="sam",
            reason="other",
            justification="waiting on the supplier",
            clock=clock,
            until=None if length is None else t0 + f * (now - t0) + length,
        )
        for k, (f, length, clock) in enumerate(holds)
    ]
    ag = agreement(on_priority_change=on_prio, on_reopen=on_reopen)
    clocks = compute_clocks(ag, CALS[cal], events, now, overrides, explain=True)
    later_clocks = compute_clocks(ag, CALS[cal], events, now + later, overrides)
    for name, c in clocks.items():
        if c.state == "n/a":
            continue
        assert c.elapsed_s <= now - c.started_at + 1e-6
        counted = sum(s.end - s.start for s in c.explanation if s.kind == "counted")
        assert counted == pytest.approx(c.elapsed_s, abs=1e-5)
        assert (c.state == "breached") == (c.elapsed_s > c.target_s)
        if c.state in ("ok", "at_risk"):
            assert c.running
            assert (c.state == "at_risk") == (c.ratio >= 0.75)
            assert c.due_at is not None and c.due_at >= now - 1e-6
        if not c.running:
            assert c.due_at is None and c.at_risk_at is None
        if c.stopped_at is not None:
            assert c.state in ("met", "breached")
        if c.resumes_at is None or now + later < c.resumes_at:
            assert c.state_at(now + later) == later_clocks[name].state
        if c.running and c.state != "breached":
            at_due = compute_clocks(ag, CALS[cal], events, c.due_at, overrides)[name]
            assert at_due.elapsed_s == pytest.approx(c.target_s, abs=1e-6)
            assert at_due.state != "breached"
            if c.at_risk_at >= now:  # earlier, another priority may have ruled
                at_risk = compute_clocks(ag, CALS[cal], events, c.at_risk_at, overrides)[name]
                assert at_risk.state == "at_risk"
            if c.at_risk_at - 1e-6 >= now:
                before = compute_clocks(ag, CALS[cal], events, c.at_risk_at - 1e-6, overrides)[name]
                assert before.state == "ok"


# ---- explanation ------------------------------------------------------------------------------------------


def _segments(c) -> list[tuple[str, str, str, str]]:
    def hm(t: float) -> str:
        return dt.datetime.fromtimestamp(t, BER).strftime("%a %H:%M")

    return [(hm(s.start), hm(s.end), s.kind, s.note) for s in c.explanation]


def test_explanation_for_a_day_with_lunch_and_a_pause() -> None:
    h = History("P2", "mon", "08:00").add("reply", "mon", "09:15")
    h.add("status", "mon", "10:00", status="waiting").add("status", "mon", "11:00", status="open")
    clocks = h.clocks(at("mon", "18:00"), LUNCH, explain=True)
    c = clocks["resolution"]
    assert _segments(c) == [
        ("Mon 08:00", "Mon 09:00", "closed", ""),
        ("Mon 09:00", "Mon 10:00", "counted", ""),
        ("Mon 10:00", "Mon 11:00", "paused", "waiting"),
        ("Mon 11:00", "Mon 12:30", "counted", ""),
        ("Mon 12:30", "Mon 13:30", "closed", ""),
        ("Mon 13:30", "Mon 17:00", "counted", ""),
        ("Mon 17:00", "Mon 18:00", "closed", ""),
    ]
    counted = sum(s.end - s.start for s in c.explanation if s.kind == "counted")
    assert counted == c.elapsed_s == 6 * H
    assert _segments(clocks["response"]) == [
        ("Mon 08:00", "Mon 09:00", "closed", ""),
        ("Mon 09:00", "Mon 09:15", "counted", ""),
    ]
    assert compute_clocks(GOLD, LUNCH, h.events, at("mon", "18:00"))["resolution"].explanation == ()


def test_explanation_pause_over_lunch_and_24x7() -> None:
    h = History("P2", "mon", "09:00").add("status", "mon", "12:00", status="waiting")
    h.add("status", "mon", "14:00", status="open")
    c = h.clocks(at("mon", "15:00"), LUNCH, explain=True)["resolution"]
    assert _segments(c) == [
        ("Mon 09:00", "Mon 12:00", "counted", ""),
        ("Mon 12:00", "Mon 14:00", "paused", "waiting"),
        ("Mon 14:00", "Mon 15:00", "counted", ""),
    ]
    c = h.clocks(at("mon", "15:00"), ALWAYS, explain=True)["resolution"]
    assert [s.kind for s in c.explanation] == ["counted", "paused", "counted"]


def test_explanation_rules_and_holds() -> None:
    h = (
        History("P3", "mon", "09:00")
        .add("reply", "mon", "09:10")
        .add("priority", "mon", "10:00", priority="P1")
    )
    h.add("resolved", "mon", "11:00").add("reopened", "mon", "13:00")
    hold = ov("hold", "mon", "14:00", until=at("mon", "15:00"), oid=42)
    ext = ov("extend", "mon", "14:30", clock="resolution", by_s=H, oid=43)
    c = compute_clocks(GOLD, BERLIN, h.events, at("mon", "16:00"), [hold, ext], explain=True)["resolution"]
    assert _segments(c) == [
        ("Mon 09:00", "Mon 10:00", "counted", ""),
        ("Mon 10:00", "Mon 10:00", "rule", "priority P3 -> P1 (keep)"),
        ("Mon 10:00", "Mon 11:00", "counted", ""),
        ("Mon 11:00", "Mon 13:00", "paused", "resolved"),
        ("Mon 13:00", "Mon 13:00", "rule", "reopened (resume)"),
        ("Mon 13:00", "Mon 14:00", "counted", ""),
        ("Mon 14:00", "Mon 14:30", "held", "42"),
        ("Mon 14:30", "Mon 14:30", "rule", "extend +1h (override 43)"),
        ("Mon 14:30", "Mon 15:00", "held", "42"),
        ("Mon 15:00", "Mon 16:00", "counted", ""),
    ]
    assert (c.elapsed_s, c.target_s) == (4 * H, 5 * H)
    assert all(isinstance(s, Segment) for s in c.explanation)
