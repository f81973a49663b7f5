"""Tampering with the record (docs/storage.md): refused by the database, found by `sladesk audit verify`.

The database is built by the command line (load, init, import, override, review,
lead grant), so every log table holds rows the program wrote. The attacker then uses
a plain `sqlite3` connection, as anyone with write access to the file could:

- UPDATE, DELETE and INSERT OR REPLACE on every log table are refused by the
  database's triggers, through sladesk's connections and through a plain client;
- with the triggers dropped, an edited, removed or slipped-in row is found by
  `sladesk audit verify` (exit 1, naming the table and rows, or the audit row);
- a cut-off tail, with the rows it covered, leaves a chain that verifies on its own,
  and is found against a head anchored earlier with `sladesk audit head`.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from rel_support import AGREEMENTS_TOML, LOG_TABLES, created, fingerprint, jsonl, note, sladesk

from sladesk_tui.cli import main
from sladesk_tui.store.db import connect

JUSTIFICATION = "vendor outage, customer informed by phone"

# A column each UPDATE changes, per log table.
_EDIT_COLUMN = {
    "events": "title",
    "overrides": "justification",
    "reviews": "comment",
    "role_grants": "user",
    "audit_log": "actor",
    "agreement_versions": "loaded_by",
    "agreements": "name",
}


def _cli(*args: str | Path, operator: str) -> None:
    assert main([str(a) for a in args], operator=operator) == 0


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Audit rows, in order: 1 first admin, 2 feed grant, 3 load, 4 first lead,
    5 import (6 events, seq 1..6), 6 import (1 event, seq 7), 7 override 1,
    8 override 2, 9 review 1, 10 lead grant."""
    d = tmp_path_factory.mktemp("tamper")
    db = d / "desk.db"
    (d / "agreements.toml").write_text(AGREEMENTS_TOML, encoding="utf-8")
    base = time.time() - 3600
    (d / "batch.jsonl").write_text(
        jsonl(
            [
                created("c1", "T-1", base),
                created("c2", "T-2", base + 1, priority="P1"),
                created("c3", "T-3", base + 2),
                note("n1", "T-1", base + 60),
                note("n2", "T-2", base + 61),
                note("n3", "T-3", base + 62),
            ]
        ),
        encoding="utf-8",
    )
    (d / "single.jsonl").write_text(jsonl([note("n4", "T-1", base + 120)]), encoding="utf-8")
    _cli("init", "--db", db, "--admin", "admin", operator="admin")
    _cli("role", "grant", "--db", db, "feed", "feed", operator="admin")
    _cli("load", "--db", db, d / "agreements.toml", operator="admin")
    _cli("init", "--db", db, "--lead", "lena", operator="lena")
    _cli("import", "--db", db, d / "batch.jsonl", operator="feed")
    _cli("import", "--db", db, d / "single.jsonl", operator="feed")
    _cli(
        "override",
        "--db",
        db,
        "T-1",
        "extend",
        "--clock",
        "resolution",
        "--by",
        "30m",
        "--reason",
        "third_party",
        "--justification",
        JUSTIFICATION,
        operator="sam",
    )
    _cli(
        "override",
        "--db",
        db,
        "T-3",
        "out_of_order",
        "--ahead-of",
        "T-2",
        "--reason",
        "major_incident",
        "--justification",
        JUSTIFICATION,
        operator="sam",
    )
    _cli("review", "--db", db, "1", "approve", "--comment", "fair call", operator="lena")
    _cli("lead", "grant", "--db", db, "max", operator="lena")
    assert not Path(f"{db}-wal").exists()  # closed cleanly: the file alone is the database
    return db


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "desk.db"
    shutil.copy(template, copy)
    return copy


def _attacker(db: Path) -> sqlite3.Connection:
    """A plain connection with sqlite3's defaults (no recursive_triggers), autocommit."""
    return sqlite3.connect(db, isolation_level=None)


def _drop_triggers(conn: sqlite3.Connection, table: str) -> None:
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
    ).fetchall():
        conn.execute(f"DROP TRIGGER {name}")


def _verify(db: Path, *extra: str) -> tuple[int, str]:
    r = sladesk("audit", "verify", "--db", db, *extra)
    assert "Traceback" not in r.stderr
    return r.returncode, r.stdout + r.stderr


def test_template_verifies(db: Path) -> None:
    code, out = _verify(db)
    assert code == 0 and "audit chain ok: 10 rows" in out
    conn = _attacker(db)
    counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in LOG_TABLES}
    conn.close()
    assert counts == {
        "events": 7,
        "overrides": 2,
        "reviews": 1,
        "role_grants": 4,
        "audit_log": 10,
        "agreement_versions": 1,
        "agreements": 1,
    }


def _attempts(conn: sqlite3.Connection, table: str) -> dict[str, str]:
    """UPDATE, DELETE and INSERT OR REPLACE of one row, each changing the record."""
    col = _EDIT_COLUMN[table]
    columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    forged = ", ".join("'forged'" if c == col else c for c in columns)
    return {
        "UPDATE": f"UPDATE {table} SET {col} = 'forged' WHERE rowid = (SELECT MIN(rowid) FROM {table})",
        "DELETE": f"DELETE FROM {table} WHERE rowid = (SELECT MAX(rowid) FROM {table})",
        # The first row again with one column forged: REPLACE would delete the original.
        "INSERT OR REPLACE": f"INSERT OR REPLACE INTO {table} ({', '.join(columns)})"
        f" SELECT {forged} FROM {table} WHERE rowid = (SELECT MIN(rowid) FROM {table})",
    }


