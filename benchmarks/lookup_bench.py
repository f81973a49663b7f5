"""Cold start to printed answer of the SSH lookups on the demo database.

    uv run python benchmarks/lookup_bench.py                 # builds a fresh demo database
    uv run python benchmarks/lookup_bench.py --db demo.db --runs 15

Each run is a new `python -m sladesk_tui ...` process, as an operator's command over
SSH is: interpreter start, imports, read-only open, the answer on stdout. The issue's
target is <= 600 ms per lookup, stretch <= 300 ms. Printed: median and 90th
percentile per command, and how long a bare interpreter takes on this machine (the
floor nothing here can go below).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
        out.append(time.perf_counter() - t0)
        if done.returncode not in (0, 1):  # 1: --fail-on found something, still an answer
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr}")
    return out


def p90(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(round(0.9 * len(xs))) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--db", help="an existing demo database (default: build one with `sladesk demo --no-tui`)"
    )
    ap.add_argument("--runs", type=int, default=11)
    args = ap.parse_args()

    py = sys.executable
    tmp = None
    db = args.db
    if db is None:
        tmp = Path(tempfile.mkdtemp(prefix="sladesk-lookup-bench-"))
        db = str(tmp / "demo.db")
        t0 = time.perf_counter()
        subprocess.run(
            [py, "-m", "sladesk_tui", "demo", "--no-tui", "--db", db],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        print(f"demo database built in {time.perf_counter() - t0:.1f} s: {db}")
    queue = subprocess.run(
        [py, "-m", "sladesk_tui", "queue", "--db", db, "--format", "csv"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout.splitlines()
    ticket = queue[1].split(",")[0]
    print(f"{len(queue) - 1} open tickets; ticket lookups use {ticket}")

    commands = {
        "python -c pass (floor)": [py, "-c", "pass"],
        "report": [py, "-m", "sladesk_tui", "report", "--db", db],
        "report --format json": [py, "-m", "sladesk_tui", "report", "--db", db, "--format", "json"],
        "queue": [py, "-m", "sladesk_tui", "queue", "--db", db],
        "queue --at-risk --fail-on breached": [
            py,
            "-m",
            "sladesk_tui",
            "queue",
            "--db",
            db,
            "--at-risk",
            "--fail-on",
            "breached",
        ],
        f"ticket {ticket}": [py, "-m", "sladesk_tui", "ticket", ticket, "--db", db],
        f"ticket {ticket} --format json": [
            py,
            "-m",
            "sladesk_tui",
            "ticket",
            ticket,
            "--db",
            db,
            "--format",
            "json",
        ],
        "report --at (replayed from the log)": [
            py,
            "-m",
            "sladesk_tui",
            "report",
            "--db",
            db,
            "--at",
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        ],
    }
    timed(commands["report"], 2)  # warm the page cache and the .pyc files, as any second run would
    width = max(len(k) for k in commands)
    print(f"{'cold runs of':<{width}}  median     p90   (n={args.runs}; target <= 600 ms, stretch <= 300 ms)")
    for name, argv in commands.items():
        xs = timed(argv, args.runs)
        print(f"{name:<{width}}  {statistics.median(xs) * 1000:5.0f} ms {p90(xs) * 1000:5.0f} ms")
        # For run_all.py: "RESULT <key> <value>", the key's words without the ticket id.
        print(f"RESULT lookup.{name.replace(ticket, 'ID')}_ms {statistics.median(xs) * 1000:.1f}")
    if tmp is not None:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
