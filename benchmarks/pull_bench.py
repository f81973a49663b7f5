"""Pull throughput: RT-shaped transactions from a local REST2 stand-in into a fresh database.

    uv run python benchmarks/pull_bench.py                       # 100,000 transactions
    uv run python benchmarks/pull_bench.py --transactions 20000 --per-page 100

The stand-in (tests/pull/fake_rt.py) serves RT 5's response shapes over loopback
HTTP: tickets of 11 transactions (Create, EmailRecord noise, an internal comment, a
reply, RT_System's new -> open, stalled and back, a priority change, a second
reply, resolved), interleaved in time. The pull is the real one (`services.pull`):
keyset pages of `--per-page` transactions (RT's REST2 caps pages at 100), one
ticket look-up and one first-priority look-up per page, each page stored in one
transaction through the importer with its cursor. Prints the rate, then a second
pull (nothing new) and the audit check.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "pull"))
sys.path.insert(0, str(ROOT / "tests"))

from fake_rt import FakeRt, generated_desk  # noqa: E402 - after the sys.path set-up above
from pull_support import AGREEMENT, load_source, sources_text, write_password  # noqa: E402 - after the sys.path set-up above
from support import give_roles  # noqa: E402 - after the sys.path set-up above

from sladesk_tui.services.pull import pull  # noqa: E402 - after the sys.path set-up above
from sladesk_tui.store.agreements import load_agreements_file  # noqa: E402 - after the sys.path set-up above
from sladesk_tui.store.audit import verify  # noqa: E402 - after the sys.path set-up above
from sladesk_tui.store.db import open_db  # noqa: E402 - after the sys.path set-up above


async def run(transactions: int, per_page: int) -> None:
    tickets = -(-transactions // 11)
    t0 = time.perf_counter()
    desk = generated_desk(tickets)
    print(
        f"generated {len(desk.transactions):,} RT transactions of {tickets:,} tickets in {time.perf_counter() - t0:.1f} s"
    )
    srv = FakeRt(desk)
    await srv.start()
    with tempfile.TemporaryDirectory(prefix="sladesk-pull-bench-") as tmp:
        root = Path(tmp)
        conn = open_db(root / "bench.db", create=True)
        (root / "sla.toml").write_text(AGREEMENT, encoding="utf-8")
        load_agreements_file(conn, root / "sla.toml", actor="bench", source="bench")
        give_roles(root / "bench.db", "feed", "bench")
        pw = write_password(root / "pw", "secret")
        source, cfg = load_source(sources_text(srv.url, pw, per_page=per_page))
        try:
            t0 = time.perf_counter()
            stats = await pull(conn, source, cfg, actor="bench")
            secs = time.perf_counter() - t0
            print(
                f"pull: {stats.transactions:,} transactions -> {stats.inserted:,} events in {secs:.1f} s = "
                f"{stats.transactions / secs:,.0f} transactions/s ({stats.requests:,} requests, {stats.batches:,} batches)"
            )
            print(f"RESULT pull.transactions {stats.transactions}\nRESULT pull.seconds {secs:.3f}")
            t0 = time.perf_counter()
            again = await pull(conn, source, cfg, actor="bench")
            print(
                f"second pull: {again.inserted} new events, {again.requests} request in {time.perf_counter() - t0:.2f} s"
            )
        finally:
            await srv.stop()
        t0 = time.perf_counter()
        ok = verify(conn).ok
        print(f"audit verify: {'ok' if ok else 'BROKEN'} in {time.perf_counter() - t0:.1f} s")
        print(f"database {os.path.getsize(root / 'bench.db') / 1e6:.0f} MB")
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transactions", type=int, default=100_000)
    ap.add_argument("--per-page", type=int, default=100)
    args = ap.parse_args()
    asyncio.run(run(args.transactions, args.per_page))


if __name__ == "__main__":
    main()
