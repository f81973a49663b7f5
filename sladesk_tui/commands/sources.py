"""`sladesk receive` (the webhook receiver) and `sladesk sources` (how each source fares).

docs/sources.md has the set-up per provider, the sources file and the deployment.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sladesk_tui.cli import _add_db, _db_path, _operator, _require, answer, command, database
from sladesk_tui.core.errors import InputError

if TYPE_CHECKING:
    from sladesk_tui.core.sources.mapping import SourceSet
    from sladesk_tui.store.pulls import PullStatus


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]  # argparse's private type
    p = sub.add_parser("receive", help="receive ticketing systems' webhooks (POST /hooks/<source>)")
    _add_db(p)
    _add_sources(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; TLS in a proxy)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument(
        "--body-timeout", type=float, default=10.0, metavar="SECONDS", help="time to send a whole body"
    )
    p.add_argument("--batch", type=int, default=256, help="deliveries stored per transaction at most")

    p = sub.add_parser("sources", help="each source with its last delivery and last refusal")
    _add_db(p)
    _add_sources(p)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")


def _add_sources(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sources",
        metavar="FILE",
        help="the sources file (default: $SLADESK_SOURCES, else sources.toml beside the database)",
    )


def _sources_path(args: argparse.Namespace) -> Path:
    from sladesk_tui.store.backend import is_postgres

    given = getattr(args, "sources", None) or os.environ.get("SLADESK_SOURCES")
    if given:
        return Path(given)
    if is_postgres(_db_path(args)):  # a server has no folder beside it
        raise InputError(
            "a PostgreSQL database has no folder for sources.toml: give --sources or $SLADESK_SOURCES"
        )
    return Path(_db_path(args)).parent / "sources.toml"


def load_sources_file(path: Path) -> SourceSet:
    from sladesk_tui.core.sources.mapping import parse_sources_text

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            "no such sources file (give --sources FILE or set SLADESK_SOURCES)", where=str(path)
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the sources file: {exc}", where=str(path)) from None
    return parse_sources_text(text, str(path), base_dir=str(path.resolve().parent))


@command("receive")
def _receive(args: argparse.Namespace) -> int:
    from sladesk_tui.services.receiver import FEED_ROLE, Settings, read_secret, run

    _require(args, FEED_ROLE)  # it writes events as this account (docs/roles.md)
    path = _sources_path(args)
    sources = load_sources_file(path)
    if not 0 <= args.port <= 65535:
        raise InputError(f"receive: --port {args.port} is not a port number")
    if not 0.1 <= args.body_timeout <= 300:
        raise InputError("receive: --body-timeout must be 0.1 to 300 seconds")
    if not 1 <= args.batch <= 10_000:
        raise InputError("receive: --batch must be 1 to 10000")
    secrets = {}
    for s in sources.sources:
        if s.receives and s.secret_file is not None:
            secrets[s.name] = read_secret(s.secret_file)
    if not secrets:
        raise InputError("no source in the file receives webhooks", where=str(path))
    db = _db_path(args)
    actor = _operator(args)
    from sladesk_tui.store.db import open_db

    open_db(db).close()  # migrate before serving: a first request must not wait for it
    settings = Settings(
        host=args.host, port=args.port, body_timeout_s=args.body_timeout, batch_max=args.batch
    )
    return run(db, sources, secrets, actor=actor, settings=settings)


@command("sources")
def _sources(args: argparse.Namespace) -> int:
    import sqlite3

    from sladesk_tui import output
    from sladesk_tui.store.deliveries import source_rows
    from sladesk_tui.store.pulls import pull_status

    sources = load_sources_file(_sources_path(args))
    with database(args, readonly=True) as conn:
        try:
            status = source_rows(conn)
        except sqlite3.OperationalError:  # a database from before the receiver: nothing received yet
            status = {}
        pulled = pull_status(conn)
    rows = []
    for s in sources.sources:
        st = status.get(s.name)
        rows.append(
            {
                "source": s.name,
                "provider": s.provider,
                "path": f"/hooks/{s.name}" if s.receives else "(pulled)",
                "deliveries": st.deliveries if st else 0,
                "last_delivery": _iso(st.last_delivery_ts) if st else None,
                "last_delivery_what": st.last_delivery_what if st else None,
                "refusals": st.refusals if st else 0,
                "last_refusal": _iso(st.last_refusal_ts) if st else None,
                "last_refusal_status": st.last_refusal_status if st else None,
                "last_refusal_reason": st.last_refusal_reason if st else None,
                **_pull_columns(pulled.get(s.name)),
            }
        )

    def table(style: output.Style, width: int) -> str:
        cells = []
        for s in sources.sources:
            st = status.get(s.name)
            cells.append(
                {
                    "source": s.name,
                    "provider": s.provider,
                    "delivered": st.deliveries if st else 0,
                    "last delivery": output.instant(st.last_delivery_ts) if st else "",
                    "refused": st.refusals if st else 0,
                    "last refusal": output.instant(st.last_refusal_ts) if st else "",
                }
            )
        below = [
            (
                [f"refused {r['last_refusal_status']}: {r['last_refusal_reason']}"]
                if r["last_refusal_reason"]
                else []
            )
            + _pull_below(pulled.get(str(r["source"])))
            for r in rows
        ]
        return output.rows_table(cells, width=width, below=below)

    # csv: one line per source, the set-aside tickets counted (json lists them)
    flat = [{k: len(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows]
    answer(args.format, json=lambda: rows, csv=lambda: output.rows_csv(flat), table=table)
    return 0


def _pull_columns(st: PullStatus | None) -> dict[str, object]:
    """The history puller's side (docs/pull.md): its cursor and the tickets it set aside."""
    if st is None:
        return {"pull_cursor": None, "last_pull": None, "set_aside": []}
    return {
        "pull_cursor": st.cursor,
        "last_pull": st.moved_at,
        "set_aside": [
            {"ticket": p.provider_ticket, "our_ticket": p.ticket, "reason": p.reason, "at": p.last_at}
            for p in st.problems
        ],
    }


def _pull_below(st: PullStatus | None) -> list[str]:
    if st is None:
        return []
    lines = [f"pulled up to {st.cursor} at {st.moved_at}"] if st.cursor else []
    lines += [f"set aside ticket {p.provider_ticket}: {p.reason}" for p in st.problems]
    return lines


def _iso(ts: float | None) -> str | None:
    import datetime as dt

    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
