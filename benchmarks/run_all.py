"""Run every benchmark and print one table: figure, target, stretch, measured, verdict.

    uv run python benchmarks/run_all.py                 # default sizes: a few minutes on 2 cores
    uv run python benchmarks/run_all.py --full          # the issues' sizes (1M-event import, ...)
    uv run python benchmarks/run_all.py --only calendar,queue --markdown

Each benchmark runs in its own process, exactly as its docstring says to run it by
hand, and ends its output with `RESULT <key> <value>` lines, which are all this
script reads (the human-readable figures above them stay the reference). Progress
and any failure go to stderr; the table alone goes to stdout.

Default sizes keep the whole run short: the import runs 200k events and its 1M
figure is extrapolated linearly (the importer streams in fixed-size chunks, so its
time grows linearly; `--full` measures the real 1M), and the writers run one second
each. Everything else already runs at the issues' sizes: 100k tickets' clocks,
10k open tickets on the queue, a month of 1M resolved tickets for the report.

The calendar's comparison needs businesstimedelta, a peer that is not a dependency:
when it is not importable here, the calendar benchmark runs under
`uv run --with businesstimedelta --with pytz`; without uv (or offline) the ratio is
reported as skipped.

Figures are noisy on a shared machine (other processes on the same cores): compare
runs on an idle machine, and read a "missed" next to a busy load average with care.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
TIMEOUT_S = 1800  # per benchmark: a hung run fails, the others still report

Results = dict[str, float]


@dataclass(frozen=True, slots=True)
class Bench:
    name: str
    script: str
    default: tuple[str, ...]
    full: tuple[str, ...]


BENCHES: tuple[Bench, ...] = (
    Bench("calendar", "calendar_bench.py", (), ()),
    Bench("clocks", "clocks_bench.py", ("--sizes", "100000", "--repeat", "3"), ("--sizes", "10000,100000")),
    Bench("import", "import_bench.py", ("--events", "200000"), ("--events", "1000000")),
    Bench("write", "write_bench.py", ("--seconds", "1"), ("--seconds", "3")),
    Bench("queries", "queries_bench.py", (), ()),
    Bench("queue", "queue_bench.py", (), ()),
    Bench("report", "report_bench.py", ("--tickets", "1000000", "--runs", "5"), ("--tickets", "1000000")),
    Bench("lookup", "lookup_bench.py", ("--runs", "5"), ("--runs", "11")),
    Bench("receive", "receive_bench.py", ("--deliveries", "4000"), ("--deliveries", "20000")),
    Bench("notify", "notify_bench.py", (), ()),
)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table. `lower_is_better` False: a ratio or a rate to reach."""

    figure: str
    unit: str
    measured: float | None
    target: float | None = None
    stretch: float | None = None
    lower_is_better: bool = True
    note: str = ""

    def verdict(self) -> str:
        if self.measured is None:
            return "not run"
        if self.target is None:
            return "-"

        def ok(limit: float) -> bool:
            assert self.measured is not None
            return self.measured <= limit if self.lower_is_better else self.measured >= limit

        if self.stretch is not None and ok(self.stretch):
            return "met (stretch)"
        return "met" if ok(self.target) else "MISSED"

    def cells(self) -> list[str]:
        sign = "<=" if self.lower_is_better else ">="

        def bound(x: float | None) -> str:
            return "-" if x is None else f"{sign} {x:g} {self.unit}"

        measured = "-" if self.measured is None else f"{_num(self.measured)} {self.unit}"
        return [self.figure, bound(self.target), bound(self.stretch), measured, self.verdict(), self.note]


