"""The store's reads: open tickets in one snapshot, one ticket, as-of replays, the clocks glue."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import load_text

from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.store.db import connect, open_db, read_tx
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.overrides import record_override, record_review
from sladesk_tui.store.queries import (
    agreements_for_versions,
    data_version,
    evaluate_open_tickets,
    load_open_tickets,
    load_ticket,
)

H = 3600.0
T0 = 1_790_000_000.0  # 2026-09-21T...Z, a Monday

AGREEMENTS = """
[[agreement]]
id = "acme"
customer = "acme"
calendar = "24x7"
[agreement.targets]
P1 = { response = "1h", resolution = "4h" }
P2 = { response = "2h", resolution = "8h" }
"""


def load(conn: sqlite3.Connection, tmp: Path, text: str = AGREEMENTS, name: str = "a.toml") -> int:
    return load_text(conn, tmp / name, text, actor="tester").version


_seq = iter(range(1, 10**9))


def ev(eid: str, etype: str, at: float, ticket: str | None = "T-1", **kw: str) -> Event:
    if etype == "created":
        kw = {"customer": "acme", "priority": "P2", "title": f"Ticket {ticket}", **kw}
    return Event(id=eid, type=etype, at=at, ticket=ticket, seq=next(_seq), **kw)


def put(conn: sqlite3.Connection, *events: Event) -> None:
    ingest(conn, list(events), actor="tester", source="test")


def override(ticket: str, at: float, kind: str = "extend", **kw: object) -> Override:
    base: dict[str, object] = {"clock": "resolution", "by_s": H} if kind == "extend" else {}
    base.update(kw)
    return Override(
        id=0,
        ticket=ticket,
        kind=kind,
        at=at,
        operator="dana",
        reason="third_party",
        justification="Vendor confirmed the fault, ticket 4711.",
        **base,
    )


@pytest.mark.both_backends
def test_open_tickets_come_with_their_events_in_time_then_arrival_order(conn, tmp_path):
    load(conn, tmp_path)
    put(conn, ev("a1", "created", T0), ev("a2", "reply", T0 + 600), ev("a3", "note", T0 + 600, author="x"))
    put(conn, ev("b1", "created", T0 + 60, ticket="T-2"), ev("b2", "resolved", T0 + H, ticket="T-2"))
    # Arrives later but happened earlier: sorted by instant; equal instants keep arrival order.
    put(conn, ev("a4", "assign", T0 + 300, assignee="sam"), ev("a5", "status", T0 + 600, status="waiting"))
    put(conn, ev("c1", "created", T0 + 120, ticket="T-3"))

    records = load_open_tickets(conn)

    assert [r.id for r in records] == ["T-1", "T-3"]  # T-2 ended
    t1 = records[0]
    assert [e.id for e in t1.events] == ["a1", "a4", "a2", "a3", "a5"]
    assert [e.at for e in t1.events] == sorted(e.at for e in t1.events)
    assert t1.status == "waiting" and t1.assignee == "sam" and t1.is_open
    assert t1.agreement_id == "acme" and t1.agreement_version == 1 and t1.no_agreement_reason is None
    assert t1.events[0].customer == "acme" and t1.events[3].author == "x"
    assert [e.id for e in records[1].events] == ["c1"]


@pytest.mark.both_backends
def test_override_status_is_the_latest_review(conn, tmp_path):
    load(conn, tmp_path)
    put(conn, ev("a1", "created", T0), ev("b1", "created", T0, ticket="T-2"))
    pending = record_override(conn, override("T-1", T0 + 60), before={}, after={}, actor="dana")
    approved = record_override(conn, override("T-1", T0 + 120), before={}, after={}, actor="dana")
    flipped = record_override(
        conn, override("T-2", T0 + 60, kind="exempt", clock="response"), before={}, after={}, actor="dana"
    )
    record_review(conn, approved, "approved", reviewer="morgan", at=T0 + 200)
    record_review(conn, flipped, "approved", reviewer="morgan", at=T0 + 200)
    record_review(conn, flipped, "rejected", reviewer="morgan", comment="second thoughts", at=T0 + 300)

    by_id = {r.id: r for r in load_open_tickets(conn)}

    assert [(o.id, o.status) for o in by_id["T-1"].overrides] == [
        (pending, "pending"),
        (approved, "approved"),
    ]
    (o,) = by_id["T-2"].overrides
    assert (o.id, o.status, o.kind, o.clock, o.operator) == (
        flipped,
        "rejected",
        "exempt",
        "response",
        "dana",
    )
    assert not o.counts
    assert by_id["T-1"].overrides[0].by_s == H and by_id["T-1"].overrides[0].at == T0 + 60
    assert by_id["T-1"].reviews == ()  # the queue does not load reviews

    one = load_ticket(conn, "T-2")
    assert one is not None
    assert [(r.decision, r.reviewer, r.comment, r.at) for r in one.reviews] == [
        ("approved", "morgan", None, T0 + 200),
        ("rejected", "morgan", "second thoughts", T0 + 300),
    ]


@pytest.mark.both_backends
def test_load_ticket_finds_ended_tickets_and_nothing_else(conn, tmp_path):
    load(conn, tmp_path)
    put(conn, ev("a1", "created", T0), ev("a2", "resolved", T0 + H), ev("a3", "closed", T0 + 2 * H))
    r = load_ticket(conn, "T-1")
    assert r is not None and not r.is_open and r.status == "closed" and r.ended_ts == T0 + H
    assert [e.type for e in r.events] == ["created", "resolved", "closed"]
    assert load_ticket(conn, "T-404") is None
    assert load_open_tickets(conn) == []


@pytest.mark.both_backends
def test_as_of_replays_the_state_at_that_instant(conn, tmp_path):
    load(conn, tmp_path)
    put(
        conn,
        ev("a1", "created", T0),
        ev("a2", "priority", T0 + H, priority="P1"),
        ev("a3", "resolved", T0 + 2 * H),
        ev("b1", "created", T0 + 3 * H, ticket="T-2"),
        ev("c1", "created", T0, ticket="T-3"),
        ev("c2", "resolved", T0 + 600, ticket="T-3"),
        ev("c3", "reopened", T0 + 5 * H, ticket="T-3"),
    )
    oid = record_override(conn, override("T-1", T0 + 1800), before={}, after={}, actor="dana")
    record_override(conn, override("T-1", T0 + 1.5 * H), before={}, after={}, actor="dana")
    record_review(conn, oid, "rejected", reviewer="morgan", comment="no", at=T0 + 1.75 * H)
    at = T0 + 1.6 * H

    then = load_open_tickets(conn, at=at)

    # T-1 was still open (resolved later), T-2 did not exist, T-3 was resolved (reopened later).
    assert [r.id for r in then] == ["T-1"]
    t1 = then[0]
    assert [e.id for e in t1.events] == ["a1", "a2"]
    assert t1.priority == "P1" and t1.status == "new" and t1.is_open and t1.ended_ts is None
    assert [(o.at, o.status) for o in t1.overrides] == [(T0 + 1800, "pending"), (T0 + 1.5 * H, "pending")]
    assert load_ticket(conn, "T-1", at=at + 0.5 * H).overrides[0].status == "rejected"

    assert load_ticket(conn, "T-2", at=at) is None
    t3 = load_ticket(conn, "T-3", at=at)
    assert t3 is not None and not t3.is_open and t3.status == "resolved" and t3.ended_ts == T0 + 600
    # Today: T-1 ended, T-2 and the reopened T-3 are open.
    assert [r.id for r in load_open_tickets(conn)] == ["T-2", "T-3"]
    assert [r.id for r in load_open_tickets(conn, at=T0 + 6 * H)] == ["T-2", "T-3"]


@pytest.mark.both_backends
def test_clocks_use_the_agreement_version_the_ticket_was_created_under(conn, tmp_path):
    load(conn, tmp_path)
    put(conn, ev("a1", "created", T0))
    load(conn, tmp_path, AGREEMENTS.replace('resolution = "8h"', 'resolution = "2h"'), "b.toml")
    put(
        conn,
        ev("b1", "created", T0, ticket="T-2"),
        ev("u1", "created", T0, ticket="T-3", customer="umbrella"),
    )

    clocks = {r.id: tc for r, tc in evaluate_open_tickets(conn, T0 + 3 * H)}

    assert clocks["T-1"].adjusted["resolution"].target_s == 8 * H
    assert clocks["T-1"].adjusted["resolution"].state == "ok"
    assert clocks["T-2"].adjusted["resolution"].target_s == 2 * H
    assert clocks["T-2"].adjusted["resolution"].state == "breached"
    none = clocks["T-3"]
    assert none.agreement is None and none.calendar is None
    assert none.adjusted["resolution"].state == "n/a" and "unknown customer" in (none.reason or "")
    assert set(agreements_for_versions(conn, [None, 1, 2, 2, 0])) == {1, 2}


@pytest.mark.both_backends
def test_raw_and_adjusted_clocks_differ_only_by_counting_overrides(conn, tmp_path):
    load(conn, tmp_path)
    put(conn, ev("a1", "created", T0), ev("b1", "created", T0, ticket="T-2"))
    extend = record_override(conn, override("T-1", T0 + 60, by_s=2 * H), before={}, after={}, actor="dana")
    gone = record_override(conn, override("T-2", T0 + 60, by_s=2 * H), before={}, after={}, actor="dana")
    record_review(conn, gone, "rejected", reviewer="morgan", comment="no", at=T0 + 120)

    clocks = {r.id: tc for r, tc in evaluate_open_tickets(conn, T0 + H)}

    assert clocks["T-1"].raw["resolution"].target_s == 8 * H
    assert clocks["T-1"].adjusted["resolution"].target_s == 10 * H
    assert clocks["T-1"].clocks is clocks["T-1"].adjusted and clocks["T-1"].differs
    assert not clocks["T-2"].differs and clocks["T-2"].adjusted["resolution"].target_s == 8 * H
    assert extend


@pytest.mark.both_backends
def test_as_of_clocks_are_computed_at_that_instant(conn, tmp_path):
    load(conn, tmp_path)
    put(conn, ev("a1", "created", T0), ev("a2", "reply", T0 + 30 * 60))
    ((_, then),) = evaluate_open_tickets(conn, T0 + 9 * H, at=T0 + 10 * 60)
    assert then.adjusted["response"].state == "ok" and then.adjusted["response"].elapsed_s == 600
    ((_, now),) = evaluate_open_tickets(conn, T0 + 9 * H)
    assert now.adjusted["response"].state == "met" and now.adjusted["resolution"].state == "breached"


@pytest.mark.both_backends
def test_reads_share_a_snapshot_the_caller_holds(conn, tmp_path):
    load(conn, tmp_path)
    put(conn, ev("a1", "created", T0))
    with read_tx(conn):
        assert [r.id for r in load_open_tickets(conn)] == ["T-1"]
        assert load_ticket(conn, "T-1") is not None
        assert conn.in_transaction
    assert not conn.in_transaction


@pytest.mark.both_backends
def test_reads_hold_no_snapshot_afterwards(db_path, tmp_path):
    writer = open_db(db_path)
    reader = connect(db_path, readonly=True)
    try:
        load(writer, tmp_path)
        load_open_tickets(reader)
        assert not reader.in_transaction
        before = data_version(reader)
        assert data_version(reader) == before  # reading changes nothing
        put(writer, ev("a1", "created", T0))
        assert data_version(reader) != before  # another connection committed
        assert [r.id for r in load_open_tickets(reader)] == ["T-1"]  # and the next read sees it
    finally:
        writer.close()
        reader.close()


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["note", "reply", "customer_reply"])),
        min_size=1,
        max_size=12,
    )
)
def test_any_arrival_order_loads_in_instant_then_arrival_order(steps):
    with tempfile.TemporaryDirectory() as tmp:
        conn = open_db(Path(tmp) / "x.db", create=True)
        try:
            load(conn, Path(tmp))
            put(conn, ev("c", "created", T0))
            for i, (minute, etype) in enumerate(steps):  # one import each: arrival order = i
                put(conn, ev(f"e{i}", etype, T0 + 60 * minute))
            (record,) = load_open_tickets(conn)
            expected = sorted(range(len(steps)), key=lambda i: (steps[i][0], i))
            assert [e.id for e in record.events] == ["c", *(f"e{i}" for i in expected)]
        finally:
            conn.close()
