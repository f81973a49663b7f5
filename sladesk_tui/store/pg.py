"""The PostgreSQL backend: a psycopg 3 connection behind the store's one interface.

The store is written against `store.backend.Connection` (the part of
`sqlite3.Connection` it uses). `PgConnection` offers the same (docs/postgresql.md):

- SQL keeps SQLite's ``?`` and ``:name`` placeholders; each statement is translated
  once (cached) to psycopg's ``%s`` / ``%(name)s``, a literal ``%`` escaped, quotes,
  identifiers and comments left alone.
- Rows are read by index or by column name, like `sqlite3.Row`; a cursor whose
  ``row_factory`` is set to None gives plain tuples, as in SQLite.
- The connection is in autocommit mode and the store opens its own transactions
  (``BEGIN``/``COMMIT``), as with SQLite's ``isolation_level=None``.
- psycopg's errors are re-raised as subclasses of sqlite3's (`PgIntegrityError` is
  a `sqlite3.IntegrityError`...), the original kept as ``__cause__``: the store's
  ``except`` clauses and `describe_error` serve both engines, and nothing but this
  module imports psycopg.
- ``numeric`` results (PostgreSQL's ``sum`` of integers) come back as int or float,
  as SQLite gives them, never `Decimal`.

Writers are serialised as under SQLite's ``BEGIN IMMEDIATE``: `begin_write` takes
one transaction-scoped advisory lock (`WRITE_LOCK_KEY`) right after ``BEGIN``, so
the audit chain, whose next row hashes the previous one, is extended by one writer
at a time. A wait longer than the busy timeout is `DatabaseBusy`, nothing written.
Reads run at REPEATABLE READ, READ ONLY: one snapshot for the whole transaction.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Loader
from psycopg.pq import TransactionStatus
from psycopg.rows import RowMaker, tuple_row

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.text import safe_text
from sladesk_tui.store.backend import Dialect, redacted

# Arbitrary constants, one per lock, the same in every sladesk: "sladesk" in hex-ish.
WRITE_LOCK_KEY = 0x51AD_E5C0_0001
MIGRATE_LOCK_KEY = 0x51AD_E5C0_0002
SERVICE_LOCK_CLASS = 0x51AD  # first key of the services' two-key advisory locks
CONNECT_TIMEOUT_S = 10


# ---- SQL translation ----------------------------------------------------------------


class AmbiguousPlaceholder(ValueError):
    """A ``?`` that could be the jsonb operator as well as a placeholder (`translate`)."""


# Words after which an expression, hence a placeholder, may begin. A ``?`` after any
# other word (a column, a table) reads as the jsonb operator ``data ? 'key'``.
_BEFORE_OPERAND = frozenset(
    "ALL AND ANY ARRAY BETWEEN BY CASE DISTINCT ELSE ESCAPE EXISTS FETCH FIRST FOR FROM HAVING"
    " ILIKE IN INTERVAL IS LIKE LIMIT NEXT NOT OFFSET ON OR OVERLAPS RETURNING SELECT SET SIMILAR"
    " SOME THEN TO USING VALUES WHEN WHERE WITH ZONE".split()
)


def _word_char(c: str) -> bool:
    return c.isalnum() or c in "_$"


def _dollar_tag(sql: str, i: int) -> str | None:
    """The ``$tag$`` (or ``$$``) opening a dollar-quoted string at `i`, if one does."""
    if i > 0 and _word_char(sql[i - 1]):  # "a$b$" is an identifier, not a quote
        return None
    j = i + 1
    if j < len(sql) and (sql[j].isalpha() or sql[j] == "_"):
        while j < len(sql) and (sql[j].isalnum() or sql[j] == "_"):
            j += 1
    if j < len(sql) and sql[j] == "$":
        return sql[i : j + 1]
    return None  # $1 (a positional parameter) or a lone $


def _quoted_end(sql: str, i: int, quote: str, *, backslashes: bool) -> int:
    """The index just past the string or identifier opening at `i` (its end if unclosed):
    a doubled quote stays inside; with `backslashes` (``E'...'``) so does ``\\'``."""
    j, n = i + 1, len(sql)
    while j < n:
        c = sql[j]
        if backslashes and c == "\\":
            j += 2
        elif c == quote:
            if j + 1 < n and sql[j + 1] == quote:
                j += 2
            else:
                return j + 1
        else:
            j += 1
    return n


