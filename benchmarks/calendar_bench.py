"""Benchmark BusinessCalendar.add / elapsed (µs per operation), against businesstimedelta.

    uv run python benchmarks/calendar_bench.py
    uv run --with businesstimedelta --with pytz python benchmarks/calendar_bench.py

Europe/Berlin, Mon-Fri 09:00-12:30 and 13:30-17:00, a year of Bavarian holidays;
random starts over 2026, `add` durations up to a week of business time, `elapsed`
spans up to a month. The index is warmed first (it grows lazily; growth is a
one-off cost, reported separately). Figures only: nothing is asserted.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sladesk_tui.core.calendar import BusinessCalendar

N = 100_000
N_PEER = 300
SEED = 20260511
TZ = "Europe/Berlin"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def per_op_us(fn: Callable[[], None], n: int) -> float:
    """Best of three runs, in µs per operation."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def workload(n: int) -> tuple[list[float], list[float], list[float]]:
    rng = random.Random(SEED)
    y0 = dt.datetime(2026, 1, 1, tzinfo=ZoneInfo(TZ)).timestamp()
    y1 = dt.datetime(2027, 1, 1, tzinfo=ZoneInfo(TZ)).timestamp()
    starts = [rng.uniform(y0, y1) for _ in range(n)]
    durations = [round(rng.uniform(0, 5 * 7 * 3600), 6) for _ in range(n)]  # a work week
    spans = [round(rng.uniform(0, 31 * 86400), 6) for _ in range(n)]  # up to a month
    return starts, durations, spans


def bench_ours() -> dict[str, float]:
    starts, durations, spans = workload(N)
    t0 = time.perf_counter()
    cal = BusinessCalendar.from_dict(
        {
            "tz": TZ,
            "hours": {d: ["09:00-12:30", "13:30-17:00"] for d in WEEKDAYS},
            "holidays": {"country": "DE", "subdiv": "BY"},
        }
    )
    built = time.perf_counter()
    cal.elapsed_ts(min(starts), max(starts) + 62 * 86400)  # grow the index over the range
    warmed = time.perf_counter()
    zone = cal.zone
    dstarts = [dt.datetime.fromtimestamp(s, zone) for s in starts]
    dends = [dt.datetime.fromtimestamp(s + d, zone) for s, d in zip(starts, spans, strict=False)]
    pairs = list(zip(starts, durations, strict=False))
    spans_ts = [(s, s + d) for s, d in zip(starts, spans, strict=False)]
    dpairs = list(zip(dstarts, durations, strict=False))
    dspans = list(zip(dstarts, dends, strict=False))
    add_ts, elapsed_ts, add, elapsed = cal.add_ts, cal.elapsed_ts, cal.add, cal.elapsed

    def run_add_ts() -> None:
        for s, d in pairs:
            add_ts(s, d)

    def run_elapsed_ts() -> None:
        for a, b in spans_ts:
            elapsed_ts(a, b)

    def run_add() -> None:
        for s, d in dpairs:
            add(s, d)

    def run_elapsed() -> None:
        for a, b in dspans:
            elapsed(a, b)

    pause_sets = [[(s + 3600, s + 7200), (s + 86400, s + 2 * 86400)] for s in starts]

    def run_add_ts_paused() -> None:
        for (s, d), p in zip(pairs, pause_sets, strict=False):
            add_ts(s, d, p)

    return {
        "construct (ms, incl. importing holidays)": (built - t0) * 1e3,
        "grow index over 14 months (ms)": (warmed - built) * 1e3,
        "add_ts": per_op_us(run_add_ts, N),
        "elapsed_ts": per_op_us(run_elapsed_ts, N),
        "add (datetime)": per_op_us(run_add, N),
        "elapsed (datetime)": per_op_us(run_elapsed, N),
        "add_ts with 2 pauses": per_op_us(run_add_ts_paused, N),
    }


def bench_businesstimedelta() -> dict[str, float] | None:
    try:
        import businesstimedelta as btd
        import holidays
        import pytz
    except ImportError:
        return None
    tz = pytz.timezone(TZ)
    rules = btd.Rules(
        [
            btd.WorkDayRule(start_time=dt.time(9), end_time=dt.time(17), working_days=[0, 1, 2, 3, 4], tz=tz),
            btd.LunchTimeRule(
                start_time=dt.time(12, 30), end_time=dt.time(13, 30), working_days=[0, 1, 2, 3, 4], tz=tz
            ),
            btd.HolidayRule(holidays.country_holidays("DE", subdiv="BY", years=[2026, 2027]), tz=tz),
        ]
    )
    starts, durations, spans = workload(N_PEER)
    dstarts = [dt.datetime.fromtimestamp(s, tz) for s in starts]
    dends = [dt.datetime.fromtimestamp(s + d, tz) for s, d in zip(starts, spans, strict=False)]

    def run_add() -> None:
        for s, d in zip(dstarts, durations, strict=False):
            s + btd.BusinessTimeDelta(rules, seconds=d)

    def run_elapsed() -> None:
        for a, b in zip(dstarts, dends, strict=False):
            rules.difference(a, b)

    return {
        "add (datetime)": per_op_us(run_add, N_PEER),
        "elapsed (datetime)": per_op_us(run_elapsed, N_PEER),
    }


def main() -> None:
    ours = bench_ours()
    print(f"sladesk BusinessCalendar ({N:,} ops each; Python {sys.version.split()[0]})")
    for name, value in ours.items():
        unit = "" if "(ms" in name else " µs/op"
        print(f"  {name:<42} {value:10.2f}{unit}")
    # Machine-readable figures for benchmarks/run_all.py: "RESULT <key> <value>".
    for key, name in (
        ("add_us", "add (datetime)"),
        ("elapsed_us", "elapsed (datetime)"),
        ("add_ts_us", "add_ts"),
        ("elapsed_ts_us", "elapsed_ts"),
    ):
        print(f"RESULT calendar.{key} {ours[name]:.4f}")
    peer = bench_businesstimedelta()
    if peer is None:
        print(
            "businesstimedelta: skipped (not importable; run with "
            "`uv run --with businesstimedelta --with pytz python benchmarks/calendar_bench.py`)"
        )
        return
    print(f"businesstimedelta ({N_PEER:,} ops each, same workload)")
    for name, value in peer.items():
        ts_name = name.split(" ")[0] + "_ts"
        print(
            f"  {name:<42} {value:10.2f} µs/op   ours x{value / ours[name]:,.0f} faster"
            f" (x{value / ours[ts_name]:,.0f} with {ts_name})"
        )
        print(f"RESULT calendar.btd_{name.split(' ')[0]}_us {value:.4f}")


if __name__ == "__main__":
    main()
