"""The `sladesk` command: parses arguments and calls core and store.

Kept thin, and lookups never import Textual: `sladesk report` over SSH must answer
in well under a second, so every import of a heavy module happens inside the
handler that needs it.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sladesk_tui import __version__
from sladesk_tui.core.errors import InputError
from sladesk_tui.core.text import counted
from sladesk_tui.store.backend import Connection

if TYPE_CHECKING:
    from sladesk_tui.output import Style

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors are one line, exit 2.

    Abbreviated options are refused (`--d=PATH` is not `--db`): a wrapper that
    filters options by name must see the only spelling sladesk accepts
    (docs/deployment.md).
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # argparse's own keywords

    def error(self, message: str) -> None:  # type: ignore[override]  # argparse's error returns NoReturn; ours raises too
        # main() prints "sladesk: "; a subcommand's prog ("sladesk import") adds its name.
        where = self.prog.removeprefix("sladesk").strip()
        raise InputError(f"{where}: {message}" if where else message)


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="database file (default: $SLADESK_DB, else the user data directory)",
    )


def _add_lookup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument(
        "--at",
        metavar="INSTANT",
        help="the state as of this instant, replayed from the log (ISO 8601, a UTC date, now, --at=-1h)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sladesk", description="Service desk queue with exact SLA clocks.")
    parser.add_argument("--version", action="version", version=f"sladesk {__version__}")
    _add_db(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="create a demo database (times relative to now) and open the app")
    p.add_argument(
        "--db",
        dest="demo_db",
        metavar="PATH",
        help="the demo's file (default: demo.db in the user data directory; never $SLADESK_DB)",
    )
    p.add_argument("--no-tui", action="store_true", help="only write the database and print its path")
    p.add_argument("--seed", type=int, default=7, help="random seed of the generated data")

    p = sub.add_parser("load", help="load an agreements TOML file (or - for stdin) as a new version (admins)")
    _add_db(p)
    p.add_argument("file")

    p = sub.add_parser(
        "import", help="import events (JSON Lines or CSV) from FILE or - for stdin (feed accounts)"
    )
    _add_db(p)
    p.add_argument("file")
    p.add_argument("--format", dest="input_format", choices=("auto", "jsonl", "csv"), default="auto")
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="import the valid lines, list the skipped ones (exit 3 when any was skipped)",
    )
    p.add_argument("--follow", action="store_true", help="keep reading as the file grows, until interrupted")

    p = sub.add_parser("audit", help="verify or anchor the audit log")
    _add_db(p)
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", parser_class=_Parser, required=True)
    ap = asub.add_parser(
        "verify",
        help="check the hash chain, then the stored outcomes against the record; exit 1 naming the first difference",
    )
    _add_db(ap)
    ap.add_argument("--head", metavar="SEQ:HASH", help="an anchored head: also detects a truncated tail")
    ap.add_argument("--chain-only", action="store_true", help="skip recomputing the stored outcomes")
    ap = asub.add_parser("head", help="print SEQ:HASH of the newest audit row")
    _add_db(ap)

    _add_override_parsers(sub)
    _add_lookup_parsers(sub)

    from sladesk_tui.commands import roles as role_commands
    from sladesk_tui.commands import settings as setting_commands

    role_commands.add_parsers(sub)
    setting_commands.add_parsers(sub)

    from sladesk_tui.commands import sources as sources_commands  # registers its handlers

    sources_commands.add_parsers(sub)

    from sladesk_tui.commands import alerts as alert_commands

    alert_commands.add_parsers(sub)

    from sladesk_tui.commands import pull as pull_commands

    pull_commands.add_parsers(sub)

    from sladesk_tui.commands import migrate_db as migrate_db_commands

    migrate_db_commands.add_parsers(sub)

    return parser


def _add_lookup_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]  # argparse's private generic, not subscriptable at run time
    """`queue`, `ticket`, `report`: read-only lookups (README, "Compliance lookups")."""
    p = sub.add_parser("queue", help="the open queue, most urgent first")
    _add_db(p)
    _add_lookup(p)
    p.add_argument("--at-risk", action="store_true", help="only at-risk and breached tickets")
    p.add_argument("--breached", action="store_true", help="only breached tickets")
    p.add_argument("--agreement", metavar="ID", help="only tickets under this agreement")
    p.add_argument("--priority", metavar="P", help="only tickets of this priority")
    p.add_argument("--mine", action="store_true", help="only tickets assigned to me (the login user)")
    p.add_argument(
        "--fail-on",
        choices=("at-risk", "breached"),
        help="exit 1 when any ticket shown is at risk or breached (at-risk), or breached",
    )

    p = sub.add_parser("ticket", help="one ticket: every clock raw and adjusted, why, history, overrides")
    _add_db(p)
    _add_lookup(p)
    p.add_argument("id", metavar="ID")

    p = sub.add_parser("report", help="compliance per agreement, priority and clock; penalties, availability")
    _add_db(p)
    _add_lookup(p)
    p.add_argument("--month", metavar="YYYY-MM", help="a calendar month (default: the current one)")
    p.add_argument("--from", dest="from_date", metavar="YYYY-MM-DD", help="first day (with --to)")
    p.add_argument("--to", dest="to_date", metavar="YYYY-MM-DD", help="last day, inclusive (with --from)")
    p.add_argument("--agreement", metavar="ID", help="only this agreement")
    p.add_argument(
        "--by",
        choices=("agreement", "priority", "operator"),
        default="priority",
        help="rows per agreement and clock, plus priority (default) or assignee",
    )


def _add_override_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]  # argparse's private generic, not subscriptable at run time
    """`override`, `overrides`, `review`, `init`, `lead` (docs/overrides.md, docs/roles.md)."""
    from sladesk_tui.core.overrides import KINDS, REASONS, STATUSES

    p = sub.add_parser("override", help="override a ticket's clock, with a reason and a justification")
    _add_db(p)
    p.add_argument("ticket")
    p.add_argument("kind", choices=KINDS)
    p.add_argument(
        "--clock",
        choices=("response", "update", "resolution", "all"),
        help="the clock it touches (hold, extend, exempt; default: all)",
    )
    p.add_argument(
        "--until",
        metavar="INSTANT",
        help="hold: when the hold ends (ISO 8601 with offset, or +DURATION from now)",
    )
    p.add_argument(
        "--by", metavar="DURATION", help="extend: business time added to the target (e.g. 2h, 1h30m)"
    )
    p.add_argument(
        "--at",
        metavar="INSTANT",
        help="responded: when the response was given (ISO 8601 with offset, or --at=-20m; default: now)",
    )
    p.add_argument("--to", metavar="PRIORITY", help="reprioritize: the new priority")
    p.add_argument(
        "--ahead-of", metavar="TICKET", help="out_of_order: the more urgent ticket this one went ahead of"
    )
    p.add_argument("--reason", required=True, choices=REASONS)
    p.add_argument(
        "--justification",
        required=True,
        metavar="TEXT",
        help="why the normal rule does not fit (at least 15 non-blank characters)",
    )

    p = sub.add_parser("overrides", help="list the override log, or per-operator figures with --stats")
    _add_db(p)
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--operator", dest="by_operator", metavar="USER")
    p.add_argument("--kind", choices=KINDS)
    p.add_argument("--reason", choices=REASONS)
    p.add_argument("--agreement", metavar="ID")
    p.add_argument("--ticket", metavar="ID")
    p.add_argument("--since", metavar="INSTANT", help="made at or after (ISO 8601 instant or UTC date)")
    p.add_argument("--until", metavar="INSTANT", help="made before (ISO 8601 instant or UTC date)")
    p.add_argument(
        "--search",
        metavar="TEXT",
        help="words found in the justification, a review comment, or the ticket's title or customer",
    )
    p.add_argument("--stats", action="store_true", help="per-operator figures instead of the list")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")

    p = sub.add_parser("review", help="approve or reject an override (team leads)")
    _add_db(p)
    p.add_argument("id", type=int, metavar="ID")
    p.add_argument("decision", choices=("approve", "reject"))
    p.add_argument("--comment", metavar="TEXT", help="required to reject")

    p = sub.add_parser("init", help="create the database; --admin and --lead name the first admin and lead")
    _add_db(p)
    p.add_argument("--admin", metavar="USER", help="the first admin (only while there is none)")
    p.add_argument("--lead", metavar="USER", help="the first team lead (only while there is none)")

    p = sub.add_parser("lead", help="grant, revoke or list the team lead role")
    _add_db(p)
    lsub = p.add_subparsers(dest="lead_command", metavar="ACTION", parser_class=_Parser, required=True)
    for action, text in (
        ("grant", "make USER a team lead (leads only)"),
        ("revoke", "take the role from USER (leads only)"),
    ):
        lp = lsub.add_parser(action, help=text)
        _add_db(lp)
        lp.add_argument("user", metavar="USER")
    lp = lsub.add_parser("list", help="the current team leads")
    _add_db(lp)


def _db_path(args: argparse.Namespace) -> str:
    from sladesk_tui.store.location import default_db_path

    return getattr(args, "db", None) or os.environ.get("SLADESK_DB") or str(default_db_path())


@contextmanager
def database(
    args: argparse.Namespace, *, readonly: bool = False, create: bool = False
) -> Iterator[Connection]:
    """The command's database, closed however the command ends.

    `readonly` is for lookups: it never migrates a file. A missing file is an error
    naming the path and `sladesk init`, unless `create` (init alone): a mistyped path
    must not become an empty desk (docs/database.md). Otherwise the file is migrated
    as needed. Errors need no handling here: `main` turns bad input and database
    errors into one line.
    """
    from sladesk_tui.store.db import connect, open_db

    path = _db_path(args)
    conn = connect(path, readonly=True) if readonly else open_db(path, create=create)
    try:
        yield conn
    finally:
        conn.close()


def answer(
    fmt: str,
    *,
    json: Callable[[], Any],
    csv: Callable[[], str],
    table: Callable[[Style, int], str],
) -> None:
    """Print a lookup's answer in the `--format` asked: one JSON document, CSV, or a
    table fitted to the terminal's width (styled only on a terminal). Each form is
    built only when asked for."""
    from sladesk_tui import output

    if fmt == "json":
        _emit(output.dump_json(json()) + "\n")
    elif fmt == "csv":
        _emit(csv())
    else:
        _emit(table(output.Style.for_stream(sys.stdout), output.table_width(sys.stdout)))


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
    """Who acts: on PostgreSQL the role the server authenticated, else the login user
    (`store.identity.operator`; tests inject `args.operator` on SQLite)."""
    from sladesk_tui.store.backend import is_postgres
    from sladesk_tui.store.identity import database_user, login_user

    target = _db_path(args)
    if is_postgres(target):
        return database_user(target)
    return args.operator or login_user()


@command("load")
def _load(args: argparse.Namespace) -> int:
    from sladesk_tui.core.text import safe_text
    from sladesk_tui.store.agreements import load_agreements_file

    _require(args, "admin")
    with database(args) as conn:
        loaded = load_agreements_file(conn, args.file, actor=_operator(args))
    for warning in loaded.warnings:
        print(f"sladesk: warning: {safe_text(args.file)}: {warning}", file=sys.stderr)
    if loaded.unchanged:
        print(f"unchanged: version {loaded.version} is this file ({counted(loaded.agreements, 'agreement')})")
    else:
        print(f"loaded version {loaded.version}: {counted(loaded.agreements, 'agreement')}")
    return 0


@command("audit")
def _audit(args: argparse.Namespace) -> int:
    from sladesk_tui.store import audit

    anchor = audit.parse_head(args.head) if getattr(args, "head", None) else None
    with database(args, readonly=True) as conn:
        if args.audit_command == "head":
            print(audit.format_head(audit.head(conn)))
            return 0
        result = audit.verify(conn, anchor)
        if not result.ok:
            print(f"sladesk: audit chain BROKEN: {result.reason}", file=sys.stderr)
            return 1
        print(f"audit chain ok: {result.rows} rows, head {audit.format_head(result.head)}")
        return 0 if args.chain_only else _check_outcomes(conn)


def _check_outcomes(conn: Connection) -> int:
    """The stored outcomes and their rollup against the record (docs/postgresql.md)."""
    from sladesk_tui.store.db import snapshot
    from sladesk_tui.store.instants import now_ts
    from sladesk_tui.store.outcomes import check_outcomes

    started = time.perf_counter()
    with snapshot(conn):
        found = check_outcomes(conn, now_ts())
    if found.problem is not None:
        print(f"sladesk: stored outcomes differ from the record: {found.problem}", file=sys.stderr)
        return 1
    took = time.perf_counter() - started
    print(
        f"outcomes ok: {found.rows} rows of {found.tickets} tickets recomputed from the record in {took:.1f} s"
    )
    return 0


@command("import")
def _import(args: argparse.Namespace) -> int:
    from sladesk_tui.store.imports import ImportRejected, import_file

    _require(args, "feed")
    if args.follow:
        return _follow(args)
    shown = 20
    try:
        report = import_file(
            _db_path(args),
            args.file,
            fmt=args.input_format,
            skip_invalid=args.skip_invalid,
            actor=_operator(args),
            require="feed",
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
        print(f"sladesk: skipped {counted(len(report.skipped_invalid), 'bad line')}", file=sys.stderr)
    print(report.summary())
    return 3 if report.skipped_invalid else 0  # scripts can tell lines were left out


def _require(args: argparse.Namespace, role: str) -> None:
    """Refuse an operator without `role` before anything is read or written.

    A missing database is refused rather than created: nobody holds a role in it.
    """
    from sladesk_tui.store.roles import require_role

    with database(args) as conn:  # a missing database is refused there, never created
        require_role(conn, _operator(args), role)


def _follow(args: argparse.Namespace) -> int:
    """A live feed must not stop: bad lines are always reported and skipped here.

    SIGTERM (what a service manager sends) and SIGINT stop it the same clean way, after
    the batch being written, as they stop the receiver and the notifier: handled here
    rather than left to Python, because a process started in the background by a
    non-interactive shell inherits SIGINT *ignored*, and Python keeps it so
    (docs/deployment.md, "Feeding the queue").
    """
    import signal
    import threading

    from sladesk_tui.store.follow import follow
    from sladesk_tui.store.imports import ImportReport, IngestResult

    if args.file == "-":
        raise InputError("--follow needs a file to tail, not stdin")

    def batch_done(result: IngestResult) -> None:
        print(ImportReport(args.file, result.inserted, result.already_present).summary(), flush=True)

    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda _sig, _frame: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        follow(
            _db_path(args),
            args.file,
            actor=_operator(args),
            fmt=args.input_format,
            stop=stop,
            on_batch=batch_done,
            require="feed",
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


@command("app")
def _app(args: argparse.Namespace) -> int:
    """`sladesk` with no subcommand: the live queue on the default (or given) database."""
    from sladesk_tui.tui.app import run_app

    return run_app(_db_path(args), _operator(args))


@command("demo")
def _demo(args: argparse.Namespace) -> int:
    """Write a fresh demo database (never over a file the demo did not make), then open it.

    It goes to its own file: `demo --db PATH`, else `demo.db` beside the default
    database; never to $SLADESK_DB or a `--db` given before the command, which name a
    team's database (docs/database.md). The path is printed on stdout for scripts.
    """
    from sladesk_tui.store.demo import build_demo
    from sladesk_tui.store.instants import now_ts
    from sladesk_tui.store.location import demo_db_path

    if getattr(args, "db", None):
        raise InputError(
            "demo: writes its own file, never the database of --db before the command;"
            " to put the demo elsewhere: sladesk demo --db PATH"
        )
    path = args.demo_db or str(demo_db_path())
    operator = _operator(args)
    s = build_demo(path, now=now_ts(), seed=args.seed, operator=operator)
    pending = s.overrides.get("pending", 0)
    print(
        f"sladesk: demo: {s.open_tickets} open and {s.resolved_tickets} resolved tickets, {s.events} events,"
        f" {sum(s.overrides.values())} overrides ({pending} pending review) in {s.seconds:.1f} s",
        file=sys.stderr,
    )
    print(s.path)
    if args.no_tui:
        return 0
    from sladesk_tui.tui.app import run_app

    return run_app(s.path, operator)


# ---- overrides, reviews and leads (docs/overrides.md, docs/roles.md) -----------------


def _when(text: str, now: float, flag: str) -> float:
    from sladesk_tui.core.override_rules import parse_when

    try:
        return parse_when(text, now)
    except InputError as exc:
        raise InputError(f"{flag}: {exc}") from None


@command("override")
def _override(args: argparse.Namespace) -> int:
    from sladesk_tui.core.durations import parse_duration
    from sladesk_tui.core.override_effects import figure_text
    from sladesk_tui.core.overrides import Override
    from sladesk_tui.store.instants import now_ts
    from sladesk_tui.store.overrides import place_override

    now = now_ts()
    try:
        by_s = None if args.by is None else parse_duration(args.by)
    except ValueError as exc:
        raise InputError(f"--by: {exc}") from None
    candidate = Override(
        id=0,
        ticket=args.ticket,
        kind=args.kind,
        at=now,
        operator=_operator(args),
        reason=args.reason,
        justification=args.justification,
        clock=None if args.clock in (None, "all") else args.clock,
        until=None if args.until is None else _when(args.until, now, "--until"),
        by_s=by_s,
        responded_at=None if args.at is None else _when(args.at, now, "--at"),
        to_priority=args.to,
        ahead_of=args.ahead_of,
    )
    with database(args) as conn:
        placed = place_override(conn, candidate, now=now)
    print(
        f"override {placed.id} recorded on {placed.override.ticket}: {placed.override.kind}, pending review"
    )
    for name, before in placed.before.items():
        after = placed.after.get(name, before)
        if after != before:
            print(f"  {name}: {figure_text(before)} -> {figure_text(after)}")
    return 0


@command("overrides")
def _overrides(args: argparse.Namespace) -> int:
    from sladesk_tui import output
    from sladesk_tui.core.override_log import LogFilter, entry_dict, operator_stats
    from sladesk_tui.store.instants import now_ts
    from sladesk_tui.store.overrides import load_log
    from sladesk_tui.store.queries import require_known

    now = now_ts()
    filt = LogFilter(
        status=args.status,
        operator=args.by_operator,
        kind=args.kind,
        reason=args.reason,
        agreement=args.agreement,
        ticket=args.ticket,
        since=None if args.since is None else _when(args.since, now, "--since"),
        until=None if args.until is None else _when(args.until, now, "--until"),
    )
    local: dict[str, int] = {}
    with database(args, readonly=True) as conn:
        require_known(conn, agreement=args.agreement, operator=args.by_operator, ticket=args.ticket)
        entries = load_log(conn, filt, effects=args.stats, now=now, search=args.search)
        if args.stats and not (args.status or args.kind or args.reason or args.agreement or args.search):
            # Clocks moved by hand in the app, beside the overrides (docs/roles.md); the
            # filters that only overrides have leave them out.
            from sladesk_tui.store.queries import local_action_counts

            local = local_action_counts(
                conn, operator=filt.operator, ticket=filt.ticket, since=filt.since, until=filt.until
            )
    if args.stats:
        stats = operator_stats(entries, local)
        answer(
            args.format,
            json=lambda: [s.as_dict() for s in stats],
            csv=lambda: output.stats_csv(stats),
            table=lambda _style, width: output.stats_table(stats, width=width),
        )
        return 0
    answer(
        args.format,
        json=lambda: [entry_dict(e) for e in entries],
        csv=lambda: output.overrides_csv(entries),
        table=lambda _style, width: output.overrides_table(entries, now=now, width=width),
    )
    return 0


@command("review")
def _review(args: argparse.Namespace) -> int:
    from sladesk_tui.core.override_rules import DECISIONS
    from sladesk_tui.store.overrides import review_override

    reviewer = _operator(args)
    with database(args) as conn:
        review_override(conn, args.id, args.decision, reviewer=reviewer, comment=args.comment)
    print(f"override {args.id} {DECISIONS[args.decision]} by {reviewer}")
    return 0


@command("init")
def _init(args: argparse.Namespace) -> int:
    from sladesk_tui.store.roles import name_first

    named = [(role, user) for role, user in (("admin", args.admin), ("lead", args.lead)) if user is not None]
    with database(args, create=True) as conn:  # the one command that makes a team database
        for role, user in named:
            name_first(conn, role, user, actor=_operator(args))
    titles = {"admin": "admin", "lead": "team lead"}
    from sladesk_tui.store.backend import redacted

    print(
        f"database ready: {redacted(_db_path(args))}"
        + "".join(f"; {u} is the first {titles[r]}" for r, u in named)
    )
    return 0


@command("lead")
def _lead(args: argparse.Namespace) -> int:
    from sladesk_tui.store.roles import grant_lead, leads, revoke_lead

    with database(args) as conn:
        if args.lead_command == "list":
            for user in leads(conn):
                print(user)
            return 0
        change = grant_lead if args.lead_command == "grant" else revoke_lead
        change(conn, args.user, actor=_operator(args))
    done = "is now a team lead" if args.lead_command == "grant" else "is no longer a team lead"
    print(f"{args.user} {done}")
    return 0


# ---- lookups: queue, ticket, report (README, "Compliance lookups") --------------------
# Read-only connections, one short snapshot each, no Textual: answers over SSH in a blink.


def _lookup_at(args: argparse.Namespace) -> float | None:
    """`--at` in the one syntax of typed instants (`now`, `-1h`, ISO 8601, a UTC date)."""
    if args.at is None:
        return None
    from sladesk_tui.store.instants import now_ts

    return _when(args.at, now_ts(), "--at")


def _emit(text: str) -> None:
    """Write the answer; a reader that went away (`| head`) is not an error worth a traceback."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@command("queue")
