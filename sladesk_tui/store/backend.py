"""Which database engine a target names, and what the store asks of a connection.

One place decides (docs/postgresql.md): a ``postgresql://`` or ``postgres://`` URL
is a PostgreSQL database, anything else a path to a SQLite file. The rest of the
store talks to either through the small `Connection` interface below (the part of
`sqlite3.Connection` it uses; `store.pg.PgConnection` provides the same), and what
differs between the engines lives in one `Dialect` object per engine, found with
`dialect(conn)`, never in ``if postgres:`` branches spread through the store.

psycopg is imported only by `store.pg`, and only when a PostgreSQL target is
opened: a lookup on a SQLite file over SSH does not pay for it.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sladesk_tui.store.pg import PgConnection

PG_SCHEMES = ("postgresql://", "postgres://")

Target = str | os.PathLike[str]


def is_postgres(target: object) -> bool:
    """Whether `target` (a ``--db`` value or ``$SLADESK_DB``) names a PostgreSQL database."""
    return isinstance(target, str) and target.strip().lower().startswith(PG_SCHEMES)


# Up to the LAST "@" before the path: a password may hold an unencoded "@".
_PASSWORD = re.compile(r"^(?P<head>[a-z][a-z0-9+.-]*://[^/@:]*):[^/]*@", re.I)
_PASSWORD_PARAM = re.compile(r"(?P<key>[?&](?:ssl)?password=)[^&]*", re.I)


def redacted(url: str) -> str:
    """The URL as it may be shown in a message or log: without its password."""
    return _PASSWORD_PARAM.sub(r"\g<key>***", _PASSWORD.sub(r"\g<head>:***@", url))


class Cursor(Protocol):
    """What the store uses of a cursor (`sqlite3.Cursor` and `store.pg.PgCursor`).

    ``row_factory = None`` makes it return plain tuples (cheap to unpack in hot loops).
    """

    row_factory: Any

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    @property
    def lastrowid(self) -> int | None: ...

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ..., /) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the store uses of a connection, on either engine (docs/postgresql.md).

    Rows are read by index like a tuple, or by column name (`sqlite3.Row` and
    `store.pg.PgRow`). SQL is written with SQLite's ``?`` and ``:name`` placeholders;
    the PostgreSQL adapter translates them.
    """

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...

    def cursor(self) -> Cursor: ...

    def close(self) -> None: ...


class Dialect:
    """What differs between the engines, one method per concern; this is SQLite's.

    `store.pg.PG_DIALECT` is PostgreSQL's. Code that needs one of these asks
    `dialect(conn)` instead of testing the engine itself.
    """

    name = "sqlite"

    def data_version(self, conn: Connection) -> int | None:
        """A number that moves when another connection commits (the screens' poll)."""
        return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def columns(self, conn: Connection, table: str) -> list[str]:
        """A table's columns in their declared order."""
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]

    def has_table(self, conn: Connection, table: str) -> bool:
        row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        return row.fetchone() is not None

    def operator(self, conn: Connection, claimed: str) -> str:
        """The name recorded as the acting operator: on SQLite the OS login (`claimed`)."""
        return claimed

    def recorded_at(self, conn: Connection) -> str:
        """The instant a write records as `recorded_at` (`store.instants.iso_utc`'s
        spelling). SQLite: this host's clock. PostgreSQL: the server's, which its trigger
        writes on a person's app events whatever the client sends (docs/postgresql.md),
        so the audit row's digest covers what is stored."""
        from sladesk_tui.store.instants import iso_utc, now_ts

        return iso_utc(now_ts())

    def streaming_cursor(self, conn: Connection) -> Cursor:
        """A cursor that reads a large result in chunks (`fetchmany`) without holding it
        whole; inside a transaction. SQLite's cursors already step through the rows."""
        return conn.cursor()

    def service_lock(self, conn: Connection, name: str) -> bool | None:
        """Claim `name` (a service that must run once per database) for as long as `conn`
        stays open: True, or False when another connection holds it. None on SQLite: the
        caller locks a file beside the database instead (docs/alerts.md)."""
        return None

    def description(self, conn: Connection) -> str:
        """Where the connection points, for messages: the database file."""
        return str(conn.execute("PRAGMA database_list").fetchone()[2])


SQLITE = Dialect()


def dialect(conn: Connection | sqlite3.Connection | PgConnection) -> Dialect:
    """The engine-specific operations for `conn`."""
    found = getattr(conn, "dialect", None)
    return found if isinstance(found, Dialect) else SQLITE
