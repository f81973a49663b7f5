"""Overrides, reviews and leads in a real SQLite file: rules under the write lock, snapshots, audit.

NOW is Friday 2027-01-15 08:00 UTC; the agreement is 24x7 (P1 15m/4h, P2 1h/8h).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from support import GOLD_24X7, load_text

from sladesk_tui.core.errors import InputError, Refused
from sladesk_tui.core.evaluate import evaluate
from sladesk_tui.core.events import Event
from sladesk_tui.core.override_effects import Draft, draft
from sladesk_tui.core.override_log import LogFilter, operator_stats
from sladesk_tui.core.overrides import Override
from sladesk_tui.store import audit
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.overrides import (
    get_override,
    load_log,
    load_reviews,
    override_context,
    place_override,
    record_override,
    review_override,
)
from sladesk_tui.store.queries import agreements_for_versions, load_ticket
from sladesk_tui.store.roles import grant_lead, is_lead, leads, name_first_lead, revoke_lead

H = 3600.0
NOW = 1_800_000_000.0
WHY = "Customer's phone is off until the afternoon"


def created(tid: str, ago: float, priority: str = "P2") -> Event:
    return Event(
        id=f"{tid}-c",
        type="created",
        at=NOW - ago,
        ticket=tid,
        customer="acme",
        priority=priority,
        title=f"Ticket {tid}",
    )


@pytest.fixture
def desk(conn: sqlite3.Connection, tmp_path: Path) -> sqlite3.Connection:
    """T-1 running (30m old), T-2 replied (response met), T-3 breached (3h, no reply), T-4 resolved; lee leads."""
    load_text(conn, tmp_path / "a.toml", GOLD_24X7, actor="lee")
    ingest(
        conn,
        [
            created("T-1", 0.5 * H),
            created("T-2", 2 * H, "P1"),
            Event(id="T-2-r", type="reply", at=NOW - 1.8 * H, ticket="T-2", author="sam"),
            created("T-3", 3 * H),
            created("T-4", 5 * H),
            Event(id="T-4-x", type="resolved", at=NOW - H, ticket="T-4"),
        ],
        actor="importer",
        source="test",
    )
    name_first_lead(conn, "lee", actor="lee")
    return conn


def ov(ticket: str, kind: str, *, operator: str = "sam", justification: str = WHY, **kw: object) -> Override:
    return Override(
        id=0,
        ticket=ticket,
        kind=kind,
        at=0.0,
        operator=operator,
        reason="customer_unreachable",
        justification=justification,
        **kw,
    )


def draft_as_the_dialog_does(conn: sqlite3.Connection, candidate: Override, *, now: float) -> Draft:
    """The override dialog's path: the ticket's context loaded once, then drafted as typed."""
    record, books = override_context(conn, candidate.ticket, now)
    return draft(record, books, candidate, now)


def counts(conn: sqlite3.Connection) -> tuple[int, int, int, int]:
    return tuple(
        conn.execute(
            "SELECT (SELECT COUNT(*) FROM overrides), (SELECT COUNT(*) FROM reviews),"
            " (SELECT COUNT(*) FROM role_grants), (SELECT COUNT(*) FROM audit_log)"
        ).fetchone()
    )


def clocks(conn: sqlite3.Connection, tid: str, now: float = NOW):
    record = load_ticket(conn, tid)
    assert record is not None
    return evaluate(record, agreements_for_versions(conn, [record.agreement_version]), now)


@pytest.mark.both_backends
def test_an_override_is_stored_with_its_figures_and_audit_row(desk: sqlite3.Connection) -> None:
    placed = place_override(desk, ov("T-1", "hold", until=NOW + H), now=NOW)
    row = desk.execute("SELECT * FROM overrides WHERE id = ?", (placed.id,)).fetchone()
    assert (row["ticket"], row["kind"], row["operator"], row["ts"], row["until_ts"]) == (
        "T-1",
        "hold",
        "sam",
        NOW,
        NOW + H,
    )
    before, after = json.loads(row["before_json"]), json.loads(row["after_json"])
    assert before == placed.before and after == placed.after
    assert before["response"] == {
        "state": "ok",
        "target_s": 3600.0,
        "elapsed_s": 1800.0,
        "remaining_s": 1800.0,
        "due_at": "2027-01-15T08:30:00Z",
        "breached_at": None,
        "stopped_at": None,
    }
    assert after["response"]["state"] == "paused" and after["response"]["due_at"] is None
    last = desk.execute("SELECT actor, action, covers FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert (last["actor"], last["action"]) == ("sam", "override.record")
    assert json.loads(last["covers"])[0]["table"] == "overrides"
    assert audit.verify(desk).ok
    # It takes effect at once: the adjusted clock stands still, the raw one runs on into at-risk.
    tc = clocks(desk, "T-1", NOW + 0.25 * H)
    assert (tc.adjusted["response"].state, tc.adjusted["response"].elapsed_s) == ("paused", 0.5 * H)
    assert (tc.raw["response"].state, tc.raw["response"].elapsed_s) == ("at_risk", 0.75 * H)


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (ov("T-1", "hold", until=NOW + H, justification="phone off"), "at least 15 non-blank"),
        (ov("T-1", "hold", until=NOW + H, justification=" " * 30), "at least 15 non-blank"),
        (ov("T-2", "hold", clock="response", until=NOW + H), "response clock already stopped"),
        (ov("T-2", "extend", clock="response", by_s=600.0), "response clock already stopped"),
        (ov("T-2", "responded"), "response clock already stopped"),
        (ov("T-4", "exempt"), r"ended \(resolved\)"),
        (ov("T-1", "out_of_order", ahead_of="T-404"), "unknown ticket 'T-404'"),
        (ov("T-404", "exempt"), "unknown ticket 'T-404'"),
    ],
)
@pytest.mark.both_backends
def test_refused_overrides_write_nothing(desk: sqlite3.Connection, candidate: Override, reason: str) -> None:
    before = counts(desk)
    with pytest.raises(InputError, match=reason):
        place_override(desk, candidate, now=NOW)
    assert counts(desk) == before


@pytest.mark.both_backends
def test_draft_previews_without_writing(desk: sqlite3.Connection) -> None:
    before = counts(desk)
    d = draft_as_the_dialog_does(
        desk, ov("T-3", "responded", responded_at=NOW - 2.5 * H, justification="phoned"), now=NOW
    )
    assert d.preview is not None and d.effect_problem is None
    assert d.preview.before_figures["response"]["state"] == "breached"
    assert d.preview.after_figures["response"]["state"] == "met"
    assert d.problem is not None and "justification" in d.problem
    assert counts(desk) == before


@pytest.mark.both_backends
def test_rejection_restores_the_raw_clock_and_approval_keeps_it(desk: sqlite3.Connection) -> None:
    placed = place_override(desk, ov("T-3", "responded", responded_at=NOW - 2.5 * H), now=NOW)
    tc = clocks(desk, "T-3")
    assert tc.adjusted["response"].state == "met" and tc.raw["response"].state == "breached"
    review_override(desk, placed.id, "approve", reviewer="lee", now=NOW + 60)
    assert clocks(desk, "T-3").adjusted["response"].state == "met"
    review_override(desk, placed.id, "reject", reviewer="lee", comment="no record of the call", now=NOW + 120)
    tc = clocks(desk, "T-3")
    assert tc.adjusted["response"] == tc.raw["response"] and tc.adjusted["response"].state == "breached"
    assert [r.decision for r in load_reviews(desk, placed.id)] == ["approved", "rejected"]
    o = get_override(desk, placed.id)
    assert o is not None and o.status == "rejected"
    assert audit.verify(desk).ok


@pytest.mark.parametrize(
    ("reviewer", "decision", "comment", "reason"),
    [
        ("kim", "approve", None, "kim is not a lead"),
        ("sam", "approve", None, "nobody reviews their own override"),
        ("lee", "reject", None, "needs a comment"),
        ("lee", "reject", "   ", "needs a comment"),
    ],
)
@pytest.mark.both_backends
def test_review_rules_refuse_and_write_nothing(
    desk: sqlite3.Connection, reviewer: str, decision: str, comment: str | None, reason: str
) -> None:
    placed = place_override(desk, ov("T-1", "hold", until=NOW + H), now=NOW)
    grant_lead(desk, "sam", actor="lee")  # a lead, but it is sam's own override
    before = counts(desk)
    with pytest.raises(Refused, match=reason):
        review_override(desk, placed.id, decision, reviewer=reviewer, comment=comment)
    assert counts(desk) == before


@pytest.mark.both_backends
def test_a_review_of_a_missing_override_is_an_input_error(desk: sqlite3.Connection) -> None:
    with pytest.raises(InputError, match="no override 99"):
        review_override(desk, 99, "approve", reviewer="lee")


@pytest.mark.both_backends
def test_leads_are_named_once_then_granted_only_by_leads(desk: sqlite3.Connection) -> None:
    assert leads(desk) == ["lee"]
    with pytest.raises(Refused, match="already named"):
        name_first_lead(desk, "kim", actor="kim")
    before = counts(desk)
    with pytest.raises(Refused, match="sam is not a lead"):
        grant_lead(desk, "sam", actor="sam")
    assert counts(desk) == before
    grant_lead(desk, "kim", actor="lee")
    assert is_lead(desk, "kim") and leads(desk) == ["kim", "lee"]
    revoke_lead(desk, "lee", actor="kim")
    assert not is_lead(desk, "lee") and leads(desk) == ["kim"]
    with pytest.raises(Refused, match="lee is not a lead"):
        grant_lead(desk, "lee", actor="lee")
    with pytest.raises(Refused, match="last lead"):
        revoke_lead(desk, "kim", actor="kim")
    actions = [
        r[0] for r in desk.execute("SELECT action FROM audit_log WHERE action LIKE 'role.%' ORDER BY seq")
    ]
    assert actions == ["role.init", "role.grant", "role.revoke"]
    assert audit.verify(desk).ok


@pytest.mark.both_backends
def test_log_filters_and_per_operator_figures(desk: sqlite3.Connection) -> None:
    grant_lead(desk, "kim", actor="lee")
    hold = place_override(desk, ov("T-1", "hold", until=NOW + H), now=NOW - 300).id
    saved = place_override(
        desk, ov("T-3", "responded", operator="kim", responded_at=NOW - 2.6 * H), now=NOW - 200
    ).id
    ext = place_override(desk, ov("T-1", "extend", clock="resolution", by_s=H), now=NOW - 100).id
    review_override(desk, saved, "reject", reviewer="lee", comment="no proof", now=NOW - 50)
    review_override(desk, ext, "approve", reviewer="kim", now=NOW - 40)

    log = load_log(desk)
    assert [e.override.id for e in log] == [hold, saved, ext]
    assert [e.status for e in log] == ["pending", "rejected", "approved"]
    assert log[1].review is not None and log[1].review.comment == "no proof"
    assert [e.override.id for e in load_log(desk, LogFilter(status="pending"))] == [hold]
    assert [e.override.id for e in load_log(desk, LogFilter(operator="kim"))] == [saved]
    assert [e.override.id for e in load_log(desk, LogFilter(since=NOW - 250, kind="extend"))] == [ext]
    assert [e.override.id for e in load_log(desk, LogFilter(agreement="gold", until=NOW - 250))] == [hold]

    kim, sam = operator_stats(load_log(desk, effects=True, now=NOW))
    assert (kim.total, kim.rejected, kim.approval_rate, kim.turned_met) == (1, 1, 0.0, 1)
    assert (sam.total, sam.pending, sam.approved, sam.approval_rate, sam.turned_met) == (2, 1, 1, 1.0, 0)
    assert sam.by_kind == {"extend": 1, "hold": 1}


@pytest.mark.both_backends
def test_the_raw_writers_keep_the_demo_seeding_working(desk: sqlite3.Connection) -> None:
    """`record_override`/`record_review` store what the caller computed (rules are the caller's)."""
    oid = record_override(
        desk, dataclasses.replace(ov("T-1", "exempt"), at=NOW), before={"x": 1}, after={"x": 2}, actor="sam"
    )
    from sladesk_tui.store.overrides import record_review

    record_review(desk, oid, "approved", reviewer="lee", at=NOW)
    assert get_override(desk, oid).status == "approved"
    with pytest.raises(InputError, match="at least 15"):
        record_override(desk, ov("T-1", "exempt", justification="no"), before={}, after={}, actor="sam")
    assert audit.verify(desk).ok


@pytest.mark.both_backends
def test_rules_are_checked_against_the_state_under_the_write_lock(
    desk: sqlite3.Connection, db_path: Path
) -> None:
    """A reply recorded by another operator after the preview makes the same override refused."""
    from sladesk_tui.store.db import open_db

    candidate = ov("T-1", "extend", clock="response", by_s=600.0)
    assert draft_as_the_dialog_does(desk, candidate, now=NOW).problem is None
    other = open_db(db_path)
    try:
        ingest(
            other,
            [Event(id="T-1-r", type="reply", at=NOW - 60, ticket="T-1", author="kim")],
            actor="kim",
            source="test",
        )
    finally:
        other.close()
    with pytest.raises(Refused, match="already stopped"):
        place_override(desk, candidate, now=NOW)
