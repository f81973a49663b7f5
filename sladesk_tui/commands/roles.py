"""`sladesk role grant|revoke|list`: the admin, feed and lead roles (docs/roles.md).

`sladesk lead ...` (in cli.py) stays as the lead role's own spelling.
"""

from __future__ import annotations

import argparse

from sladesk_tui import cli
from sladesk_tui.core.roles import ROLES


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]  # argparse's private type
    p = sub.add_parser("role", help="grant, revoke or list the admin, feed and lead roles")
    cli._add_db(p)
    rsub = p.add_subparsers(dest="role_command", metavar="ACTION", parser_class=type(p), required=True)
    for action, text in (
        ("grant", "give USER the role (admins grant admin and feed, leads grant lead)"),
        ("revoke", "take the role from USER (never from the last admin or lead)"),
    ):
        rp = rsub.add_parser(action, help=text)
        cli._add_db(rp)
        rp.add_argument("role", choices=ROLES, metavar="ROLE", help=f"one of {', '.join(ROLES)}")
        rp.add_argument("user", metavar="USER")
    rp = rsub.add_parser("list", help="who holds each role (or ROLE) now; everyone else is an agent")
    cli._add_db(rp)
    rp.add_argument("role", nargs="?", choices=ROLES, metavar="ROLE", help=f"one of {', '.join(ROLES)}")


@cli.command("role")
def _role(args: argparse.Namespace) -> int:
    from sladesk_tui.store.roles import grant_role, holders, revoke_role

    with cli.database(args) as conn:
        if args.role_command == "list":
            for role in [args.role] if args.role else ROLES:
                for user in holders(conn, role):
                    print(f"{role}\t{user}")
            return 0
        change = grant_role if args.role_command == "grant" else revoke_role
        change(conn, args.role, args.user, actor=cli._operator(args))
    done = "now holds" if args.role_command == "grant" else "no longer holds"
    print(f"{args.user} {done} the {args.role} role")
    return 0
