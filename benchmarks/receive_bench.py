"""Webhook receiver throughput: signed deliveries from concurrent clients over loopback.

    uv run python benchmarks/receive_bench.py                      # 4000 deliveries, 16 clients
    uv run python benchmarks/receive_bench.py --deliveries 10000 --clients 64 --batch 256

Starts a real `sladesk receive` process on a fresh database (the 24x7 agreement
loaded), then N clients (aiohttp, one connection each, keep-alive) send signed
Zendesk deliveries as fast as they are answered: per ticket a `ticket.created`
then a public `ticket.comment_added`, so half the deliveries create a ticket and
half look one up and add to it. Every delivery goes the whole way: size and type
checks, HMAC, JSON, mapping, the store's transaction with its audit rows, and the
answer after the commit. Prints deliveries/s and the time to 2xx (p50, p99, max)
as the client measures it. The issue's target: >= 500/s with p99 < 50 ms on 2 cores.
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
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "services")]

import aiohttp  # noqa: E402 - imported after the sys.path set-up above
from receiver_support import counts, prepare, signed, start  # noqa: E402 - imported after the sys.path set-up above
from source_fixtures import zendesk_comment, zendesk_created  # noqa: E402 - imported after the sys.path set-up above


def _deliveries(n: int) -> list[tuple[bytes, dict[str, str]]]:
    out = []
    for i in range(n // 2):
        out.append(signed("zd", "zendesk", zendesk_created(10_000 + i)))
        doc = zendesk_comment(10_000 + i, comment_id=i, public=True, staff=True, time="2026-11-27T08:30:00Z")
        out.append(signed("zd", "zendesk", doc))
    return out


async def _run(port: int, work: list[tuple[bytes, dict[str, str]]], clients: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    # Each client owns a slice, in order: a ticket's creation is answered before its comment is sent.
    pairs = [work[i : i + 2] for i in range(0, len(work), 2)]
    slices = [pairs[k::clients] for k in range(clients)]
    url = f"http://127.0.0.1:{port}/hooks/zd"

    async def client(mine: list[list[tuple[bytes, dict[str, str]]]]) -> None:
        nonlocal failures
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            for pair in mine:
                for body, headers in pair:
                    t0 = time.perf_counter()
                    async with session.post(
                        url, data=body, headers={**headers, "Content-Type": "application/json"}
                    ) as resp:
                        await resp.read()
                        if resp.status != 200:
                            failures += 1
                    latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(client(s) for s in slices))
    return latencies, failures


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc), to tell its cost from the clients'."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deliveries", type=int, default=4000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--batch", type=int, default=256, help="the receiver's --batch")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sladesk-receive-bench-") as tmp:
        folder = Path(tmp)
        prepare(folder)
        work = _deliveries(args.deliveries)
        rcv = start(folder, "--batch", str(args.batch))
        try:
            t0 = time.perf_counter()
            own0 = time.process_time()
            latencies, failures = asyncio.run(_run(rcv.port, work, args.clients))
            elapsed = time.perf_counter() - t0
            cpu = _cpu_seconds(rcv.proc.pid)
            client_cpu = time.process_time() - own0
        finally:
            rcv.stop()
        events, stored = counts(folder / "sladesk.db")
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(
        f"receive: {len(work)} deliveries from {args.clients} clients, batch {args.batch}, cpus {os.cpu_count()}"
    )
    print(f"  throughput   {len(work) / elapsed:8.0f} deliveries/s ({elapsed:.2f} s)")
    print(
        f"  time to 2xx  p50 {pct(0.50):.1f} ms   p99 {pct(0.99):.1f} ms   max {latencies[-1] * 1000:.1f} ms"
    )
    print(
        f"  receiver CPU {cpu / len(work) * 1000:.2f} ms per delivery ({cpu / elapsed:.2f} cores busy);"
        f" clients {client_cpu / elapsed:.2f} cores"
    )
    print(f"  stored       {stored} deliveries, {events} events; non-2xx answers: {failures}")
    print(f"RESULT receive.per_s {len(work) / elapsed:.1f}")
    print(f"RESULT receive.p50_ms {pct(0.50):.2f}")
    print(f"RESULT receive.p99_ms {pct(0.99):.2f}")
    print(f"RESULT receive.clients {args.clients}")
    return 0 if failures == 0 and stored == len(work) else 1


if __name__ == "__main__":
    sys.exit(main())