def _ambiguous(sql: str, i: int) -> bool:
    """Whether the ``?`` at `i` may be the jsonb operator ``?``, ``?|`` or ``?&``: it
    follows an operand (a name other than a keyword, a closing bracket or quote, a
    number), or is followed by ``|`` (not ``||``) or ``&``."""
    nxt = sql[i + 1 : i + 3]
    if nxt[:1] == "&" or (nxt[:1] == "|" and nxt != "||"):
        return True
    j = i - 1
    while j >= 0 and sql[j].isspace():
        j -= 1
    if j < 0:
        return False
    if sql[j] in ")]'\"":
        return True
    if not _word_char(sql[j]):
        return False
    k = j
    while k >= 0 and _word_char(sql[k]):
        k -= 1
    return sql[k + 1 : j + 1].upper() not in _BEFORE_OPERAND


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """SQLite's placeholders (``?``, ``:name``) as psycopg's, ``%`` escaped.

    Only used when parameters are passed: psycopg sends a statement without them
    as it is. Copied unchanged (a ``%`` doubled): text in quotes, ``E'...'`` strings
    with their backslash escapes, ``$$...$$`` and ``$tag$...$tag$`` bodies,
    double-quoted identifiers and comments; ``::`` (a PostgreSQL cast) is not a
    named placeholder.

    PostgreSQL's jsonb operators ``?``, ``?|`` and ``?&`` cannot be told from a
    placeholder in every statement, so a ``?`` that could be one of them (after a
    column or a closing bracket, or before ``|``/``&``) raises `AmbiguousPlaceholder`
    instead of being guessed. Write ``jsonb_exists(doc, ?)``,
    ``jsonb_exists_any(doc, ?)`` or ``jsonb_exists_all(doc, ?)`` for the operators,
    and a placeholder only where an operand begins (after an operator, ``(``, ``,``
    or a keyword such as WHERE, LIMIT, THEN) (docs/postgresql.md).
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "eE" and sql.startswith("'", i + 1) and (i == 0 or not _word_char(sql[i - 1])):
            j = _quoted_end(sql, i + 1, "'", backslashes=True)
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif c in "'\"":
            j = _quoted_end(sql, i, c, backslashes=False)
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif c == "$" and (tag := _dollar_tag(sql, i)) is not None:
            close = sql.find(tag, i + len(tag))
            j = n if close == -1 else close + len(tag)
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j == -1 else j
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j == -1 else j + 2
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif c == "?":
            if _ambiguous(sql, i):
                raise AmbiguousPlaceholder(
                    f"ambiguous '?' at character {i + 1} of {sql!r}: it may be the jsonb operator;"
                    " write jsonb_exists(), jsonb_exists_any() or jsonb_exists_all() for that,"
                    " and a placeholder only where an operand begins (store.pg.translate)"
                )
            out.append("%s")
            i += 1
        elif c == "%":
            out.append("%%")
            i += 1
        elif c == ":" and sql.startswith("::", i):
            out.append("::")
            i += 2
        elif c == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            out.append(f"%({sql[i + 1 : j]})s")
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


# ---- rows ---------------------------------------------------------------------------


class PgRow(tuple[Any, ...]):
    """A row readable by index or by column name, like `sqlite3.Row`."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:  # str keys too, as sqlite3.Row
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@functools.lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[PgRow]:
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)  # the first of a repeated name; keys() in column order
    return type("PgRow", (PgRow,), {"__slots__": (), "_index": index})


def _named_row(cursor: Any) -> RowMaker[Any]:
    if cursor.description is None:
        return tuple_row(cursor)
    cls = _row_class(tuple(c.name for c in cursor.description))
    return cls  # a tuple subclass: made from the row's values


