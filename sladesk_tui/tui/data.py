"""What the screens need from the store, in one place: the desk handle and the queue feed.

`Desk` is what every screen reaches through `sladesk_app(self).desk`: the database path, the
operator (the login user, fixed at start), the injected clock, and a connection for
the UI thread. sqlite3 connections belong to the thread that opened them, so a
worker opens its own (`Desk.run(job)`, or `Desk.open()` for the queue feed's
long-lived one, as `StoreQueueSource` does).

`StoreQueueSource` is the queue's feed. It runs in the queue screen's worker thread:
`poll()` asks `PRAGMA data_version` (microseconds) and only when another connection
committed does it reload, and then only the tickets whose events, overrides or
reviews arrived since the last look; a new agreements version reloads everything.
The clock engine runs here, off the UI thread.

On PostgreSQL nothing is polled: the database pushes a hint after every commit
(`store.changes`, docs/postgresql.md), the app's listener worker records it in the
desk's `ChangeHints`, and `Desk.change_version` is then the count of hints heard.
The readers compare that count exactly as they compare `data_version` on SQLite,
and the hints' ticket ids (or "re-read everything", after a reconnect) tell the
queue feed what to load again.
"""

from __future__ import annotations

import gc
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from sladesk_tui.core.queue import QueueRow, build_row
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.changes import Change, Listener, pushes
from sladesk_tui.store.queries import ChangeMarks, change_marks, changed_tickets

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import AgreementSet
    from sladesk_tui.core.calendar import BusinessCalendar
    from sladesk_tui.core.tickets import TicketRecord

Clock = Callable[[], float]
T = TypeVar("T")

DESK_CALENDAR = "desk"
"""The calendar id, in the agreements file, of the desk's own hours (off-shift flags)."""

# Past this many changed tickets a full reload is cheaper than one query each.
_INCREMENTAL_LIMIT = 200


class QueueSource(Protocol):
    """Rows for the queue; lives in one worker thread."""

    def poll(self, now: float, *, force: bool = False) -> list[QueueRow] | None:
        """All open rows if anything changed since the last call (or `force`), else None."""
        ...

    def search(self, text: str) -> frozenset[str] | None:
        """Ids of the open tickets whose title or customer holds every word of `text`
        (word prefixes, case and accents folded); None when `text` has no word.
        Called from any thread."""
        ...

    def close(self) -> None: ...


class ChangeHints:
    """The hints the app's listener heard, for the readers of every thread.

    `count` moves by one per hint; `since(count)` merges the hints heard after a
    reader's last look (the last `KEEP`; a reader further behind re-reads everything).
    """

    KEEP = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self._log: deque[tuple[int, Change]] = deque(maxlen=self.KEEP)

    def add(self, change: Change) -> None:
        with self._lock:
            self.count += 1
            self._log.append((self.count, change))

    def since(self, count: int | None) -> Change:
        with self._lock:
            if count is None or (self._log and self._log[0][0] > count + 1):
                return Change.EVERYTHING
            merged = Change()
            for n, change in self._log:
                if n > count:
                    merged = merged.merge(change)
            return merged


@dataclass
class Desk:
    """The app's handle on the data: see the module docstring."""

    db_path: str
    operator: str
    clock: Clock
    _conn: Connection | None = None
    hints: ChangeHints | None = None

    def __post_init__(self) -> None:
        from sladesk_tui.store.backend import is_postgres
        from sladesk_tui.store.identity import database_user

        if is_postgres(self.db_path):
            # The server says who is connected; a name handed to the app is not
            # trusted for identity there (docs/postgresql.md, "Who is who").
            self.operator = database_user(self.db_path)
        if pushes(self.db_path):
            self.hints = ChangeHints()

    def now(self) -> float:
        return self.clock()

    def open(self, *, readonly: bool = False) -> Connection:
        """A new connection for the calling thread; the caller closes it."""
        from sladesk_tui.store.db import connect

        return connect(self.db_path, readonly=readonly)

    def run(self, job: Callable[[Connection], T], *, readonly: bool = False) -> T:
        """`job` on a new connection of the calling thread, closed whatever happens.

        The one session helper of the TUI: screens call it through
        `BackgroundScreen.run_in_background`, which reports what it raises.
        """
        conn = self.open(readonly=readonly)
        try:
            return job(conn)
        finally:
            conn.close()

    @property
    def conn(self) -> Connection:
        """The UI thread's connection (opened on first use, closed when the app exits)."""
        if self._conn is None:
            self._conn = self.open()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def data_version(self) -> int | None:
        """A number that moves when another connection commits (a screen reloads when
        it moves): the hints heard on PostgreSQL, else the UI connection's `PRAGMA
        data_version`; None when the file cannot be read: the screen's next load says why."""
        if self.hints is not None:
            return self.hints.count
        try:
            return self.change_version(self.conn)
        except Exception:  # noqa: BLE001 - reported by the load, not by the poll
            return None

    def change_version(self, conn: Connection) -> int:
        """`data_version` for a reader with its own connection (the queue feed's thread)."""
        if self.hints is not None:
            return self.hints.count
        from sladesk_tui.store.queries import data_version

        return data_version(conn)

    def heard_since(self, version: int | None) -> Change:
        """What the hints after `version` named (PostgreSQL); on SQLite nothing is named:
        the reader's `ChangeMarks` find what changed."""
        return Change() if self.hints is None else self.hints.since(version)

    def listen(self) -> Listener:
        """A listener for the database's change hints, for the app's listener thread."""
        from sladesk_tui.store.changes import listen

        return listen(self.db_path)


