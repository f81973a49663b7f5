"""Writing events into the store: `ingest` (a batch in one transaction) and `import_file`.

The events table is the record; the tickets table is a projection of it kept in the
same transaction, so a screen reads one row per ticket instead of replaying history.

Decisions recorded here (docs/formats.md, "Importing"):

- Idempotency is by event id: the same id with the same content digest
  (`core.events.event_digest`) is skipped as already present, a different digest is
  an error. A repeated id inside one file follows the same rule.
- A non-`created` event needs its ticket to exist in the database or to be created
  on an earlier line of the same input, and may not be older than the ticket's
  creation (the clocks would have nothing to run from). A second `created` for an
  existing ticket is an error.
- A `status` event may not set `resolved` or `closed`: those are their own event
  types, which end the ticket and stop its clocks; a status that merely looked
  like them would not. While a ticket is ended, `status` events are kept in the
  history but do not change its status (it stays ended until `reopened`).
- A priority must be one of the governing agreement's priorities (its `targets`
  keys); a ticket no agreement covers takes any priority token.
- A ticket's agreement is chosen once, when its `created` event is imported,
  against the newest agreements version (docs/agreements.md: the version in force at
  creation governs it). A ticket with none keeps the reason and that version.
- Events are applied in `(at, file order)`, and checked in that order too: a reply
  on a line before its ticket's `created` line is accepted when its `at` is not
  earlier (exports concatenated per type do that). An event older than what a ticket's
  projection already reflects is stored and the ticket is replayed from its whole
  history, so the projection is always its latest state by `at`, never by arrival.
- Every batch that inserts events appends one audit row covering them
  (`store.audit.RowRange`) and refreshes the stored clock outcomes of the tickets
  it changed (`store.outcomes`), in the same transaction; a batch that only skips
  writes nothing.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import IO, Any

from sladesk_tui.core.agreements import AgreementSet, match_agreement
from sladesk_tui.core.errors import InputError
from sladesk_tui.core.eventfile import MAX_LINE_BYTES, read_events
from sladesk_tui.core.events import ENDING_TYPES, LOCAL_SOURCE, SERVICE_EVENT_TYPES, Event, event_digest
from sladesk_tui.core.text import safe_text
from sladesk_tui.core.tickets import TicketProjection, TicketRecord
from sladesk_tui.store.agreements import current_agreements
from sladesk_tui.store.audit import RangeDigest, RowRange, append_audit, row_ranges
from sladesk_tui.store.backend import Connection, dialect
from sladesk_tui.store.bulk_sqlite import bulk_load, insert_rows
from sladesk_tui.store.db import open_db, write_tx
from sladesk_tui.store.instants import iso_utc, now_ts
from sladesk_tui.store.outcomes import refresh_outcomes

# Events handled per round of look-ups and executemany: bounds the rows held at once.
CHUNK = 50_000
# Look-ups by key: SQLite's default limit of host parameters is far above this.
_IN_CHUNK = 900
# Bytes read from an input at a time.
_READ_SIZE = 1 << 20
# Errors kept for display by a refused import; the count covers them all.
MAX_ERRORS_KEPT = 1000

_EVENT_COLUMNS = (
    "id",
    "type",
    "ticket",
    "ts",
    "at",
    "customer",
    "service",
    "priority",
    "title",
    "status",
    "assignee",
    "author",
    "agreement",
    "body",
    "digest",
    "actor",
    "source",
    "recorded_at",
)
_INSERT_EVENT = (
    f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})"
)
_TICKET_COLUMNS = (
    "customer",
    "service",
    "title",
    "priority",
    "status",
    "assignee",
    "agreement_id",
    "agreement_version",
    "no_agreement_reason",
    "is_open",
    "created_ts",
    "updated_ts",
    "ended_ts",
)
_INSERT_TICKET = f"INSERT INTO tickets (id, {', '.join(_TICKET_COLUMNS)}) VALUES ({', '.join('?' * (len(_TICKET_COLUMNS) + 1))})"
_UPDATE_TICKET = f"UPDATE tickets SET {', '.join(c + ' = ?' for c in _TICKET_COLUMNS)} WHERE id = ?"
# An events row as the audit digest spells it (store.audit.RowRange).
EVENT_ROW_COLUMNS = ("seq", *_EVENT_COLUMNS)
# The position of `digest` in an `event_row`.
_DIGEST = _EVENT_COLUMNS.index("digest")


def event_row(ev: Event, at_iso: str, digest: str) -> tuple[Any, ...]:
    """An event's row of the events table from `id` to `digest` (`_EVENT_COLUMNS`
    without the recording columns): `at_iso` is `at` as stored, `digest` its
    `event_digest`. `ts` is a REAL: the audit digest must see what is read back."""
    return (
        ev.id,
        ev.type,
        ev.ticket,
        float(ev.at),
        at_iso,
        ev.customer,
        ev.service,
        ev.priority,
        ev.title,
        ev.status,
        ev.assignee,
        ev.author,
        ev.agreement,
        ev.body,
        digest,
    )


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one `ingest` wrote. `errors` are the events refused (only with skip_invalid:
    otherwise any error raises `ImportRejected` and nothing is written)."""

    inserted: int
    already_present: int
    errors: tuple[InputError, ...] = ()
    first_seq: int | None = None  # events.seq range of the inserted rows
    last_seq: int | None = None


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of `import_file`; `skipped_invalid` lists the lines left out."""

    name: str
    inserted: int
    already_present: int
    skipped_invalid: tuple[InputError, ...] = ()

    def summary(self) -> str:
        from sladesk_tui.core.text import counted

        return (
            f"imported {counted(self.inserted, 'event')} ({self.already_present} skipped as already present)"
            f" from {safe_text(self.name)}"
        )


class ImportRejected(InputError):
    """An input with bad lines, refused whole. Reads as its first error (FILE:LINE: reason);
    `errors` keeps the first `MAX_ERRORS_KEPT` in line order, `count` says how many there were."""

    def __init__(self, errors: Sequence[InputError]) -> None:
        first = errors[0]
        super().__init__(first.args[0], where=first.where)
        self.errors = tuple(errors[:MAX_ERRORS_KEPT])
        self.count = len(errors)


# ---- the projection ----------------------------------------------------------------


class _Ticket(TicketProjection):
    """A stored ticket row being maintained: core's projection plus the importer's own state.

    `pending` are this chunk's events for it in file order; `replay_needed` says one of
    them is older than the state; `queued` that the chunk's projection step will write it.
    """

    __slots__ = (
        "id",
        "agreement_id",
        "agreement_version",
        "no_agreement_reason",
        "priorities",
        "in_db",
        "pending",
        "replay_needed",
        "queued",
    )

    agreement_id: str | None
    agreement_version: int | None
    no_agreement_reason: str | None

    def __init__(self, tid: str) -> None:
        self.id = tid
        self.priorities: frozenset[str] | None = None  # the agreement's priorities; None: any
        self.in_db = False
        self.pending: list[Event] = []
        self.replay_needed = False
        self.queued = False

    def row(self) -> tuple[object, ...]:
        return (
            self.customer,
            self.service,
            self.title,
            self.priority,
            self.status,
            self.assignee,
            self.agreement_id,
            self.agreement_version,
            self.no_agreement_reason,
            int(self.is_open),
            self.created_ts,
            self.updated_ts,
            self.ended_ts,
        )


# ---- ingesting -----------------------------------------------------------------------


def ingest(
    conn: Connection,
    events: Sequence[Event],
    *,
    actor: str,
    source: str,
    name: str | None = None,
    skip_invalid: bool = False,
    require: str | None = None,
) -> IngestResult:
    """Store `events` (in file order) in ONE write transaction, with the tickets
    projection, the outcomes of the changed tickets and the audit row.

    `require` names a role `actor` must hold (`"feed"` for the ticketing system's
    events, docs/roles.md), checked inside the transaction: a role revoked while a
    feed runs stops it at its next batch, with nothing of that batch written.

    `name` is the input's display name: errors then read ``NAME:SEQ: reason``, an
    event's `seq` being its line. Without `skip_invalid`, any refused event raises
    `ImportRejected` (every error found) and nothing is written; with it, the valid
    events are stored and the refused ones returned in `errors`.
    """
    with write_tx(conn):
        return ingest_in_tx(
            conn, events, actor=actor, source=source, name=name, skip_invalid=skip_invalid, require=require
        )


def ingest_in_tx(
    conn: Connection,
    events: Sequence[Event],
    *,
    actor: str,
    source: str,
    name: str | None = None,
    skip_invalid: bool = False,
    require: str | None = None,
) -> IngestResult:
    """`ingest` inside the caller's open write transaction: the webhook receiver stores
    several deliveries (each under a savepoint) in one commit (docs/sources.md), the
    puller a page with its cursor (docs/pull.md). On `ImportRejected` the caller
    rolls its transaction or savepoint back."""
    if require is not None:
        from sladesk_tui.store.roles import require_role

        require_role(conn, actor, require)
    if source == LOCAL_SOURCE:  # an agent's own action in the app: the desk may forbid it
        from sladesk_tui.store.settings import refuse_local_if_off

        refuse_local_if_off(conn, events)
    resorted = any(a.at > b.at for a, b in pairwise(events))
    if resorted:
        events = sorted(events, key=_at)  # stable: (at, file order), as the README says
    batch = _Batch(conn, actor=actor, source=source, name=name)
    batch.resorted, batch.events = resorted, events
    with bulk_load(conn, len(events)):
        for i in range(0, len(events), CHUNK):
            batch.add(events[i : i + CHUNK])
        if batch.errors and not skip_invalid:
            raise ImportRejected([e for _, e in sorted(batch.errors, key=lambda x: x[0])])
        # Clocks these events stopped (or set running again): outcomes in the same transaction.
        refresh_outcomes(conn, batch.changed, now_ts(), known=batch.fresh_records())
        return batch.finish()


class _Batch:
    """One write transaction's worth of events, fed in chunks of file order.

    Keeps every ticket it touched (so later chunks see earlier ones without asking
    the database again) and the events.seq range it inserted, for the audit row.
    """

    def __init__(self, conn: Connection, *, actor: str, source: str, name: str | None) -> None:
        self.conn = conn
        self.actor, self.source, self.name = actor, source, name
        self.recorded_at = dialect(conn).recorded_at(conn)
        self.version, self.aset = current_agreements(conn)
        self._sets: dict[int, AgreementSet] = {self.version: self.aset}
        self.tickets: dict[str, _Ticket] = {}
        self.changed: set[str] = set()  # tickets given new events (their clocks may have moved)
        self.last_touched: list[str] = []  # the tickets the latest `add` gave new events
        # Tickets this batch created, with their whole history: their outcomes need no
        # read-back of what was just written (a bulk import's tickets are nearly all new).
        self.fresh: dict[str, list[Event]] = {}
        self.absent: set[str] = set()
        self.errors: list[tuple[int, InputError]] = []
        self.inserted = 0
        self.already_present = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self._iso = _IsoCache()
        self.resorted = False  # the events were sorted by `at`: insert each chunk in file order
        self.events: Sequence[Event] = ()  # the whole input, for the messages of `_unknown`
        self._created_at: dict[str, float] | None = None
        # The ids this batch inserted when the events table was empty before it (then
        # no others are stored); None when it was not.
        self._mine: set[str] | None = None
        self._looked = False  # whether the table was looked at
        # The audit digest of the inserted rows, fed as they go in (store.audit.RowRange);
        # None: not fed (a pipelined import's parser computes it, or it is read back).
        self.digest: RangeDigest | None = RangeDigest(EVENT_ROW_COLUMNS)
        # The seqs given to the inserted rows, on PostgreSQL (None on SQLite: one range).
        self._seqs: list[int] | None = None
        if dialect(conn).name != "sqlite":
            self._seqs, self.digest = [], None  # the digest is used on SQLite only (store.audit)

    # -- the pass over a chunk ----------------------------------------------------

    def add(
        self,
        events: Sequence[Event],
        prepared: Sequence[tuple[Any, ...]] | None = None,
    ) -> None:
        """Check, insert and project a chunk. `prepared` (each event's `event_row`),
        when given, was computed by the parsing process of a pipelined import
        (`store.bulk_import`)."""
        stored = self._stored_digests({ev.id for ev in events})
        self._load_tickets({ev.ticket for ev in events if ev.ticket is not None})
        accepted: dict[str, tuple[str, int]] = {}  # id -> (digest, line) within this chunk
        rows: list[tuple[object, ...]] = []
        lines: list[int] = []  # the file line of each row
        touched: list[_Ticket] = []
        recording = (self.actor, self.source, self.recorded_at)
        if prepared is None:
            iso = self._iso.get
            prepared = [event_row(ev, iso(ev.at), event_digest(ev)) for ev in events]
        for ev, row in zip(events, prepared, strict=True):
            digest = row[_DIGEST]
            prev = stored.get(ev.id)
            if prev is None and ev.id in accepted:
                prev, line = accepted[ev.id]
                if prev != digest:
                    self._error(ev, f"event {ev.id!r} conflicts with the event of that id on line {line}")
                    continue
            if prev is not None:
                if prev == digest:
                    self.already_present += 1
                else:
                    self._error(ev, f"event {ev.id!r} conflicts with the stored event of that id")
                continue
            reason = self._stage(ev, touched)
            if reason is not None:
                self._error(ev, reason)
                continue
            accepted[ev.id] = (digest, ev.seq)
            lines.append(ev.seq)
            rows.append(row + recording)
        if rows:
            if self.resorted:  # stored in file order all the same (within the chunk)
                rows = [r for _, r in sorted(zip(lines, rows, strict=True), key=_first)]
            insert_rows(self.conn, _INSERT_EVENT, rows)
            if self._seqs is None:
                # SQLite: the write lock keeps every other writer out, so the rows just
                # added hold the newest seqs, in order.
                last = int(self.conn.execute("SELECT MAX(seq) FROM events").fetchone()[0])
                first = last - len(rows) + 1
                if self.digest is not None:
                    self.digest.add([(seq, *row) for seq, row in enumerate(rows, first)])
            else:
                # PostgreSQL: the sequence interleaves concurrent sessions (a person's raw
                # event may take a seq between two of these), so the seqs are read back by
                # id, and the audit row covers those exactly (`audit.row_ranges`).
                seqs = self._seqs_of([str(r[0]) for r in rows])
                self._seqs += seqs
                first, last = min(seqs), max(seqs)
            if self.first_seq is None:
                self.first_seq = first
            self.last_seq = last
            self.inserted += len(rows)
            if self._mine is not None:
                self._mine.update(accepted)
        self._project(touched)

    def _stage(self, ev: Event, touched: list[_Ticket]) -> str | None:
        """Check an event against the tickets; on success queue it for the projection."""
        etype = ev.type
        if etype in SERVICE_EVENT_TYPES:
            return None
        tid = ev.ticket
        assert tid is not None  # eventfile requires it of ticket events
        t = self.tickets.get(tid)
        if etype == "created":
            if t is not None:
                return f"ticket {tid!r} already exists: a second 'created' event for it"
            return self._create(ev, touched)
        if t is None:
            return self._unknown(ev, tid)
        if ev.at < t.created_ts:
            return (
                f"the event ({iso_utc(ev.at)}) is older than the creation of ticket {tid!r} "
                f"({iso_utc(t.created_ts)})"
            )
        if etype == "status" and ev.status in ENDING_TYPES:
            return (
                f"status {ev.status!r} is set by a {ev.status!r} event, which ends the ticket; "
                "a 'status' event cannot"
            )
        if etype == "priority" and t.priorities is not None and ev.priority not in t.priorities:
            return self._bad_priority(ev.priority, t)
        if not t.queued:
            t.queued = True
            touched.append(t)
        t.pending.append(ev)
        if ev.at < t.updated_ts:
            t.replay_needed = True
        return None

    def _create(self, ev: Event, touched: list[_Ticket]) -> str | None:
        agreement, reason = match_agreement(
            self.aset, customer=ev.customer, service=ev.service, created_at=ev.at, agreement_id=ev.agreement
        )
        t = _Ticket(ev.ticket)  # type: ignore[arg-type]  # a created event always names its ticket
        if agreement is not None:
            t.agreement_id, t.priorities = agreement.id, frozenset(agreement.targets)
        else:
            t.agreement_id = None
        t.agreement_version = self.version or None
        t.no_agreement_reason = reason
        if t.priorities is not None and ev.priority not in t.priorities:
            return self._bad_priority(ev.priority, t)
        t.start(ev.at, ev.customer, ev.service, ev.title, ev.priority, ev.assignee)  # type: ignore[arg-type]  # a validated created event has these fields
        t.queued = True
        self.tickets[t.id] = t
        self.fresh[t.id] = [ev]
        self.absent.discard(t.id)
        touched.append(t)
        return None

    def _unknown(self, ev: Event, tid: str) -> str:
        """The reason for an event whose ticket is not created (yet, in `(at, file order)`)."""
        if self._created_at is None:  # built on the first such error only
            self._created_at = {}
            for e in self.events:
                if e.type == "created" and e.ticket:
                    self._created_at.setdefault(e.ticket, e.at)
        at = self._created_at.get(tid)
        if at is None:
            return f"unknown ticket {tid!r}: no 'created' event for it in the database or on an earlier line"
        if at == ev.at:
            return (
                f"the event comes before ticket {tid!r}'s 'created' line, at the same instant ({iso_utc(at)})"
            )
        return f"the event ({iso_utc(ev.at)}) is older than the creation of ticket {tid!r} ({iso_utc(at)})"

    @staticmethod
    def _bad_priority(priority: str | None, t: _Ticket) -> str:
        known = ", ".join(sorted(t.priorities or ()))
        return f"priority {priority!r} is not one of agreement {t.agreement_id!r}'s priorities ({known})"

    def _error(self, ev: Event, reason: str) -> None:
        where = f"{self.name}:{ev.seq}" if self.name is not None else None
        self.errors.append((ev.seq, InputError(reason, where=where)))

    # -- the projection -------------------------------------------------------------

    def _project(self, touched: list[_Ticket]) -> None:
        inserts: list[tuple[object, ...]] = []
        updates: list[tuple[object, ...]] = []
        last: list[str] = []
        self.last_touched = last
        for t in touched:
            if t.replay_needed:
                self._replay(t)
            else:
                t.pending.sort(key=_at)  # stable: file order among equal instants
                for ev in t.pending:
                    t.apply(ev.type, ev.at, ev.priority, ev.status, ev.assignee)
            history = self.fresh.get(t.id)
            if history is not None:
                history.extend(t.pending)
            t.pending, t.replay_needed, t.queued = [], False, False
            self.changed.add(t.id)
            last.append(t.id)
            if t.in_db:
                updates.append((*t.row(), t.id))
            else:
                inserts.append((t.id, *t.row()))
                t.in_db = True
        if inserts:
            insert_rows(self.conn, _INSERT_TICKET, inserts)
        if updates:
            self.conn.executemany(_UPDATE_TICKET, updates)

    def _replay(self, t: _Ticket) -> None:
        """Rebuild a ticket from its whole stored history (this batch's rows included)."""
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute(
            "SELECT type, ts, customer, service, title, priority, status, assignee FROM events"
            " WHERE ticket = ? ORDER BY ts, seq",
            (t.id,),
        )
        t.replay(cur)

    # -- look-ups -----------------------------------------------------------------

    def _seqs_of(self, ids: list[str]) -> list[int]:
        """The seqs of the events of these ids (all stored by this batch)."""
        cur = self.conn.cursor()
        cur.row_factory = None
        out: list[int] = []
        for part in _parts(ids):
            out += (
                int(r[0])
                for r in cur.execute(
                    f"SELECT seq FROM events WHERE id IN ({', '.join('?' * len(part))})", part
                )
            )
        return out

    def _stored_digests(self, ids: set[str]) -> dict[str, str]:
        if not self._looked:
            self._looked = True
            if self.conn.execute("SELECT 1 FROM events LIMIT 1").fetchone() is None:
                self._mine = set()
        if self._mine is not None:
            # The table was empty when this batch began: only the ids it inserted are
            # stored (a first load of a million events asks for none of them).
            ids &= self._mine
            if not ids:
                return {}
        found: dict[str, str] = {}
        cur = self.conn.cursor()
        cur.row_factory = None
        for part in _parts(sorted(ids)):
            cur.execute(f"SELECT id, digest FROM events WHERE id IN ({', '.join('?' * len(part))})", part)
            found.update(cur.fetchall())
        return found

    def _load_tickets(self, ids: set[str]) -> None:
        wanted = sorted(i for i in ids if i not in self.tickets and i not in self.absent)
        if not wanted:
            return
        cur = self.conn.cursor()
        cur.row_factory = None
        for part in _parts(wanted):
            cur.execute(
                f"SELECT id, {', '.join(_TICKET_COLUMNS)} FROM tickets WHERE id IN ({', '.join('?' * len(part))})",
                part,
            )
            for tid, *values in cur.fetchall():
                t = _Ticket(tid)
                (
                    t.customer,
                    t.service,
                    t.title,
                    t.priority,
                    t.status,
                    t.assignee,
                    t.agreement_id,
                    t.agreement_version,
                    t.no_agreement_reason,
                    is_open,
                    t.created_ts,
                    t.updated_ts,
                    t.ended_ts,
                ) = values
                t.is_open = bool(is_open)
                t.in_db = True
                t.priorities = self._priorities(t.agreement_version, t.agreement_id)
                self.tickets[tid] = t
        self.absent.update(i for i in wanted if i not in self.tickets)

    def _priorities(self, version: int | None, agreement_id: str | None) -> frozenset[str] | None:
        if version is None or agreement_id is None:
            return None
        aset = self._sets.get(version)
        if aset is None:
            aset = self._sets[version] = current_agreements(self.conn, version)[1]
        a = aset.get(agreement_id)
        return None if a is None else frozenset(a.targets)

    # -- the end ------------------------------------------------------------------

    def fresh_records(self, ids: Iterable[str] | None = None) -> dict[str, TicketRecord]:
        """The tickets this batch created (of `ids`, or all) and an agreement governs,
        as the store would read them back: the projected row and every event so far in
        `(at, file order)`, which is also their `seq` order in the table. They have no
        overrides yet."""
        out: dict[str, TicketRecord] = {}
        fresh = self.fresh
        for tid in fresh if ids is None else ids:
            history = fresh.get(tid)
            if history is None:
                continue
            t = self.tickets[tid]
            if t.agreement_id is None:
                continue
            history.sort(key=_at_seq)
            out[tid] = TicketRecord(
                tid,
                t.customer,
                t.service,
                t.title,
                t.priority,
                t.status,
                t.assignee,
                t.agreement_id,
                t.agreement_version,
                t.no_agreement_reason,
                t.is_open,
                t.created_ts,
                t.updated_ts,
                t.ended_ts,
                events=tuple(history),
            )
        return out

    def finish(self) -> IngestResult:
        """Append the audit row covering the inserted events (none when nothing was inserted)."""
        if self.inserted and self.first_seq is not None and self.last_seq is not None:
            append_audit(
                self.conn,
                actor=self.actor,
                action="events.import",
                subject=self.source,
                after={
                    "inserted": self.inserted,
                    "already_present": self.already_present,
                    "refused": len(self.errors),
                    "first_seq": self.first_seq,
                    "last_seq": self.last_seq,
                },
                covers=(
                    [RowRange("events", self.first_seq, self.last_seq, self.digest)]
                    if self._seqs is None
                    else row_ranges("events", self._seqs)
                ),
            )
        errors = tuple(e for _, e in sorted(self.errors, key=lambda x: x[0]))
        return IngestResult(self.inserted, self.already_present, errors, self.first_seq, self.last_seq)


def _at(ev: Event) -> float:
    return ev.at


def _at_seq(ev: Event) -> tuple[float, int]:
    return (ev.at, ev.seq)


def _first(pair: tuple[int, object]) -> int:
    return pair[0]


def _parts(keys: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(keys), _IN_CHUNK):
        yield keys[i : i + _IN_CHUNK]


class _IsoCache:
    """`iso_utc` for whole-second instants (nearly every imported event) from a cached
    minute prefix: the spelling is the same, at a fraction of the cost per event."""

    def __init__(self) -> None:
        self._minutes: dict[int, str] = {}

    def get(self, ts: float) -> str:
        if not ts.is_integer():
            return iso_utc(ts)
        s = int(ts)
        minute, sec = divmod(s, 60)
        prefix = self._minutes.get(minute)
        if prefix is None:
            prefix = self._minutes[minute] = iso_utc(minute * 60)[:17]
        return f"{prefix}{sec:02d}.000000Z"


# ---- files ---------------------------------------------------------------------------


def read_input(
    path: str | os.PathLike[str], *, fmt: str = "auto", stdin: IO[bytes] | None = None
) -> tuple[str, list[Event], list[InputError]]:
    """Parse a whole input (a file, or stdin for "-"): (display name, events, bad lines).

    The display name is the path with control and bidi characters neutralised
    (`core.text.safe_text`): it reaches the terminal in every message and is recorded
    as the events' source. A line longer than `MAX_LINE_BYTES` stops the reading at
    once with an InputError (whatever `skip_invalid` says): memory stays bounded on
    input without line breaks (`/dev/zero`, a binary file).
    """
    if str(path) == "-":
        return _parse("<stdin>", stdin if stdin is not None else sys.stdin.buffer, fmt)
    name = safe_text(str(path))
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise InputError("no such file", where=name) from None
    except IsADirectoryError:
        raise InputError("is a directory, not an events file", where=name) from None
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), where=name) from None
    with fh:
        return _parse(name, fh, fmt)