class _NumericLoader(Loader):
    """``numeric`` as SQLite would give it: an int when integral, else a float."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode("ascii")
        if "." in text or "e" in text.lower() or text in ("NaN", "Infinity", "-Infinity"):
            return float(text)
        return int(text)


# ---- errors -------------------------------------------------------------------------


class PgDatabaseError(sqlite3.DatabaseError):
    """A PostgreSQL error in the store's vocabulary; `sqlstate` is PostgreSQL's code,
    `context` where the server says it happened (a COPY's line and column), if it did."""

    sqlstate: str | None = None
    context: str | None = None


class PgIntegrityError(PgDatabaseError, sqlite3.IntegrityError):
    """A constraint or an append-only trigger refused the write (SQLSTATE class 23)."""


class PgOperationalError(PgDatabaseError, sqlite3.OperationalError):
    """The server, a lock or the schema got in the way (a missing table, a timeout...)."""


class PgBusy(PgOperationalError):
    """The write lock was not granted within the busy timeout (lock_timeout)."""


def _mapped(exc: psycopg.Error) -> PgDatabaseError:
    text = (exc.diag.message_primary or str(exc)).strip() if isinstance(exc, psycopg.Error) else str(exc)
    cls: type[PgDatabaseError]
    if isinstance(exc, pg_errors.LockNotAvailable | pg_errors.QueryCanceled):
        cls = PgBusy
    elif isinstance(exc, psycopg.IntegrityError):
        cls = PgIntegrityError
    elif isinstance(exc, psycopg.OperationalError | psycopg.ProgrammingError | psycopg.InternalError):
        cls = PgOperationalError
    else:
        cls = PgDatabaseError
    mapped = cls(text)
    mapped.sqlstate = exc.sqlstate
    if isinstance(exc, psycopg.Error) and exc.diag.context:
        mapped.context = exc.diag.context.strip()
    return mapped


# ---- cursor and connection ------------------------------------------------------------


class PgCursor:
    """A psycopg cursor with the sqlite3 cursor's behaviour the store relies on.

    `server_side`: a named cursor (DECLARE ... FETCH), for results too large to hold
    at once; usable inside a transaction only (`PgDialect.streaming_cursor`).
    """

    _streams = 0

    def __init__(self, conn: PgConnection, *, server_side: bool = False) -> None:
        self._conn = conn
        self._cur: psycopg.Cursor[Any]
        if server_side:
            PgCursor._streams += 1
            self._cur = conn.raw.cursor(name=f"sladesk_stream_{PgCursor._streams}", row_factory=_named_row)
        else:
            self._cur = conn.raw.cursor(row_factory=_named_row)
        self._inserted = False

    @property
    def row_factory(self) -> object:
        return None if self._cur.row_factory is tuple_row else _named_row

    @row_factory.setter
    def row_factory(self, value: object) -> None:
        """None: plain tuples (as `sqlite3.Cursor.row_factory = None`); anything else: named rows."""
        self._cur.row_factory = tuple_row if value is None else _named_row

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = (), /) -> PgCursor:
        self._inserted = False
        query = translate(sql) if parameters else sql
        try:
            self._cur.execute(query, parameters or None)
        except psycopg.Error as exc:
            raise _mapped(exc) from exc
        self._inserted = sql.lstrip()[:6].upper() == "INSERT" and self._cur.rowcount > 0
        return self

    def executemany(self, sql: str, seq: Iterable[Sequence[Any] | Mapping[str, Any]], /) -> PgCursor:
        rows = list(seq)
        self._inserted = False
        if not rows:
            return self
        try:
            self._cur.executemany(translate(sql), rows)
        except psycopg.Error as exc:
            raise _mapped(exc) from exc
        self._inserted = sql.lstrip()[:6].upper() == "INSERT"
        return self

    @property
    def lastrowid(self) -> int | None:
        """The id given by the latest INSERT of this cursor (its identity sequence's value)."""
        if not self._inserted:
            return None
        return int(self._conn.raw.execute("SELECT lastval()").fetchone()[0])  # type: ignore[index]  # one row

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def description(self) -> Any:
        return self._cur.description

    def fetchone(self) -> Any:
        try:
            return self._cur.fetchone()
        except psycopg.ProgrammingError:  # no result (an INSERT), as sqlite3 returns None
            return None

    def fetchall(self) -> list[Any]:
        try:
            return self._cur.fetchall()
        except psycopg.ProgrammingError:
            return []

    def fetchmany(self, size: int = 100, /) -> list[Any]:
        try:
            return self._cur.fetchmany(size)
        except psycopg.ProgrammingError:
            return []

    def __iter__(self) -> Iterator[Any]:
        if self._cur.description is None:
            return iter(())
        return iter(self._cur)

    def close(self) -> None:
        self._cur.close()


