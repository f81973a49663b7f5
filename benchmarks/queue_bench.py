"""Benchmark the live queue headless over 10k open tickets: first paint, CPU per tick, memory.

    uv run python benchmarks/queue_bench.py [TICKETS] [--size WxH]

Builds a database in a temporary directory through the real importer (TICKETS open
tickets, default 10,000, on a 24x7 and a business-hours agreement; half answered,
a fifth waiting on the customer), then runs the app headless (`run_test`) on it with
a frozen clock:

- first paint: from `run_test` entered (app mounted) to the first frame drawn
  with rows, including the store read and the clock engine for every ticket (the
  end-to-end figure an agent waits for), and the widget's share alone (rows
  handed over -> frame drawn);
- CPU per tick, over 30 ticks with the clock advancing one second each:
  `time.process_time()` around `QueueView.tick()` plus drawing every visible
  line (the widget's work), and around tick + a full screen update through
  Textual's compositor (`pilot.pause()`, what the process really spends);
- reload after one commit from another connection (the incremental path);
- resident memory: peak (`resource.getrusage`) and current (/proc/self/statm).

Targets (docs/performance.md): first paint <= 1 s (stretch 0.5 s), tick <= 30 ms (stretch 15 ms).
Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sladesk_tui.core.events import Event
from sladesk_tui.store.agreements import load_agreements_file
from sladesk_tui.store.db import open_db
from sladesk_tui.store.imports import ingest

NOW = 1_800_000_000.0  # Friday 2027-01-15 08:00 UTC
AGREEMENTS = """
[[calendar]]
id = "desk"
tz = "Europe/Berlin"
hours = { mon = ["07:00-20:00"], tue = ["07:00-20:00"], wed = ["07:00-20:00"],
          thu = ["07:00-20:00"], fri = ["07:00-20:00"] }

[[calendar]]
id = "berlin"
tz = "Europe/Berlin"
hours = { mon = ["09:00-12:30", "13:30-17:30"], tue = ["09:00-12:30", "13:30-17:30"],
          wed = ["09:00-12:30", "13:30-17:30"], thu = ["09:00-12:30", "13:30-17:30"],
          fri = ["09:00-12:30", "13:30-16:00"] }

