"""The override rules of docs/overrides.md, the preview, the breach effect and the log's figures (pure core).

One ticket history per scenario on a 24x7 agreement (P1 15m/4h, P2 1h/8h, P3 with
an update target), seen at NOW; the clocks come from the real engine.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import GOLD_24X7

from sladesk_tui.core.agreements import load_agreements
from sladesk_tui.core.errors import InputError, Refused
from sladesk_tui.core.evaluate import evaluate
from sladesk_tui.core.events import Event
from sladesk_tui.core.override_effects import breach_effect, clock_figures, draft, figure_text
from sladesk_tui.core.override_log import LogEntry, LogFilter, entry_dict, operator_stats, review_order
from sladesk_tui.core.override_rules import (
    check_review,
    check_role_change,
    effective_priority,
    parse_parameter,
    parse_when,
    review_problem,
)
from sladesk_tui.core.overrides import Override, justification_problem
from sladesk_tui.core.tickets import Review, TicketRecord

H = 3600.0
NOW = 1_800_000_000.0
WHY = "Customer unreachable by phone and mail"
BOOKS = {1: load_agreements(GOLD_24X7 + 'P3 = { response = "4h", update = "2h", resolution = "40h" }\n')}


def ticket(
    *later: tuple[str, float, dict],
    priority: str = "P2",
    age: float = 0.5 * H,
    agreement: bool = True,
    overrides: tuple[Override, ...] = (),
) -> TicketRecord:
    """A ticket created `age` before NOW, then the `later` events (type, seconds before NOW, fields)."""
    created = NOW - age
    events = [
        Event(
            id="c",
            type="created",
            at=created,
            ticket="T-1",
            seq=0,
            customer="acme",
            priority=priority,
            title="t",
        )
    ]
    events += [
        Event(id=f"e{i}", type=t, at=NOW - ago, ticket="T-1", seq=i + 1, **kw)
        for i, (t, ago, kw) in enumerate(later)
    ]
    ended = [e for e in events if e.type in ("resolved", "closed")]
    is_open = not ended or events[-1].type == "reopened"
    return TicketRecord(
        id="T-1",
        customer="acme",
        service=None,
        title="t",
        priority=priority,
        status=ended[-1].type if not is_open else "open",
        assignee=None,
        agreement_id="gold" if agreement else None,
        agreement_version=1 if agreement else None,
        no_agreement_reason=None if agreement else "no agreement in force",
        is_open=is_open,
        created_ts=created,
        updated_ts=events[-1].at,
        ended_ts=ended[-1].at if not is_open else None,
        events=tuple(events),
        overrides=overrides,
    )


def ov(
    kind: str,
    *,
    justification: str = WHY,
    reason: str = "customer_unreachable",
    operator: str = "sam",
    oid: int = 0,
    status: str = "pending",
    at: float = NOW,
    **kw: object,
) -> Override:
    return Override(
        id=oid,
        ticket="T-1",
        kind=kind,
        at=at,
        operator=operator,
        reason=reason,
        justification=justification,
        status=status,
        **kw,
    )


def problem(o: Override, record: TicketRecord | None = None) -> str | None:
    """Why confirming `o` would be refused: the dialog's and `place_override`'s own path."""
    return draft(record or ticket(), BOOKS, o, NOW).problem


# ---- justification --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["", "   ", "\n\t  \n", "too short", "fourteen chars", " a b c d e f g h i j k l m n "]
)
def test_short_or_blank_justification_is_refused(text: str) -> None:
    found = problem(ov("hold", until=NOW + H, justification=text))
    assert found is not None and "at least 15 non-blank characters" in found


def test_fifteen_non_blank_characters_are_enough_however_spaced() -> None:
    assert problem(ov("hold", until=NOW + H, justification="  a b c d e f g h i j k l m n o  ")) is None


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \t\n."), max_size=40))
def test_justification_rule_counts_non_blank_characters(text: str) -> None:
    n = sum(1 for ch in text if not ch.isspace())
    assert (justification_problem(text) is None) == (n >= 15)


# ---- what an override can affect --------------------------------------------------------


def test_a_stopped_clock_cannot_be_held_or_extended() -> None:
    replied = ticket(("reply", 0.2 * H, {"author": "sam"}))
    for o in (ov("hold", clock="response", until=NOW + H), ov("extend", clock="response", by_s=600.0)):
        found = problem(o, replied)
        assert found is not None and "response clock already stopped" in found and o.kind in found
    # The resolution clock still runs: holding it, or every clock, is fine.
    assert problem(ov("hold", clock="resolution", until=NOW + H), replied) is None
    assert problem(ov("hold", until=NOW + H), replied) is None


def test_holding_all_clocks_needs_one_still_counting() -> None:
    # Exempt everything first: nothing left to hold.
    record = ticket(overrides=(ov("exempt", oid=1, at=NOW - 60),))
    found = problem(ov("hold", until=NOW + H), record)
    assert found is not None and found.startswith("hold cannot affect any clock")


def test_an_ended_ticket_takes_no_override_of_any_kind() -> None:
    resolved = ticket(("resolved", 0.1 * H, {}))
    for o in (ov("hold", until=NOW + H), ov("exempt"), ov("out_of_order", ahead_of="T-9"), ov("responded")):
        found = problem(o, resolved)
        assert found is not None and "ended (resolved)" in found


def test_responded_only_while_the_response_clock_runs_and_between_creation_and_now() -> None:
    assert problem(ov("responded", responded_at=NOW - 600)) is None
    replied = ticket(("reply", 0.2 * H, {"author": "sam"}))
    assert "already stopped" in (problem(ov("responded", responded_at=NOW - 60), replied) or "")
    assert "before the ticket was created" in (problem(ov("responded", responded_at=NOW - 2 * H)) or "")
    assert "in the future" in (problem(ov("responded", responded_at=NOW + 60)) or "")
    assert "takes no clock" in (problem(ov("responded", clock="resolution", responded_at=NOW)) or "")


def test_exempt_may_name_a_stopped_clock_but_not_an_exempt_one() -> None:
    late = ticket(("reply", 0.1 * H, {"author": "sam"}), age=3 * H)  # replied after 2h54m: missed
    assert problem(ov("exempt", clock="response"), late) is None
    exempted = dataclasses.replace(late, overrides=(ov("exempt", clock="response", oid=1, at=NOW - 30),))
    assert "already exempt" in (problem(ov("exempt", clock="response"), exempted) or "")


def test_an_update_clock_with_no_cycle_is_not_applicable() -> None:
    found = problem(ov("extend", clock="update", by_s=H), ticket(priority="P3"))
    assert found is not None and "update clock is n/a" in found


def test_parameters_must_fit_the_kind() -> None:
    assert "hold needs the instant it ends" in (problem(ov("hold")) or "")
    assert "must end after now" in (problem(ov("hold", until=NOW - 1)) or "")
    assert "by (a duration) does not apply to hold" in (problem(ov("hold", until=NOW + H, by_s=60.0)) or "")
    assert "positive duration" in (problem(ov("extend", clock="resolution")) or "")
    assert "takes no clock" in (problem(ov("reprioritize", clock="response", to_priority="P1")) or "")
    assert "unknown kind" in (problem(ov("pause")) or "")
    assert "unknown reason" in (problem(ov("exempt", reason="because")) or "")


def test_reprioritize_needs_another_priority_of_the_agreement() -> None:
    assert problem(ov("reprioritize", to_priority="P1")) is None
    assert "is already P2" in (problem(ov("reprioritize", to_priority="P2")) or "")
    assert "not one of agreement gold's (P1, P2, P3)" in (problem(ov("reprioritize", to_priority="P9")) or "")
    earlier = ticket(overrides=(ov("reprioritize", to_priority="P1", oid=1, at=NOW - 60),))
    assert effective_priority(earlier, NOW) == "P1"
    assert "is already P1" in (problem(ov("reprioritize", to_priority="P1"), earlier) or "")
    rejected = ticket(
        overrides=(ov("reprioritize", to_priority="P1", oid=1, at=NOW - 60, status="rejected"),)
    )
    assert effective_priority(rejected, NOW) == "P2"


def test_out_of_order_needs_another_ticket_and_works_without_an_agreement() -> None:
    assert "needs the ticket" in (problem(ov("out_of_order")) or "")
    assert "ahead of itself" in (problem(ov("out_of_order", ahead_of="T-1")) or "")
    bare = ticket(agreement=False)
    assert problem(ov("out_of_order", ahead_of="T-2"), bare) is None
    assert "no agreement in force" in (problem(ov("hold", until=NOW + H), bare) or "")


def test_a_short_justification_is_the_reason_given() -> None:
    assert "at least 15" in (problem(ov("hold", until=NOW + H, justification="short")) or "")


# ---- reviews and roles -----------------------------------------------------------------


def test_review_rules() -> None:
    o = ov("hold", until=NOW + H, oid=7)
    ok = {"reviewer": "lee", "reviewer_is_lead": True}
    assert check_review(o, decision="approve", comment=None, **ok) == "approved"
    assert check_review(o, decision="reject", comment="no proof", **ok) == "rejected"
    assert "not a lead" in (
        review_problem(o, reviewer="kim", reviewer_is_lead=False, decision="approve", comment=None) or ""
    )
    assert "nobody reviews their own override" in (
        review_problem(o, reviewer="sam", reviewer_is_lead=True, decision="approve", comment=None) or ""
    )
    assert "needs a comment" in (review_problem(o, decision="reject", comment="  ", **ok) or "")
    assert "already approved" in (
        review_problem(dataclasses.replace(o, status="approved"), decision="approve", comment=None, **ok)
        or ""
    )
    assert "unknown decision" in (review_problem(o, decision="maybe", comment=None, **ok) or "")
    with pytest.raises(Refused, match="own override"):
        check_review(o, reviewer="sam", reviewer_is_lead=True, decision="approve", comment=None)


def test_role_rules() -> None:
    check_role_change("init", actor="ann", actor_is_lead=False, user="lee", user_is_lead=False, leads=0)
    with pytest.raises(Refused, match="already named"):
        check_role_change("init", actor="ann", actor_is_lead=False, user="ann", user_is_lead=False, leads=1)
    with pytest.raises(Refused, match="only a team lead may grant"):
        check_role_change("grant", actor="sam", actor_is_lead=False, user="sam", user_is_lead=False, leads=1)
    with pytest.raises(Refused, match="only a team lead may revoke"):
        check_role_change("revoke", actor="sam", actor_is_lead=False, user="lee", user_is_lead=True, leads=1)
    with pytest.raises(Refused, match="last lead"):
        check_role_change("revoke", actor="lee", actor_is_lead=True, user="lee", user_is_lead=True, leads=1)
    with pytest.raises(Refused, match="already a lead"):
        check_role_change("grant", actor="lee", actor_is_lead=True, user="lee", user_is_lead=True, leads=1)
    with pytest.raises(Refused, match="not a user name"):
        check_role_change("grant", actor="lee", actor_is_lead=True, user="[b]x", user_is_lead=False, leads=1)
    check_role_change("revoke", actor="lee", actor_is_lead=True, user="kim", user_is_lead=True, leads=2)


# ---- what was typed ----------------------------------------------------------------------


def test_parse_when_and_parameters() -> None:
    assert parse_when("now", NOW) == NOW
    assert parse_when("+2h", NOW) == NOW + 2 * H
    assert parse_when("-20m", NOW) == NOW - 1200
    assert parse_when("2027-01-15T09:00:00Z", NOW) == NOW + H
    assert parse_when("2027-01-15", NOW) == NOW - 8 * H
    for bad in ("tomorrow", "+3d", "2027-01-15T09:00"):
        with pytest.raises(InputError):
            parse_when(bad, NOW)
    assert parse_parameter("extend", "1h30m", NOW) == {"by_s": 5400.0}
    assert parse_parameter("hold", "+1h", NOW) == {"until": NOW + H}
    assert parse_parameter("reprioritize", " P1 ", NOW) == {"to_priority": "P1"}
    assert parse_parameter("exempt", "ignored", NOW) == {}
    assert parse_parameter("responded", "", NOW) == {}
    with pytest.raises(InputError):
        parse_parameter("extend", "two hours", NOW)


# ---- preview and effects ---------------------------------------------------------------


def test_draft_previews_while_the_justification_is_still_short() -> None:
    d = draft(ticket(), BOOKS, ov("hold", until=NOW + H, justification="phone off"), NOW)
    assert d.effect_problem is None and d.preview is not None
    assert d.problem is not None and "at least 15" in d.problem
    before, after = d.preview.before_figures, d.preview.after_figures
    assert before["response"]["state"] == "ok" and after["response"]["state"] == "paused"
    assert before["response"]["remaining_s"] == after["response"]["remaining_s"] == 1800.0
    assert d.preview.changed() == ("response", "resolution")


def test_draft_normalises_responded_to_the_response_clock_at_now() -> None:
    d = draft(ticket(), BOOKS, ov("responded", at=0.0), NOW)
    assert (d.override.clock, d.override.responded_at, d.override.at) == ("response", NOW, NOW)
    assert d.problem is None and d.preview is not None
    assert d.preview.after_figures["response"]["state"] == "met"


def test_figures_use_the_spec_clock_shape() -> None:
    figs = clock_figures(evaluate(ticket(), BOOKS, NOW).adjusted)
    assert set(figs["response"]) == {
        "state",
        "target_s",
        "elapsed_s",
        "remaining_s",
        "due_at",
        "breached_at",
        "stopped_at",
    }
    assert figs["response"]["due_at"] == "2027-01-15T08:30:00Z"
    assert figure_text(figs["response"]) == "ok, 30m left"
    assert figure_text({"state": "breached", "remaining_s": -3900.0}) == "breached, 1h 05m over"


def test_breach_effect_is_the_overrides_own_and_ignores_its_status() -> None:
    late = ov("responded", oid=1, responded_at=NOW - 2.5 * H, at=NOW - 60, status="rejected")
    record = ticket(age=3 * H, overrides=(late,))
    # Rejected: the clock counts raw (breached) ...
    assert evaluate(record, BOOKS, NOW).adjusted["response"].state == "breached"
    # ... but what the override did, had it stood, is reported.
    effect = breach_effect(record, BOOKS, late, NOW)
    assert effect.met == ("response",) and effect.turned_met
    exempt = ov("exempt", oid=2, clock="response", at=NOW - 30)
    assert breach_effect(ticket(age=3 * H, overrides=(exempt,)), BOOKS, exempt, NOW).exempted == ("response",)
    hold = ov("hold", oid=3, until=NOW + H, at=NOW - 30)
    assert not breach_effect(ticket(overrides=(hold,)), BOOKS, hold, NOW).turned_met


def test_a_rejection_restores_the_raw_clock() -> None:
    hold = ov("hold", oid=1, until=NOW + H, at=NOW - 0.25 * H)
    counted = evaluate(ticket(overrides=(hold,)), BOOKS, NOW)
    assert counted.differs and counted.adjusted["response"].elapsed_s == 0.25 * H
    rejected = evaluate(ticket(overrides=(dataclasses.replace(hold, status="rejected"),)), BOOKS, NOW)
    assert not rejected.differs and rejected.adjusted["response"] == rejected.raw["response"]
    assert rejected.adjusted["response"].elapsed_s == 0.5 * H


# ---- the log -----------------------------------------------------------------------------


def entry(o: Override, *, agreement: str = "gold", review: Review | None = None) -> LogEntry:
    return LogEntry(o, agreement, "t", {}, {}, review)


def test_filters_and_review_order() -> None:
    a = entry(ov("hold", oid=1, at=NOW - 30, until=NOW + H))
    b = entry(ov("exempt", oid=2, at=NOW - 20, operator="kim", status="approved"))
    c = entry(ov("extend", oid=3, at=NOW - 10, by_s=60.0), agreement="other")
    d = entry(ov("exempt", oid=4, at=NOW - 5, status="rejected"))
    assert [e.override.id for e in review_order([d, c, b, a])] == [1, 3, 4, 2]
    assert [e.override.id for e in LogFilter(status="pending").apply([a, b, c, d])] == [1, 3]
    assert [e.override.id for e in LogFilter(operator="kim").apply([a, b, c, d])] == [2]
    assert [e.override.id for e in LogFilter(agreement="other").apply([a, b, c, d])] == [3]
    assert [
        e.override.id for e in LogFilter(kind="exempt", since=NOW - 20, until=NOW - 5).apply([a, b, c, d])
    ] == [2]


def test_operator_stats() -> None:
    from sladesk_tui.core.override_effects import BreachEffect

    entries = [
        entry(ov("hold", oid=1, until=NOW + H, status="approved")),
        dataclasses.replace(
            entry(ov("responded", oid=2, reason="other", status="rejected")),
            effect=BreachEffect(met=("response",)),
        ),
        entry(ov("exempt", oid=3, operator="kim")),
        dataclasses.replace(
            entry(ov("exempt", oid=4, status="approved")), effect=BreachEffect(exempted=("response",))
        ),
    ]
    kim, sam = operator_stats(entries)
    assert (kim.operator, kim.total, kim.pending, kim.approval_rate) == ("kim", 1, 1, None)
    assert (sam.total, sam.approved, sam.rejected) == (3, 2, 1)
    assert sam.approval_rate == pytest.approx(2 / 3)
    assert sam.by_kind == {"exempt": 1, "hold": 1, "responded": 1}
    assert sam.by_reason == {"customer_unreachable": 2, "other": 1}
    assert (sam.turned_met, sam.turned_exempt) == (1, 1)
    assert sam.as_dict()["approval_rate"] == 0.6667


def test_entry_json_shape() -> None:
    review = Review(1, 5, "rejected", "lee", NOW, "no proof")
    d = entry_dict(entry(ov("hold", oid=5, until=NOW + H, status="rejected"), review=review))
    assert d["until"] == "2027-01-15T09:00:00Z" and d["at"] == "2027-01-15T08:00:00Z"
    assert d["review"] == {
        "reviewer": "lee",
        "decision": "rejected",
        "at": "2027-01-15T08:00:00Z",
        "comment": "no proof",
    }