class PgConnection:
    """A psycopg connection used like the store's `sqlite3.Connection` (module docstring)."""

    def __init__(self, raw: psycopg.Connection[Any], url: str) -> None:
        self.raw = raw
        self.url = url
        self.dialect: Dialect = PG_DIALECT
        self._session_user: str | None = None
        self.columns_cache: dict[str, list[str]] = {}  # a table's columns, asked once per connection

    @property
    def in_transaction(self) -> bool:
        """A transaction is open (UNKNOWN: the connection is gone, and with it any transaction)."""
        return self.raw.info.transaction_status not in (TransactionStatus.IDLE, TransactionStatus.UNKNOWN)

    @property
    def session_user(self) -> str:
        """The role the server authenticated (cached: it never changes on a connection)."""
        if self._session_user is None:
            self._session_user = str(self.execute("SELECT session_user").fetchone()[0])
        return self._session_user

    def cursor(self) -> PgCursor:
        return PgCursor(self)

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = (), /) -> PgCursor:
        return PgCursor(self).execute(sql, parameters)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any] | Mapping[str, Any]], /) -> PgCursor:
        return PgCursor(self).executemany(sql, seq)

    def executescript(self, sql: str) -> None:
        """Several statements at once, no parameters (a migration)."""
        try:
            self.raw.execute(sql.encode())  # bytes: sent as is, no placeholder parsing
        except psycopg.Error as exc:
            raise _mapped(exc) from exc

    def copy_rows(self, statement: str, rows: Iterable[Iterable[Sequence[Any]]]) -> int:
        """``COPY ... FROM STDIN`` of `rows` (an iterable of batches), inside the caller's
        transaction; the rows written. A row the server refuses is a `PgDatabaseError`
        whose `context` names its line and column (store.migrate_db)."""
        n = 0
        try:
            with self.raw.cursor().copy(statement) as copy:
                for batch in rows:
                    for row in batch:
                        copy.write_row(row)
                        n += 1
        except psycopg.Error as exc:
            raise _mapped(exc) from exc
        return n

    def begin_write(self, timeout_s: float, *, then: str | None = None) -> Any:
        """BEGIN and the one write lock; `PgBusy` when not granted within `timeout_s`.

        `then`: a query (no parameters) run right after the lock is granted, in the
        same round trip; its one row is returned (store.changes reads its marks so).
        """
        from sladesk_tui.store.db import DatabaseBusy

        # One round trip; the timeout then also bounds any row lock the write waits for.
        script = (
            "BEGIN ISOLATION LEVEL READ COMMITTED;"
            f" SET LOCAL lock_timeout = {max(1, int(timeout_s * 1000))};"
            f" SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"
        )
        try:
            try:
                cur = self.raw.execute((script + (f"; {then}" if then else "")).encode())
                if then is None:
                    return None
                while cur.nextset():  # to the last statement's result
                    pass
                return cur.fetchone()
            except psycopg.Error as exc:
                raise _mapped(exc) from exc
        except PgBusy:
            self.rollback()
            raise DatabaseBusy(
                f"{redacted(self.url)}: nothing was written: the database stayed busy for {timeout_s:g} s"
                f" (the write lock is held by {self.write_lock_holder() or 'another sladesk writer'}); try again"
            ) from None
        except BaseException:
            self.rollback()
            raise

    def notify_and_commit(self, channel: str, payload: str) -> None:
        """``pg_notify(channel:schema, payload)`` and ``COMMIT`` in one round trip (store.changes):
        the payload is quoted by psycopg, never pasted into the SQL."""
        from psycopg import sql

        statement = sql.SQL("SELECT pg_notify({} || current_schema(), {}); COMMIT").format(
            sql.Literal(f"{channel}:"), sql.Literal(payload)
        )
        try:
            self.raw.execute(statement)
        except psycopg.Error as exc:
            raise _mapped(exc) from exc

    def write_lock_holder(self) -> str | None:
        """Who holds the write lock: "ROLE (sladesk pid N on HOST)", as the server knows it.

        An advisory lock on a bigint key is listed with its high and low 32 bits as
        classid and objid. Best effort: the holder may be gone by now.
        """
        try:
            row = self.execute(
                "SELECT a.usename, a.application_name, coalesce(host(a.client_addr), 'local socket')"
                " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                " AND l.classid = ? AND l.objid = ?"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (WRITE_LOCK_KEY >> 32, WRITE_LOCK_KEY & 0xFFFF_FFFF),
            ).fetchone()
        except PgDatabaseError:
            return None
        if row is None:
            return None
        return f"{safe_text(row[0] or '?')} ({safe_text(row[1] or 'a client')} on {row[2]})"

    def begin_read(self) -> None:
        self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def rollback(self) -> None:
        if self.in_transaction:
            self.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()


