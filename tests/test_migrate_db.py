"""`sladesk migrate-db`: a SQLite desk's whole history moved into PostgreSQL.

The demo desk (several agreements, holds and other overrides, approved, rejected
and pending reviews, thousands of tickets) is copied; then both databases verify
their audit chains and answer `report`, `queue` and `ticket --format json` alike,
the copy's ids continue where the originals stopped, and a second copy into the
now non-empty database is refused in one line with nothing written.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from sladesk_tui import cli

ON_POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"])

NOW = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC).timestamp()  # a Friday morning
AT = "2026-11-27T09:30:00Z"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sladesk_tui.store.demo import build_demo

    path = tmp_path_factory.mktemp("move") / "demo.db"
    build_demo(path, now=NOW, seed=7, operator="dana")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv), operator="dana")
    out, err = capsys.readouterr()
    return code, out, err


@ON_POSTGRESQL
def test_a_desk_moves_whole_and_answers_alike(
    demo: Path, db_target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--db", str(demo), "migrate-db", "--to", db_target)
    assert code == 0, err
    assert "chain verified" in out and "events\t" in out

    for target in (str(demo), db_target):
        code, out, err = run(capsys, "--db", target, "audit", "verify")
        assert code == 0 and out.startswith("audit chain ok"), err

    with sqlite3.connect(demo) as src:
        with_overrides = [r[0] for r in src.execute("SELECT DISTINCT ticket FROM overrides ORDER BY ticket")]
        kinds = {r[0] for r in src.execute("SELECT kind FROM overrides")}
        decisions = {r[0] for r in src.execute("SELECT decision FROM reviews")}
        open_ids = [r[0] for r in src.execute("SELECT id FROM tickets WHERE is_open = 1 ORDER BY id LIMIT 3")]
        agreements = src.execute("SELECT count(DISTINCT id) FROM agreements").fetchone()[0]
        last_seq = src.execute("SELECT max(seq) FROM events").fetchone()[0]
        last_override = src.execute("SELECT max(id) FROM overrides").fetchone()[0]
    assert "hold" in kinds and {"approved", "rejected"} <= decisions and agreements > 1  # a rich history

    lookups = [
        ("report", "--month", "2026-11"),
        ("report", "--month", "2026-11", "--by", "operator"),
        ("queue", "--format", "json", "--at", AT),
        *(("ticket", tid, "--format", "json", "--at", AT) for tid in [*with_overrides, *open_ids]),
    ]
    for lookup in lookups:
        code_a, on_sqlite, err_a = run(capsys, "--db", str(demo), *lookup)
        code_b, on_pg, err_b = run(capsys, "--db", db_target, *lookup)
        assert (code_a, code_b) == (0, 0), (lookup, err_a, err_b)
        assert on_pg == on_sqlite, lookup
        assert len(on_sqlite) > 100, lookup  # a real answer, not an empty one

    # Identity columns continue after the copied ids.
    from sladesk_tui.store.db import open_db

    conn = open_db(db_target)
    try:
        nxt = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('events', 'seq')),"
            " nextval(pg_get_serial_sequence('overrides', 'id'))"
        ).fetchone()
    finally:
        conn.close()
    assert tuple(nxt) == (last_seq + 1, last_override + 1)

    # The target is no longer empty: refused, one line, nothing written.
    code, out, err = run(capsys, "--db", str(demo), "migrate-db", "--to", db_target)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "is not empty" in err and "password" not in err
    code, out, _ = run(capsys, "--db", db_target, "audit", "verify")
    assert code == 0


@ON_POSTGRESQL
def test_only_the_schema_owner_may_copy_other_peoples_names(
    demo: Path, db_target: str, pg_server: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from sladesk_tui.store.db import open_db

    open_db(db_target).close()  # the owner made the schema
    other = pg_server.role("agent")  # type: ignore[attr-defined]  # pg_support.PgServer
    owner = db_target.split("://", 1)[1].split(":", 1)[0]
    as_other = db_target.replace(f"://{owner}:", f"://{other}:", 1)
    database = db_target.split("/")[3].split("?")[0]
    with pg_server.admin() as admin:  # type: ignore[attr-defined]  # pg_support.PgServer
        admin.execute(f'GRANT "{database}_agent" TO "{other}"')  # a person of the desk (docs/postgresql.md)
    code, out, err = run(capsys, "--db", str(demo), "migrate-db", "--to", as_other)
    assert code == 2 and out == ""
    assert "schema's owner" in err and err.count("\n") == 1


def test_the_target_must_be_postgresql(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--db", str(demo), "migrate-db", "--to", str(tmp_path / "other.db"))
    assert code == 2 and "not a PostgreSQL URL" in err and err.count("\n") == 1


@ON_POSTGRESQL
def test_a_row_the_server_refuses_is_one_line_and_nothing_is_copied(
    demo: Path, db_target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    bad = tmp_path / "bad.db"
    shutil.copy(demo, bad)
    with sqlite3.connect(bad) as src:  # SQLite keeps text in a REAL column; PostgreSQL does not
        seq = src.execute("SELECT max(seq) FROM events").fetchone()[0]
        src.execute("DROP TRIGGER IF EXISTS events_no_update")
        triggers = [
            r[0]
            for r in src.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
            )
        ]
        for name in triggers:
            src.execute(f'DROP TRIGGER "{name}"')
        src.execute("UPDATE events SET ts = 'half past \x1b[31mnine' WHERE seq = ?", (seq,))
    code, out, err = run(capsys, "--db", str(bad), "migrate-db", "--to", db_target)
    assert code == 2 and out == "", err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "events" in err and "half past" in err and "\x1b" not in err, err
    assert "nothing was copied" in err and "password" not in err, err

    from sladesk_tui.store.db import connect

    conn = connect(db_target)
    try:  # migrated, and empty: a second attempt is accepted
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0
    finally:
        conn.close()