def _parse(name: str, fh: IO[bytes], fmt: str) -> tuple[str, list[Event], list[InputError]]:
    events: list[Event] = []
    errors: list[InputError] = []
    lines = _BoundedLines(fh)
    for _, item in read_events(lines, name=name, fmt=fmt):
        if isinstance(item, Event):
            events.append(item)
        else:
            errors.append(item)
        if lines.overlong:
            raise InputError(
                f"line is too long (more than {MAX_LINE_BYTES:,} bytes, at most {MAX_LINE_BYTES:,}):"
                " not an events file? reading stopped, nothing imported",
                where=f"{name}:{lines.count}",
            )
    return name, events, errors


class _BoundedLines:
    """The lines of a binary stream (each with its b"\n"), never holding more than about
    two read sizes: a line longer than `MAX_LINE_BYTES` is handed on cut (the parser
    reports it) and the iteration ends there, with `overlong` set.

    `fh`'s own line iteration would buffer a line of any length (`/dev/zero` has none).
    """

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.count = 0  # lines handed on
        self.overlong = False

    def __iter__(self) -> Iterator[bytes]:
        buf = b""
        while not self.overlong:
            chunk = self._fh.read(_READ_SIZE)
            if not chunk:
                break
            buf += chunk
            start = 0
            while (nl := buf.find(b"\n", start)) >= 0:
                self.count += 1
                yield buf[start : nl + 1]
                start = nl + 1
            buf = buf[start:]
            if len(buf) > MAX_LINE_BYTES:
                self.count += 1
                self.overlong = True
                yield buf[: MAX_LINE_BYTES + 1]
                return
        if buf:
            self.count += 1
            yield buf


