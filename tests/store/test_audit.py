"""The hash-chained audit log: appends, verification, tampering found, anchors."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sladesk_tui import __version__
from sladesk_tui.cli import main
from sladesk_tui.core.errors import InputError
from sladesk_tui.store.audit import (
    GENESIS_HASH,
    RowRange,
    append_audit,
    format_head,
    head,
    parse_head,
    verify,
)
from sladesk_tui.store.backend import dialect
from sladesk_tui.store.db import connect, write_tx

_EVENT = (
    "INSERT INTO events (id, type, ticket, ts, at, digest, actor, source, recorded_at)"
    " VALUES (?, 'note', 'T-1', ?, 'x', 'd', 'u', 's', 'x')"
)


def _append_events(conn: sqlite3.Connection, n: int, *, actor: str = "sam") -> tuple[int, int]:
    """Insert n events and their covering audit row in one transaction; return the seq range."""
    with write_tx(conn):
        first = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events").fetchone()[0]
        start = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        conn.executemany(_EVENT, [(f"e{start + i}", float(start + i)) for i in range(n)])
        last = first + n - 1
        append_audit(
            conn,
            actor=actor,
            action="events.import",
            subject="test",
            after={"count": n},
            covers=[RowRange("events", first, last)],
        )
    return first, last


def _log(conn: sqlite3.Connection, n: int) -> None:
    for i in range(n):
        with write_tx(conn):
            append_audit(
                conn, actor="sam", action="note", subject=f"s{i}", before={"i": i}, after={"i": i + 1}
            )


def _unprotect(conn: sqlite3.Connection, table: str) -> None:
    """What someone with the sqlite3 shell could do: drop the append-only triggers (on
    PostgreSQL, what the tables' owner could do: disable them)."""
    if dialect(conn).name == "postgresql":
        conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        return
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
    ).fetchall():
        conn.execute(f"DROP TRIGGER {name}")


@pytest.mark.both_backends
def test_empty_log_verifies(conn: sqlite3.Connection) -> None:
    assert head(conn) == (0, GENESIS_HASH)
    result = verify(conn)
    assert result.ok and result.rows == 0 and result.head == (0, GENESIS_HASH)


@pytest.mark.both_backends
def test_chain_links_and_verifies(conn: sqlite3.Connection) -> None:
    _log(conn, 5)
    _append_events(conn, 3)
    rows = conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["prev_hash"] == GENESIS_HASH
    assert all(b["prev_hash"] == a["row_hash"] for a, b in zip(rows, rows[1:], strict=False))
    assert {r["app_version"] for r in rows} == {__version__}
    assert rows[0]["source"] == "local" and rows[0]["actor"] == "sam"
    assert rows[0]["at"].endswith("Z") and rows[0]["before_json"] == '{"i":0}'
    result = verify(conn)
    assert result.ok and result.rows == 6 and result.head == head(conn) == (6, rows[-1]["row_hash"])


@pytest.mark.both_backends
def test_source_comes_from_the_ssh_client(conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "203.0.113.9 50123 10.0.0.1 22")
    _log(conn, 1)
    assert conn.execute("SELECT source FROM audit_log").fetchone()[0] == "ssh:203.0.113.9"


@pytest.mark.both_backends
def test_append_outside_a_transaction_is_refused(conn: sqlite3.Connection) -> None:
    with pytest.raises(RuntimeError, match="write transaction"):
        append_audit(conn, actor="sam", action="x", subject="y")


@pytest.mark.both_backends
def test_covering_an_empty_or_foreign_range_is_refused(conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match="no events rows"), write_tx(conn):
        append_audit(conn, actor="sam", action="x", subject="y", covers=[RowRange("events", 1, 5)])
    with pytest.raises(ValueError, match="not an audited"), write_tx(conn):
        append_audit(conn, actor="sam", action="x", subject="y", covers=[RowRange("tickets", 1, 1)])
    assert head(conn) == (0, GENESIS_HASH)


