"""`sladesk notify` (the alert service) and `sladesk alerts` (what it sent, and what failed).

See docs/alerts.md. `notify` runs until SIGTERM; `alerts` is a read-only lookup and,
like every lookup, imports nothing heavy.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from sladesk_tui.cli import _add_db, _db_path, _emit, _operator, _when, command
from sladesk_tui.core.errors import InputError


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]  # argparse's private generic
    p = sub.add_parser("notify", help="the alert service: warn before each breach, exactly once")
    _add_db(p)
    p.add_argument(
        "--secrets",
        metavar="PATH",
        help="the secrets file (mode 600): SMTP password, webhook URLs (default: $SLADESK_SECRETS)",
    )
    p.add_argument("--once", action="store_true", help="one pass: send what is due now, then exit")
    p.add_argument(
        "--retry-base",
        metavar="SECONDS",
        type=float,
        default=None,
        help="first retry delay after a failed delivery, doubled each time (default 30)",
    )

    p = sub.add_parser("alerts", help="the alerts sent, pending and failed, per recipient")
    _add_db(p)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--since", metavar="INSTANT", help="alerts raised since (ISO 8601, a date, or -2h)")
    p.add_argument("--ticket", metavar="ID", help="only this ticket's alerts")
    p.add_argument("--failed", action="store_true", help="only deliveries that failed or are retrying")


@command("notify")
def _notify(args: argparse.Namespace) -> int:
    from sladesk_tui.services.channels import load_secrets
    from sladesk_tui.services.notifier import RETRY_BASE_S, serve

    path = args.secrets or os.environ.get("SLADESK_SECRETS")
    secrets = load_secrets(path) if path else {}
    if args.retry_base is not None and not args.retry_base > 0:
        raise InputError(f"--retry-base: {args.retry_base!r} must be a positive number of seconds")
    return serve(
        _db_path(args),
        secrets=secrets,
        actor=_operator(args),
        once=args.once,
        retry_base_s=args.retry_base or RETRY_BASE_S,
    )


@command("alerts")
def _alerts(args: argparse.Namespace) -> int:
    from sladesk_tui import output
    from sladesk_tui.store.alerts import alert_log
    from sladesk_tui.store.db import connect
    from sladesk_tui.store.instants import now_ts

    since = None if args.since is None else _when(args.since, now_ts(), "--since")
    conn = connect(_db_path(args), readonly=True)
    try:
        rows = alert_log(conn, since=since, ticket=args.ticket)
    finally:
        conn.close()
    if args.failed:
        rows = [r for r in rows if r.state in ("failed", "retrying")]
    dicts = [_row(r) for r in rows]
    if args.format == "json":
        _emit(output.dump_json(dicts) + "\n")
    elif args.format == "csv":
        _emit(output.rows_csv(dicts))
    else:
        table = [
            {
                "ticket": d["ticket"],
                "clock": d["clock"],
                "level": d["level"],
                "threshold": output.instant(r.threshold_ts),
                "to": d["recipient"],
                "state": d["state"] + (" OFF SHIFT" if r.off_shift else ""),
                "tries": d["attempts"],
            }
            for d, r in zip(dicts, rows, strict=True)
        ]
        below = [[f"error: {r.error}"] if r.error and r.state != "sent" else [] for r in rows]
        _emit(output.rows_table(table, width=output.table_width(sys.stdout), below=below))
    return 0


def _row(r: Any) -> dict[str, Any]:
    from sladesk_tui.core.override_effects import iso_z

    return {
        "id": r.id,
        "ticket": r.ticket,
        "clock": r.clock,
        "cycle": r.cycle,
        "level": r.level,
        "recipient": r.recipient,
        "threshold_at": iso_z(r.threshold_ts),
        "raised_at": iso_z(r.ts),
        "off_shift": r.off_shift,
        "state": r.state,
        "attempts": r.attempts,
        "error": r.error,
        "sent_at": None if r.sent_ts is None else iso_z(r.sent_ts),
        "channel": r.channel,
        "idempotency_key": r.idem_key,
    }
