"""The alert outbox on a real SQLite file: one row per key and recipient, append-only,
audited, and its states derived from the attempts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pg_support import interleave_raw_row
from support import GOLD_24X7, agreements_db

from sladesk_tui.core.alerts import Crossing
from sladesk_tui.store import alerts as outbox
from sladesk_tui.store import audit
from sladesk_tui.store.backend import dialect

NOW = 1_796_032_800.0


@pytest.fixture
def d(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Where the desk goes: a file, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return tmp_path / "d.db"
    server = request.getfixturevalue("pg_server")
    return server.fresh(server.role("owner"))  # type: ignore[no-any-return]  # a URL on PostgreSQL


def crossing(ticket: str = "T-1", level: str = "breach") -> Crossing:
    return Crossing(ticket, "response", int(NOW - 3600), level, NOW, NOW, False, ("assignee",))


@pytest.mark.both_backends
def test_each_key_and_recipient_is_recorded_once(d: Path, tmp_path: Path) -> None:
    with agreements_db(d, GOLD_24X7, actor="lena", toml=tmp_path / "a.toml") as conn:
        rows = [
            outbox.NewAlert(crossing(), "person:kim", "kim"),
            outbox.NewAlert(crossing(), "channel:chat", "kim"),
        ]
        assert outbox.record_crossings(conn, rows, now=NOW, actor="svc") == 2
        assert outbox.record_crossings(conn, rows, now=NOW + 5, actor="svc") == 0
        assert (
            outbox.record_crossings(
                conn, [*rows, outbox.NewAlert(crossing("T-2"), "person:kim", "kim")], now=NOW, actor="svc"
            )
            == 1
        )
        assert outbox.known_keys(conn, ["T-1"]) == {crossing().key}
        assert audit.verify(conn).ok


@pytest.mark.both_backends
def test_states_follow_the_attempts(d: Path, tmp_path: Path) -> None:
    with agreements_db(d, GOLD_24X7, actor="lena", toml=tmp_path / "a.toml") as conn:
        outbox.record_crossings(
            conn, [outbox.NewAlert(crossing(), "channel:chat", "kim")], now=NOW, actor="svc"
        )
        assert [r.state for r in outbox.alert_log(conn)] == ["pending"]
        (pending,) = outbox.pending_alerts(conn)
        m = outbox.claim(conn, "channel:chat", "chat", None, [pending.id], now=NOW, actor="svc")
        assert [r.state for r in outbox.alert_log(conn)] == ["sending"]
        assert outbox.pending_alerts(conn) == [] and [u.id for u in outbox.unfinished(conn)] == [m.id]
        outbox.record_attempt(conn, m, "failed", "HTTP 500", now=NOW + 1, actor="svc")
        (r,) = outbox.alert_log(conn)
        assert (r.state, r.attempts, r.error) == ("retrying", 1, "HTTP 500")
        outbox.record_attempt(conn, m, "sent", None, now=NOW + 31, actor="svc")
        (r,) = outbox.alert_log(conn)
        assert (r.state, r.attempts, r.sent_ts, r.idem_key) == ("sent", 2, NOW + 31, m.idem_key)
        assert outbox.unfinished(conn) == [] and outbox.last_message_ts(conn, "channel:chat") == NOW
        actions = [
            a
            for (a,) in conn.execute("SELECT action FROM audit_log WHERE action LIKE 'alerts.%' ORDER BY seq")
        ]
        assert actions == ["alerts.due", "alerts.message", "alerts.failed", "alerts.sent"]
        assert audit.verify(conn).ok


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE alerts SET level = '50%'",
        "DELETE FROM alert_attempts",
        "INSERT OR REPLACE INTO alert_items (message_id, alert_id) VALUES (1, 1)",
        "UPDATE alert_messages SET idem_key = 'x'",
    ],
)
@pytest.mark.both_backends
def test_the_outbox_is_append_only(d: Path, tmp_path: Path, sql: str) -> None:
    with agreements_db(d, GOLD_24X7, actor="lena", toml=tmp_path / "a.toml") as conn:
        outbox.record_crossings(
            conn, [outbox.NewAlert(crossing(), "person:kim", "kim")], now=NOW, actor="svc"
        )
        m = outbox.claim(conn, "person:kim", "mail", "kim@example.com", [1], now=NOW, actor="svc")
        outbox.record_attempt(conn, m, "sent", None, now=NOW, actor="svc")
        if "OR REPLACE" in sql and dialect(conn).name == "postgresql":
            # PostgreSQL's way to replace a row in place is an upsert: an UPDATE, refused.
            sql = (
                "INSERT INTO alert_items (message_id, alert_id) VALUES (1, 1)"
                " ON CONFLICT (message_id, alert_id) DO UPDATE SET alert_id = excluded.alert_id"
            )
        with pytest.raises(sqlite3.DatabaseError, match="append-only|already in a message"):
            conn.execute(sql)


@pytest.mark.both_backends
def test_an_edited_alert_is_found_by_audit_verify(d: Path, tmp_path: Path) -> None:
    with agreements_db(d, GOLD_24X7, actor="lena", toml=tmp_path / "a.toml") as conn:
        outbox.record_crossings(
            conn, [outbox.NewAlert(crossing(), "person:kim", "kim")], now=NOW, actor="svc"
        )
        if dialect(conn).name == "postgresql":  # what the tables' owner could do
            conn.execute("ALTER TABLE alerts DISABLE TRIGGER USER")
        else:
            conn.execute("DROP TRIGGER alerts_no_update")
        conn.execute("UPDATE alerts SET recipient = 'person:mallory'")
        result = audit.verify(conn)
        assert not result.ok and "alerts" in (result.reason or "")


def test_row_ranges_cover_exactly_the_ids_given() -> None:
    assert audit.row_ranges("alerts", []) == []
    assert audit.row_ranges("alerts", [7, 5, 6, 9, 12, 11]) == [
        audit.RowRange("alerts", 5, 7),
        audit.RowRange("alerts", 9, 9),
        audit.RowRange("alerts", 11, 12),
    ]


def test_an_alert_another_session_inserts_meanwhile_stays_outside_the_notifiers_cover(
    tmp_path: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notifier's audit row covers the ids its inserts were given. Covering the
    newest ids instead took in a raw row that another session committed between two
    of them (PostgreSQL's sequence interleaves concurrent sessions; on SQLite the
    write lock keeps them out), and `audit verify` then took that row for the
    notifier's."""
    url = pg_server.fresh(pg_server.role("owner"))
    with agreements_db(url, GOLD_24X7, actor="lena", toml=tmp_path / "a.toml") as conn:
        raw = interleave_raw_row(
            monkeypatch,
            conn,
            url,
            outbox._INSERT_ALERT,
            "INSERT INTO alerts (key, recipient, ticket, clock, cycle, level, threshold_ts, threshold_at, due_ts,"
            " ts, at) VALUES ('raw', 'person:mallory', 'T-9', 'response', 0, 'breach', 0, '', 0, 0, '') RETURNING id",
        )
        alerts = [
            outbox.NewAlert(crossing(), "person:kim", "kim"),
            outbox.NewAlert(crossing(), "person:lou", "lou"),
        ]
        assert outbox.record_crossings(conn, alerts, now=NOW, actor="svc") == 2
        monkeypatch.undo()
        ids = [r[0] for r in conn.execute("SELECT id FROM alerts ORDER BY id")]
        assert len(ids) == 3 and ids[1] == raw[0]  # the raw row between the notifier's two
        result = audit.verify(conn)
        assert not result.ok
        assert result.reason is not None and f"alerts row id={raw[0]} is not recorded" in result.reason