def _queue(args: argparse.Namespace) -> int:
    from sladesk_tui import output
    from sladesk_tui.core.queue import QueueFilter, lookup_items
    from sladesk_tui.store.instants import now_ts
    from sladesk_tui.store.queries import evaluate_open_tickets, require_known

    at = _lookup_at(args)
    now = now_ts() if at is None else at
    with database(args, readonly=True) as conn:
        require_known(conn, agreement=args.agreement, priority=args.priority)
        evaluated = evaluate_open_tickets(conn, now, at=at)
    wanted = QueueFilter(
        mine=_operator(args) if args.mine else None,
        urgent_only=args.at_risk,
        agreement=args.agreement,
        priority=args.priority,
        breached_only=args.breached,
    )
    items = lookup_items(evaluated, now, wanted)
    answer(
        args.format,
        json=lambda: output.queue_json(items, now),
        csv=lambda: output.queue_csv(items, now),
        table=lambda style, width: output.queue_table(items, now, style=style, width=width, as_of=at),
    )
    failing = {"at-risk": ("at_risk", "breached"), "breached": ("breached",)}.get(args.fail_on or "", ())
    return 1 if any(row.state_at(now) in failing for row, _rec, _tc in items) else 0


@command("ticket")
def _ticket(args: argparse.Namespace) -> int:
    from sladesk_tui import output
    from sladesk_tui.core.evaluate import evaluate
    from sladesk_tui.store.instants import now_ts
    from sladesk_tui.store.queries import agreements_for_versions, load_ticket

    at = _lookup_at(args)
    now = now_ts() if at is None else at
    with database(args, readonly=True) as conn:
        record = load_ticket(conn, args.id, at=at)
        if record is None:
            raise InputError(f"no ticket {args.id!r}" + (f" as of {args.at}" if at is not None else ""))
        books = agreements_for_versions(conn, [record.agreement_version])
    tc = evaluate(record, books, now, explain=True)
    answer(
        args.format,
        json=lambda: output.ticket_json(record, tc, as_of=at),
        csv=lambda: output.ticket_csv(record, tc),
        table=lambda style, width: output.ticket_table(record, tc, now, style=style, width=width, as_of=at),
    )
    return 0


