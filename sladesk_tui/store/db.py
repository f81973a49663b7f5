"""Connections, transactions and migrations of the one SQLite file.

Many operators on one host write the same file at once (docs/storage.md, "Many
writers"), so every connection is configured the same way here and nowhere else:

- ``isolation_level=None``: Python never opens a transaction behind our back; every
  write goes through `write_tx`, which takes the write lock up front with
  ``BEGIN IMMEDIATE``. A deferred ``BEGIN`` that later upgrades to a writer fails
  with "database is locked" without calling the busy handler; an implicit one loses
  read-modify-write updates.
- WAL, so readers never block the writer nor the writer the readers.
- ``synchronous=FULL`` on every writable connection, always: every write appends
  an audit row in the same transaction, so every commit is audit-relevant and must
  survive a power cut. (A per-transaction switch would only ever be set to FULL.)
- ``foreign_keys`` and ``recursive_triggers`` ON: the latter makes ``INSERT OR
  REPLACE`` fire the append-only tables' delete triggers, so it is refused.
- Rows are `sqlite3.Row`: by index like a tuple (cheap, unpack in hot loops) or by
  column name where that reads better.

Migrations are the numbered files ``NNNN_name.sql``: in the wheel they are packaged
as ``sladesk_tui/_schema`` (pyproject force-include), in a checkout they are the
repository's ``schema/``. Each is applied in its own ``BEGIN IMMEDIATE`` transaction
and recorded in ``schema_migrations`` and ``PRAGMA user_version``; the version is
re-read under the lock, so two processes opening a new file at once apply each
migration exactly once.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sladesk_tui.core.canonical import sha256_hex
from sladesk_tui.core.errors import InputError
from sladesk_tui.store.instants import iso_utc, now_ts

BUSY_TIMEOUT_S = 10.0
_WAL_RETRY_S = 0.01

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def connect(path: str | os.PathLike[str], *, readonly: bool = False) -> sqlite3.Connection:
    """Open a connection configured for many writers; never migrates.

    A writable connection creates a missing file itself (mode 0666 less the umask),
    because SQLite would create it 0644 whatever the umask, and the ``-wal``/``-shm``
    files inherit the database file's mode: a team database in a group directory
    with ``umask 002`` must come out group-writable (docs/deployment.md).

    ``readonly`` opens ``file:PATH?mode=ro``: any write fails; a missing file, or
    one without the sladesk schema, is an `InputError` rather than a new empty
    database. Unusable files (not SQLite, unreadable) are `InputError` either way.
    """
    p = Path(path)
    exists = database_exists(p)
    if readonly:
        if not exists:
            raise InputError(f"{p}: no such database")
        uri = f"{p.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    else:
        if not exists:
            try:
                os.close(os.open(p, os.O_RDWR | os.O_CREAT, 0o666))
            except OSError as exc:
                raise InputError(f"{p}: cannot create the database: {exc.strerror}") from None
        conn = sqlite3.connect(p, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA recursive_triggers = ON")
        if not readonly:
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous = FULL")
        elif schema_version(conn) == 0:  # also the first read: a file we cannot open fails here
            raise sqlite3.DatabaseError("no sladesk schema in it")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise InputError(f"{p}: not a usable sladesk database: {exc}") from None
    return conn


_SIDE_FILES = ("-wal", "-shm", "-journal")


def database_exists(path: str | os.PathLike[str]) -> bool:
    """Whether the database file is there, refusing (`InputError`) paths that would do harm.

    The one home of this rule (docs/deployment.md): SQLite's own side files
    (`team.db-wal`) look like paths to a database, and opening one as a database
    writes a whole new database into the live WAL or leaves a stray journal that
    breaks every read-only lookup. The check is on the *resolved* path, so a
    symlink (`~/w.db -> /srv/sladesk/team.db-wal`) or `..` does not hide the name;
    a path that resolves to anything but a regular file (a directory, a device, a
    FIFO) is refused too. A folder the user may not enter is an error to name, not
    a traceback.
    """
    p = Path(path)
    try:
        real = p.resolve()
        if real.name.endswith(_SIDE_FILES) or p.name.endswith(_SIDE_FILES):
            raise InputError(
                f"{p}: is one of SQLite's side files, not a database; give the database file itself"
            )
        st = real.stat()
    except FileNotFoundError:
        return False
    except RuntimeError:  # a symlink loop
        raise InputError(f"{p}: cannot reach the database: symbolic link loop") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot reach the database: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{p}: is not a regular file, not a database")
    return True


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch a new file to WAL (a no-op once it is: the mode is stored in the file).

    The switch takes an exclusive lock and SQLite does not call the busy handler for
    it: processes opening a new file at once get "database is locked" at once
    (measured: 9 of 240 openers in 30 races of 8). So it is retried here, for about
    the busy timeout, as the handler would have waited.
    """
    for _ in range(int(BUSY_TIMEOUT_S / _WAL_RETRY_S)):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(_WAL_RETRY_S)
    conn.execute("PRAGMA journal_mode = WAL")


