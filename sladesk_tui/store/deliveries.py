"""Webhook deliveries into the store: several per transaction, each all or nothing.

The receiver (`services/receiver.py`) answers 2xx only once `store_batch` has
committed a delivery's events, its `deliveries` row and their audit rows
(docs/sources.md, "A 2xx means stored"). Decisions recorded here:

- One write transaction per batch. The batch is mapped against a running view of
  its tickets' state (a delivery sees the ones before it) and stored as one import
  per source; a delivery the mapping refuses (an unmapped status found against the
  stored state) is left out alone. Should the importer refuse an event, that
  attempt is rolled back and each delivery goes in under its own savepoint, so only
  the refused one is refused and the others still commit.
- Events go through `imports.ingest_in_tx`, the importer's own path: idempotency by
  event id, the tickets projection, outcomes and the events audit row are the same
  as `sladesk import`'s. The batch's `deliveries` rows get one audit row of their own.
- A delivery id already stored with the same body is a retry whose answer was lost
  (the sender never saw our 2xx): it is answered 200 `duplicate` and stores nothing.
  The same id with another body is refused 409.
- `source_status` keeps per source the latest delivery and the latest refusal with
  its reason, for `sladesk sources`; refusals decided before the store (signature,
  size, JSON) are written with the next batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sladesk_tui.core.events import Event
from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.core.sources.payloads import Decoded, TicketState, advance, to_events
from sladesk_tui.core.sources.refusals import Refusal
from sladesk_tui.store.audit import append_audit, row_ranges
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import write_tx
from sladesk_tui.store.imports import ImportRejected, ingest_in_tx
from sladesk_tui.store.instants import iso_utc
from sladesk_tui.store.roles import require_role


@dataclass(frozen=True, slots=True)
class Pending:
    """A verified, decoded delivery waiting for the store."""

    source: Source
    delivery_id: str
    body_sha256: str
    decoded: Decoded
    received_ts: float


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one delivery: the HTTP status and a one-line reason."""

    status: int
    reason: str
    inserted: int = 0
    already_present: int = 0