@command("report")
def _report(args: argparse.Namespace) -> int:
    from sladesk_tui import output
    from sladesk_tui.core.report import Period
    from sladesk_tui.store.instants import now_ts
    from sladesk_tui.store.reports import compliance_report

    at = _lookup_at(args)
    now = now_ts() if at is None else at
    if args.month and (args.from_date or args.to_date):
        raise InputError("give either --month or --from/--to, not both")
    if bool(args.from_date) != bool(args.to_date):
        raise InputError("--from and --to go together")
    if args.month:
        period = Period.month(args.month)
    elif args.from_date:
        period = Period.dates(args.from_date, args.to_date)
    else:
        period = Period.containing(now)
    with database(args, readonly=True) as conn:
        report = compliance_report(conn, period, now, at=at, agreement=args.agreement, by=args.by)
    answer(
        args.format,
        json=lambda: output.report_json(report),
        csv=lambda: output.report_csv(report),
        table=lambda style, width: output.report_table(report, style=style, width=width),
    )
    return 0


def _check_text(argv: Sequence[str]) -> None:
    """Bytes that are not UTF-8 reach argv as lone surrogates, which no digest, database
    or terminal takes: refuse them here, once, for every command."""
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise InputError(f"argument '{shown}' is not valid UTF-8 text") from None


def main(argv: Sequence[str] | None = None, *, operator: str | None = None) -> int:
    """Entry point. `operator` lets tests inject the acting user below the command line."""
    parser = build_parser()
    try:
        _check_text(sys.argv[1:] if argv is None else argv)
        args = parser.parse_args(argv)
        args.operator = operator
        if args.command is None:
            args.command = "app"
        return HANDLERS[args.command](args)
    except InputError as exc:
        print(f"sladesk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except sqlite3.DatabaseError as exc:
        # Not bad input, so not 2: the file is busy (a long import holds the write
        # lock past the busy timeout), read-only, full, or damaged ("database disk
        # image is malformed"). One line, no traceback.
        from sladesk_tui.store.db import describe_error

        print(f"sladesk: {describe_error(exc, _db_path(args))}", file=sys.stderr)
        return 1


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
