"""Live refresh: a commit in another process reaches a listener (store.changes).

On PostgreSQL the writer's transaction ends with a NOTIFY naming its tickets; the
listener, on its own connection, hears it and, when its connection is killed,
reconnects and says "re-read everything". On SQLite the same interface polls
`data_version` and cannot name tickets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sladesk_tui.store.changes import ALL, MAX_PAYLOAD, Change, listen, parse, payload
from sladesk_tui.store.db import open_db

ROOT = Path(__file__).resolve().parents[2]

# Run as its own process, as another sladesk would: ingest one `created` event per id.
WRITER = """
import sys
from sladesk_tui.core.eventfile import event_from_mapping
from sladesk_tui.store.db import open_db
from sladesk_tui.store.imports import ingest

target, *ids = sys.argv[1:]
events = [
    event_from_mapping({"id": f"c-{t}", "type": "created", "ticket": t, "at": "2026-12-07T10:00:00Z",
                        "customer": "acme", "priority": "P1", "title": f"ticket {t}"}, seq=n)
    for n, t in enumerate(ids, 1)
]
conn = open_db(target)
try:
    ingest(conn, events, actor="feeder", source="test")
finally:
    conn.close()
"""


def write_in_another_process(target: str, *ids: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WRITER, target, *ids],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]


def wait_for(listener: object, timeout: float = 20.0) -> Change | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        change = listener.wait(0.5)  # type: ignore[attr-defined]  # a store.changes.Listener
        if change is not None:
            return change
    return None


@pytest.mark.both_backends
def test_a_write_in_another_process_wakes_the_listener(backend: str, db_target: str) -> None:
    open_db(db_target, create=True).close()
    listener = listen(db_target, interval=0.02)
    try:
        assert listener.wait(0.2) is None  # nothing committed yet
        write_in_another_process(db_target, "T-1", "T-2")
        change = wait_for(listener)
        if backend == "postgresql":
            assert change == Change(frozenset({"T-1", "T-2"}))
        else:  # SQLite's poll knows that something was committed, not what
            assert change == Change()
        assert listener.wait(0.2) is None  # one commit, one hint
    finally:
        listener.close()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_killed_listener_reconnects_and_says_re_read_everything(db_target: str, pg_server: object) -> None:
    from sladesk_tui.store.changes import PgListener

    open_db(db_target).close()
    listener = listen(db_target)
    assert isinstance(listener, PgListener)
    try:
        killed = listener.backend_pid
        with pg_server.admin() as admin:  # type: ignore[attr-defined]  # pg_support.PgServer
            assert admin.execute("SELECT pg_terminate_backend(%s)", (killed,)).fetchone()[0] is True
        assert wait_for(listener) == Change.EVERYTHING
        assert listener.backend_pid not in (None, killed)
        # Listening again, on the new connection.
        write_in_another_process(db_target, "T-9")
        assert wait_for(listener) == Change(frozenset({"T-9"}))
    finally:
        listener.close()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_rolled_back_write_announces_nothing(db_target: str) -> None:
    from sladesk_tui.store.db import write_tx

    conn = open_db(db_target)
    listener = listen(db_target)
    try:
        with pytest.raises(RuntimeError), write_tx(conn):
            conn.execute(
                "INSERT INTO tickets (id, customer, title, priority, status, created_ts, updated_ts)"
                " VALUES ('T-x', 'acme', 't', 'P1', 'new', 0, 0)"
            )
            raise RuntimeError("changed my mind")
        assert listener.wait(0.5) is None
    finally:
        listener.close()
        conn.close()


def test_a_payload_names_tickets_until_it_would_not_fit() -> None:
    assert parse(payload({"T-2", "T-1"})) == Change(frozenset({"T-1", "T-2"}))
    many = {f"TICKET-{i:06d}" for i in range(2000)}
    assert len(json.dumps(sorted(many)).encode()) > MAX_PAYLOAD
    assert payload(many) == ALL
    assert parse(payload(many)) == Change.EVERYTHING
    # Another program's text on the channel: re-read rather than guess.
    assert parse("hello") == Change.EVERYTHING
    assert parse('{"a": 1}') == Change.EVERYTHING
    assert Change(frozenset({"a"})).merge(Change(frozenset({"b"}))) == Change(frozenset({"a", "b"}))
    assert Change(frozenset({"a"})).merge(Change.EVERYTHING) == Change.EVERYTHING


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_write_of_settings_alerts_or_their_deliveries_alone_wakes_the_listener(
    db_target: str, tmp_path: Path
) -> None:
    """No ticket is named, but the listeners (the app's alert watch) must still wake
    and re-read: every write appends an audit row, and that is announced."""
    from support import GOLD_24X7, agreements_db

    from sladesk_tui.core.alerts import Crossing
    from sladesk_tui.store import alerts as outbox
    from sladesk_tui.store.roles import name_first
    from sladesk_tui.store.settings import change_setting

    now = 1_796_032_800.0
    with agreements_db(db_target, GOLD_24X7, actor="ada", toml=tmp_path / "a.toml") as conn:
        name_first(conn, "admin", "ada", actor="ada")
    conn = open_db(db_target)
    listener = listen(db_target)
    try:
        assert listener.wait(0.3) is None
        change_setting(conn, "local-actions", "off", actor="ada")
        assert wait_for(listener, 5) == Change()
        crossing = Crossing("T-1", "response", int(now - 3600), "breach", now, now, False, ("assignee",))
        outbox.record_crossings(
            conn, [outbox.NewAlert(crossing, "channel:chat", "kim")], now=now, actor="svc"
        )
        assert wait_for(listener, 5) == Change()
        (pending,) = outbox.pending_alerts(conn)
        message = outbox.claim(conn, "channel:chat", "chat", None, [pending.id], now=now, actor="svc")
        assert wait_for(listener, 5) == Change()
        outbox.record_attempt(conn, message, "sent", None, now=now + 1, actor="svc")
        assert wait_for(listener, 5) == Change()
        assert change_setting(conn, "local-actions", "off", actor="ada") is None  # wrote nothing
        assert listener.wait(0.5) is None  # announced nothing
    finally:
        listener.close()
        conn.close()
