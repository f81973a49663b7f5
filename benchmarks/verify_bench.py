"""The cost of `sladesk audit verify`'s outcomes check: every ticket recomputed from its record.

    uv run python benchmarks/verify_bench.py                 # 600,000 events: 100,000 tickets
    uv run python benchmarks/verify_bench.py --events 60000

Builds a SQLite desk with benchmarks/import_bench.py's generator (tickets of six
events, two thirds under an agreement), then times the hash chain
(`store.audit.verify`) and the outcomes check (`store.outcomes.check_outcomes`, what
`audit verify` runs after the chain unless `--chain-only`) apart, and prints the
tickets checked per second: a desk's time is its ticket count over that rate
(docs/postgresql.md, "Prevented, and detected").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_bench import AGREEMENTS, generate  # noqa: E402 - imported after the sys.path set-up above

from sladesk_tui.store import audit  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.agreements import load_agreements_file  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.db import open_db, snapshot  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.imports import import_file  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.instants import now_ts  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.outcomes import check_outcomes  # noqa: E402 - imported after the sys.path set-up above


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=600_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sladesk-verify-bench-"))
    feed = tmp / "events.jsonl"
    count = generate(feed, args.events)
    conn = open_db(tmp / "bench.db", create=True)
    (tmp / "sla.toml").write_text(AGREEMENTS, encoding="utf-8")
    load_agreements_file(conn, tmp / "sla.toml", actor="bench", source="bench")
    t0 = time.perf_counter()
    import_file(conn, feed, actor="bench")
    print(f"set-up: {count:,} events imported in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    chain = audit.verify(conn)
    chain_s = time.perf_counter() - t0
    assert chain.ok, chain.reason
    t0 = time.perf_counter()
    with snapshot(conn):
        found = check_outcomes(conn, now_ts())
    check_s = time.perf_counter() - t0
    assert found.problem is None, found.problem
    rate = found.tickets / check_s
    print(f"audit chain: {chain.rows} rows in {chain_s:.2f} s")
    print(
        f"outcomes check: {found.tickets:,} tickets ({found.rows:,} outcome rows) in {check_s:.1f} s"
        f" = {rate:,.0f} tickets/s; 1,000,000 tickets would take about {1e6 / rate:.0f} s"
    )
    print(f"RESULT verify.outcomes_tickets_per_s {rate:.0f}")


if __name__ == "__main__":
    main()
