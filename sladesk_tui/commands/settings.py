"""`sladesk setting list|set`: desk settings an admin changes, audited (docs/roles.md)."""

from __future__ import annotations

import argparse

from sladesk_tui import cli
from sladesk_tui.core.settings import SETTINGS


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]  # argparse's private type
    p = sub.add_parser("setting", help="list desk settings, or change one (admins)")
    cli._add_db(p)
    ssub = p.add_subparsers(dest="setting_command", metavar="ACTION", parser_class=type(p), required=True)
    sp = ssub.add_parser("list", help="every setting, its value and what it governs")
    cli._add_db(sp)
    sp = ssub.add_parser("set", help="change a setting (admins only; audited)")
    cli._add_db(sp)
    sp.add_argument("key", choices=list(SETTINGS), metavar="KEY", help=f"one of {', '.join(SETTINGS)}")
    sp.add_argument("value", metavar="VALUE")


@cli.command("setting")
def _setting(args: argparse.Namespace) -> int:
    from sladesk_tui.store.settings import change_setting, settings

    with cli.database(args) as conn:
        if args.setting_command == "list":
            for key, value in settings(conn).items():
                s = SETTINGS[key]
                print(f"{key}\t{value}\t({'/'.join(s.values)}, default {s.default}): {s.help}")
            return 0
        changed = change_setting(conn, args.key, args.value, actor=cli._operator(args))
    print(f"{args.key} is {args.value}" + ("" if changed else " already; nothing changed"))
    return 0
