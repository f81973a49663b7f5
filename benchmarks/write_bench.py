"""Audited writes per second with 1, 4 and 16 writer processes on one database file.

Each write is what an operator's action costs: ``BEGIN IMMEDIATE``, one small append
(an event row), its audit row covering that event (hash chain + row digest),
``COMMIT`` with ``synchronous=FULL``. Every process starts at a barrier, so they
contend for the write lock for the whole run. Afterwards the run is checked: every
row present, the chain verifies.

    uv run python benchmarks/write_bench.py [--seconds 3] [--writers 1 4 16]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sladesk_tui.store.audit import RowRange, append_audit, verify
from sladesk_tui.store.db import connect, open_db, write_tx


def audited_write(conn: Any, n: int, done: int) -> None:
    """One audited write of writer `n`: an event and its audit row, in one `write_tx`."""
    with write_tx(conn):
        seq = conn.execute(
            "INSERT INTO events (id, type, ticket, ts, at, digest, actor, source, recorded_at)"
            " VALUES (?, 'note', 'T-1', ?, '2026-01-01T00:00:00.000000Z', 'd', ?, 'bench', 'x')",
            (f"w{n}-{done}", time.time(), f"writer{n}"),
        ).lastrowid
        append_audit(
            conn,
            actor=f"writer{n}",
            action="events.append",
            subject=f"w{n}-{done}",
            source="bench",
            covers=[RowRange("events", seq, seq)],
        )


def _writer(path: str, n: int, seconds: float, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:
    conn = open_db(path)
    barrier.wait()
    done = 0
    latencies: list[float] = []
    end = time.perf_counter() + seconds
    while (t0 := time.perf_counter()) < end:
        audited_write(conn, n, done)
        latencies.append(time.perf_counter() - t0)
        done += 1
    conn.close()
    out.put((done, latencies))


def run(writers: int, seconds: float, directory: Path) -> tuple[float, float, float]:
    """(writes/s, median ms, p99 ms) for `writers` processes."""
    path = str(directory / f"bench-{writers}.db")
    open_db(path, create=True).close()
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(writers + 1), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(path, n, seconds, barrier, out)) for n in range(writers)]
    for p in procs:
        p.start()
    barrier.wait()
    t0 = time.perf_counter()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit(f"writer failed with exit code {p.exitcode}")
    total = sum(done for done, _ in results)
    lat = sorted(x for _, ls in results for x in ls)
    conn = connect(path, readonly=True)
    rows = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    result = verify(conn)
    conn.close()
    if rows != total or not result.ok or result.rows != total:
        sys.exit(f"{writers} writers: {total} writes, {rows} rows, verify: {result}")
    return total / wall, lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--writers", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument(
        "--dir", type=Path, help="where to put the database (default: a temp dir; try the real disk)"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        print(f"database directory: {d}  ({args.seconds:g} s per run, synchronous=FULL)")
        print(f"{'writers':>7}  {'writes/s':>9}  {'median ms':>9}  {'p99 ms':>7}")
        for n in args.writers:
            rate, med, p99 = run(n, args.seconds, Path(d))
            print(f"{n:>7}  {rate:>9.0f}  {med:>9.2f}  {p99:>7.2f}")
            print(f"RESULT write.{n}_per_s {rate:.1f}\nRESULT write.{n}_p99_ms {p99:.3f}")  # for run_all.py
    print("every run: all rows present, audit chain verified, no 'database is locked'")


if __name__ == "__main__":
    main()
