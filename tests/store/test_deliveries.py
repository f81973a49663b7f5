"""Deliveries into the store: batches, savepoints, dedupe, audit (docs/sources.md)."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from source_fixtures import SOURCES_TOML, zammad_snapshot, zendesk_comment, zendesk_created, zendesk_status
from support import GOLD_24X7, load_text

from sladesk_tui.core.sources.mapping import parse_sources_text
from sladesk_tui.core.sources.payloads import decode
from sladesk_tui.store import audit
from sladesk_tui.store.deliveries import Pending, RefusalNote, source_rows, store_batch, stored_deliveries

SOURCES = parse_sources_text(SOURCES_TOML, "sources.toml")
TS = 1795075200.0


def pending(name: str, doc: dict, delivery: str) -> Pending:
    src = SOURCES.get(name)
    assert src is not None
    raw = json.dumps(doc).encode()
    return Pending(src, delivery, hashlib.sha256(raw).hexdigest(), decode(src, raw, "application/json"), TS)


@pytest.mark.both_backends
def test_a_batch_commits_good_deliveries_and_refuses_bad_ones_alone(
    conn: sqlite3.Connection, tmp_path
) -> None:
    load_text(conn, tmp_path / "a.toml", GOLD_24X7, actor="lead")
    good = pending("zd", zendesk_created(1), "zendesk:a")
    unmapped = pending("zd", zendesk_created(2, priority="CRITICAL"), "zendesk:b")
    snap = pending("zammad", zammad_snapshot(81), "zammad:c")
    out = store_batch(
        conn, [good, unmapped, snap], [RefusalNote("jsm", TS, 401, "signature does not match")], actor="svc"
    )
    assert [o.status for o in out] == [200, 422, 200]
    assert "priority 'CRITICAL'" in out[1].reason
    assert stored_deliveries(conn) == [("zd", "zendesk:a"), ("zammad", "zammad:c")]
    ids = {r[0] for r in conn.execute("SELECT ticket FROM events")}
    assert ids == {"ZD-1", "ZM-81"}
    rows = source_rows(conn)
    assert rows["zd"].deliveries == 1 and rows["zd"].refusals == 1 and rows["zd"].last_refusal_status == 422
    assert rows["jsm"].last_refusal_reason == "signature does not match"
    assert audit.verify(conn).ok


@pytest.mark.both_backends
def test_a_retried_delivery_is_answered_without_storing_twice(conn: sqlite3.Connection, tmp_path) -> None:
    load_text(conn, tmp_path / "a.toml", GOLD_24X7, actor="lead")
    first = pending("zd", zendesk_created(1), "zendesk:a")
    assert store_batch(conn, [first], actor="svc")[0].inserted == 1  # created (status OPEN is ours already)
    before = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    (again, other) = store_batch(conn, [first, pending("zd", zendesk_created(9), "zendesk:a")], actor="svc")
    assert (again.status, again.reason.split(":")[0]) == (200, "duplicate")
    assert other.status == 409
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == before
    # A change delivered later under a new id but already known (a pull got it first) stores nothing new.
    change = zendesk_status(1, "PENDING", "OPEN", eid="01S", time="2026-11-27T09:00:00Z")
    (a,) = store_batch(conn, [pending("zd", change, "zendesk:x")], actor="svc")
    (b,) = store_batch(conn, [pending("zd", change, "zendesk:y")], actor="svc")
    assert (a.inserted, b.inserted) == (1, 0)  # the stored state already says waiting
    note = zendesk_comment(1, comment_id=5, public=False, staff=True, time="2026-11-27T09:10:00Z")
    (c,) = store_batch(conn, [pending("zd", note, "zendesk:n1")], actor="svc")
    (d,) = store_batch(conn, [pending("zd", note, "zendesk:n2")], actor="svc")
    assert (c.inserted, d.inserted, d.already_present) == (1, 0, 1)
    assert conn.execute("SELECT status FROM tickets WHERE id = 'ZD-1'").fetchone()[0] == "waiting"
    assert audit.verify(conn).ok


@pytest.mark.both_backends
def test_an_event_the_importer_refuses_fails_its_delivery_alone(conn: sqlite3.Connection, tmp_path) -> None:
    load_text(conn, tmp_path / "a.toml", GOLD_24X7, actor="lead")
    good = pending("zd", zendesk_created(1), "zendesk:a")
    feed = SOURCES.get("feed")
    assert feed is not None
    orphan = json.dumps(
        {"id": "x1", "ticket": "NOPE-1", "at": "2026-11-27T08:05:00Z", "type": "reply"}
    ).encode()
    bad = Pending(
        feed, "sladesk:o", hashlib.sha256(orphan).hexdigest(), decode(feed, orphan, "application/json"), TS
    )
    out = store_batch(conn, [good, bad, pending("zd", zendesk_created(2), "zendesk:b")], actor="svc")
    assert [o.status for o in out] == [200, 422, 200]
    assert "unknown ticket 'NOPE-1'" in out[1].reason
    assert stored_deliveries(conn) == [("zd", "zendesk:a"), ("zd", "zendesk:b")]
    assert audit.verify(conn).ok
