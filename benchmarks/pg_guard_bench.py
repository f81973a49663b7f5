"""What PostgreSQL's projection guards cost: the same writes as a person and as the owner.

    eval "$(.ci/pg.sh up)"; uv run python benchmarks/pg_guard_bench.py
    uv run python benchmarks/pg_guard_bench.py --events 60000 --actions 200 --runs 3

A person's writes pass the rule triggers (schema/postgresql/0003_projection_guards.sql:
each event, override or review marks its ticket for the transaction, each ticket and
outcome row changed looks the mark up); the owner's skip them. Two figures, each as
the feed person and as the administrator, on desks set up as docs/postgresql.md says
(tests/postgresql/pg_desk.py, a random prefix, dropped at the end):

- **bulk import**: `--events` generated events (benchmarks/import_bench.py's tickets)
  into a fresh desk by `import_file`, events/s;
- **app actions**: `--actions` app events (reply, status) on one ticket through
  `ingest`, as the TUI records them, each a write with its outcomes refreshed, per
  second. Each refresh re-reads the ticket's history, so the rate falls as it grows:
  compare the two columns, not with other benchmarks.

Each figure is the median of `--runs`, person and owner alternated.

Needs `$SLADESK_TEST_PG_URL` (a superuser URL, as the tests use).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(ROOT),
    str(ROOT / "tests"),
    str(ROOT / "tests" / "postgresql"),
    str(Path(__file__).parent),
]

from import_bench import AGREEMENTS, generate  # noqa: E402 - imported after the sys.path set-up above
from pg_desk import make_desk  # noqa: E402 - imported after the sys.path set-up above
from pg_support import PgServer, connect_server  # noqa: E402 - imported after the sys.path set-up above

from sladesk_tui.core.events import Event  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.agreements import load_agreements_file  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.imports import import_file, ingest  # noqa: E402 - imported after the sys.path set-up above

PEOPLE = ("admin", "lead", "feed")


def bulk(server: PgServer, tmp: Path, feed_file: Path, who: str) -> float:
    desk = make_desk(server, tmp, PEOPLE)
    with desk.connect("admin") as conn:
        load_agreements_file(conn, tmp / "sla.toml", actor=desk.role("admin"))
    with desk.connect(who) as conn:
        t0 = time.perf_counter()
        r = import_file(conn, feed_file, actor=desk.role(who))
        return r.inserted / (time.perf_counter() - t0)


def actions(server: PgServer, tmp: Path, n: int, who: str) -> float:
    desk = make_desk(server, tmp, PEOPLE)
    role = desk.role(who)
    with desk.connect(who) as conn:
        t0 = time.perf_counter()
        for i in range(n):
            fields = {"status": "open"} if i % 2 else {}
            ev = Event(
                id=f"tui-{uuid.uuid4().hex}",
                type="status" if i % 2 else "reply",
                at=time.time(),
                ticket="T-1",
                author=role,
                **fields,  # type: ignore[arg-type]  # the status event's own field
            )
            ingest(conn, [ev], actor=role, source="tui")
        return n / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=60_000)
    ap.add_argument("--actions", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3, help="each figure: the median of this many")
    args = ap.parse_args()
    server = connect_server()
    if isinstance(server, str):
        print(f"no PostgreSQL: {server}")
        return 1
    try:
        tmp = Path(tempfile.mkdtemp(prefix="sladesk-guard-bench-"))
        feed_file = tmp / "events.jsonl"
        count = generate(feed_file, args.events)
        (tmp / "sla.toml").write_text(AGREEMENTS, encoding="utf-8")
        print("| write | as the feed person (guarded) | as the owner (exempt) |\n|---|---|---|")
        # Alternated, the median of each: the machine's load moves between runs.
        runs = [
            (bulk(server, tmp, feed_file, "feed"), bulk(server, tmp, feed_file, "dba"))
            for _ in range(args.runs)
        ]
        person, owner = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"| bulk import, {count:,} events | {person:,.0f} events/s | {owner:,.0f} events/s |")
        results = [("bulk.person", person), ("bulk.owner", owner)]
        runs = [
            (actions(server, tmp, args.actions, "feed"), actions(server, tmp, args.actions, "dba"))
            for _ in range(args.runs)
        ]
        person, owner = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"| app actions, {args.actions} on one ticket | {person:,.0f}/s | {owner:,.0f}/s |")
        results += [("actions.person", person), ("actions.owner", owner)]
        for name, value in results:
            print(f"RESULT guard.{name} {value:.1f}")  # for run_all.py
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
