"""Pull throughput for Zendesk and Zammad from local stand-ins of their APIs.

    uv run python benchmarks/pull_history_bench.py                  # 2,000 tickets each
    uv run python benchmarks/pull_history_bench.py --tickets 500 --provider zammad

The stand-ins (tests/pull/fake_zendesk.py, fake_zammad.py) serve the documented
response shapes over loopback HTTP. Each ticket has 8 changes: creation, an internal
note, a public reply, waiting and back, a customer reply, a priority change, the
resolution. The pull is the real one (`services.pull`).

- Zendesk: the incremental ticket event export in pages of 1000 audits (Zendesk's
  largest), each page stored in one transaction. Zendesk allows 10 export requests
  a minute; the benchmark skips those waits (it would measure Zendesk's limit, not
  sladesk) and prints how long the limit alone would make the same pull take.
- Zammad: each changed ticket read whole (history and articles: two requests),
  search pages of 100 tickets, each page stored in one transaction.

Prints the rates, then a second pull (nothing new).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "pull"))
sys.path.insert(0, str(ROOT / "tests"))

from fake_zammad import FakeZammad, ZammadDesk  # noqa: E402 - after the sys.path set-up above
from fake_zendesk import REQUESTER, FakeZendesk, ZendeskDesk  # noqa: E402 - after the sys.path set-up above
from pull_support import ACME_TERMS, write_password, zammad_text, zendesk_text  # noqa: E402 - after the sys.path set-up above
from support import give_roles  # noqa: E402 - after the sys.path set-up above

from sladesk_tui.core.sources.mapping import parse_sources_text  # noqa: E402 - after the sys.path set-up above
from sladesk_tui.core.sources.pull_config import pull_config  # noqa: E402 - after the sys.path set-up above
from sladesk_tui.services.pull import PullStats, pull  # noqa: E402 - after the sys.path set-up above
from sladesk_tui.store.agreements import load_agreements_file  # noqa: E402 - after the sys.path set-up above
from sladesk_tui.store.db import open_db  # noqa: E402 - after the sys.path set-up above

T0 = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)


def zendesk_desk(tickets: int) -> ZendeskDesk:
    desk = ZendeskDesk()
    for n in range(tickets):
        start = T0 + dt.timedelta(seconds=37 * n)

        def m(k: int, start: dt.datetime = start) -> dt.datetime:
            return start + dt.timedelta(minutes=k)

        t = 10_000 + n
        desk.create(t, start)
        desk.comment(t, m(5), public=False)
        desk.comment(t, m(20), public=True)
        desk.change(t, m(30), "status", "open", "pending")
        desk.change(t, m(90), "status", "pending", "open")
        desk.comment(t, m(100), public=True, by=REQUESTER)
        desk.change(t, m(105), "priority", "high", "normal")
        desk.change(t, m(120), "status", "open", "solved")
    desk.audits.sort(key=lambda a: (a["timestamp"], a["id"]))
    return desk


def zammad_desk(tickets: int) -> ZammadDesk:
    desk = ZammadDesk()
    for n in range(tickets):
        start = T0 + dt.timedelta(seconds=37 * n)

        def m(k: int, start: dt.datetime = start) -> dt.datetime:
            return start + dt.timedelta(minutes=k, milliseconds=137)

        t = 10_000 + n
        desk.create(t, start)
        desk.article(t, start, sender="Customer", internal=False)
        desk.article(t, m(5), sender="Agent", internal=True)
        desk.article(t, m(20), sender="Agent", internal=False)
        desk.change(t, m(30), "state", "pending reminder")
        desk.change(t, m(90), "state", "open")
        desk.change(t, m(105), "priority", "3 high")
        desk.change(t, m(120), "state", "closed")
    return desk


SOURCES = {  # per provider: the sources file's text, the page size, the token the stand-in takes
    "zendesk": (zendesk_text, 1000, "zendesk-api-token"),
    "zammad": (zammad_text, 100, "zammad-api-token"),
}


async def one(provider: str, tickets: int, root: Path) -> None:
    t0 = time.perf_counter()
    text, per_page, secret = SOURCES[provider]
    if provider == "zendesk":
        srv: FakeZendesk | FakeZammad = FakeZendesk(zendesk_desk(tickets))
    else:
        srv = FakeZammad(zammad_desk(tickets))
    print(f"{provider}: generated {tickets:,} tickets in {time.perf_counter() - t0:.1f} s")
    await srv.start()
    db = root / f"{provider}.db"
    conn = open_db(db, create=True)
    (root / "sla.toml").write_text(ACME_TERMS, encoding="utf-8")
    load_agreements_file(conn, root / "sla.toml", actor="bench", source="bench")
    give_roles(db, "feed", "bench")
    pw = write_password(root / f"{provider}.pw", secret)
    source = parse_sources_text(
        text(srv.url, pw, per_page=per_page, retry_for_s=None), "sources.toml"
    ).sources[0]
    cfg = pull_config(source)
    limit_waits: list[float] = []

    async def sleep(s: float) -> None:  # Zendesk's per-minute waits are counted, not slept
        limit_waits.append(s)

    try:
        t0 = time.perf_counter()
        stats: PullStats = await pull(conn, source, cfg, actor="bench", sleep=sleep)
        secs = time.perf_counter() - t0
        unit = "audits" if provider == "zendesk" else "tickets"
        print(
            f"{provider}: {stats.transactions:,} {unit} -> {stats.inserted:,} events in {secs:.1f} s = "
            f"{stats.inserted / secs:,.0f} events/s ({stats.requests:,} requests, {stats.batches:,} pages)"
        )
        if provider == "zendesk":
            pages = stats.batches
            print(
                f"{provider}: Zendesk's 10 exports a minute alone would make these {pages} pages take "
                f"at least {max(0, pages - 10) * 6:.0f} s ({len(limit_waits)} waits skipped here)"
            )
        print(f"RESULT pull_history.{provider}.events {stats.inserted}")
        print(f"RESULT pull_history.{provider}.seconds {secs:.3f}")
        t0 = time.perf_counter()
        again = await pull(conn, source, cfg, actor="bench", sleep=sleep)
        print(
            f"{provider}: second pull: {again.inserted} new events, {again.requests} requests "
            f"in {time.perf_counter() - t0:.2f} s"
        )
    finally:
        await srv.stop()
        conn.close()


async def run(tickets: int, providers: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="sladesk-pull-history-bench-") as tmp:
        for provider in providers:
            await one(provider, tickets, Path(tmp))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=2000)
    ap.add_argument("--provider", choices=["zendesk", "zammad", "both"], default="both")
    args = ap.parse_args()
    providers = ["zendesk", "zammad"] if args.provider == "both" else [args.provider]
    asyncio.run(run(args.tickets, providers))


if __name__ == "__main__":
    main()