def open_db(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A writable connection to an up-to-date database, created (with its directory) if missing."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{p.parent}: cannot create the directory: {exc.strerror}") from None
    conn = connect(p)
    try:
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def write_tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any exception.

    Every write of the program, including read-then-write, runs inside one of these,
    together with its audit row (`sladesk_tui.store.audit.append_audit`).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextmanager
def read_tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One consistent snapshot for several reads. Keep it short: an open snapshot pins the WAL."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """The caller's transaction when one is open (a writer reading what it is about to
    change, or a reader combining several reads), else a short `read_tx` of our own."""
    if conn.in_transaction:
        yield conn
        return
    with read_tx(conn):
        yield conn


# ---- migrations -------------------------------------------------------------------


def schema_dir() -> Path:
    """The migrations: packaged ``_schema`` in an installed wheel, else the checkout's ``schema/``."""
    here = Path(__file__).resolve().parent.parent  # sladesk_tui/
    packaged = here / "_schema"
    if packaged.is_dir():
        return packaged
    return here.parent / "schema"


def migrations(directory: Path | None = None) -> tuple[Migration, ...]:
    """The numbered migrations in order; a gap or a duplicate number is a packaging bug."""
    directory = directory or schema_dir()
    found: list[Migration] = []
    for f in directory.iterdir():
        m = _MIGRATION_NAME.match(f.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), f.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    numbers = [mig.version for mig in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations in {directory} are not numbered 1..n: {numbers}")
    return tuple(found)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, directory: Path | None = None) -> int:
    """Apply the pending migrations, each in its own transaction; return the version.

    The cheap ``user_version`` check keeps an up-to-date open at one pragma; the
    authoritative check is repeated after ``BEGIN IMMEDIATE``, when no other process
    can be migrating.
    """
    todo = migrations(directory)
    latest = len(todo)
    current = schema_version(conn)
    if current > latest:
        raise InputError(
            f"database schema version {current} is newer than this sladesk knows ({latest}); upgrade sladesk"
        )
    while current < latest:
        with write_tx(conn):
            current = schema_version(conn)
            if current >= latest:
                break
            mig = todo[current]
            _execute_script(conn, mig.sql)
            _program_step(conn, mig.name)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TEXT NOT NULL, sha256 TEXT NOT NULL)"
            )
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at, sha256) VALUES (?, ?, ?, ?)",
                (mig.version, mig.name, iso_utc(now_ts()), sha256_hex(mig.sql)),
            )
            conn.execute(f"PRAGMA user_version = {mig.version}")
            current = mig.version
    return current


# Migrations that also need the program, run right after their script in the same
# transaction, by name (a number changes when branches merge): what SQL cannot do,
# e.g. write an audit row, whose hash needs sha256.
_PROGRAM_STEPS: dict[str, tuple[str, str]] = {
    "roles": ("sladesk_tui.store.roles", "first_admin_after_migration"),
}


def _program_step(conn: sqlite3.Connection, name: str) -> None:
    step = _PROGRAM_STEPS.get(name)
    if step is not None:
        import importlib

        getattr(importlib.import_module(step[0]), step[1])(conn)


def _execute_script(conn: sqlite3.Connection, sql: str) -> None:
    """Run a migration statement by statement inside the caller's transaction.

    `Connection.executescript` would COMMIT the open transaction first, losing the
    lock that keeps two first openers from both migrating.
    """
    *pieces, tail = sql.split(";")
    pending = ""
    for piece in pieces:
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            conn.execute(pending)
            pending = ""
    rest = _SQL_COMMENT.sub("", pending + tail).strip()
    if rest:
        raise RuntimeError(f"incomplete statement at the end of a migration: {rest[:80]!r}")