def _num(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


# ---- running ---------------------------------------------------------------------------


def run_script(argv: list[str], label: str) -> Results:
    """Run one benchmark process; its RESULT lines as a dict (empty if it failed)."""
    t0 = time.perf_counter()
    print(f"[run_all] {label}: {' '.join(argv[1:] if argv[0] == sys.executable else argv)}", file=sys.stderr)
    try:
        done = subprocess.run(argv, check=False, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"[run_all] {label}: timed out after {TIMEOUT_S} s", file=sys.stderr)
        return {}
    secs = time.perf_counter() - t0
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        print(
            f"[run_all] {label}: failed (exit {done.returncode}) after {secs:.0f} s:\n{tail}", file=sys.stderr
        )
        return {}
    print(f"[run_all] {label}: {secs:.0f} s", file=sys.stderr)
    results: Results = {}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            key, value = line[len("RESULT ") :].rsplit(" ", 1)
            results[key] = float(value)
    return results


def run_bench(bench: Bench, full: bool) -> Results:
    args = list(bench.full if full else bench.default)
    script = str(HERE / bench.script)
    if bench.name == "calendar" and importlib.util.find_spec("businesstimedelta") is None:
        uv = shutil.which("uv")
        if uv is not None:
            with_peer = run_script(
                [
                    uv,
                    "run",
                    "--quiet",
                    "--with",
                    "businesstimedelta",
                    "--with",
                    "pytz",
                    "python",
                    script,
                    *args,
                ],
                "calendar (with businesstimedelta, via uv)",
            )
            if "calendar.btd_add_us" in with_peer:
                return with_peer
    return run_script([sys.executable, script, *args], bench.name)


# ---- the table ---------------------------------------------------------------------------


def rows_for(name: str, r: Results) -> list[Row]:
    get = r.get
    if name == "calendar":
        out = [
            Row("calendar add, µs/op (datetime API)", "µs", get("calendar.add_us"), 10),
            Row("calendar elapsed, µs/op (datetime API)", "µs", get("calendar.elapsed_us"), 10),
        ]
        for op in ("add", "elapsed"):
            ours, peer = get(f"calendar.{op}_us"), get(f"calendar.btd_{op}_us")
            ratio = peer / ours if ours and peer else None
            note = "" if ratio is not None or ours is None else "businesstimedelta not available: skipped"
            out.append(
                Row(
                    f"calendar {op}, times faster than businesstimedelta",
                    "x",
                    ratio,
                    100,
                    lower_is_better=False,
                    note=note,
                )
            )
        return out
    if name == "clocks":
        return [
            Row(
                f"clocks of 100k tickets ({label})",
                "s",
                get(f"clocks.100000.{key}_s"),
                1.0,
                note="" if (cpu := get(f"clocks.100000.{key}_cpu_s")) is None else f"CPU time {_num(cpu)} s",
            )
            for key, label in (("berlin", "Berlin hours, lunch, holidays"), ("24x7", "24x7"))
        ]
    if name == "import":
        events, secs = get("import.events"), get("import.seconds")
        per_million = secs * 1_000_000 / events if events and secs is not None else None
        note = ""
        if events is not None and events < 1_000_000:
            note = f"{events / 1e3:,.0f}k events measured, scaled x{1e6 / events:.1f}"
        return [Row("import of 1M events", "s", per_million, 60, 20, note=note)]
    if name == "write":
        out = []
        for n in (1, 4, 16):
            p99 = get(f"write.{n}_p99_ms")
            note = "" if p99 is None else f"p99 latency {_num(p99)} ms"
            figure = f"audited writes/s, {n} writer process{'es' if n > 1 else ''}"
            out.append(Row(figure, "/s", get(f"write.{n}_per_s"), lower_is_better=False, note=note))
        return out
    if name == "queries":
        return [
            Row("queue read: 10k open tickets loaded", "ms", get("queries.load_ms")),
            Row("queue read: 10k loaded + raw and adjusted clocks", "ms", get("queries.load_eval_ms")),
        ]
    if name == "queue":
        return [
            Row("queue first paint, 10k open tickets", "s", get("queue.first_paint_s"), 1.0, 0.5),
            Row("queue tick (full screen update), 10k", "ms", get("queue.tick_full_ms"), 30, 15),
            Row("queue resident memory peak, 10k", "MB", get("queue.rss_peak_mb")),
        ]
    if name == "report":
        n = get("report.tickets")
        size = "?" if n is None else f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:,.0f}k"
        return [
            Row(
                f"report, a month of {size} resolved tickets (in process)",
                "ms",
                get("report.in_process_ms"),
                1000,
                100,
            ),
            Row(
                f"report, a month of {size} (cold `sladesk report` process)",
                "ms",
                get("report.cold_ms"),
                1000,
                100,
            ),
        ]
    if name == "lookup":
        return [
            Row("lookup cold start: report", "ms", get("lookup.report_ms"), 600, 300),
            Row("lookup cold start: queue", "ms", get("lookup.queue_ms"), 600, 300),
            Row("lookup cold start: ticket ID", "ms", get("lookup.ticket ID_ms"), 600, 300),
            Row(
                "lookup cold start: report --format json",
                "ms",
                get("lookup.report --format json_ms"),
                600,
                300,
            ),
            Row("(floor: python -c pass)", "ms", get("lookup.python -c pass (floor)_ms")),
        ]
    if name == "receive":
        clients = get("receive.clients")
        who = "" if clients is None else f", {clients:g} clients"
        return [
            Row(f"webhook deliveries/s{who}", "/s", get("receive.per_s"), 500, lower_is_better=False),
            Row(f"webhook time to 2xx, p99{who}", "ms", get("receive.p99_ms"), 50),
            Row(f"webhook time to 2xx, p50{who}", "ms", get("receive.p50_ms")),
        ]
    if name == "notify":
        cpu = get("notify.plan.100000.berlin_cpu_s")
        return [
            Row(
                "alerts: next thresholds, 100k open tickets",
                "s",
                get("notify.plan.100000.berlin_s"),
                1.0,
                note="" if cpu is None else f"cpu {cpu:.2f} s",
            ),
            Row("alerts: engine + thresholds, 100k (full replan)", "s", get("notify.replan.100000.berlin_s")),
            Row("alerts: threshold to SMTP server, median", "s", get("notify.delay.median_s"), 1.0),
            Row("alerts: threshold to SMTP server, max", "s", get("notify.delay.max_s"), 1.0),
        ]
    raise ValueError(name)


HEADER = ["figure", "target", "stretch", "measured", "verdict", "note"]


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [HEADER, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(HEADER), "|" + "|".join(["---"] * len(HEADER)) + "|", *(line(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the issues' sizes (longer: the 1M-event import)")
    ap.add_argument("--only", metavar="NAMES", help="comma-separated: " + ",".join(b.name for b in BENCHES))
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = ap.parse_args(argv)
    chosen = BENCHES
    if args.only:
        names = set(args.only.split(","))
        unknown = names - {b.name for b in BENCHES}
        if unknown:
            ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        chosen = tuple(b for b in BENCHES if b.name in names)

    started = time.perf_counter()
    rows: list[Row] = []
    failed = []
    for bench in chosen:
        results = run_bench(bench, args.full)
        if not results:
            failed.append(bench.name)
        rows += rows_for(bench.name, results)
    took = time.perf_counter() - started

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"sladesk benchmarks, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}Z; {os.cpu_count()} cores, "
        f"{platform.machine()}, Python {platform.python_version()}; {'full' if args.full else 'default'} sizes; "
        f"{took / 60:.1f} min; load average at the end {load:.1f}"
    )
    table: Callable[[list[list[str]]], str] = markdown_table if args.markdown else text_table
    print(table([r.cells() for r in rows]))
    if failed:
        print(f"failed: {', '.join(failed)} (see stderr)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
