"""How long a writer waits for SQLite's write lock when many write back to back.

SQLite's busy handler sleeps between tries, longer and longer (up to 100 ms), while a
writer that has just committed asks again at once and usually wins: under steady
contention some writers wait many seconds. This runs WRITERS processes in a tight
loop of small audited-size transactions for SECONDS, once per way of taking the
lock, and prints the wait to get ``BEGIN IMMEDIATE`` (median, p99, max) and the
spread of commits per writer:

- ``sqlite``: SQLite's busy handler alone (``busy_timeout``);
- ``poll``: `store.db.write_tx`'s policy: short randomised polls of our own.

    uv run python benchmarks/lock_wait_bench.py [--writers 16] [--seconds 5]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sladesk_tui.store.db import connect, open_db, write_tx


def _writer(path: str, policy: str, seconds: float, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:
    conn = connect(path)
    barrier.wait()
    waits: list[float] = []
    end = time.perf_counter() + seconds
    while (t0 := time.perf_counter()) < end:
        if policy == "sqlite":
            conn.execute("BEGIN IMMEDIATE")
            waits.append(time.perf_counter() - t0)
            conn.execute(
                "INSERT INTO role_grants (user, role, action, by_user, ts, at) VALUES ('u','lead','grant','b',0,'x')"
            )
            conn.execute("COMMIT")
        else:
            with write_tx(conn):
                waits.append(time.perf_counter() - t0)
                conn.execute(
                    "INSERT INTO role_grants (user, role, action, by_user, ts, at) VALUES ('u','lead','grant','b',0,'x')"
                )
    conn.close()
    out.put(waits)


def run(policy: str, writers: int, seconds: float, directory: Path) -> None:
    path = str(directory / f"{policy}.db")
    open_db(path, create=True).close()
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(writers), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(path, policy, seconds, barrier, out)) for _ in range(writers)]
    for p in procs:
        p.start()
    per_writer = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    waits = sorted(w for ws in per_writer for w in ws)
    counts = sorted(len(ws) for ws in per_writer)
    p99 = waits[int(len(waits) * 0.99)] if waits else 0.0
    print(
        f"{policy:>6}: {len(waits):6d} commits, wait median {statistics.median(waits) * 1000:7.1f} ms,"
        f" p99 {p99 * 1000:7.1f} ms, max {waits[-1] * 1000:7.0f} ms;"
        f" commits per writer {counts[0]}..{counts[-1]}"
    )


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--writers", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sladesk-lock-bench-") as tmp:
        for policy in ("sqlite", "poll", "sqlite", "poll"):
            run(policy, args.writers, args.seconds, Path(tmp))


if __name__ == "__main__":
    main(sys.argv[1:])