@pytest.mark.both_backends
@pytest.mark.parametrize(("seq", "prev"), [(1, "f" * 64), (2, GENESIS_HASH), (5, GENESIS_HASH)])
def test_guard_trigger_refuses_a_row_off_the_head(conn: sqlite3.Connection, seq: int, prev: str) -> None:
    _log(conn, 1)
    good_seq, good_hash = head(conn)
    if seq == 2:
        prev = "a" * 64  # right seq, wrong link
    with pytest.raises(sqlite3.IntegrityError, match="not the current head"):
        conn.execute(
            "INSERT INTO audit_log (seq, at, actor, action, subject, app_version, prev_hash, row_hash)"
            " VALUES (?, 'x', 'eve', 'forge', 's', 'v', ?, 'h')",
            (seq, prev),
        )
    assert head(conn) == (good_seq, good_hash)


@pytest.mark.both_backends
def test_edited_row_is_found_by_seq(conn: sqlite3.Connection) -> None:
    _log(conn, 5)
    _unprotect(conn, "audit_log")
    conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    result = verify(conn)
    assert not result.ok and result.bad_seq == 3 and "edited" in result.reason
    assert result.rows == 2


@pytest.mark.both_backends
def test_rehashed_row_breaks_the_next_link(conn: sqlite3.Connection) -> None:
    """Recomputing the edited row's own hash only moves the failure to the next row."""
    _log(conn, 4)
    _unprotect(conn, "audit_log")
    from sladesk_tui.store.audit import _HASHED, _row_hash

    row = dict(conn.execute(f"SELECT {', '.join(_HASHED)} FROM audit_log WHERE seq = 2").fetchone())
    row["subject"] = "rewritten"
    conn.execute(
        "UPDATE audit_log SET subject = ?, row_hash = ? WHERE seq = 2", (row["subject"], _row_hash(row))
    )
    result = verify(conn)
    assert (result.ok, result.bad_seq) == (False, 3)
    assert "prev_hash" in result.reason


@pytest.mark.both_backends
def test_deleted_middle_row_is_found(conn: sqlite3.Connection) -> None:
    _log(conn, 5)
    _unprotect(conn, "audit_log")
    conn.execute("DELETE FROM audit_log WHERE seq = 4")
    result = verify(conn)
    assert (result.ok, result.bad_seq) == (False, 4) and "missing" in result.reason


@pytest.mark.both_backends
def test_truncated_tail_needs_the_anchor(conn: sqlite3.Connection) -> None:
    _log(conn, 6)
    anchor = head(conn)
    _unprotect(conn, "audit_log")
    conn.execute("DELETE FROM audit_log WHERE seq > 4")
    assert verify(conn).ok  # a chain cannot see its own tail cut off...
    result = verify(conn, anchor)  # ...an anchored head can
    assert (result.ok, result.bad_seq) == (False, 6) and "truncated" in result.reason


@pytest.mark.both_backends
def test_anchor_detects_a_rewritten_log(conn: sqlite3.Connection) -> None:
    _log(conn, 3)
    anchor = head(conn)
    _unprotect(conn, "audit_log")
    conn.execute("DELETE FROM audit_log")
    _log(conn, 4)  # a freshly forged, internally consistent chain
    assert verify(conn).ok
    result = verify(conn, anchor)
    assert (result.ok, result.bad_seq) == (False, 3) and "anchored" in result.reason
    assert verify(conn, head(conn)).ok
    assert verify(conn, (0, GENESIS_HASH)).ok


@pytest.mark.both_backends
def test_edited_event_is_found_through_its_batch(conn: sqlite3.Connection) -> None:
    _append_events(conn, 5)
    _append_events(conn, 5)
    _unprotect(conn, "events")
    conn.execute("UPDATE events SET ts = 99 WHERE seq = 7")
    result = verify(conn)
    assert (result.ok, result.bad_seq) == (False, 2)
    assert "events rows seq 6..10" in result.reason and "edited" in result.reason


