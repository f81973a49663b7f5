"""How a live reader learns that another connection committed, on either engine (docs/postgresql.md).

A screen, the queue feed or a service shows what the database held when it last
read; it must read again when someone else commits. The two engines tell it
differently, and this module is the only place that knows how:

- **SQLite** has no push: `PRAGMA data_version` (per connection, microseconds)
  moves when another connection committed, so readers poll it and then find what
  changed with their `store.queries.ChangeMarks`. `SqliteListener` does that poll
  behind the same interface as PostgreSQL's listener.
- **PostgreSQL** pushes. Every write transaction of the program ends with one
  ``NOTIFY`` on `CHANNEL` (the marks read with the write lock, `marks_query`; the
  hint computed in one query and sent with the ``COMMIT``, `commit`; both called
  by `store.db.write_tx`) whose payload names the tickets it touched: a JSON list
  of ids, an empty list when it wrote only other records (settings, alerts,
  deliveries, roles), or ``"*"`` when they would not fit in a payload (under 8000
  bytes) or a new agreements version changes every ticket. The server delivers it
  only if the transaction commits, never stores it, and a listener that was not
  connected misses it; so a payload is a hint to re-read, never the data.
  `PgListener` ``LISTEN``s on its own autocommit connection; when that connection
  drops it reconnects and reports `Change.EVERYTHING`: whatever was announced in
  between is lost, so the reader re-reads everything.

`Change` is what a listener reports; `listen(target)` opens the listener for a
``--db`` value. The psycopg calls are `store.pg.listening` and `store.pg.notifications`.
"""

from __future__ import annotations

import json
import sqlite3
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sladesk_tui.store.backend import Connection, Target, dialect, is_postgres

CHANNEL = "sladesk_changes"  # per schema: the channel is CHANNEL + ":" + the schema's name
ALL = "*"
MAX_PAYLOAD = 7900  # PostgreSQL refuses a payload of 8000 bytes or more
_SCAN_LIMIT = 2000  # rows looked at per table before a write counts as "everything"
RETRY_S = 1.0  # between attempts to reconnect a dropped listener


@dataclass(frozen=True, slots=True)
class Change:
    """Something was committed: the tickets it named, or `everything` to re-read.

    No ticket and not everything means another kind of record moved (roles,
    settings, alerts) or, on SQLite, that the engine cannot say which: a reader
    finds out with its `ChangeMarks`.
    """

    tickets: frozenset[str] = frozenset()
    everything: bool = False

    EVERYTHING: ClassVar[Change]

    def merge(self, other: Change) -> Change:
        if self.everything or other.everything:
            return Change.EVERYTHING
        return Change(self.tickets | other.tickets)


Change.EVERYTHING = Change(everything=True)


def pushes(target: Target) -> bool:
    """Whether the engine behind `target` pushes hints (PostgreSQL) or must be polled (SQLite)."""
    return is_postgres(target)


# ---- writers (PostgreSQL): called by store.db.write_tx -----------------------------------


@dataclass(frozen=True, slots=True)
class WriteMarks:
    """How far the tables reached when a write transaction took the write lock: the
    newest event, override, review, agreements version and audit row."""

    event_seq: int
    override_id: int
    review_id: int
    agreements: int
    audit_seq: int


_MARKS = (
    "SELECT (SELECT coalesce(max(seq), 0) FROM events),"
    " (SELECT coalesce(max(id), 0) FROM overrides),"
    " (SELECT coalesce(max(id), 0) FROM reviews),"
    " (SELECT coalesce(max(version), 0) FROM agreement_versions),"
    " (SELECT coalesce(max(seq), 0) FROM audit_log)"
)

# What a transaction wrote past its marks, in one query: the tickets of its events,
# overrides and reviews (each scan stopped at _SCAN_LIMIT rows), whether it added an
# agreements version, and whether it appended any audit row (every write of the
# program does, settings, alerts, deliveries and role grants included).
_WRITTEN = (
    "(SELECT 'e', ticket FROM events WHERE seq > ? AND ticket IS NOT NULL ORDER BY seq LIMIT ?)"
    " UNION ALL (SELECT 'o', ticket FROM overrides WHERE id > ? ORDER BY id LIMIT ?)"
    " UNION ALL (SELECT 'r', o.ticket FROM reviews r JOIN overrides o ON o.id = r.override_id"
    " WHERE r.id > ? ORDER BY r.id LIMIT ?)"
    " UNION ALL (SELECT 'v', NULL FROM agreement_versions WHERE version > ? LIMIT 1)"
    " UNION ALL (SELECT 'a', NULL FROM audit_log WHERE seq > ? LIMIT 1)"
)


def marks_query(conn: Connection) -> str | None:
    """The query `store.db` runs right after the write lock is granted, in the same
    round trip (`store.pg.PgConnection.begin_write`); None on SQLite, which announces
    nothing, and on a database without sladesk's tables."""
    if isinstance(conn, sqlite3.Connection) or not _has_schema(conn):
        return None
    return _MARKS


_WITH_SCHEMA: weakref.WeakSet[Any] = weakref.WeakSet()


def _has_schema(conn: Connection) -> bool:
    """Whether the database has sladesk's tables (asked once per connection that has
    them): a write to a database without them (a raw test of the adapter) announces nothing."""
    if conn in _WITH_SCHEMA:
        return True
    if not dialect(conn).has_table(conn, "events"):
        return False
    _WITH_SCHEMA.add(conn)
    return True


