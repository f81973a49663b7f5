"""How long the clock engine takes over a whole queue (docs/performance.md: 100k tickets <= 1 s).

Synthetic tickets with about six events each (created, reply, waiting, open, a
priority change for some, resolved for most, a customer reply for some), created over
the 30 days before `now`, on a Europe/Berlin calendar with a lunch break and a year
of holidays, and on 24x7. All three clocks per ticket, no explanation; 1% of
tickets carry an override. Figures only, never asserted.

    uv run python benchmarks/clocks_bench.py [--sizes 10000,100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import gc
import random
import time

from sladesk_tui.core.agreements import Agreement, AtRisk, Targets
from sladesk_tui.core.calendar import BusinessCalendar
from sladesk_tui.core.clocks import compute_clocks
from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override

H = 3600.0
NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC).timestamp()
DAYS = ("mon", "tue", "wed", "thu", "fri")

BERLIN = BusinessCalendar.from_dict(
    {
        "tz": "Europe/Berlin",
        "hours": {d: ["09:00-12:30", "13:30-17:00"] for d in DAYS},
        "holidays": {"country": "DE", "subdiv": "BE", "extra": ["2026-12-24", "2026-12-31"]},
    }
)
ALWAYS = BusinessCalendar.always("UTC")

AGREEMENT = Agreement(
    id="acme-gold",
    name="ACME Gold",
    customer="acme",
    calendar="berlin",
    targets={
        "P1": Targets(response=15 * 60, update=H, resolution=4 * H),
        "P2": Targets(response=H, resolution=8 * H),
        "P3": Targets(response=4 * H, resolution=40 * H),
    },
    at_risk=AtRisk(ratio=0.75, remaining_s=30 * 60),
)


def ticket(rng: random.Random, n: int) -> tuple[list[Event], list[Override]]:
    """One ticket's history: about six events, the later ones possibly after NOW."""
    tid = f"T-{n}"
    t = NOW - rng.uniform(0, 30 * 86400)
    prio = rng.choice(("P1", "P2", "P2", "P3", "P3"))
    seq = 0

    def ev(type_: str, **kw: str) -> Event:
        nonlocal seq
        seq += 1
        return Event(id=f"{tid}-{seq}", type=type_, at=t, ticket=tid, seq=seq, **kw)

    events = [ev("created", priority=prio, customer="acme", title="t")]
    t += rng.uniform(300, 3 * H)
    events.append(ev("reply", author="sam"))
    t += rng.uniform(600, 86400)
    events.append(ev("status", status="waiting"))
    t += rng.uniform(H, 2 * 86400)
    if rng.random() < 0.5:
        events.append(ev("customer_reply"))
    events.append(ev("status", status="open"))
    if rng.random() < 0.3:
        t += rng.uniform(60, 4 * H)
        events.append(ev("priority", priority=rng.choice(("P1", "P2", "P3"))))
    if rng.random() < 0.7:
        t += rng.uniform(H, 3 * 86400)
        events.append(ev("resolved"))
    overrides = []
    if rng.random() < 0.01:
        overrides.append(
            Override(
                id=n,
                ticket=tid,
                kind="extend",
                at=events[1].at,
                operator="sam",
                reason="other",
                justification="customer asked for more time",
                clock="resolution",
                by_s=2 * H,
            )
        )
    return events, overrides


def run(
    cal: BusinessCalendar, tickets: list[tuple[list[Event], list[Override]]]
) -> tuple[float, float, collections.Counter]:
    """(wall seconds, CPU seconds, resolution states); CPU time shows what a busy
    machine (other processes on the 2 cores) adds to the wall time."""
    states: collections.Counter = collections.Counter()
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    for events, overrides in tickets:
        clocks = compute_clocks(AGREEMENT, cal, events, NOW, overrides)
        states[clocks["resolution"].state] += 1
    return time.perf_counter() - t0, time.process_time() - c0, states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    rng = random.Random(2026)
    for size in (int(s) for s in args.sizes.split(",")):
        tickets = [ticket(rng, n) for n in range(size)]
        n_events = sum(len(e) for e, _o in tickets)
        for label, cal in (("berlin+lunch+holidays", BERLIN), ("24x7", ALWAYS)):
            run(cal, tickets[:1000])  # grow the calendar's index outside the timing
            best, cpu, states = min(run(cal, tickets) for _ in range(args.repeat))
            print(
                f"{size:>7} tickets ({n_events / size:.1f} events each), {label:<22} "
                f"{best:6.3f} s  {best / size * 1e6:6.2f} µs/ticket  (cpu {cpu:6.3f} s)\n"
                "        resolution states: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
            )
            key = f"clocks.{size}.{'berlin' if cal is BERLIN else '24x7'}"  # for run_all.py
            print(f"RESULT {key}_s {best:.4f}\nRESULT {key}_cpu_s {cpu:.4f}")


if __name__ == "__main__":
    main()
