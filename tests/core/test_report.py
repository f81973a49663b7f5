"""Outcomes of a ticket's clocks and the report that counts them: pure, no database."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sladesk_tui.core.agreements import load_agreements
from sladesk_tui.core.availability import availability, merge_outages, services_judged
from sladesk_tui.core.errors import InputError
from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.core.report import (
    Outcome,
    Period,
    Tally,
    Terms,
    build_report,
    tallies,
    ticket_outcomes,
)
from sladesk_tui.core.tickets import TicketRecord

H = 3600.0
AGREEMENTS = load_agreements(
    """
[[calendar]]
id = "berlin"
tz = "Europe/Berlin"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"],
          thu = ["09:00-17:00"], fri = ["09:00-17:00"] }

[[agreement]]
id = "gold"
customer = "acme"
calendar = "24x7"
valid_until = "2026-12-15"
availability = 99.9
services = ["erp"]
on_priority_change = "keep"
[agreement.targets]
P1 = { response = "15m", update = "1h", resolution = "4h" }
P2 = { response = "1h", update = "4h", resolution = "8h" }
[agreement.penalty]
currency = "EUR"
per_breach = { P1 = 500, P2 = 200 }
monthly_cap = 600

[[agreement]]
id = "office"
customer = "berlin-gmbh"
calendar = "berlin"
[agreement.targets]
P2 = { response = "1h", resolution = "8h" }
"""
)
BOOKS = {1: AGREEMENTS}
GOLD = AGREEMENTS.get("gold")
T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC).timestamp()  # a Monday


def record(
    events: list[tuple[float, str, dict[str, str]]],
    *,
    agreement: str = "gold",
    priority: str = "P1",
    overrides: tuple[Override, ...] = (),
    assignee: str | None = "sam",
    t0: float = T0,
) -> TicketRecord:
    evs = [
        Event(
            id="c",
            type="created",
            at=t0,
            ticket="T",
            seq=0,
            customer="acme",
            priority=priority,
            title="t",
            assignee=assignee,
        )
    ]
    evs += [
        Event(id=f"e{i}", type=typ, at=t0 + off, ticket="T", seq=i + 1, **f)
        for i, (off, typ, f) in enumerate(events)
    ]
    evs.sort(key=lambda e: (e.at, e.seq))
    return TicketRecord(
        id="T",
        customer="acme",
        service="erp",
        title="t",
        priority=priority,
        status="open",
        assignee=assignee,
        agreement_id=agreement,
        agreement_version=1,
        no_agreement_reason=None,
        is_open=True,
        created_ts=t0,
        updated_ts=t0,
        ended_ts=None,
        events=tuple(evs),
        overrides=overrides,
    )


def override(
    kind: str, at: float, clock: str | None = None, status: str = "pending", **params: object
) -> Override:
    return Override(
        id=1,
        ticket="T",
        kind=kind,
        at=T0 + at,
        operator="sam",
        reason="other",
        justification="justified at some length",
        clock=clock,
        status=status,
        **params,
    )


def by_clock(outcomes: list[Outcome]) -> dict[tuple[str, int], Outcome]:
    return {(o.clock, o.cycle): o for o in outcomes}


NOW = T0 + 30 * 24 * H


# ---- outcomes of one ticket ----------------------------------------------------------------


def test_a_running_clock_has_no_outcome_and_a_stopped_one_has() -> None:
    out = by_clock(ticket_outcomes(record([(10 * 60, "reply", {})]), BOOKS, NOW))
    assert set(out) == {("response", 0)}
    o = out[("response", 0)]
    assert (o.raw_state, o.adj_state, o.raw_elapsed_s, o.adj_target_s) == ("met", "met", 600.0, 900.0)
    assert (o.priority, o.operator, o.day, o.agreement_id, o.agreement_version) == (
        "P1",
        "sam",
        "2026-11-02",
        "gold",
        1,
    )


def test_exactly_at_target_is_met_one_second_more_is_breached() -> None:
    met = ticket_outcomes(record([(15 * 60, "reply", {})]), BOOKS, NOW)[0]
    late = ticket_outcomes(record([(15 * 60 + 1, "reply", {})]), BOOKS, NOW)[0]
    assert (met.adj_state, late.adj_state) == ("met", "breached")


def test_each_update_cycle_is_an_outcome_and_a_later_exemption_covers_them_all() -> None:
    events = [
        (5 * 60, "reply", {}),
        (1 * H, "customer_reply", {}),
        (1.5 * H, "reply", {}),  # 30m of 1h: met
        (3 * H, "customer_reply", {}),
        (5 * H, "reply", {}),  # 2h of 1h: breached
        (6 * H, "customer_reply", {}),  # still open: no outcome
    ]
    out = by_clock(ticket_outcomes(record(events), BOOKS, NOW))
    assert (out[("update", 1)].adj_state, out[("update", 2)].adj_state) == ("met", "breached")
    assert ("update", 3) not in out
    exempt = override("exempt", 7 * H, "update")
    later = by_clock(ticket_outcomes(record(events, overrides=(exempt,)), BOOKS, NOW))
    assert [later[("update", n)].adj_state for n in (1, 2)] == ["exempt", "exempt"]
    assert [later[("update", n)].raw_state for n in (1, 2)] == ["met", "breached"]


def test_responded_override_stops_only_the_adjusted_clock() -> None:
    o = override("responded", 20 * 60, responded_at=T0 + 10 * 60)
    out = by_clock(ticket_outcomes(record([], overrides=(o,)), BOOKS, NOW))
    r = out[("response", 0)]
    assert (r.adj_state, r.raw_state, r.stopped_at) == ("met", None, T0 + 10 * 60)


def test_a_rejected_override_does_not_count() -> None:
    hold = override("hold", 1 * H, "resolution", status="rejected", until=T0 + 4 * H)
    out = by_clock(ticket_outcomes(record([(6 * H, "resolved", {})], overrides=(hold,)), BOOKS, NOW))
    assert out[("resolution", 0)].adj_state == out[("resolution", 0)].raw_state == "breached"
    counted = override("hold", 1 * H, "resolution", status="approved", until=T0 + 4 * H)
    out = by_clock(ticket_outcomes(record([(6 * H, "resolved", {})], overrides=(counted,)), BOOKS, NOW))
    assert (out[("resolution", 0)].raw_state, out[("resolution", 0)].adj_state) == ("breached", "met")


def test_reopen_withdraws_the_resolution_outcome_until_it_stops_again() -> None:
    events = [(1 * H, "resolved", {}), (2 * H, "reopened", {})]
    assert ("resolution", 0) not in by_clock(ticket_outcomes(record(events), BOOKS, NOW))
    events.append((30 * H, "resolved", {}))
    again = by_clock(ticket_outcomes(record(events), BOOKS, NOW))[("resolution", 0)]
    assert again.stopped_at == T0 + 30 * H and again.day == "2026-11-03"


def test_priority_and_assignee_are_those_when_the_clock_stopped() -> None:
    events = [
        (30 * 60, "priority", {"priority": "P2"}),
        (45 * 60, "assign", {"assignee": "kim"}),
        (50 * 60, "reply", {}),
        (2 * H, "priority", {"priority": "P1"}),
    ]
    o = by_clock(ticket_outcomes(record(events), BOOKS, NOW))[("response", 0)]
    assert (o.priority, o.operator, o.adj_state) == ("P2", "kim", "met")  # 50m of P2's 1h
    reprio = override("reprioritize", 40 * 60, to_priority="P1")
    o = by_clock(ticket_outcomes(record(events, overrides=(reprio,)), BOOKS, NOW))[("response", 0)]
    assert (o.priority, o.adj_state, o.raw_state) == ("P1", "breached", "met")


def test_the_day_is_local_to_the_agreement_zone() -> None:
    # Created 23:30 UTC on Sunday 1 Nov, answered a minute later: Monday 00:31 in Berlin.
    sunday_night = dt.datetime(2026, 11, 1, 23, 30, tzinfo=dt.UTC).timestamp()
    rec = record([(60, "reply", {})], agreement="office", priority="P2", t0=sunday_night)
    (o,) = ticket_outcomes(rec, BOOKS, NOW)
    assert (o.day, o.adj_state, o.adj_elapsed_s) == ("2026-11-02", "met", 0.0)


def test_no_agreement_no_outcome() -> None:
    rec = dataclasses.replace(record([(60, "reply", {})]), agreement_id=None, agreement_version=None)
    assert ticket_outcomes(rec, BOOKS, NOW) == []


# ---- the period ----------------------------------------------------------------------------


def test_periods() -> None:
    nov = Period.month("2026-11")
    assert (nov.first, nov.last, nov.label, nov.is_month) == (
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 30),
        "2026-11",
        True,
    )
    assert Period.month("2026-12").shifted(1) == Period.month("2027-01")
    assert Period.month("2026-01").shifted(-1) == Period.month("2025-12")
    span = Period.dates("2026-10-15", "2026-12-02")
    assert span.label == "2026-10-15..2026-12-02" and span.months() == ["2026-10", "2026-11", "2026-12"]
    start, end = Period.month("2026-10").bounds("Europe/Berlin")  # DST ends on 25 Oct: 31 days + 1 h
    assert end - start == 31 * 24 * H + H
    for bad in ("2026-13", "26-11", "2026/11"):
        with pytest.raises(InputError):
            Period.month(bad)
    with pytest.raises(InputError):
        Period.dates("2026-11-10", "2026-11-01")
    with pytest.raises(InputError):
        Period.dates("2026-02-30", "2026-03-01")


# ---- counting --------------------------------------------------------------------------------


def tally(
    day: str,
    priority: str,
    clock: str,
    *,
    n: int = 1,
    rm: int = 0,
    rb: int = 0,
    am: int = 0,
    ab: int = 0,
    ax: int = 0,
    agreement: str = "gold",
    operator: str = "sam",
) -> Tally:
    return Tally(day, agreement, 1, priority, clock, operator, n, rm, rb, am, ab, ax)


def terms() -> tuple[dict[tuple[str, int], Terms], list[Terms]]:
    t = {(a.id, 1): Terms(a, 1, AGREEMENTS.zone_of(a.calendar)) for a in AGREEMENTS.agreements}
    return t, list(t.values())


def test_penalties_are_capped_per_month_and_rows_show_them_uncapped() -> None:
    rows = [
        tally("2026-10-30", "P1", "response", n=2, rb=2, ab=1, am=1),  # raw 1000 -> cap 600; adjusted 500
        tally("2026-11-02", "P2", "resolution", n=3, rb=3, ab=3),  # 600 both (exactly the cap)
        tally("2026-11-03", "P1", "resolution", n=1, rm=1, am=1),
    ]
    t, listed = terms()
    r = build_report(rows, t, listed, {}, Period.dates("2026-10-01", "2026-11-30"), T0)
    gold = r.for_agreement("gold")
    assert gold is not None and gold.penalty is not None
    p = gold.penalty
    assert (p.raw_uncapped, p.raw, p.adjusted_uncapped, p.adjusted) == (1600.0, 1200.0, 1100.0, 1100.0)
    lines = {(x.priority, x.clock): x for x in r.rows}
    assert (lines[("P1", "response")].penalty_raw, lines[("P1", "response")].penalty) == (1000.0, 500.0)
    assert lines[("P1", "response")].currency == "EUR"
    assert lines[("P1", "resolution")].counts.rate == 1.0


def test_groupings_and_period_filter() -> None:
    rows = [
        tally("2026-11-02", "P1", "response", rm=1, am=1, operator="sam"),
        tally("2026-11-02", "P2", "response", rb=1, ax=1, operator="kim"),
        tally("2026-12-01", "P1", "response", rb=1, ab=1),  # outside November
    ]
    t, listed = terms()
    nov = Period.month("2026-11")
    by_agreement = build_report(rows, t, listed, {}, nov, T0, by="agreement")
    assert [(x.agreement, x.priority, x.clock, x.counts.tickets) for x in by_agreement.rows] == [
        ("gold", None, "response", 2)
    ]
    c = by_agreement.rows[0].counts
    assert (c.raw_met, c.raw_breached, c.met, c.breached, c.exempt, c.raw_rate, c.rate) == (
        1,
        1,
        1,
        0,
        1,
        0.5,
        1.0,
    )
    by_op = build_report(rows, t, listed, {}, nov, T0, by="operator")
    assert [(x.operator, x.counts.tickets) for x in by_op.rows] == [("kim", 1), ("sam", 1)]
    with pytest.raises(InputError):
        build_report(rows, t, listed, {}, nov, T0, by="colour")
    only = build_report(rows, t, listed, {}, nov, T0, agreement="office")
    assert only.rows == () and [a.id for a in only.agreements] == ["office"]


def test_rate_is_none_when_nothing_was_decided() -> None:
    t, listed = terms()
    r = build_report(
        [tally("2026-11-02", "P1", "response", ax=1)], t, listed, {}, Period.month("2026-11"), T0
    )
    assert r.rows[0].counts.rate is None and r.rows[0].counts.raw_rate is None


def test_expiry_flags() -> None:
    t, listed = terms()
    at = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC).timestamp()
    r = build_report([], t, listed, {}, Period.month("2026-11"), at)
    gold = r.for_agreement("gold")
    assert gold is not None and (gold.days_left, gold.expiring, gold.expired) == (30, True, False)
    later = build_report([], t, listed, {}, Period.month("2026-11"), at + 31 * 24 * H)
    assert later.for_agreement("gold").expired
    office = r.for_agreement("office")
    assert office is not None and office.days_left is None and not office.expiring


# ---- availability ----------------------------------------------------------------------------


def test_outages_merge_and_count_against_the_target() -> None:
    s = T0
    events = [
        ("erp", "outage_start", s),
        ("erp", "outage_start", s + 600),  # nested start: ignored
        ("erp", "outage_end", s + 3600),
        ("erp", "outage_end", s + 4000),  # end without start: ignored
        ("crm", "outage_start", s + 4500),  # still open at now: counts to now
        ("erp", "outage_start", s + 6000),  # after now: ignored
    ]
    merged = merge_outages(events, s + 5000)
    assert [(o.start - s, o.end - s) for o in merged["erp"]] == [(0, 3600)]
    assert [(o.start - s, o.end - s) for o in merged["crm"]] == [(4500, 5000)]
    start, end = Period.month("2026-11").bounds("UTC")
    a = availability("erp", merged["erp"], start, end, 99.9)
    assert a.period_s == 30 * 24 * H and a.downtime_s == 3600
    assert a.allowed_downtime_s == pytest.approx(2592.0) and a.budget_left_s == pytest.approx(-1008.0)
    assert a.met is False and round(a.ratio * 100, 4) == 99.8611
    assert services_judged(["erp", "email"], merged, start, end) == ["erp", "email"]
    assert services_judged([], merged, start, end) == ["crm", "erp"]


def test_an_outage_across_the_period_edge_counts_only_inside() -> None:
    start, end = Period.month("2026-11").bounds("UTC")
    merged = merge_outages([("erp", "outage_start", start - 600), ("erp", "outage_end", start + 600)], end)
    assert availability("erp", merged["erp"], start, end, 99.9).downtime_s == 600


# ---- properties ------------------------------------------------------------------------------

outcome_st = st.builds(
    Outcome,
    ticket=st.sampled_from(["A", "B", "C"]),
    clock=st.sampled_from(["response", "update", "resolution"]),
    cycle=st.integers(0, 3),
    agreement_id=st.sampled_from(["gold", "office"]),
    agreement_version=st.just(1),
    priority=st.sampled_from(["P1", "P2"]),
    operator=st.sampled_from(["", "sam"]),
    stopped_at=st.just(T0),
    day=st.sampled_from(["2026-10-31", "2026-11-01", "2026-11-30", "2026-12-01"]),
    raw_state=st.sampled_from([None, "met", "breached"]),
    raw_elapsed_s=st.none(),
    raw_target_s=st.none(),
    adj_state=st.sampled_from(["met", "breached", "exempt"]),
    adj_elapsed_s=st.just(1.0),
    adj_target_s=st.just(2.0),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(outcome_st, max_size=30), st.sampled_from(["priority", "agreement", "operator"]))
def test_every_outcome_of_the_period_is_counted_once(outcomes: list[Outcome], by: str) -> None:
    t, listed = terms()
    r = build_report(tallies(outcomes), t, listed, {}, Period.month("2026-11"), T0, by=by)
    inside = [o for o in outcomes if o.day.startswith("2026-11")]
    assert sum(x.counts.tickets for x in r.rows) == len(inside)
    assert sum(x.counts.breached for x in r.rows) == sum(o.adj_state == "breached" for o in inside)
    assert sum(x.counts.raw_met for x in r.rows) == sum(o.raw_state == "met" for o in inside)
    assert sum(a.counts.exempt for a in r.agreements) == sum(o.adj_state == "exempt" for o in inside)
    gold = r.for_agreement("gold")
    assert gold is not None and gold.penalty is not None and gold.penalty.adjusted <= 600