def connect(url: str, *, readonly: bool = False) -> PgConnection:
    """Open a connection; a server that refuses is an `InputError` naming the URL, not its password."""
    try:
        raw = psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            row_factory=_named_row,
            application_name=f"sladesk pid {os.getpid()}",  # names a busy writer (write_lock_holder)
        )
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{redacted(url)}: cannot connect to the database: {reason}") from None
    encoding = raw.info.parameter_status("server_encoding")
    if encoding != "UTF8":
        # Under SQL_ASCII psycopg hands back bytes, and a LATIN1 database refuses the
        # first emoji in a ticket title mid-import: refuse here, once (docs/postgresql.md).
        raw.close()
        raise InputError(
            f"{redacted(url)}: the database's encoding is {encoding or 'unknown'}; sladesk needs UTF8 "
            "(CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0)"
        )
    raw.adapters.register_loader("numeric", _NumericLoader)
    conn = PgConnection(raw, url)
    try:
        conn.execute("SET TIME ZONE 'UTC'")
        if readonly:
            conn.execute("SET default_transaction_read_only = on")
    except BaseException:
        raw.close()
        raise
    return conn


# ---- the dialect --------------------------------------------------------------------


class PgDialect(Dialect):
    name = "postgresql"

    def data_version(self, conn: Any) -> int | None:
        """The audit log's head: every write of the program appends one audit row in its
        transaction, so the head moves exactly when something was committed. (LISTEN/
        NOTIFY is the push alternative; this is the poll's seam.)"""
        return int(conn.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()[0])

    def streaming_cursor(self, conn: Any) -> PgCursor:
        """A server-side cursor: `audit verify` reads every covered row of a million-row
        import in chunks, as SQLite's cursor does, instead of all at once."""
        return PgCursor(conn, server_side=True)

    def columns(self, conn: Any, table: str) -> list[str]:
        cached: dict[str, list[str]] = conn.columns_cache
        if table not in cached:
            cached[table] = self._columns(conn, table)
        return list(cached[table])

    def _columns(self, conn: Any, table: str) -> list[str]:
        rows = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum > 0"
            " AND NOT attisdropped ORDER BY attnum",
            (table,),
        )
        return [r[0] for r in rows]

    def has_table(self, conn: Any, table: str) -> bool:
        return conn.execute("SELECT to_regclass(?) IS NOT NULL", (table,)).fetchone()[0] is True

    def operator(self, conn: Any, claimed: str) -> str:
        """On PostgreSQL the operator is the connected role, whatever the client claims."""
        return str(conn.session_user)

    def recorded_at(self, conn: Any) -> str:
        """The server's transaction start (schema/postgresql/0003_projection_guards.sql)."""
        return str(conn.execute("SELECT sladesk_recorded_at()").fetchone()[0])

    def service_lock(self, conn: Any, name: str) -> bool | None:
        """A session advisory lock (two-key form: never the writers' one-key lock), held
        until the connection closes, whichever host the other service runs on."""
        row = conn.execute(
            "SELECT pg_try_advisory_lock(?, hashtext(?))", (SERVICE_LOCK_CLASS, name)
        ).fetchone()
        return bool(row[0])

    def description(self, conn: Any) -> str:
        return redacted(conn.url)


PG_DIALECT = PgDialect()


# ---- change hints (store.changes) ---------------------------------------------------


def listening(url: str, channel: str) -> psycopg.Connection[Any]:
    """A new autocommit connection that LISTENs on `channel` + ":" + its schema
    (store.changes, docs/postgresql.md); `InputError` when it cannot be made."""
    from psycopg import sql

    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{redacted(url)}: cannot listen for changes: {reason}") from None
    try:
        row = raw.execute("SELECT current_schema()").fetchone()
        schema = row[0] if row else "public"
        raw.execute(sql.SQL("LISTEN {}").format(sql.Identifier(f"{channel}:{schema}")))
    except psycopg.Error as exc:
        raw.close()
        raise InputError(f"{redacted(url)}: cannot listen for changes: {exc}") from None
    return raw


def notifications(raw: psycopg.Connection[Any], timeout: float) -> list[str]:
    """The payloads that arrive within `timeout` (at least one, unless none came), and
    whatever else had arrived with it; a lost connection is `PgOperationalError`."""
    try:
        found = [n.payload for n in raw.notifies(timeout=timeout, stop_after=1)]
        if found:
            found += [n.payload for n in raw.notifies(timeout=0.0)]
    except psycopg.Error as exc:
        raise _mapped(exc) from exc
    return found