def commit(conn: Connection, since: WriteMarks | None) -> None:
    """``COMMIT``; on PostgreSQL with one NOTIFY naming the tickets this transaction
    touched, sent in the same round trip.

    The writers are serialised by the write lock, so whatever lies past `since` is
    this transaction's own: one query finds it (`_WRITTEN`). A transaction that
    wrote nothing announces nothing; one that wrote only other records (settings,
    alerts, deliveries, roles) announces an empty list, so listeners still wake and
    re-read with their own marks. The NOTIFY is part of the transaction: delivered
    only if it commits, and then after the data is visible to the listeners' next read.
    """
    text = None if since is None else _hint(conn, since)
    if text is None:
        conn.execute("COMMIT")
    else:
        conn.notify_and_commit(CHANNEL, text)  # type: ignore[attr-defined]  # store.pg.PgConnection


def _hint(conn: Connection, since: WriteMarks) -> str | None:
    """The payload for what was written past `since`; None when nothing was."""
    rows = conn.execute(
        _WRITTEN,
        (
            since.event_seq,
            _SCAN_LIMIT,
            since.override_id,
            _SCAN_LIMIT,
            since.review_id,
            _SCAN_LIMIT,
            since.agreements,
            since.audit_seq,
        ),
    ).fetchall()
    if not rows:
        return None
    tickets: set[str] = set()
    counts: dict[str, int] = {}
    for kind, ticket in rows:
        counts[kind] = counts.get(kind, 0) + 1
        if ticket is not None:
            tickets.add(ticket)
    overflow = "v" in counts or any(counts.get(k, 0) >= _SCAN_LIMIT for k in "eor")
    return payload(tickets, everything=overflow)


def payload(tickets: Iterable[str], *, everything: bool = False) -> str:
    """The NOTIFY payload: the ids as a JSON list, or ``"*"`` when they do not fit."""
    if everything:
        return ALL
    text = json.dumps(sorted(tickets), ensure_ascii=False, separators=(",", ":"))
    return text if len(text.encode()) <= MAX_PAYLOAD else ALL


def parse(text: str) -> Change:
    """A payload as a `Change`; anything unreadable (another program's NOTIFY on our
    channel) is safest read as "re-read everything"."""
    if text == ALL:
        return Change.EVERYTHING
    try:
        ids = json.loads(text)
    except ValueError:
        return Change.EVERYTHING
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return Change.EVERYTHING
    return Change(frozenset(ids))


# ---- listeners ------------------------------------------------------------------------------


class Listener(Protocol):
    """Waits for other connections' commits; lives in one thread (its connection's)."""

    def wait(self, timeout: float) -> Change | None:
        """What was committed, waiting up to `timeout` seconds for something; None: nothing."""
        ...

    def close(self) -> None: ...


class SqliteListener:
    """SQLite's poll behind the listener interface: `data_version` every `interval`."""

    def __init__(self, target: Target, *, interval: float = 0.1) -> None:
        from sladesk_tui.store.db import connect
        from sladesk_tui.store.queries import data_version

        self._conn = connect(target, readonly=True)
        self._interval = interval
        self._version = data_version(self._conn)

    def wait(self, timeout: float) -> Change | None:
        from sladesk_tui.store.queries import data_version

        deadline = time.monotonic() + timeout
        while True:
            version = data_version(self._conn)
            if version != self._version:
                self._version = version
                return Change()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(self._interval, left))

    def close(self) -> None:
        self._conn.close()


class PgListener:
    """``LISTEN`` on its own autocommit connection (module docstring).

    A connection that drops (the server restarted, an administrator ended the
    session, the network went away) is reopened, every `RETRY_S` until it works,
    and the first `wait` after that reports `Change.EVERYTHING`.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Any = None
        self._lost = False
        self._next_try = 0.0
        self._connect()  # the first connection must work: a wrong URL is the caller's error

    @property
    def backend_pid(self) -> int | None:
        """The server process serving the listener (None while disconnected)."""
        return None if self._conn is None else int(self._conn.info.backend_pid)

    def _connect(self) -> None:
        from sladesk_tui.store.pg import listening

        self._conn = listening(self.url, CHANNEL)

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - already broken; closing is best effort
                pass
        self._conn = None
        self._lost = True

    def _reconnect(self, deadline: float) -> bool:
        from sladesk_tui.core.errors import InputError

        while True:
            now = time.monotonic()
            if now >= self._next_try:
                self._next_try = now + RETRY_S
                try:
                    self._connect()
                    return True
                except InputError:
                    pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(max(0.0, min(self._next_try, deadline) - time.monotonic()))

    def wait(self, timeout: float) -> Change | None:
        from sladesk_tui.store.pg import notifications

        deadline = time.monotonic() + timeout
        if self._conn is None and not self._reconnect(deadline):
            return None
        if self._lost:
            self._lost = False
            return Change.EVERYTHING
        try:
            payloads = notifications(self._conn, max(0.0, deadline - time.monotonic()))
        except sqlite3.Error:  # the connection is gone (store.pg's errors are sqlite3's)
            self._drop()
            if self._reconnect(deadline):
                self._lost = False
                return Change.EVERYTHING
            return None
        found: Change | None = None
        for text in payloads:  # one re-read for all of them
            found = parse(text) if found is None else found.merge(parse(text))
        return found

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def listen(target: Target, *, interval: float = 0.1) -> Listener:
    """The listener for a ``--db`` value: pushed hints on PostgreSQL, a poll on SQLite."""
    if is_postgres(target):
        return PgListener(str(target))
    return SqliteListener(target, interval=interval)
