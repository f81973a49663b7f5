"""The `sladesk` command: parses arguments and calls core and store.

Kept thin, and lookups never import Textual: `sladesk report` over SSH must answer
in well under a second, so every import of a heavy module happens inside the
handler that needs it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from sladesk_tui import __version__
from sladesk_tui.core.errors import InputError

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors are one line, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{self.prog}: {message}")


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="database file (default: $SLADESK_DB, else the user data directory)",
    )


def _add_lookup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--at", metavar="INSTANT", help="the state as of this instant, replayed from the log")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sladesk", description="Service desk queue with exact SLA clocks.")
    parser.add_argument("--version", action="version", version=f"sladesk {__version__}")
    _add_db(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="create a demo database (times relative to now) and open the app")
    _add_db(p)
    p.add_argument("--no-tui", action="store_true", help="only write the database and print its path")
    p.add_argument("--seed", type=int, default=7, help="random seed of the generated data")

    p = sub.add_parser("load", help="load an agreements TOML file as a new version")
    _add_db(p)
    p.add_argument("file")

    p = sub.add_parser("import", help="import events (JSON Lines or CSV) from FILE or - for stdin")
    _add_db(p)
    p.add_argument("file")
    p.add_argument("--format", dest="input_format", choices=("auto", "jsonl", "csv"), default="auto")
    p.add_argument("--skip-invalid", action="store_true", help="import the valid lines, list the skipped ones")
    p.add_argument("--follow", action="store_true", help="keep reading as the file grows, until interrupted")

    p = sub.add_parser("audit", help="verify or anchor the audit log")
    _add_db(p)
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", parser_class=_Parser, required=True)
    ap = asub.add_parser("verify", help="check the hash chain; exit 1 naming the first bad row")
    _add_db(ap)
    ap.add_argument("--head", metavar="SEQ:HASH", help="an anchored head: also detects a truncated tail")
    ap = asub.add_parser("head", help="print SEQ:HASH of the newest audit row")
    _add_db(ap)

    return parser


def _db_path(args: argparse.Namespace) -> str:
    from sladesk_tui.store.location import default_db_path

    return getattr(args, "db", None) or os.environ.get("SLADESK_DB") or str(default_db_path())


def _not_yet(args: argparse.Namespace) -> int:
    raise InputError(f"'{args.command}' is not available yet")


HANDLERS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of a subcommand (`audit` handlers dispatch on their own)."""

    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return register


# ---- handlers -------------------------------------------------------------------
# Each handler imports what it needs inside its body (cold start over SSH).


def _operator(args: argparse.Namespace) -> str:
    from sladesk_tui.store.identity import login_user

    return args.operator or login_user()


@command("load")
def _load(args: argparse.Namespace) -> int:
    from sladesk_tui.store.agreements import load_agreements_file
    from sladesk_tui.store.db import open_db

    conn = open_db(_db_path(args))
    try:
        loaded = load_agreements_file(conn, args.file, actor=_operator(args))
    finally:
        conn.close()
    for warning in loaded.warnings:
        print(f"sladesk: warning: {args.file}: {warning}", file=sys.stderr)
    if loaded.unchanged:
        print(f"unchanged: version {loaded.version} is this file ({loaded.agreements} agreements)")
    else:
        print(f"loaded version {loaded.version}: {loaded.agreements} agreements")
    return 0


@command("audit")
def _audit(args: argparse.Namespace) -> int:
    from sladesk_tui.store import audit
    from sladesk_tui.store.db import connect

    anchor = audit.parse_head(args.head) if getattr(args, "head", None) else None
    conn = connect(_db_path(args), readonly=True)
    try:
        if args.audit_command == "head":
            print(audit.format_head(audit.head(conn)))
            return 0
        result = audit.verify(conn, anchor)
    finally:
        conn.close()
    if result.ok:
        print(f"audit chain ok: {result.rows} rows, head {audit.format_head(result.head)}")
        return 0
    print(f"sladesk: audit chain BROKEN: {result.reason}", file=sys.stderr)
    return 1


@command("import")
def _import(args: argparse.Namespace) -> int:
    from sladesk_tui.store.imports import ImportRejected, import_file

    shown = 20
    if args.follow:
        return _follow(args)
    try:
        report = import_file(
            _db_path(args), args.file, fmt=args.input_format, skip_invalid=args.skip_invalid, actor=_operator(args)
        )
    except ImportRejected as exc:
        for e in exc.errors[:shown]:
            print(f"sladesk: {e}", file=sys.stderr)
        if exc.count > 1:
            more = f", {exc.count - shown} more not shown" if exc.count > shown else ""
            print(f"sladesk: {exc.count} bad lines{more}; nothing imported", file=sys.stderr)
        return 2
    for e in report.skipped_invalid:
        print(f"sladesk: {e}", file=sys.stderr)
    if report.skipped_invalid:
        print(f"sladesk: skipped {len(report.skipped_invalid)} bad lines", file=sys.stderr)
    print(report.summary())
    return 0


def _follow(args: argparse.Namespace) -> int:
    """A live feed must not stop: bad lines are always reported and skipped here."""
    from sladesk_tui.store.follow import follow
    from sladesk_tui.store.imports import IngestResult

    if args.file == "-":
        raise InputError("--follow needs a file to tail, not stdin")

    def batch_done(result: IngestResult) -> None:
        print(f"imported {result.inserted} events ({result.already_present} skipped as already present)"
              f" from {args.file}", flush=True)

    follow(_db_path(args), args.file, actor=_operator(args), fmt=args.input_format, on_batch=batch_done)
    return 0


@command("app")
def _app(args: argparse.Namespace) -> int:
    """`sladesk` with no subcommand: the live queue on the default (or given) database."""
    from sladesk_tui.tui.app import run_app

    return run_app(_db_path(args), _operator(args))


def main(argv: Sequence[str] | None = None, *, operator: str | None = None) -> int:
    """Entry point. `operator` lets tests inject the acting user below the command line."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        args.operator = operator
        if args.command is None:
            args.command = "app"
        handler = HANDLERS.get(args.command, _not_yet)
        return handler(args)
    except InputError as exc:
        print(f"sladesk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
