"""How fast `sladesk notify` plans and how late its mail arrives (docs/alerts.md).

1. Next thresholds for 100k open tickets (target under 1 s): open tickets created
   over the last 12 hours (so most clocks still run toward their levels, the
   expensive case: one calendar lookup each), a first reply on half of them, a
   pause on a tenth, on the Berlin calendar of clocks_bench.py (lunch break,
   holidays) and on 24x7, four levels (50%, 75%, 30m left, breach). Timed:
   `plan_ticket` over the engine's clocks (what the notifier adds to the engine),
   and engine plus planning (a full replan, as after an agreements load).
2. Delay from a threshold instant to the SMTP server receiving the mail (target
   under 1 s): `sladesk notify` as a real process on the real clock, a real aiosmtpd
   server on loopback with STARTTLS and AUTH (the tests' helper), tickets whose 50%
   thresholds fall a few seconds ahead, no digest window.

Figures only, never asserted.

    uv run python benchmarks/notify_bench.py [--tickets 100000] [--mails 8]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

# Imported after the path is set: E402 by design (the benchmarks and tests folders are not packages).
from clocks_bench import AGREEMENT, ALWAYS, BERLIN, NOW  # noqa: E402 - from benchmarks/, on the path just above

from sladesk_tui.core.agreements import load_agreements  # noqa: E402 - after the path set-up above
from sladesk_tui.core.alerts import plan_ticket  # noqa: E402 - after the path set-up above
from sladesk_tui.core.clocks import compute_clocks  # noqa: E402 - after the path set-up above
from sladesk_tui.core.events import Event  # noqa: E402 - after the path set-up above

LEVELS_TOML = """
[[agreement]]
id = "a"
customer = "acme"
calendar = "24x7"
[agreement.targets]
P1 = { response = "1h" }
[alerts]
people_via = "mail"
levels = [{ at = "50%" }, { at = "75%" }, { at = "30m left" }, { at = "breach" }]
[alerts.channels.mail]
type = "smtp"
host = "localhost"
from = "sladesk@example.com"
"""


def plan_figures(size: int, repeat: int) -> None:
    rules = load_agreements(LEVELS_TOML).alerts
    assert rules is not None
    levels = rules.levels
    rng = random.Random(2026)
    tickets: list[tuple[list[Event], list[object]]] = []
    for n in range(size):
        tid = f"T-{n}"
        t = NOW - rng.uniform(0, 12 * 3600)
        prio = rng.choice(("P1", "P2", "P2", "P3", "P3"))
        events = [
            Event(
                id=f"{tid}-1",
                type="created",
                at=t,
                ticket=tid,
                seq=1,
                priority=prio,
                customer="acme",
                title="t",
            )
        ]
        if rng.random() < 0.5:
            t += rng.uniform(60, (NOW - t) or 1)
            events.append(Event(id=f"{tid}-2", type="reply", at=t, ticket=tid, seq=2, author="sam"))
        if rng.random() < 0.1:
            t += rng.uniform(0, (NOW - t) or 1)
            events.append(Event(id=f"{tid}-3", type="status", at=t, ticket=tid, seq=3, status="waiting"))
        tickets.append((events, []))
    for label, cal in (("berlin", BERLIN), ("24x7", ALWAYS)):
        clocks = [compute_clocks(AGREEMENT, cal, e, NOW, o) for e, o in tickets]
        running = sum(1 for cs in clocks for c in cs.values() if c.running)
        best_plan = best_all = cpu_plan = cpu_all = float("inf")
        nexts = 0
        for _ in range(repeat):
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            plans = [plan_ticket(f"T-{i}", cs, cal, levels, NOW) for i, cs in enumerate(clocks)]
            best_plan = min(best_plan, time.perf_counter() - t0)
            cpu_plan = min(cpu_plan, time.process_time() - c0)
            nexts = sum(1 for p in plans if p.next_at is not None)
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            for i, (e, o) in enumerate(tickets):
                plan_ticket(f"T-{i}", compute_clocks(AGREEMENT, cal, e, NOW, o), cal, levels, NOW)
            best_all = min(best_all, time.perf_counter() - t0)
            cpu_all = min(cpu_all, time.process_time() - c0)
        print(
            f"{size} open tickets, {label:<7} ({running} running clocks, {nexts} with a next threshold):"
            f" next thresholds {best_plan:.3f} s (cpu {cpu_plan:.3f} s);"
            f" engine + thresholds {best_all:.3f} s (cpu {cpu_all:.3f} s)"
        )
        print(f"RESULT notify.plan.{size}.{label}_s {best_plan:.4f}")
        print(f"RESULT notify.plan.{size}.{label}_cpu_s {cpu_plan:.4f}")
        print(f"RESULT notify.replan.{size}.{label}_s {best_all:.4f}")
        print(f"RESULT notify.replan.{size}.{label}_cpu_s {cpu_all:.4f}")


def latency_figures(mails: int) -> None:
    from alert_support import SMTP_PASSWORD, notify_service, smtp_server, write_secrets

    from sladesk_tui.core.events import Event
    from sladesk_tui.store.agreements import load_agreements_file
    from sladesk_tui.store.db import open_db
    from sladesk_tui.store.imports import ingest

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with smtp_server(tmp) as smtp:
            toml = tmp / "a.toml"
            toml.write_text(
                LEVELS_TOML.replace(
                    'levels = [{ at = "50%" }, { at = "75%" }, { at = "30m left" }, { at = "breach" }]',
                    'levels = [{ at = "50%" }]\ndigest_window = "0s"\nemail_domain = "example.com"',
                ).replace(
                    'host = "localhost"',
                    f'host = "127.0.0.1"\nport = {smtp.port}\nusername = "sladesk"\n'
                    f'password_secret = "smtp"\ncafile = "{smtp.cafile}"',
                ),
                encoding="utf-8",
            )
            db = tmp / "bench.db"
            conn = open_db(db, create=True)
            load_agreements_file(conn, toml, actor="bench")
            start = time.time()
            thresholds = [start + 4 + 1.5 * i for i in range(mails)]
            ingest(
                conn,
                [
                    Event(
                        id=f"L-{i}",
                        type="created",
                        at=t - 1800,
                        ticket=f"L-{i}",
                        customer="acme",
                        priority="P1",
                        title="latency",
                        assignee=f"agent{i}",
                    )
                    for i, t in enumerate(thresholds)
                ],
                actor="bench",
                source="bench",
            )
            conn.close()
            secrets = write_secrets(tmp / "secrets.toml", {"smtp": SMTP_PASSWORD})
            env_clock = time.time()
            with notify_service(db, secrets, start=env_clock):
                got = smtp.wait(mails, timeout=30 + 2 * mails)
        by_rcpt = {m.rcpt_tos[0]: m.received for m in got}
        delays = [
            by_rcpt[f"agent{i}@example.com"] - t
            for i, t in enumerate(thresholds)
            if f"agent{i}@example.com" in by_rcpt
        ]
        print(
            f"threshold -> SMTP server received, {len(delays)} mails (STARTTLS + login each):"
            f" median {statistics.median(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms"
        )
        print(f"RESULT notify.delay.median_s {statistics.median(delays):.4f}")
        print(f"RESULT notify.delay.max_s {max(delays):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--mails", type=int, default=8)
    args = parser.parse_args()
    plan_figures(args.tickets, args.repeat)
    latency_figures(args.mails)


if __name__ == "__main__":
    main()
