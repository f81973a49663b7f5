"""Many operators on one host: 8 writer processes append audited rows at the same time."""

from __future__ import annotations

import multiprocessing as mp
import traceback

import pytest

from sladesk_tui.store.audit import RowRange, append_audit, verify
from sladesk_tui.store.db import connect, open_db, write_tx

WRITERS = 8
WRITES = 40


def _writer(path: str, n: int, barrier: mp.synchronize.Barrier, errors: mp.Queue) -> None:
    """One operator: each write is one event plus its covering audit row, as the importer does."""
    try:
        conn = open_db(path, create=True)  # every process may be the first opener: migration races too
        barrier.wait()
        for i in range(WRITES):
            with write_tx(conn):
                cur = conn.execute(
                    "INSERT INTO events (id, type, ticket, ts, at, digest, actor, source, recorded_at)"
                    " VALUES (?, 'note', 'T-1', ?, 'x', 'd', ?, 'test', 'x')",
                    (f"w{n}-{i}", float(i), f"writer{n}"),
                )
                seq = cur.lastrowid
                append_audit(
                    conn,
                    actor=f"writer{n}",
                    action="events.import",
                    subject=f"w{n}-{i}",
                    covers=[RowRange("events", seq, seq)],
                )
        conn.close()
    except BaseException:
        errors.put(f"writer {n}: {traceback.format_exc()}")
        raise


@pytest.mark.both_backends
def test_eight_writers_lose_nothing(db_target: str) -> None:
    """On PostgreSQL too: a fresh database, so the first openers race to migrate it."""
    ctx = mp.get_context("spawn")
    path = db_target
    barrier, errors = ctx.Barrier(WRITERS), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(path, n, barrier, errors)) for n in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert problems == []  # in particular no "database is locked"
    assert [p.exitcode for p in procs] == [0] * WRITERS

    conn = connect(path, readonly=True)
    ids = {r[0] for r in conn.execute("SELECT id FROM events")}
    assert ids == {f"w{n}-{i}" for n in range(WRITERS) for i in range(WRITES)}
    assert conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == WRITERS * WRITES
    per_actor = dict(conn.execute("SELECT actor, COUNT(*) FROM audit_log GROUP BY actor").fetchall())
    assert per_actor == {f"writer{n}": WRITES for n in range(WRITERS)}
    result = verify(conn)
    assert result.ok, result.reason
    assert result.rows == WRITERS * WRITES
    conn.close()
