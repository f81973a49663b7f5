"""Round trips to the server and latency of one audited write on PostgreSQL.

    eval "$(.ci/pg.sh up)"; uv run python benchmarks/write_roundtrips_bench.py [--writes 300]

The audited write of benchmarks/write_bench.py (`write_tx`, one event, its audit
row, the change hint of store.changes), by one writer on a fresh database.
Round trips are counted at psycopg's `execute` (every statement or script sent),
which does not depend on the machine's load, unlike the latency: on a shared
machine compare round trips, and latencies only from runs side by side
(docs/postgresql.md, "Live refresh"). `--pg` is a superuser URL (default
``$SLADESK_TEST_PG_URL``); the database it makes is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402 - imported after the sys.path set-up above
from write_bench import audited_write  # noqa: E402 - imported after the sys.path set-up above

from sladesk_tui.store.db import open_db  # noqa: E402 - imported after the sys.path set-up above


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--writes", type=int, default=300)
    ap.add_argument("--pg", default=os.environ.get("SLADESK_TEST_PG_URL"), help="a superuser URL")
    args = ap.parse_args()
    if not args.pg:
        print('no PostgreSQL: pass --pg or run eval "$(.ci/pg.sh up)" first', file=sys.stderr)
        return 2
    name = f"rtbench_{secrets.token_hex(4)}"
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urllib.parse.urlunsplit(urllib.parse.urlsplit(args.pg)._replace(path=f"/{name}"))
    try:
        conn = open_db(url)
        audited_write(conn, 0, -1)  # the first write of a connection asks a few things once
        sent = [0]
        originals: list[tuple[Any, Any]] = []
        for cls in (psycopg.Connection, psycopg.Cursor):
            original = cls.execute
            originals.append((cls, original))

            def counted(self: Any, *a: Any, _original: Any = original, **k: Any) -> Any:
                sent[0] += 1
                return _original(self, *a, **k)

            cls.execute = counted  # type: ignore[method-assign]  # counting, for this process only
        latencies = []
        for i in range(args.writes):
            t0 = time.perf_counter()
            audited_write(conn, 0, i)
            latencies.append(time.perf_counter() - t0)
        for cls, original in originals:
            cls.execute = original
        conn.close()
    finally:
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    median = statistics.median(latencies)
    print(f"RESULT write_roundtrips.per_write {sent[0] / args.writes:.1f} round trips")
    print(f"RESULT write_roundtrips.median_ms {median * 1000:.2f} ms ({1 / median:.0f} writes/s, 1 writer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