[[agreement]]
id = "acme-24x7"
customer = "acme"
calendar = "24x7"
[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
P3 = { response = "4h", resolution = "40h" }

[[agreement]]
id = "globex-office"
customer = "globex"
calendar = "berlin"
[agreement.targets]
P1 = { response = "30m", resolution = "8h" }
P2 = { response = "2h", resolution = "16h" }
P3 = { response = "8h", resolution = "80h" }
"""
WORDS = (
    "invoice vpn printer mailbox payroll export ledger sync login password label shipping crm laptop".split()
)


def open_queue_events(n: int) -> list[Event]:
    """`n` open tickets, half with a reply, a fifth waiting: the mix the queue benchmarks load."""
    rnd = random.Random(7)
    events: list[Event] = []
    for i in range(n):
        tid = f"T-{10000 + i}"
        at = NOW - rnd.uniform(0, 72 * 3600)
        events.append(
            Event(
                id=f"{tid}-c",
                type="created",
                at=at,
                ticket=tid,
                customer=rnd.choice(("acme", "globex")),
                priority=rnd.choice(("P1", "P2", "P3")),
                title=" ".join(rnd.sample(WORDS, 4)).capitalize(),
                assignee=rnd.choice(("sam", "kim", "lee", None)),
            )
        )
        if rnd.random() < 0.5 and at + 600 < NOW:
            events.append(
                Event(id=f"{tid}-r", type="reply", at=rnd.uniform(at, NOW), ticket=tid, author="sam")
            )
        if rnd.random() < 0.2 and at + 600 < NOW:
            events.append(
                Event(
                    id=f"{tid}-w",
                    type="status",
                    at=rnd.uniform(at + 600, NOW),
                    ticket=tid,
                    status="waiting",
                )
            )
    return events


def build(path: Path, n: int) -> float:
    started = time.perf_counter()
    conn = open_db(path, create=True)
    try:
        agreements = path.with_name("agreements.toml")
        agreements.write_text(AGREEMENTS, encoding="utf-8")
        load_agreements_file(conn, agreements, actor="bench")
        ingest(conn, open_queue_events(n), actor="bench", source="bench")
    finally:
        conn.close()
    return time.perf_counter() - started


def rss_mb() -> tuple[float, float]:
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open("/proc/self/statm") as fh:
        current_pages = int(fh.read().split()[1])
    return peak_kb / 1024, current_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def run(db: Path, size: tuple[int, int]) -> dict[str, float]:
    from sladesk_tui.tui.app import SladeskApp
    from sladesk_tui.tui.screens.queue import QueueScreen
    from sladesk_tui.tui.widgets.queue_view import QueueView

    clock = [NOW]
    painted: list[float] = []
    handed: list[float] = []
    original_render = QueueView.render_lines
    original_set = QueueView.set_rows

    def render_lines(self, crop):
        if self.rows and not painted:
            painted.append(time.perf_counter())
        return original_render(self, crop)

    def set_rows(self, rows):
        if not handed:
            handed.append(time.perf_counter())
        return original_set(self, rows)

    QueueView.render_lines = render_lines
    QueueView.set_rows = set_rows
    out: dict[str, float] = {}
    # The app's own one-second timer is slowed down so that only the measured ticks
    # repaint; the feed polls at its default pace.
    app = SladeskApp(db, "sam", clock=lambda: clock[0], tick_interval=3600)
    try:
        async with app.run_test(size=size) as pilot:
            mounted = time.perf_counter()
            screen = app.screen
            assert isinstance(screen, QueueScreen)
            while not painted:
                await pilot.pause(0.005)
            out["first_paint_s"] = painted[0] - mounted
            out["widget_paint_s"] = painted[0] - handed[0]
            out["rows_handed_s"] = handed[0] - mounted
            view = screen.queue
            out["rows"] = len(view.rows)
            await pilot.pause(0.2)

            height = view.scrollable_content_region.height
            widget, full = [], []
            for _ in range(30):
                clock[0] += 1
                t0 = time.process_time()
                view.tick()
                for y in range(height):
                    view.render_line(y)
                widget.append(time.process_time() - t0)
            for _ in range(30):
                clock[0] += 1
                t0 = time.process_time()
                view.tick()
                await pilot.pause()
                full.append(time.process_time() - t0)
            out["tick_widget_ms"] = statistics.mean(widget) * 1000
            out["tick_widget_max_ms"] = max(widget) * 1000
            out["tick_full_ms"] = statistics.mean(full) * 1000
            out["tick_full_max_ms"] = max(full) * 1000
            out["tick_full_median_ms"] = statistics.median(full) * 1000
            out["visible_lines"] = height

            before = view.all_rows
            conn = open_db(db)
            try:
                t0 = time.perf_counter()
                ingest(
                    conn,
                    [Event(id="bench-reply", type="reply", at=clock[0], ticket="T-10001", author="kim")],
                    actor="bench",
                    source="bench",
                )
                while view.all_rows is before:
                    await pilot.pause(0.005)
                out["one_commit_to_screen_s"] = time.perf_counter() - t0
            finally:
                conn.close()
            out["rss_peak_mb"], out["rss_now_mb"] = rss_mb()
    finally:
        QueueView.render_lines = original_render
        QueueView.set_rows = original_set
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tickets", nargs="?", type=int, default=10_000)
    parser.add_argument("--size", default="160x50", help="terminal WxH (default 160x50)")
    args = parser.parse_args(argv)
    w, h = (int(x) for x in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        built = build(db, args.tickets)
        print(f"built {args.tickets} open tickets in {built:.2f} s; app at {w}x{h}")
        r = asyncio.run(run(db, (w, h)))
    print(f"rows on the queue              {int(r['rows'])}")
    print(
        f"first paint (store+engine+UI)  {r['first_paint_s'] * 1000:8.1f} ms   target <= 1000 (stretch 500)"
    )
    print(f"  of which store + engine      {r['rows_handed_s'] * 1000:8.1f} ms (worker thread)")
    print(f"  of which rows -> frame       {r['widget_paint_s'] * 1000:8.1f} ms")
    print(
        f"tick, widget ({int(r['visible_lines'])} lines)      {r['tick_widget_ms']:8.2f} ms mean, {r['tick_widget_max_ms']:.2f} max"
    )
    print(
        f"tick, full screen update       {r['tick_full_ms']:8.2f} ms mean, {r['tick_full_median_ms']:.2f} median, {r['tick_full_max_ms']:.2f} max   target <= 30 (stretch 15)"
    )
    print(
        f"one commit -> on screen        {r['one_commit_to_screen_s'] * 1000:8.1f} ms (feed polls every 500 ms)"
    )
    print(f"resident memory                {r['rss_now_mb']:8.1f} MB now, {r['rss_peak_mb']:.1f} MB peak")
    for key in ("first_paint_s", "tick_full_ms", "tick_widget_ms", "rss_peak_mb"):  # for run_all.py
        print(f"RESULT queue.{key} {r[key]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
