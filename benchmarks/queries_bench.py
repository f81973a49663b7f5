"""Benchmark the queue's read: `load_open_tickets` (and the clocks on top) over 10k open tickets.

    uv run python benchmarks/queries_bench.py [TICKETS]

Builds a database in a temporary directory through the real importer: TICKETS open
tickets (default 10,000) with six events each (created, assign, reply, status open,
note, status waiting on every third), one override on every tenth. Then times, best
of five, the one-snapshot load of every open ticket with its events and overrides,
and the evaluation of their raw and adjusted clocks. Figures only: nothing is
asserted (target for the load: well under 0.5 s).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.store.agreements import load_agreements_file
from sladesk_tui.store.db import connect, open_db
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.overrides import record_override
from sladesk_tui.store.queries import evaluate_open_tickets, load_open_tickets

AGREEMENTS = """
[[agreement]]
id = "acme"
customer = "acme"
calendar = "24x7"
[agreement.targets]
P1 = { response = "1h", resolution = "8h" }
P2 = { response = "4h", resolution = "40h" }
"""
NOW = 1_800_000_000.0


def build(path: Path, n: int) -> None:
    conn = open_db(path)
    agreements = path.parent / "agreements.toml"
    agreements.write_text(AGREEMENTS, encoding="utf-8")
    load_agreements_file(conn, agreements, actor="bench")
    events: list[Event] = []
    for i in range(n):
        tid = f"T-{i:06d}"
        t0 = NOW - 3600 - (i % 7200)
        common = {"ticket": tid}
        events += [
            Event(
                id=f"{tid}-1",
                type="created",
                at=t0,
                customer="acme",
                priority="P1" if i % 5 == 0 else "P2",
                title=f"Ticket number {i}",
                **common,
            ),
            Event(id=f"{tid}-2", type="assign", at=t0 + 60, assignee="dana", **common),
            Event(id=f"{tid}-3", type="reply", at=t0 + 300, author="dana", **common),
            Event(id=f"{tid}-4", type="status", at=t0 + 360, status="open", **common),
            Event(
                id=f"{tid}-5", type="note", at=t0 + 900, author="dana", body="Looked at the logs.", **common
            ),
            Event(
                id=f"{tid}-6",
                type="status",
                at=t0 + 1200,
                status="waiting" if i % 3 == 0 else "open",
                **common,
            ),
        ]
    ingest(
        conn,
        [Event(**{**_fields(e), "seq": k}) for k, e in enumerate(events, 1)],
        actor="bench",
        source="bench",
    )
    for i in range(0, n, 10):
        o = Override(
            id=0,
            ticket=f"T-{i:06d}",
            kind="extend",
            at=NOW - 600,
            operator="lee",
            reason="third_party",
            justification="Vendor is working on it, ticket 4711.",
            clock="resolution",
            by_s=3600.0,
        )
        record_override(conn, o, before={}, after={}, actor="lee")
    conn.close()


def _fields(e: Event) -> dict[str, object]:
    return {f: getattr(e, f) for f in Event.__dataclass_fields__}


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        t = time.perf_counter()
        build(path, n)
        print(f"built {n} open tickets x 6 events in {time.perf_counter() - t:.2f} s")
        conn = connect(path, readonly=True)
        records = load_open_tickets(conn)
        assert len(records) == n and all(len(r.events) == 6 for r in records)
        load = best(lambda: load_open_tickets(conn))
        print(f"load_open_tickets: {load * 1000:.0f} ms ({len(records)} tickets, {6 * n} events)")
        evaluate_open_tickets(conn, NOW)  # warm the calendar index
        both = best(lambda: evaluate_open_tickets(conn, NOW), repeat=3)
        print(f"load + raw and adjusted clocks: {both * 1000:.0f} ms")
        print(
            f"RESULT queries.load_ms {load * 1000:.2f}\nRESULT queries.load_eval_ms {both * 1000:.2f}"
        )  # run_all.py
        conn.close()


if __name__ == "__main__":
    main()
