"""What many test modules share: the plain 24x7 agreement and a database with agreements loaded.

Agreements always go in through `load_agreements_file`, as `sladesk load` puts them
in, so every test database holds a real, audited agreement version. Modules whose
figures depend on other terms keep their own text beside their assertions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sladesk_tui.store.agreements import Loaded, load_agreements_file
from sladesk_tui.store.db import open_db

# Round the clock, no validity limits, P1 15m/4h and P2 1h/8h: any instant is covered,
# so override rules and clocks reduce to arithmetic on the ticket's own history.
GOLD_24X7 = """
[[agreement]]
id = "gold"
customer = "acme"
calendar = "24x7"
[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
"""


def load_text(
    conn: sqlite3.Connection, toml: Path, text: str, *, actor: str, source: str | None = None
) -> Loaded:
    """Write `text` to the file `toml` and load it on `conn` as `actor`."""
    toml.write_text(text, encoding="utf-8")
    return load_agreements_file(conn, toml, actor=actor, source=source)


@contextmanager
def agreements_db(
    path: Path, text: str, *, actor: str, toml: Path | None = None, source: str | None = None
) -> Iterator[sqlite3.Connection]:
    """A new database at `path` with `text` loaded (from `toml`, beside it by default); closed on exit."""
    conn = open_db(path, create=True)
    try:
        load_text(conn, toml or path.with_suffix(".toml"), text, actor=actor, source=source)
        yield conn
    finally:
        conn.close()


def fresh_db(
    path: Path, text: str, *, actor: str, toml: Path | None = None, source: str | None = None
) -> Path:
    """`agreements_db`, closed at once: a file that other connections then open."""
    with agreements_db(path, text, actor=actor, toml=toml, source=source):
        return path


SETUP_ADMIN = "test-admin"


def give_roles(path: Path, role: str, *users: str, named: bool = False) -> None:
    """Grant `role` to `users` in the database at `path` (created if missing), as the
    tests' own admin: `load` needs admin and `import` needs feed (docs/roles.md).
    On PostgreSQL every name is the connected role's (`backends.person`), unless
    `named` (a test calling the store with that name itself)."""
    from backends import person

    from sladesk_tui.store.roles import grant_role, has_role, holders, name_first

    if not named:
        users = tuple(person(path, u) for u in users)

    conn = open_db(path, create=True)
    try:
        admins = holders(conn, "admin")
        if not admins:
            name_first(conn, "admin", SETUP_ADMIN, actor=SETUP_ADMIN)
            admins = [SETUP_ADMIN]
        for user in users:
            if not has_role(conn, user, role):
                grant_role(conn, role, user, actor=admins[0])
    finally:
        conn.close()
