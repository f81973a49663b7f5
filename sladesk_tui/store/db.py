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
import random
import re
import shlex
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sladesk_tui.core.canonical import sha256_hex
from sladesk_tui.core.errors import InputError
from sladesk_tui.store import changes
from sladesk_tui.store.backend import Connection, Target, dialect, is_postgres, redacted
from sladesk_tui.store.instants import iso_utc, now_ts

BUSY_TIMEOUT_S = 10.0
_WAL_RETRY_S = 0.01
_POLL_FIRST_S = 0.001  # write_tx's polls for the lock: 1 ms, growing to 8 ms, randomised
_POLL_MAX_S = 0.008

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


C = TypeVar("C", bound=Connection)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def connect(path: Target, *, readonly: bool = False, create: bool = False) -> Connection:
    """Open a connection configured for many writers; never migrates.

    A PostgreSQL URL opens `store.pg.PgConnection` (docs/postgresql.md): there the
    database must exist (a server's databases are made by its administrator, so
    `create` does not apply) and ``readonly`` makes every transaction read-only.

    A missing file is an `InputError` naming the path and how to create it, unless
    `create` (only `sladesk init` and the demo pass it): a mistyped ``--db`` must not
    become a new, empty database that looks like a desk with nothing open
    (docs/database.md).

    When created here, the file gets mode 0666 less the umask, because SQLite would
    create it 0644 whatever the umask, and the ``-wal``/``-shm`` files inherit the
    database file's mode: a team database in a group directory with ``umask 002``
    must come out group-writable (docs/deployment.md).

    ``readonly`` opens ``file:PATH?mode=ro``: any write fails; a file without the
    sladesk schema is an `InputError`. Unusable files (not SQLite, unreadable, a
    directory) are `InputError` either way.
    """
    if is_postgres(path):
        return _connect_pg(str(path), readonly=readonly)
    p = Path(path)
    if not database_exists(p):
        if not create or readonly:
            raise missing_database(p)
        try:
            os.close(os.open(p, os.O_RDWR | os.O_CREAT, 0o666))
        except OSError as exc:
            raise InputError(f"{p}: cannot create the database: {exc.strerror}") from None
    if readonly:
        uri = f"{p.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    else:
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
        raise unusable_database(p, exc) from None
    return conn


def _connect_pg(url: str, *, readonly: bool) -> Connection:
    from sladesk_tui.store import pg

    conn = pg.connect(url, readonly=readonly)
    if readonly and schema_version(conn) == 0:
        conn.close()
        raise InputError(f"{redacted(url)}: not a sladesk database (no sladesk schema in it)")
    return conn


def missing_database(p: Path) -> InputError:
    """The refusal for a database file that is not there, with the command that makes one."""
    return InputError(
        f"{p}: no such database; create it with: sladesk init --db {shlex.quote(str(p))} --admin USER"
    )


def unusable_database(p: Path, exc: sqlite3.Error) -> InputError:
    """What is wrong with a file SQLite would not open, said in the user's terms.

    SQLite's own words mislead here: a reader of a WAL database in a directory it may
    not write gets "attempt to write a readonly database" (it must create the
    ``-shm`` file beside the database), though it asked to read and the file is fine.
    """
    side = [p.with_name(p.name + s) for s in ("-wal", "-shm")]
    if ("readonly" in str(exc) or "unable to open" in str(exc)) and not os.access(
        p.parent, os.W_OK | os.X_OK
    ):
        if not all(f.exists() for f in side):
            return InputError(
                f"{p}: cannot open the database: SQLite must create {p.name}-wal and {p.name}-shm"
                f" beside it (even to read), and you may not write to {p.parent}; give the"
                " team's group write access to that directory (docs/deployment.md), or work"
                " on a copy in a directory of your own"
            )
    if "readonly" in str(exc) and not os.access(p, os.W_OK):
        return InputError(f"{p}: the database file is read-only for you; ask its owner for write access")
    return InputError(f"{p}: not a usable sladesk database: {exc}")


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
    if stat.S_ISDIR(st.st_mode):  # not SQLite's "disk I/O error"
        raise InputError(
            f"{p}: is a directory, not a database file; give the file (for example {p / 'sladesk.db'})"
        )
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


def open_db(path: Target, *, create: bool = False) -> Connection:
    """A writable connection to an up-to-date (migrated) database.

    A missing file is refused (`missing_database`) unless `create`, which makes it,
    with its directory: only `sladesk init` and the demo create databases
    (docs/database.md).
    """
    if is_postgres(path):
        conn = connect(path)
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn
    p = Path(path)
    if create:
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{p.parent}: cannot create the directory: {exc.strerror}") from None
    conn = connect(p, create=create)
    try:
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class DatabaseBusy(sqlite3.OperationalError):
    """A write gave up waiting for the write lock: nothing was written, and it says so.

    A subclass of `sqlite3.OperationalError`, so code that retries a busy database
    (the follower) keeps doing so; its text names the file, says nothing was written
    and who holds the lock when that is known (`store.busy`).
    """