@pytest.mark.both_backends
def test_deleted_event_is_found(conn: sqlite3.Connection) -> None:
    _append_events(conn, 5)
    _unprotect(conn, "events")
    conn.execute("DELETE FROM events WHERE seq = 5")
    result = verify(conn)
    assert (result.ok, result.bad_seq) == (False, 1) and "5 recorded, 4 found" in result.reason


@pytest.mark.both_backends
def test_event_slipped_in_without_audit_is_found(conn: sqlite3.Connection) -> None:
    _append_events(conn, 3)
    conn.execute(_EVENT, ("forged", 1.0))  # triggers allow INSERT: only the audit can tell
    result = verify(conn)
    assert not result.ok and result.bad_seq is None
    assert "events row seq=4 is not recorded" in result.reason


@pytest.mark.both_backends
def test_verify_sees_one_snapshot_while_writers_append(db_path: Path) -> None:
    reader, writer = connect(db_path, readonly=True), connect(db_path)
    _append_events(writer, 2)
    assert verify(reader).ok
    _append_events(writer, 2)
    assert verify(reader).rows == 2
    reader.close()
    writer.close()


def test_head_text_round_trips() -> None:
    h = (42, "ab" * 32)
    assert parse_head(format_head(h)) == h
    assert parse_head(f" 42:{'AB' * 32}\n") == h
    for bad in ("42", "x:" + "a" * 64, "42:" + "a" * 63, "42:" + "g" * 64):
        with pytest.raises(InputError, match="SEQ:HASH"):
            parse_head(bad)


_COLUMNS = ["at", "actor", "action", "subject", "before_json", "after_json", "source", "app_version"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sladesk_tui.store.db import open_db

    path = tmp_path_factory.mktemp("tpl") / "t.db"
    c = open_db(path, create=True)
    _log(c, 6)
    c.close()
    return path


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=st.integers(1, 6), column=st.sampled_from(_COLUMNS), junk=st.text(min_size=1, max_size=5))
def test_any_single_edit_is_found(template: Path, tmp_path: Path, seq: int, column: str, junk: str) -> None:
    path = tmp_path / f"edit-{seq}-{column}.db"
    shutil.copy(template, path)
    c = connect(path)
    try:
        _unprotect(c, "audit_log")
        c.execute(f"UPDATE audit_log SET {column} = COALESCE({column}, '') || ? WHERE seq = ?", (junk, seq))
        result = verify(c)
        assert (result.ok, result.bad_seq) == (False, seq)
    finally:
        c.close()


# ---- command line -------------------------------------------------------------------


@pytest.mark.both_backends
def test_cli_head_and_verify(
    conn: sqlite3.Connection, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _log(conn, 3)
    assert main(["--db", str(db_path), "audit", "head"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == format_head(head(conn))
    assert main(["audit", "verify", "--db", str(db_path), "--head", printed]) == 0
    chain, outcomes = capsys.readouterr().out.strip().splitlines()
    assert chain == f"audit chain ok: 3 rows, head {printed}"
    assert outcomes.startswith("outcomes ok: 0 rows of 0 tickets recomputed from the record in ")

    _unprotect(conn, "audit_log")
    conn.execute("DELETE FROM audit_log WHERE seq = 3")
    assert main(["audit", "verify", "--db", str(db_path)]) == 0
    assert main(["audit", "verify", "--db", str(db_path), "--head", printed]) == 1
    assert "anchored head 3 is missing" in capsys.readouterr().err
    conn.execute("UPDATE audit_log SET action = 'hidden' WHERE seq = 2")
    assert main(["audit", "verify", "--db", str(db_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "row 2:" in err


def test_cli_on_a_missing_database_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--db", str(tmp_path / "none.db")]) == 2
    assert "no such database" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