def import_file(
    db: Connection | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    fmt: str = "auto",
    skip_invalid: bool = False,
    actor: str,
    source: str | None = None,
    stdin: IO[bytes] | None = None,
    require: str | None = None,
) -> ImportReport:
    """Import an events file (or stdin for "-") atomically: one transaction per file.

    The input is parsed whole before the write lock is taken (a slow pipe must not
    block other operators), except for a big regular file without `skip_invalid`:
    that is parsed by a second process while this one writes (`store.bulk_import`,
    docs/bulk_import.md), with the same outcome, down to the wording of a refusal. Without `skip_invalid` any bad line, syntactic or not
    (unknown ticket, conflicting id), raises `ImportRejected` listing them and writes
    nothing; with it the valid events are stored and the bad lines reported.
    `source` defaults to ``import:NAME``; `require` as for `ingest`.
    """
    with _bulk():
        if not skip_invalid and source != LOCAL_SOURCE:
            from sladesk_tui.store.bulk_import import import_pipelined

            piped = import_pipelined(db, path, fmt=fmt, actor=actor, source=source, require=require)
            if piped is not None:
                return piped
        name, events, bad = read_input(path, fmt=fmt, stdin=stdin)
        if bad and not skip_invalid:
            raise ImportRejected(bad)
        source = source or f"import:{name}"
        own = isinstance(db, str | os.PathLike)
        conn = open_db(db) if isinstance(db, str | os.PathLike) else db
        try:
            result = ingest(
                conn,
                events,
                actor=actor,
                source=source,
                name=name,
                skip_invalid=skip_invalid,
                require=require,
            )
        finally:
            if own:
                conn.close()
    skipped = sorted([*bad, *result.errors], key=_line_of)
    return ImportReport(name, result.inserted, result.already_present, tuple(skipped))


@contextmanager
def _bulk() -> Iterator[None]:
    """No cyclic garbage collection while a file is imported.

    An import keeps every event it parsed (and the rows built from them) alive until
    it commits: millions of objects, none of them cyclic garbage. CPython's collector
    would still walk them all again and again as they pile up (a tenth of a million-
    event import's CPU); afterwards it runs as before. Memory is unchanged: nothing
    freed here was ever collectable."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _line_of(err: InputError) -> int:
    where = err.where or ""
    tail = where.rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0
