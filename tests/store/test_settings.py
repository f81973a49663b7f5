"""Desk settings and local actions: who changes them, what they refuse, where they show."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from support import GOLD_24X7, agreements_db

from sladesk_tui.cli import main
from sladesk_tui.core.errors import Refused
from sladesk_tui.core.events import Event
from sladesk_tui.store.audit import verify
from sladesk_tui.store.db import open_db
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.queries import local_action_counts
from sladesk_tui.store.roles import grant_role, name_first
from sladesk_tui.store.settings import change_setting, setting, settings

T0 = 1_795_000_000.0


@pytest.fixture
def desk(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Path:
    path = tmp_path / "desk.db"
    if backend == "postgresql":
        server = request.getfixturevalue("pg_server")
        path = server.fresh(server.role("owner"))
    with agreements_db(path, GOLD_24X7, actor="ada", toml=tmp_path / "a.toml") as conn:
        name_first(conn, "admin", "ada", actor="ada")
        grant_role(conn, "feed", "svc-feed", actor="ada")
        ingest(
            conn,
            [
                Event("c1", "created", T0, "T-1", customer="acme", priority="P1", title="Down"),
                Event("r1", "reply", T0 + 60, "T-1", author="sam"),
            ],
            actor="svc-feed",
            source="import:feed.jsonl",
        )
    return path


@pytest.mark.both_backends
def test_only_an_admin_changes_a_setting_and_it_is_audited(desk: Path) -> None:
    conn = open_db(desk)
    try:
        assert settings(conn) == {"local-actions": "on"}
        with pytest.raises(Refused, match="kim is not an admin"):
            change_setting(conn, "local-actions", "off", actor="kim")
        with pytest.raises(Refused, match="not one of on, off"):
            change_setting(conn, "local-actions", "maybe", actor="ada")
        with pytest.raises(Refused, match="unknown setting"):
            change_setting(conn, "anything", "on", actor="ada")
        assert change_setting(conn, "local-actions", "off", actor="ada") is not None
        assert change_setting(conn, "local-actions", "off", actor="ada") is None  # no-op, no row
        assert setting(conn, "local-actions") == "off"
        row = conn.execute(
            "SELECT actor, action, before_json, after_json FROM audit_log ORDER BY seq DESC"
        ).fetchone()
        assert tuple(row) == ("ada", "setting.change", '{"local-actions":"on"}', '{"local-actions":"off"}')
        assert verify(conn).ok
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE desk_settings SET value = 'on'")
    finally:
        conn.close()


@pytest.mark.both_backends
def test_local_actions_off_refuses_clock_moving_events_from_the_app_only(desk: Path) -> None:
    conn = open_db(desk)
    try:
        ingest(
            conn,
            [Event("t1", "status", T0 + 120, "T-1", status="waiting", author="kim")],
            actor="kim",
            source="tui",
        )
        change_setting(conn, "local-actions", "off", actor="ada")
        for etype, extra in (("reply", {}), ("priority", {"priority": "P2"}), ("resolved", {})):
            ev = Event(f"t-{etype}", etype, T0 + 180, "T-1", author="kim", **extra)  # type: ignore[arg-type]  # test data
            with pytest.raises(Refused, match="local actions are off"):
                ingest(conn, [ev], actor="kim", source="tui")
        ingest(conn, [Event("t2", "assign", T0 + 180, "T-1", assignee="kim")], actor="kim", source="tui")
        # The feed is the record: unaffected.
        ingest(
            conn, [Event("r2", "reply", T0 + 240, "T-1", author="sam")], actor="svc-feed", source="import:x"
        )
        assert local_action_counts(conn) == {"kim": 1}  # the status; assigning moves no clock
        assert verify(conn).ok
    finally:
        conn.close()


@pytest.mark.both_backends
def test_ticket_shows_the_author_and_who_recorded_it(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conn = open_db(desk)
    ingest(conn, [Event("t1", "reply", T0 + 120, "T-1", author="kim")], actor="kim", source="tui")
    conn.close()
    assert main(["--db", str(desk), "ticket", "T-1", "--format", "json"], operator="kim") == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert [(e["id"], e.get("author"), e["recorded_by"], e["source"], e["local"]) for e in events] == [
        ("c1", None, "svc-feed", "import:feed.jsonl", False),
        ("r1", "sam", "svc-feed", "import:feed.jsonl", False),
        ("t1", "kim", "kim", "tui", True),
    ]
    assert main(["--db", str(desk), "ticket", "T-1"], operator="kim") == 0
    lines = capsys.readouterr().out.splitlines()
    history = lines[lines.index(next(x for x in lines if x.startswith("history"))) + 1 :][:3]
    assert "reply          via svc-feed  author=sam" in history[1]
    assert "reply          LOCAL kim  author=kim" in history[2]


@pytest.mark.both_backends
def test_the_leads_figures_count_clocks_moved_by_hand(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conn = open_db(desk)
    ingest(
        conn,
        [Event("t1", "status", T0 + 120, "T-1", status="waiting", author="kim")],
        actor="kim",
        source="tui",
    )
    ingest(
        conn, [Event("t2", "status", T0 + 180, "T-1", status="open", author="kim")], actor="kim", source="tui"
    )
    conn.close()
    assert main(["--db", str(desk), "overrides", "--stats", "--format", "json"], operator="lee") == 0
    [kim] = json.loads(capsys.readouterr().out)
    assert (kim["operator"], kim["total"], kim["local_actions"]) == ("kim", 0, 2)
    assert main(["--db", str(desk), "overrides", "--stats", "--format", "csv"], operator="lee") == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split(",")[8] == "local" and row.split(",")[8] == "2"
    assert main(["--db", str(desk), "overrides", "--stats"], operator="lee") == 0
    header, row, *_ = capsys.readouterr().out.splitlines()
    assert header.split()[-1] == "local" and row.split()[-1] == "2"
    assert main(["--db", str(desk), "overrides", "--stats", "--operator", "sam"], operator="lee") == 0
    assert capsys.readouterr().out == "(none)\n"


# SQLite only: several people on one command line; on PostgreSQL each would be a role
# of their own (tests/backends.py `person`).
def test_setting_commands(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(desk), "setting", "list"], operator="kim") == 0
    assert capsys.readouterr().out.startswith("local-actions\ton\t(on/off, default on): ")
    assert main(["--db", str(desk), "setting", "set", "local-actions", "off"], operator="kim") == 2
    assert "kim is not an admin" in capsys.readouterr().err
    assert main(["--db", str(desk), "setting", "set", "local-actions", "off"], operator="ada") == 0
    assert capsys.readouterr().out == "local-actions is off\n"
    assert main(["--db", str(desk), "setting", "set", "local-actions", "off"], operator="ada") == 0
    assert capsys.readouterr().out == "local-actions is off already; nothing changed\n"
