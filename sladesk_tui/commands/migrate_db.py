"""`sladesk migrate-db --to postgresql://...`: move a desk from its SQLite file to
PostgreSQL, whole history, one transaction (docs/postgresql.md, "Moving a desk")."""

from __future__ import annotations

import argparse

from sladesk_tui import cli


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]  # argparse's private type
    p = sub.add_parser(
        "migrate-db",
        help="copy this SQLite database's whole history into an empty PostgreSQL database",
        description=(
            "Copies every record of the SQLite database (--db) into the empty PostgreSQL database"
            " --to names, in one transaction, ids and audit chain kept. Connect as the role that"
            " owns (or will own) the sladesk schema there: only it may record the names of the"
            " people in the copied history (docs/postgresql.md)."
        ),
    )
    cli._add_db(p)
    p.add_argument("--to", required=True, metavar="URL", help="the PostgreSQL database (postgresql://...)")


@cli.command("migrate-db")
def _migrate_db(args: argparse.Namespace) -> int:
    from sladesk_tui.store.backend import redacted
    from sladesk_tui.store.migrate_db import migrate_db

    copied = migrate_db(cli._db_path(args), args.to)
    for table, n in copied.tables:
        print(f"{table}\t{n}")
    print(
        f"copied {copied.rows} rows ({copied.audit_rows} audit rows, chain verified) to {redacted(args.to)}"
        f" in {copied.seconds:.1f} s"
    )
    return 0
