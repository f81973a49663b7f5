"""Reading a test database the same way on both backends (tests/conftest.py `backend`).

The store's own `connect` serves a file path and a PostgreSQL URL alike; these
helpers give tests plain tuples and a whole-content dump to compare before/after.
"""

from __future__ import annotations

import os
from typing import Any

from sladesk_tui.store.backend import Connection, dialect, is_postgres
from sladesk_tui.store.db import connect


def rows(target: str | os.PathLike[str], sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
    """The rows of `sql` as plain tuples, on a connection of its own."""
    conn = connect(target)
    try:
        return [tuple(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def tables(conn: Connection) -> list[str]:
    """The tables of the sladesk schema (SQLite's FTS shadow tables included)."""
    if dialect(conn).name == "postgresql":
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
    return [r[0] for r in conn.execute(sql)]


def dump_conn(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a fixed order: 'nothing was written' means this is equal."""
    out = {}
    for table in tables(conn):
        if table == "sqlite_sequence" or (dialect(conn).name == "sqlite" and "_fts" in table):
            continue  # SQLite's bookkeeping, derived from the tables themselves
        out[table] = sorted((tuple(r) for r in conn.execute(f"SELECT * FROM {table}")), key=repr)
    return out


def dump(target: str | os.PathLike[str]) -> dict[str, list[tuple[Any, ...]]]:
    """`dump_conn` on a connection of its own."""
    conn = connect(target)
    try:
        return dump_conn(conn)
    finally:
        conn.close()


def person(target: str | os.PathLike[str], name: str) -> str:
    """The name the database records for a test's user `name`: on SQLite `name` itself
    (the tests inject it below the command line); on PostgreSQL the role the test is
    connected as, whatever it claims (`store.identity.operator`)."""
    if not is_postgres(target):
        return name
    from sladesk_tui.store.identity import database_user

    return database_user(str(target))
