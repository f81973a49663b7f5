"""Import throughput: N generated events, JSON Lines file -> fresh database, end to end.

    uv run python benchmarks/import_bench.py               # 1,000,000 events
    uv run python benchmarks/import_bench.py --events 100000

Generates tickets of 6 events each (created, reply, status waiting, customer reply,
status open, resolved), two thirds under an agreement of the loaded file, writes
them to a temporary JSONL file, then times `import_file` into a fresh database
(parse, validate, idempotency look-ups, insert, tickets projection, audit row). A file
this big is parsed by a second process while the first one writes
(docs/bulk_import.md): the CPU figure adds both. The target is <= 20 s for 1M events
on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sladesk_tui.store import bulk_import, imports  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.agreements import load_agreements_file  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.audit import verify  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.db import open_db  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.imports import import_file  # noqa: E402 - imported after the sys.path set-up above

AGREEMENTS = """\
[[calendar]]
id = "berlin"
tz = "Europe/Berlin"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-16:00"] }

[[agreement]]
id = "acme-gold"
name = "ACME Gold"
customer = "acme"
calendar = "berlin"
valid_from = "2020-01-01"

[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
P3 = { response = "4h", resolution = "40h" }

[[agreement]]
id = "globex-24x7"
name = "Globex premium"
customer = "globex"
calendar = "24x7"

[agreement.targets]
P1 = { response = "30m", resolution = "4h" }
P2 = { response = "2h", resolution = "12h" }
P3 = { response = "8h", resolution = "48h" }
"""

CUSTOMERS = ("acme", "globex", "initech")
PRIORITIES = ("P1", "P2", "P3")
STEPS: tuple[tuple[str, dict[str, str]], ...] = (
    ("reply", {"author": "sam"}),
    ("status", {"status": "waiting"}),
    ("customer_reply", {}),
    ("status", {"status": "open"}),
    ("resolved", {}),
)


def generate(path: Path, events: int) -> int:
    """Write `events` events (rounded up to whole tickets); return how many were written."""
    start = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC).timestamp()
    written = 0
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        while written < events:
            t = start + n * 37
            tid = f"T-{n:07d}"
            fh.write(
                json.dumps(
                    {
                        "id": f"{tid}-0",
                        "type": "created",
                        "ticket": tid,
                        "at": _iso(t),
                        "customer": CUSTOMERS[n % 3],
                        "service": "erp",
                        "priority": PRIORITIES[n % 3],
                        "title": f"Generated ticket {n}",
                    }
                )
                + "\n"
            )
            for k, (etype, extra) in enumerate(STEPS, 1):
                fh.write(
                    json.dumps(
                        {"id": f"{tid}-{k}", "type": etype, "ticket": tid, "at": _iso(t + k * 900), **extra}
                    )
                    + "\n"
                )
            written += 1 + len(STEPS)
            n += 1
    return written


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timed(phases: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, adding its run time to phases[name]: a breakdown of one end-to-end run."""

    def run(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0

    return run


def _children_cpu() -> float:
    """CPU seconds (user + sys) of the waited-for child processes: the parsing process."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sladesk-import-bench-"))
    feed = tmp / "events.jsonl"
    t0 = time.perf_counter()
    count = generate(feed, args.events)
    print(
        f"generated {count:,} events ({feed.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s"
    )

    db = tmp / "bench.db"
    conn = open_db(db, create=True)
    (tmp / "sla.toml").write_text(AGREEMENTS, encoding="utf-8")
    load_agreements_file(conn, tmp / "sla.toml", actor="bench", source="bench")

    phases: dict[str, float] = {}
    for name, attr in (
        ("read+parse", "read_input"),
        ("outcomes", "refresh_outcomes"),
        ("audit", "append_audit"),
    ):
        for module in (imports, bulk_import):
            if hasattr(module, attr):
                setattr(module, attr, timed(phases, name, getattr(module, attr)))
    stream_end: list[float] = []
    batches = bulk_import._Child.batches

    def watched(child: Any, name: str) -> Any:
        yield from batches(child, name)
        stream_end.append(time.perf_counter())

    setattr(bulk_import._Child, "batches", watched)  # noqa: B010 - timing only, put back below
    t0 = time.perf_counter()
    c0 = time.process_time()
    k0 = _children_cpu()
    report = import_file(conn, feed, actor="bench")
    secs = time.perf_counter() - t0
    setattr(bulk_import._Child, "batches", batches)  # noqa: B010 - as it was
    cpu = time.process_time() - c0
    child = _children_cpu() - k0
    assert report.inserted == count, report
    print(
        f"import: {count:,} events in {secs:.1f} s = {count / secs:,.0f} events/s "
        f"(target <= 20 s for 1M); CPU {cpu + child:.1f} s: {cpu:.1f} s in this process,"
        f" {child:.1f} s in the parsing process"
    )
    print(
        f"RESULT import.events {count}\nRESULT import.seconds {secs:.3f}\nRESULT import.cpu_seconds {cpu + child:.3f}"
    )  # for run_all.py
    rest = secs - sum(phases.values())
    print(
        "  of which "
        + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items())
        + f", validate+digest+insert+projection+commit {rest:.1f} s"
    )
    if stream_end:  # what the writer still had to do when the parser was done
        print(f"  after the parsing process's last batch: {t0 + secs - stream_end[0]:.1f} s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:,.0f} MB; database {os.path.getsize(db) / 1e6:.0f} MB")

    t0 = time.perf_counter()
    again = import_file(conn, feed, actor="bench")
    secs = time.perf_counter() - t0
    print(f"re-import of the same file: {again.already_present:,} already present in {secs:.1f} s")

    t0 = time.perf_counter()
    ok = verify(conn).ok
    print(f"audit verify: {'ok' if ok else 'BROKEN'} in {time.perf_counter() - t0:.1f} s")
    conn.close()
    if args.keep:
        print(f"kept {tmp}")
    else:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