def _is_busy(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _busy(conn: sqlite3.Connection) -> DatabaseBusy:
    from sladesk_tui.store.busy import write_lock_holder

    path = db_file(conn)
    holder = write_lock_holder(path) if path else None
    return DatabaseBusy(
        f"{path or 'the database'}: nothing was written: the database stayed busy for"
        f" {BUSY_TIMEOUT_S:g} s (the write lock is held by {holder or 'another process'}); try again"
    )


def db_file(conn: Connection) -> str:
    """The path of the connection's main database file ("" for an in-memory one); on
    PostgreSQL the URL without its password."""
    return dialect(conn).description(conn)


def describe_error(exc: BaseException, path: str | os.PathLike[str] | None = None) -> str:
    """One line for a failed database operation, in the user's terms (docs/database.md).

    SQLite's own words mislead: "attempt to write a readonly database" when a file
    or its directory is not writable for this user, "database is locked" without
    saying that nothing was written, "disk I/O error" for a directory.
    """
    if isinstance(exc, InputError | DatabaseBusy):
        return str(exc)
    if not isinstance(exc, sqlite3.Error):
        return f"{type(exc).__name__}: {exc}"
    if path is not None and is_postgres(path):  # no file to inspect; never show the password
        if getattr(exc, "sqlstate", None) == "55P03":  # lock timeout
            return f"{redacted(str(path))}: nothing was written: the database is busy; try again"
        if getattr(exc, "sqlstate", None) == "57014":  # a statement timeout or an administrator's cancel
            return f"{redacted(str(path))}: nothing was written: the statement was cancelled ({exc})"
        return f"{redacted(str(path))}: database error: {exc}; nothing was written"
    p = Path(path) if path is not None else None
    where = f"{p}: " if p is not None else ""
    text = str(exc)
    if "readonly" in text and p is not None:
        if not os.access(p.parent, os.W_OK | os.X_OK):
            blocked = f"you may not write to its directory {p.parent}"
        elif not os.access(p, os.W_OK):
            blocked = "the database file is read-only for you"
        else:
            blocked = f"a file beside it ({p.name}-wal or {p.name}-shm) is read-only for you"
        return (
            f"{where}nothing was written: {blocked}; writers need write access to the file and"
            " its directory (docs/deployment.md)"
        )
    if _is_busy(exc):
        from sladesk_tui.store.busy import write_lock_holder

        holder = write_lock_holder(p) if p is not None else None
        return f"{where}nothing was written: the database is busy (held by {holder or 'another process'}); try again"
    if "malformed" in text or "not a database" in text:
        return f"{where}the database file is damaged ({text}); nothing was written: restore it from a backup"
    return f"{where}database error: {text}; nothing was written"


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """Take the write lock, polling for it ourselves; `DatabaseBusy` after `BUSY_TIMEOUT_S`.

    SQLite's busy handler sleeps longer and longer between tries (up to 100 ms),
    while a writer that just committed asks again at once and wins: with many
    writers back to back, one could wait past the timeout while the others took
    turns (benchmarks/lock_wait_bench.py measures it). Short randomised polls give
    every waiter its chance at each release.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    pause = _POLL_FIRST_S
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise _busy(conn) from None
            time.sleep(random.uniform(0.5, 1.0) * pause)
            pause = min(pause * 1.5, _POLL_MAX_S)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")


def _begin_write(conn: Connection) -> changes.WriteMarks | None:
    """Take the write lock; on PostgreSQL also read, in the same round trip, how far the
    tables reached (`store.changes`: what the commit's hint is computed from)."""
    if isinstance(conn, sqlite3.Connection):
        _begin_immediate(conn)
        return None
    query = changes.marks_query(conn)
    row = conn.begin_write(BUSY_TIMEOUT_S, then=query)  # type: ignore[attr-defined]  # store.pg.PgConnection
    return None if query is None else changes.WriteMarks(*(int(v) for v in row))


@contextmanager
def write_tx(conn: C) -> Iterator[C]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any exception.

    Every write of the program, including read-then-write, runs inside one of these,
    together with its audit row (`sladesk_tui.store.audit.append_audit`). A lock not
    granted within the busy timeout is `DatabaseBusy`: nothing was written. On
    PostgreSQL: ``BEGIN`` and one advisory lock that every writer takes
    (`store.pg.PgConnection.begin_write`), the same one-writer-at-a-time order, and
    one NOTIFY sent with the ``COMMIT`` naming the tickets written (`store.changes`).
    """
    since = _begin_write(conn)
    try:
        yield conn
        changes.commit(conn, since)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextmanager
def read_tx(conn: C) -> Iterator[C]:
    """One consistent snapshot for several reads. Keep it short: an open snapshot pins the WAL.

    On PostgreSQL: REPEATABLE READ, READ ONLY (one snapshot for the transaction)."""
    if isinstance(conn, sqlite3.Connection):
        conn.execute("BEGIN")
    else:
        conn.begin_read()  # type: ignore[attr-defined]  # store.pg.PgConnection
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


@contextmanager
def snapshot(conn: C) -> Iterator[C]:
    """The caller's transaction when one is open (a writer reading what it is about to
    change, or a reader combining several reads), else a short `read_tx` of our own."""
    if conn.in_transaction:
        yield conn
        return
    with read_tx(conn):
        yield conn


# ---- migrations -------------------------------------------------------------------


def schema_dir(backend: str = "sqlite") -> Path:
    """The migrations: packaged ``_schema`` in an installed wheel, else the checkout's ``schema/``.

    SQLite's are the numbered files at the top; PostgreSQL's have their own numbering
    in the ``postgresql/`` folder inside it (docs/postgresql.md).
    """
    here = Path(__file__).resolve().parent.parent  # sladesk_tui/
    packaged = here / "_schema"
    top = packaged if packaged.is_dir() else here.parent / "schema"
    return top if backend == "sqlite" else top / backend


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


def schema_version(conn: Connection) -> int:
    """The number of the latest migration applied (0: no sladesk schema)."""
    if isinstance(conn, sqlite3.Connection):
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    if not dialect(conn).has_table(conn, "schema_migrations"):
        return 0
    return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0])


def _too_new(current: int, latest: int) -> InputError:
    return InputError(
        f"database schema version {current} is newer than this sladesk knows ({latest}); upgrade sladesk"
    )


def migrate(conn: Connection, directory: Path | None = None) -> int:
    """Apply the pending migrations, each in its own transaction; return the version.

    The cheap ``user_version`` check keeps an up-to-date open at one pragma; the
    authoritative check is repeated after ``BEGIN IMMEDIATE``, when no other process
    can be migrating. PostgreSQL's migrations are `_migrate_pg`'s.
    """
    if not isinstance(conn, sqlite3.Connection):
        return _migrate_pg(conn, directory)
    todo = migrations(directory)
    latest = len(todo)
    current = schema_version(conn)
    if current > latest:
        raise _too_new(current, latest)
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


def _migrate_pg(conn: Connection, directory: Path | None) -> int:
    """PostgreSQL: every pending migration in one transaction, under an advisory lock.

    DDL is transactional there, so a failed upgrade leaves the schema as it was. The
    lock makes two first openers apply each migration once: the second waits, then
    re-reads the version and finds nothing to do. Only the schema's owner may
    migrate (the application's roles never own the tables, docs/postgresql.md);
    anyone else meeting an out-of-date schema is told who must upgrade it.
    """
    from sladesk_tui.store.pg import MIGRATE_LOCK_KEY

    todo = migrations(directory or schema_dir("postgresql"))
    latest = len(todo)
    current = schema_version(conn)
    if current > latest:
        raise _too_new(current, latest)
    if current == latest:
        return current
    conn.execute("BEGIN")
    try:
        conn.execute(f"SELECT pg_advisory_xact_lock({MIGRATE_LOCK_KEY})")
        current = schema_version(conn)
        if current < latest:
            _require_schema_owner(conn, current, latest)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TEXT NOT NULL, sha256 TEXT NOT NULL)"
            )
        for mig in todo[current:]:
            conn.executescript(mig.sql)  # type: ignore[attr-defined]  # store.pg.PgConnection
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at, sha256) VALUES (?, ?, ?, ?)",
                (mig.version, mig.name, iso_utc(now_ts()), sha256_hex(mig.sql)),
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return latest


def _require_schema_owner(conn: Connection, current: int, latest: int) -> None:
    """Refuse to migrate unless connected as (a member of) the schema's owner.

    The owner is that of ``schema_migrations`` once it exists, else the database's.
    """
    row = conn.execute(
        "SELECT coalesce((SELECT tableowner FROM pg_tables WHERE schemaname = current_schema()"
        "   AND tablename = 'schema_migrations'),"
        " (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()))"
    ).fetchone()
    owner = str(row[0])
    if conn.execute("SELECT pg_has_role(current_user, ?, 'USAGE')", (owner,)).fetchone()[0]:
        return
    where = dialect(conn).description(conn)
    state = "has no sladesk schema yet" if current == 0 else f"has sladesk schema version {current}"
    raise InputError(
        f"{where}: {state} and this sladesk needs version {latest}; only its owner ({owner}) may"
        " create or upgrade it: ask them to run any sladesk command on it once (docs/postgresql.md)"
    )


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
