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