class StoreQueueSource:
    """The queue feed from the SQLite store (one thread; see the module docstring)."""

    def __init__(self, desk: Desk) -> None:
        self._desk = desk
        self._conn: Connection | None = None
        self._version: int | None = None
        self._marks = ChangeMarks()
        self._rows: dict[str, QueueRow] = {}
        self._records: dict[str, TicketRecord] = {}
        self._agreements: dict[int, AgreementSet] = {}
        self._desk_calendar: BusinessCalendar | None = None
        self._recompute_at = float("inf")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def search(self, text: str) -> frozenset[str] | None:
        """Through the full-text index (`store.search`), on a connection of the calling
        thread: the feed's own belongs to the feed's thread."""
        from sladesk_tui.store.search import ticket_ids

        return self._desk.run(lambda conn: ticket_ids(conn, text, open_only=True), readonly=True)

    def poll(self, now: float, *, force: bool = False) -> list[QueueRow] | None:
        from sladesk_tui.store.db import read_tx

        if self._conn is None:
            self._conn = self._desk.open()
        conn = self._conn
        version = self._desk.change_version(conn)
        if version == self._version and not force and now < self._recompute_at:
            return None
        heard = self._desk.heard_since(self._version)
        # The snapshot covers the reads only; the clock engine runs after it is
        # released (an open snapshot pins the WAL while writers append).
        with read_tx(conn):
            marks = change_marks(conn)
            full = force or heard.everything or marks.agreements != self._marks.agreements or not self._rows
            todo: set[str] = set()
            if not full:
                changed = changed_tickets(conn, self._marks) | heard.tickets
                due = {
                    tid
                    for tid, r in self._rows.items()
                    if r.recompute_at is not None and r.recompute_at <= now
                }
                full = len(changed) + len(due) > _INCREMENTAL_LIMIT
                if not full:
                    self._load_some(conn, changed)
                    todo = changed | due
            if full:
                self._load_all(conn)
        if full:
            self._rows = {tid: self._row(r, now) for tid, r in self._records.items()}
            _settle_heap()
        else:
            for tid in todo:
                record = self._records.get(tid)
                if record is not None:
                    self._rows[tid] = self._row(record, now)
        # Recorded only once everything succeeded: a failed poll is retried next time.
        self._version = version
        self._marks = marks
        pending = [r.recompute_at for r in self._rows.values() if r.recompute_at is not None]
        self._recompute_at = min(pending, default=float("inf"))
        # Nothing to show when only another table moved (audit log, roles).
        return list(self._rows.values()) if full or todo else None

    # ---- reading ----------------------------------------------------------------

    def _agreement_set(self, conn: Connection, version: int) -> AgreementSet:
        found = self._agreements.get(version)
        if found is None:
            from sladesk_tui.store.agreements import current_agreements

            _, found = current_agreements(conn, version or None)
            self._agreements[version] = found
        return found

    def _load_all(self, conn: Connection) -> None:
        from sladesk_tui.store.agreements import latest_version
        from sladesk_tui.store.queries import load_open_tickets

        self._agreements.clear()
        latest = latest_version(conn)
        self._desk_calendar = None
        if latest:
            from sladesk_tui.core.agreements import build_calendar

            newest = self._agreement_set(conn, latest)
            if DESK_CALENDAR in newest.calendars:
                self._desk_calendar = build_calendar(newest, DESK_CALENDAR)
        records = load_open_tickets(conn)
        self._records = {r.id: r for r in records}
        for r in records:
            self._parse_agreements(conn, r)

    def _load_some(self, conn: Connection, changed: set[str]) -> None:
        from sladesk_tui.store.queries import load_ticket

        for tid in changed:
            record = load_ticket(conn, tid)
            if record is None or not record.is_open:
                self._records.pop(tid, None)
                self._rows.pop(tid, None)
            else:
                self._records[tid] = record
                self._parse_agreements(conn, record)

    def _parse_agreements(self, conn: Connection, record: TicketRecord) -> None:
        """Have `record`'s agreements version at hand for `_row`, which runs without the connection."""
        if record.agreement_version:
            self._agreement_set(conn, record.agreement_version)

    def _row(self, record: TicketRecord, now: float) -> QueueRow:
        from sladesk_tui.core.evaluate import evaluate

        result = evaluate(record, self._agreements, now)
        raw = result.raw if result.differs else None
        return build_row(
            record,
            result.adjusted,
            now,
            calendar=result.countdown_calendar,
            desk_calendar=self._desk_calendar,
            raw_clocks=raw,
        )


def _settle_heap() -> None:
    """Take the freshly loaded queue out of the cyclic garbage collector's sight.

    At 10k tickets the heap holds a few hundred thousand long-lived objects (rows,
    events); every full collection walks them all (50-80 ms, GIL held), and the
    rendering caches make one happen every twenty-odd countdown ticks: a visible
    stutter. Frozen objects are skipped by collections (refcounting still frees
    them: rows and records hold no cycles). Unfreezing first lets this collection
    reclaim whatever cyclic garbage was frozen last time, so nothing leaks past the
    next full reload.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