@pytest.mark.parametrize("client", ["sladesk", "plain"])
@pytest.mark.parametrize("table", LOG_TABLES)
def test_every_change_to_a_log_table_is_refused(db: Path, table: str, client: str) -> None:
    """Through the connection every sladesk process opens, and through a plain sqlite3
    client (no recursive_triggers), where only the BEFORE INSERT triggers of schema
    0003 stand between a REPLACE and the row it would delete."""
    before = fingerprint(db)
    conn = connect(db) if client == "sladesk" else _attacker(db)
    try:
        for what, sql in _attempts(conn, table).items():
            with pytest.raises(sqlite3.IntegrityError, match="append-only|head"):
                conn.execute(sql)
                pytest.fail(f"{what} on {table} went through")
    finally:
        conn.close()
    assert fingerprint(db) == before
    assert _verify(db)[0] == 0


def test_replace_of_an_event_with_triggers_dropped_is_found(db: Path) -> None:
    conn = _attacker(db)
    _drop_triggers(conn, "events")
    assert conn.execute(_attempts(conn, "events")["INSERT OR REPLACE"]).rowcount == 1
    conn.close()
    code, out = _verify(db)
    assert code == 1
    assert "sladesk: audit chain BROKEN: row 5: events rows seq 1..6 differ from what was recorded" in out


# (table, trigger-less change, what `audit verify` must say)
EDITS = {
    "event alone in its import": (
        "events",
        "UPDATE events SET body = 'nothing to see' WHERE seq = 7",
        "row 6: events rows seq 7..7 differ from what was recorded (edited)",
    ),
    "event in a batch": (
        "events",
        "UPDATE events SET title = 'Harmless' WHERE seq = 2",
        "row 5: events rows seq 1..6 differ from what was recorded (edited)",
    ),
    "override": (
        "overrides",
        "UPDATE overrides SET by_s = 360000 WHERE id = 1",
        "row 7: overrides rows id 1..1 differ from what was recorded (edited)",
    ),
    "review": (
        "reviews",
        "UPDATE reviews SET reviewer = 'max' WHERE id = 1",
        "row 9: reviews rows id 1..1 differ from what was recorded (edited)",
    ),
    "audit row": (
        "audit_log",
        "UPDATE audit_log SET actor = 'someone' WHERE seq = 7",
        "row 7: content does not match its row_hash (edited)",
    ),
    "deleted override": (
        "overrides",
        "DELETE FROM overrides WHERE id = 2",
        "row 8: overrides rows id 2..2 differ from what was recorded (1 recorded, 0 found)",
    ),
    "event slipped in": (
        "events",
        "INSERT INTO events (id, type, ticket, ts, at, digest, actor, source, recorded_at)"
        " SELECT 'n9', type, ticket, ts + 1, at, digest, actor, source, recorded_at FROM events WHERE seq = 7",
        "events row seq=8 is not recorded in the audit log",
    ),
}


@pytest.mark.parametrize("case", EDITS)
def test_change_behind_the_programs_back_is_found(db: Path, case: str) -> None:
    table, sql, expected = EDITS[case]
    conn = _attacker(db)
    _drop_triggers(conn, table)
    assert conn.execute(sql).rowcount == 1
    conn.close()
    code, out = _verify(db)
    assert code == 1
    assert f"sladesk: audit chain BROKEN: {expected}" in out


def test_truncated_tail_is_found_against_the_anchored_head(db: Path) -> None:
    r = sladesk("audit", "head", "--db", db)
    assert r.returncode == 0, r.stderr
    anchor = r.stdout.strip()
    assert anchor.startswith("10:")

    # Cut the last two audit rows and the rows they covered (review 1, grant 4):
    # every remaining link and digest is intact, so the log verifies on its own.
    conn = _attacker(db)
    for table in ("audit_log", "reviews", "role_grants"):
        _drop_triggers(conn, table)
    conn.execute("DELETE FROM audit_log WHERE seq > 8")
    conn.execute("DELETE FROM reviews WHERE id = 1")
    conn.execute("DELETE FROM role_grants WHERE id = 4")
    conn.close()
    code, out = _verify(db)
    assert code == 0 and "8 rows" in out  # what an anchor is for

    code, out = _verify(db, "--head", anchor)
    assert code == 1
    assert "sladesk: audit chain BROKEN: anchored head 10 is missing: the log ends at 8 (truncated)" in out


def test_rewritten_tail_is_found_against_the_anchored_head(db: Path) -> None:
    anchor = sladesk("audit", "head", "--db", db).stdout.strip()
    conn = _attacker(db)
    for table in ("audit_log", "reviews", "role_grants"):
        _drop_triggers(conn, table)
    conn.execute("DELETE FROM audit_log WHERE seq > 8")
    conn.execute("DELETE FROM reviews WHERE id = 1")
    conn.execute("DELETE FROM role_grants WHERE id = 4")
    conn.close()
    # The program writes on: the log grows past the anchor's seq again, with other rows.
    _cli("review", "--db", db, "2", "reject", "--comment", "not justified", operator="lena")
    _cli("lead", "grant", "--db", db, "ada", operator="lena")
    assert sladesk("audit", "head", "--db", db).stdout.startswith("10:")
    code, out = _verify(db, "--head", anchor)
    assert code == 1
    assert "row 10: hash differs from the anchored head (the log was rewritten)" in out
