"""Sixteen writer processes on PostgreSQL: nothing lost, the audit chain verifies.

The PostgreSQL twin of tests/reliability/test_many_writers.py, with the same writer
(`rel_writer.py mixed`), each process connected as a person role of its own (the
operator the database records is the connected role, docs/postgresql.md). The
audit chain, whose next row hashes the previous one, must be extended by one
writer at a time: every write transaction takes the same transaction-level
advisory lock (store.pg.WRITE_LOCK_KEY), checked here directly too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pg_desk import Desk, make_desk
from pg_support import PgServer

from sladesk_tui.store.db import DatabaseBusy, connect, write_tx
from sladesk_tui.store.roles import grant_role

WRITERS = 16
WRITES = 100  # per writer: 50 events and 50 overrides
HALF = WRITES // 2
REPO = Path(__file__).resolve().parents[2]
WRITER = REPO / "tests" / "reliability" / "rel_writer.py"
TIMEOUT_S = 600


@pytest.fixture(scope="module")
def desk(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Desk:
    people = tuple(f"op{n:02d}" for n in range(WRITERS))
    d = make_desk(pg_server, tmp_path_factory.mktemp("writers"), ("admin", "lead", "feed", *people))
    with d.connect("admin") as conn:
        for p in people:  # the writers import events: the feed role (docs/roles.md)
            grant_role(conn, "feed", d.role(p), actor=d.role("admin"))
    return d


def test_a_writer_waits_for_the_write_lock_another_holds(desk: Desk) -> None:
    holder, waiter = connect(desk.url("op00")), connect(desk.url("op01"))
    try:
        with write_tx(holder):
            with pytest.raises(DatabaseBusy, match="nothing was written"):
                waiter.begin_write(0.3)  # type: ignore[attr-defined]  # store.pg.PgConnection
        with write_tx(waiter):  # released at the holder's commit
            pass
    finally:
        holder.close()
        waiter.close()


@pytest.mark.slow
def test_sixteen_writers_lose_nothing(desk: Desk, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WRITER),
                "mixed",
                desk.url(f"op{n:02d}"),
                str(n),
                str(WRITES),
                str(go),
                desk.role(f"op{n:02d}"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for n in range(WRITERS)
    ]
    go.touch()
    for n, p in enumerate(procs):
        out, err = p.communicate(timeout=TIMEOUT_S)
        assert p.returncode == 0, f"writer {n} exited {p.returncode}: {err}"
        *give_ups, last = out.splitlines()
        assert last.split()[:3] == ["done", str(HALF), str(HALF)], out
        for line in give_ups:
            assert "nothing was written" in line, line

    def per(sql: str) -> dict[str, int]:
        rows = desk.admin_rows(sql)
        return {str(k): int(v) for k, v in rows}

    ops = {desk.role(f"op{n:02d}") for n in range(WRITERS)}
    assert per(
        "SELECT actor, count(*) FROM events WHERE source LIKE 'writer:%' GROUP BY actor"
    ) == dict.fromkeys(ops, HALF)
    assert per("SELECT operator, count(*) FROM overrides GROUP BY operator") == dict.fromkeys(ops, HALF)
    audited = per("SELECT actor, count(*) FROM audit_log GROUP BY actor")
    assert {k: v for k, v in audited.items() if k in ops} == dict.fromkeys(ops, WRITES)
    ids = {str(r[0]) for r in desk.admin_rows("SELECT id FROM events WHERE source LIKE 'writer:%'")}
    assert ids == {f"W{n}-e{k}" for n in range(WRITERS) for k in range(HALF)}
    # One chain: seq 1..n without a gap, each row's prev_hash its predecessor's hash.
    assert desk.admin_rows("SELECT count(*), min(seq), max(seq) FROM audit_log")[0] == (
        sum(audited.values()),
        1,
        sum(audited.values()),
    )
    broken = desk.admin_rows(
        "SELECT count(*) FROM audit_log a JOIN audit_log b ON b.seq = a.seq + 1 WHERE b.prev_hash <> a.row_hash"
    )
    assert broken[0][0] == 0

    r = subprocess.run(
        [sys.executable, "-m", "sladesk_tui", "audit", "verify", "--db", desk.url("lead")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    assert f"{sum(audited.values())} rows" in r.stdout
