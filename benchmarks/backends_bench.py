"""SQLite and PostgreSQL side by side, in one run: writes, the queue's first load, the monthly report.

    uv run python benchmarks/backends_bench.py                      # 1,000,000 tickets in the report
    uv run python benchmarks/backends_bench.py --tickets 100000 --open 2000 --seconds 2
    uv run python benchmarks/backends_bench.py --pg postgresql://admin:pw@127.0.0.1/postgres

What each row measures (docs/postgresql.md, "When to move"):

- **audited writes/s** with 1, 4 and 16 writer processes: each write is an
  operator's action as the store makes it (`write_tx`, one event row, its audit
  row; on PostgreSQL also the change hint, store.changes), all processes
  contending for the write lock for `--seconds`. Checked afterwards: every row
  there, the chain verifies.
- **queue first load** with `--open` open tickets (10,000): what the TUI's queue
  feed does before its first paint (`tui.data.StoreQueueSource.poll`: the open
  tickets with their events and overrides, every clock computed), on a new
  connection; the median of `--runs`.
- **monthly report** over `--tickets` resolved tickets (1,000,000): the report
  of one month from the stored outcomes (`store.reports.compliance_report`), on a
  new connection; the median of `--runs`. The outcomes are generated straight
  into the tables (a ticket row and two or three outcomes per ticket, the rollup
  kept by the database's own triggers), as benchmarks/report_bench.py does.

PostgreSQL: `--pg` (default ``$SLADESK_TEST_PG_URL``, which `.ci/pg.sh up` sets)
is a superuser URL; every database the run makes (and the role groups the schema
makes, named after it) is dropped at the end. The run connects as that superuser,
so the rule triggers' checks of who may write are skipped: the figures are the
engine's, a person's role adds a few catalogue lookups per write. Without a
server the PostgreSQL column says why it is empty. Set-up times are printed too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from queue_bench import AGREEMENTS as QUEUE_AGREEMENTS  # noqa: E402 - imported after the sys.path set-up above
from queue_bench import NOW as QUEUE_NOW  # noqa: E402 - imported after the sys.path set-up above
from queue_bench import open_queue_events  # noqa: E402 - imported after the sys.path set-up above
from report_bench import (  # noqa: E402 - imported after the sys.path set-up above
    CUSTOMERS,
    MONTH,
    OPERATORS,
    PRIORITIES,
    TARGETS,
    agreements_toml,
)
from write_bench import audited_write  # noqa: E402 - imported after the sys.path set-up above

from sladesk_tui.store.agreements import load_agreements_file  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.audit import verify  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.db import connect, open_db, write_tx  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.imports import ingest  # noqa: E402 - imported after the sys.path set-up above

BACKENDS = ("sqlite", "postgresql")


# ---- where the databases live ---------------------------------------------------------


class Places:
    """Fresh databases on each backend, removed at the end."""

    def __init__(self, pg_admin: str | None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="sladesk-backends-bench-"))
        self.pg_admin = pg_admin
        self.prefix = f"sladesk_bench_{secrets.token_hex(3)}"
        self.made: list[str] = []

    def new(self, backend: str, name: str) -> str:
        if backend == "sqlite":
            path = self.tmp / f"{name}.db"
            open_db(path, create=True).close()
            return str(path)
        import psycopg

        db = f"{self.prefix}_{name}"
        with psycopg.connect(self.pg_admin, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{db}"')
        self.made.append(db)
        parts = urllib.parse.urlsplit(self.pg_admin)
        url = urllib.parse.urlunsplit(parts._replace(path=f"/{db}"))
        open_db(url).close()
        return url

    def cleanup(self) -> None:
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)
        if not self.made:
            return
        import psycopg

        with psycopg.connect(self.pg_admin, autocommit=True) as admin:
            for db in self.made:
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            groups = admin.execute(
                "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (f"{self.prefix}_",)
            ).fetchall()
            for (role,) in groups:
                admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def pg_reason(url: str | None) -> str | None:
    """Why PostgreSQL cannot be measured (None: it can)."""
    if not url:
        return "no server (--pg or $SLADESK_TEST_PG_URL)"
    try:
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=5) as c:
            if not c.execute("SELECT rolsuper FROM pg_roles WHERE rolname = session_user").fetchone()[0]:
                return "--pg must connect as a superuser (it creates and drops databases)"
    except Exception as exc:  # noqa: BLE001 - reported in the table instead of a figure
        return f"no server: {str(exc).strip().splitlines()[-1]}"
    return None


# ---- audited writes -------------------------------------------------------------------


def _writer(target: str, n: int, seconds: float, barrier: Any, out: Any) -> None:
    conn = open_db(target)
    barrier.wait()
    done = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        audited_write(conn, n, done)
        done += 1
    conn.close()
    out.put(done)


def writes(target: str, writers: int, seconds: float) -> float:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(writers + 1), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(target, n, seconds, barrier, out)) for n in range(writers)]
    for p in procs:
        p.start()
    barrier.wait()
    t0 = time.perf_counter()
    total = sum(out.get(timeout=seconds + 180) for _ in procs)
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit(f"a writer failed with exit code {p.exitcode}")
    conn = connect(target, readonly=True)
    try:
        rows = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        result = verify(conn)
    finally:
        conn.close()
    if rows != total or not result.ok or result.rows != total:
        sys.exit(f"{writers} writers: {total} writes, {rows} rows, verify: {result}")
    return total / wall


# ---- the queue's first load -----------------------------------------------------------


def build_queue(target: str, n: int, tmp: Path) -> None:
    """`n` open tickets, half with a reply, a fifth waiting (benchmarks/queue_bench.py's mix)."""
    conn = open_db(target)
    try:
        toml = tmp / "queue-agreements.toml"
        toml.write_text(QUEUE_AGREEMENTS, encoding="utf-8")
        load_agreements_file(conn, toml, actor="bench")
        ingest(conn, open_queue_events(n), actor="bench", source="bench")
    finally:
        conn.close()


def queue_first_load(target: str, n: int) -> float:
    from sladesk_tui.tui.data import Desk, StoreQueueSource

    source = StoreQueueSource(Desk(target, "sam", lambda: QUEUE_NOW))
    try:
        t0 = time.perf_counter()
        rows = source.poll(QUEUE_NOW, force=True)
        took = time.perf_counter() - t0
    finally:
        source.close()
    if rows is None or len(rows) != n:
        sys.exit(f"queue: {0 if rows is None else len(rows)} rows, expected {n}")
    return took


# ---- the monthly report -----------------------------------------------------------------


def report_rows(tickets: int, seed: int = 11) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Ticket rows and outcome rows of `tickets` resolved tickets spread over MONTH."""
    rnd = random.Random(seed)
    start, end = MONTH.bounds("UTC")
    span = end - start
    ticket_rows: list[tuple[Any, ...]] = []
    outcome_rows: list[tuple[Any, ...]] = []
    for n in range(tickets):
        tid = f"T-{n:07d}"
        customer = CUSTOMERS[n % len(CUSTOMERS)]
        agreement = f"{customer}-sla"
        prio = PRIORITIES[rnd.randrange(4)]
        op = OPERATORS[rnd.randrange(len(OPERATORS))]
        stop = start + rnd.random() * span
        day = dt.datetime.fromtimestamp(stop, dt.UTC).date().isoformat()
        ticket_rows.append(
            (tid, customer, f"ticket {n}", prio, "resolved", agreement, 1, 0, stop - 3600, stop, stop)
        )
        response, update, resolution = TARGETS[prio]
        clocks = [("response", 0, response), ("resolution", 0, resolution)]
        if update is not None and n % 10 == 0:
            clocks.append(("update", 1, update))
        for clock, cycle, target in clocks:
            elapsed = target * rnd.uniform(0.2, 1.25)
            raw = "breached" if elapsed > target else "met"
            adj = "exempt" if raw == "breached" and rnd.random() < 0.1 else raw
            outcome_rows.append(
                (
                    tid,
                    clock,
                    cycle,
                    agreement,
                    1,
                    prio,
                    op,
                    stop,
                    day,
                    raw,
                    elapsed,
                    float(target),
                    adj,
                    elapsed,
                    float(target),
                )
            )
    return ticket_rows, outcome_rows


TICKET_COLS = "id, customer, title, priority, status, agreement_id, agreement_version, is_open, created_ts, updated_ts, ended_ts"
OUTCOME_COLS = (
    "ticket, clock, cycle, agreement_id, agreement_version, priority, operator, stopped_ts, day,"
    " raw_state, raw_elapsed_s, raw_target_s, adj_state, adj_elapsed_s, adj_target_s"
)


def build_report(target: str, tickets: int, tmp: Path) -> None:
    conn = open_db(target)
    try:
        toml = tmp / "report-agreements.toml"
        toml.write_text(agreements_toml(), encoding="utf-8")
        load_agreements_file(conn, toml, actor="bench", source="bench")
        ticket_rows, outcome_rows = report_rows(tickets)
        if isinstance(conn, sqlite3.Connection):
            with write_tx(conn):
                conn.executemany(
                    f"INSERT INTO tickets ({TICKET_COLS}) VALUES ({', '.join('?' * 11)})", ticket_rows
                )
                conn.executemany(
                    f"INSERT INTO outcomes ({OUTCOME_COLS}) VALUES ({', '.join('?' * 15)})", outcome_rows
                )
        else:  # COPY: the fastest way in; the rollup trigger fires per row as on INSERT
            raw: Any = conn.raw  # type: ignore[attr-defined]  # store.pg.PgConnection
            with write_tx(conn):
                for table, cols, rows in (
                    ("tickets", TICKET_COLS, ticket_rows),
                    ("outcomes", OUTCOME_COLS, outcome_rows),
                ):
                    with raw.cursor().copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            raw.execute("ANALYZE")
    finally:
        conn.close()


def monthly_report(target: str, tickets: int) -> float:
    from sladesk_tui.store.reports import compliance_report

    t0 = time.perf_counter()
    conn = connect(target, readonly=True)
    try:
        report = compliance_report(conn, MONTH, time.time())
    finally:
        conn.close()
    took = time.perf_counter() - t0
    counted = sum(r.counts.tickets for r in report.rows)
    if counted <= 0:
        sys.exit(f"report: {counted} tickets counted of {tickets}")
    return took


# ---- the run ------------------------------------------------------------------------------


def median(f: Callable[[], float], runs: int) -> float:
    return statistics.median(f() for _ in range(runs))


def timed(f: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def run_backend(
    backend: str,
    args: argparse.Namespace,
    places: Places,
    results: dict[tuple[str, str], str],
    setup: dict[str, float],
) -> None:
    """Every measure on one backend, each on a database of its own."""
    for w in args.writers:
        target = places.new(backend, f"w{w}")
        rate = writes(target, w, args.seconds)
        results[(f"audited writes/s, {w} writer{'s' if w > 1 else ''}", backend)] = f"{rate:,.0f}"
        print(f"RESULT backends.writes_{w}.{backend} {rate:.0f} writes/s", flush=True)

    target = places.new(backend, "queue")
    setup[f"queue ({args.open:,} open tickets), {backend}"] = timed(
        lambda: build_queue(target, args.open, places.tmp)
    )
    took = median(lambda: queue_first_load(target, args.open), args.runs)
    results[(f"queue first load, {args.open:,} open tickets", backend)] = f"{took * 1000:,.0f} ms"
    print(f"RESULT backends.queue.{backend} {took * 1000:.0f} ms", flush=True)

    target = places.new(backend, "report")
    setup[f"report ({args.tickets:,} tickets), {backend}"] = timed(
        lambda: build_report(target, args.tickets, places.tmp)
    )
    took = median(lambda: monthly_report(target, args.tickets), args.runs)
    results[(f"monthly report, {args.tickets:,} tickets", backend)] = f"{took * 1000:,.0f} ms"
    print(f"RESULT backends.report.{backend} {took * 1000:.0f} ms", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=1_000_000, help="resolved tickets in the report's month")
    ap.add_argument("--open", type=int, default=10_000, help="open tickets in the queue")
    ap.add_argument("--writers", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--seconds", type=float, default=5.0, help="per writes measurement")
    ap.add_argument("--runs", type=int, default=5, help="queue and report: the median of this many")
    ap.add_argument("--pg", default=os.environ.get("SLADESK_TEST_PG_URL"), help="a superuser URL")
    args = ap.parse_args(argv)

    why_not = {"sqlite": None, "postgresql": pg_reason(args.pg)}
    backends = [b for b in BACKENDS if why_not[b] is None]
    places = Places(args.pg)
    results: dict[tuple[str, str], str] = {}
    setup: dict[str, float] = {}
    try:
        for backend in backends:
            run_backend(backend, args, places, results, setup)
    finally:
        places.cleanup()

    print()
    for what, seconds in setup.items():
        print(f"set-up: {what}: {seconds:.1f} s")
    for backend, why in why_not.items():
        if why:
            print(f"{backend}: not measured: {why}")
    print()
    measures = list(dict.fromkeys(m for m, _ in results))
    print("| measure | SQLite | PostgreSQL |")
    print("|---|---|---|")
    for m in measures:
        cells = [results.get((m, b), "-") for b in BACKENDS]
        print(f"| {m} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
