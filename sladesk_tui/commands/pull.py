"""`sladesk pull SOURCE`: backfill and catch up from a ticketing system's API (docs/pull.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from typing import Any

from sladesk_tui import cli
from sladesk_tui.core.errors import InputError
from sladesk_tui.core.text import safe_text

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]  # argparse's private type
    p = sub.add_parser(
        "pull", help="read a ticketing system's history through its API and store it (feed accounts)"
    )
    cli._add_db(p)
    p.add_argument("source", metavar="SOURCE", help="a source's name in the sources file")
    p.add_argument(
        "--sources",
        metavar="FILE",
        help="the sources file (default: $SLADESK_SOURCES, else sources.toml beside the database)",
    )
    p.add_argument(
        "--since",
        metavar="INSTANT",
        help="only changes from this instant or UTC date on (the first backfill); the cursor still applies",
    )
    p.add_argument("--follow", action="store_true", help="keep pulling every interval until interrupted")
    p.add_argument(
        "--interval",
        type=float,
        metavar="SECONDS",
        help="seconds between pulls with --follow (default: pull.interval_s)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the events that would be stored (JSON Lines); store nothing",
    )


def since_utc(text: str) -> str:
    """An instant (with its offset) or a UTC date, as `YYYY-MM-DD HH:MM:SS` in UTC: RT's
    query spelling, which the Jira, Zendesk and Zammad pullers read too (docs/pull.md)."""
    from sladesk_tui.core.eventfile import parse_instant

    if _DATE.fullmatch(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise InputError(f"--since: {text!r} is not a date") from None
        ts = dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()
    else:
        try:
            ts = parse_instant(text)
        except InputError as exc:
            raise InputError(f"--since: {exc}") from None
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def event_line(ev: Any) -> dict[str, str]:
    """An event as a line of the events file format (`sladesk import` reads it back)."""
    from sladesk_tui.core.events import DIGEST_FIELDS
    from sladesk_tui.store.instants import iso_utc

    doc = {f: v for f in DIGEST_FIELDS if (v := getattr(ev, f)) is not None}
    doc["at"] = iso_utc(ev.at)
    return doc


@cli.command("pull")
def _pull(args: argparse.Namespace) -> int:
    import asyncio
    import dataclasses
    import json

    from sladesk_tui.commands.sources import _sources_path, load_sources_file
    from sladesk_tui.core.sources.pull_config import pull_config
    from sladesk_tui.services.pull import PullError, PullStats, pull
    from sladesk_tui.store.db import open_db

    path = _sources_path(args)
    sources = load_sources_file(path)
    source = sources.get(args.source)
    if source is None:
        raise InputError(f"{path}: no source named {args.source!r} (sources: {', '.join(sources.names)})")
    cfg = pull_config(source, base_dir=str(path.resolve().parent))
    if args.interval is not None:
        if not 0.1 <= args.interval <= 86_400:
            raise InputError(f"--interval: {args.interval:g} must be from 0.1 to 86400 seconds")
        cfg = dataclasses.replace(cfg, interval_s=args.interval)
    since = since_utc(args.since) if args.since else None

    def log(message: str) -> None:
        # Messages quote the server (error bodies, reasons): nothing in them may drive the terminal.
        print(f"sladesk: pull {source.name}: {safe_text(message)}", file=sys.stderr, flush=True)

    def round_done(stats: PullStats) -> None:
        for ticket, reason in stats.problems:
            log(f"ticket {ticket} set aside: {reason}")
        if args.dry_run:
            for ev in stats.would_store:
                print(json.dumps(event_line(ev), ensure_ascii=False), flush=True)
            log(f"dry run: {len(stats.would_store)} events would be offered to the store; nothing written")
        if not args.dry_run:
            print(stats.summary(source.name), flush=True)

    actor = cli._operator(args)
    if not args.dry_run:
        cli._require(args, "feed")  # it writes events as this account (docs/roles.md)
    conn = open_db(cli._db_path(args))

    async def until_stopped() -> None:
        # SIGTERM (a service manager) and SIGINT stop it between two requests, as they
        # stop the receiver and `import --follow`: the cursor only ever moves after a
        # committed batch, so nothing is lost (docs/pull.md).
        import signal

        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await pull(
                conn,
                source,
                cfg,
                actor=actor,
                since=since,
                dry_run=args.dry_run,
                follow=args.follow,
                log=log,
                on_round=round_done,
                reopen=lambda: open_db(cli._db_path(args)),
            )
        except asyncio.CancelledError:
            log("stopped")

    try:
        asyncio.run(until_stopped())
    except PullError as exc:
        log(f"{exc}; the cursor stays after the last stored batch")
        return 1
    finally:
        conn.close()
    return 0