@dataclass(frozen=True, slots=True)
class RefusalNote:
    """A refusal decided before the store, kept for `sladesk sources`."""

    source: str
    ts: float
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One line of `sladesk sources`."""

    source: str
    deliveries: int
    refusals: int
    last_delivery_ts: float | None
    last_delivery_what: str | None
    last_refusal_ts: float | None
    last_refusal_status: int | None
    last_refusal_reason: str | None


def ticket_states(conn: Connection, ids: Iterable[str]) -> dict[str, TicketState | None]:
    """The stored state of each ticket (None: never seen), for snapshot diffs."""
    out: dict[str, TicketState | None] = {}
    for tid in ids:
        row = conn.execute(
            "SELECT status, priority, assignee, is_open FROM tickets WHERE id = ?", (tid,)
        ).fetchone()
        out[tid] = None if row is None else TicketState(row[0], row[1], row[2], bool(row[3]))
    return out


def store_batch(
    conn: Connection,
    pending: Sequence[Pending],
    refusals: Sequence[RefusalNote] = (),
    *,
    actor: str,
    require: str | None = None,
) -> list[Outcome]:
    """Store `pending` in one transaction; an Outcome per delivery, in order.

    `require` names the role `actor` must hold (`"feed"`), checked inside the
    transaction like the importer's: a receiver whose account loses the role stores
    nothing more (`Refused` is raised, the batch rolled back).

    The whole batch is first tried as one import per source (one audit row, one
    refresh of outcomes: the receiver's speed). Should the importer refuse any event
    of it, that attempt is rolled back and each delivery is stored under a savepoint
    of its own, so only the refused one is refused.
    """
    with write_tx(conn):
        if require is not None:
            require_role(conn, actor, require)
        done = _together(conn, pending, actor)
        if done is None:
            done = _one_by_one(conn, pending, actor)
        outcomes, rows = done
        notes = list(refusals)
        for p, outcome in zip(pending, outcomes, strict=True):
            if outcome.status >= 400:
                notes.append(RefusalNote(p.source.name, p.received_ts, outcome.status, outcome.reason))
        for p, row in zip(pending, rows, strict=True):
            if row is not None:
                _status_delivery(conn, p.source.name, p.received_ts, p.decoded.what)
        for n in notes:
            _status_refusal(conn, n)
        stored = [r for r in rows if r is not None]
        if stored:
            append_audit(
                conn,
                actor=actor,
                action="sources.deliveries",
                subject=",".join(sorted({p.source.name for p, r in zip(pending, rows, strict=True) if r})),
                after={"deliveries": len(stored), "first_id": min(stored), "last_id": max(stored)},
                covers=row_ranges("deliveries", stored),
            )
    return outcomes


_Done = tuple[list[Outcome], list[int | None]]


def _seen(conn: Connection, p: Pending, batch: dict[tuple[str, str], str]) -> Outcome | None:
    """The answer to a delivery id already stored (or earlier in this batch), else None."""
    key = (p.source.name, p.delivery_id)
    digest = batch.get(key)
    if digest is None:
        row = conn.execute(
            "SELECT body_sha256 FROM deliveries WHERE source = ? AND delivery_id = ?", key
        ).fetchone()
        digest = None if row is None else row[0]
    if digest is None:
        return None
    if digest == p.body_sha256:
        return Outcome(200, "duplicate: this delivery is already stored")
    return Outcome(409, f"delivery id {p.delivery_id!r} was stored with another body")


def _together(conn: Connection, pending: Sequence[Pending], actor: str) -> _Done | None:
    """The batch as one import per source; None (nothing written) when the importer
    refuses any of its events."""
    outcomes: list[Outcome | None] = [None] * len(pending)
    states = ticket_states(conn, {t for p in pending for t in p.decoded.tickets})
    batch: dict[tuple[str, str], str] = {}
    mapped: list[tuple[int, list[Event]]] = []
    for i, p in enumerate(pending):
        seen = _seen(conn, p, batch)
        if seen is not None:
            outcomes[i] = seen
            continue
        try:
            events = to_events(p.source, p.decoded, {t: states.get(t) for t in p.decoded.tickets})
        except Refusal as exc:
            outcomes[i] = Outcome(exc.status, exc.reason)
            continue
        for t in {e.ticket for e in events if e.ticket is not None}:
            states[t] = advance(states.get(t), [e for e in events if e.ticket == t])
        batch[(p.source.name, p.delivery_id)] = p.body_sha256
        mapped.append((i, events))
    present = _stored_ids(conn, [e.id for _, evs in mapped for e in evs])
    conn.execute("SAVEPOINT batch")
    try:
        by_source: dict[str, list[Event]] = {}
        for i, evs in mapped:
            by_source.setdefault(pending[i].source.name, []).extend(evs)
        for name, evs in by_source.items():
            renumbered = [replace(e, seq=n) for n, e in enumerate(evs, 1)]
            ingest_in_tx(conn, renumbered, actor=actor, source=f"webhook:{name}", name="batch")
    except ImportRejected:
        _rollback(conn, "batch")
        return None
    except BaseException:
        _rollback(conn, "batch")
        raise
    rows: list[int | None] = [None] * len(pending)
    for i, evs in mapped:
        p = pending[i]
        new = sum(1 for e in evs if e.id not in present)
        present.update(e.id for e in evs)
        rows[i] = _insert(conn, p, new, len(evs) - new)
        outcomes[i] = _stored(p, evs, new)
    conn.execute("RELEASE batch")
    return [o for o in outcomes if o is not None], rows


def _one_by_one(conn: Connection, pending: Sequence[Pending], actor: str) -> _Done:
    outcomes: list[Outcome] = []
    rows: list[int | None] = []
    batch: dict[tuple[str, str], str] = {}
    for i, p in enumerate(pending):
        outcome, row = _one(conn, p, i, actor, batch)
        outcomes.append(outcome)
        rows.append(row)
    return outcomes, rows


def _stored_ids(conn: Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for k in range(0, len(ids), 500):
        part = ids[k : k + 500]
        found.update(
            r[0]
            for r in conn.execute(f"SELECT id FROM events WHERE id IN ({', '.join('?' * len(part))})", part)
        )
    return found


def _insert(conn: Connection, p: Pending, inserted: int, present: int) -> int:
    cur = conn.execute(
        "INSERT INTO deliveries (source, delivery_id, body_sha256, received_ts, received_at, what,"
        " inserted, already_present) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            p.source.name,
            p.delivery_id,
            p.body_sha256,
            p.received_ts,
            iso_utc(p.received_ts),
            p.decoded.what,
            inserted,
            present,
        ),
    )
    return int(cur.lastrowid or 0)


def _stored(p: Pending, events: list[Event], inserted: int) -> Outcome:
    what = "ignored (nothing for the clocks)" if p.decoded.ignored or not events else "stored"
    present = len(events) - inserted
    return Outcome(200, f"{what}: {inserted} new events, {present} already present", inserted, present)


def _one(
    conn: Connection, p: Pending, i: int, actor: str, batch: dict[tuple[str, str], str]
) -> tuple[Outcome, int | None]:
    """One delivery under a savepoint: (outcome, its deliveries row id when stored)."""
    seen = _seen(conn, p, batch)
    if seen is not None:
        return seen, None
    sp = f"d{i}"
    conn.execute(f"SAVEPOINT {sp}")
    try:
        events = to_events(p.source, p.decoded, ticket_states(conn, p.decoded.tickets))
        inserted = present = 0
        if events:
            result = ingest_in_tx(
                conn, events, actor=actor, source=f"webhook:{p.source.name}", name="delivery"
            )
            inserted, present = result.inserted, result.already_present
        row = _insert(conn, p, inserted, present)
        conn.execute(f"RELEASE {sp}")
    except Refusal as exc:
        _rollback(conn, sp)
        return Outcome(exc.status, exc.reason), None
    except ImportRejected as exc:
        _rollback(conn, sp)
        reason = str(exc).removeprefix("delivery:").split(":", 1)[-1].strip()
        return Outcome(422, f"{p.decoded.what}: {reason}"), None
    except BaseException:
        _rollback(conn, sp)
        raise
    batch[(p.source.name, p.delivery_id)] = p.body_sha256
    return _stored(p, events, inserted), row


def _rollback(conn: Connection, sp: str) -> None:
    conn.execute(f"ROLLBACK TO {sp}")
    conn.execute(f"RELEASE {sp}")


def _status_delivery(conn: Connection, source: str, ts: float, what: str) -> None:
    conn.execute(
        "INSERT INTO source_status (source, deliveries, last_delivery_ts, last_delivery_what)"
        " VALUES (?, 1, ?, ?) ON CONFLICT (source) DO UPDATE SET deliveries = source_status.deliveries + 1,"
        " last_delivery_ts = excluded.last_delivery_ts, last_delivery_what = excluded.last_delivery_what",
        (source, ts, what),
    )


def _status_refusal(conn: Connection, n: RefusalNote) -> None:
    conn.execute(
        "INSERT INTO source_status (source, refusals, last_refusal_ts, last_refusal_status, last_refusal_reason)"
        " VALUES (?, 1, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET refusals = source_status.refusals + 1,"
        " last_refusal_ts = excluded.last_refusal_ts, last_refusal_status = excluded.last_refusal_status,"
        " last_refusal_reason = excluded.last_refusal_reason",
        (n.source, n.ts, n.status, n.reason[:500]),
    )


def record_refusals(conn: Connection, notes: Sequence[RefusalNote]) -> None:
    """Refusals alone, when no delivery is waiting to carry them."""
    if notes:
        with write_tx(conn):
            for n in notes:
                _status_refusal(conn, n)


def source_rows(conn: Connection) -> dict[str, SourceRow]:
    """`source_status` by source name."""
    out: dict[str, SourceRow] = {}
    for r in conn.execute(
        "SELECT source, deliveries, refusals, last_delivery_ts, last_delivery_what, last_refusal_ts,"
        " last_refusal_status, last_refusal_reason FROM source_status ORDER BY source"
    ):
        out[r[0]] = SourceRow(*r)
    return out


def stored_deliveries(conn: Connection, source: str | None = None) -> list[tuple[str, str]]:
    """(source, delivery id) of every stored delivery, oldest first (tests, troubleshooting)."""
    if source is None:
        rows = conn.execute("SELECT source, delivery_id FROM deliveries ORDER BY id")
    else:
        rows = conn.execute(
            "SELECT source, delivery_id FROM deliveries WHERE source = ? ORDER BY id", (source,)
        )
    return [(r[0], r[1]) for r in rows]
