"""Storing a pull batch: events, per-ticket problems and the cursor in one transaction.

The events go through the importer's `ingest_in_tx`, the one path every event takes (its
idempotency by event id, its checks, the outcomes and the audit row), so a change a
webhook already stored is skipped and a pull is audited like an import. What this
module adds is the pull's own rule (docs/pull.md): a ticket is stored whole or not
at all. When the importer refuses some events, the tickets they belong to are set
aside with the reason and the rest is stored; the cursor moves past them either way,
so one bad ticket never blocks a source, and `sladesk sources` shows why it is missing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sladesk_tui.core.sources.batch import TicketBatch
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import write_tx
from sladesk_tui.store.imports import ImportRejected, ingest_in_tx
from sladesk_tui.store.instants import iso_utc, now_ts

_IN_CHUNK = 900


@dataclass(frozen=True, slots=True)
class Problem:
    source: str
    provider_ticket: str
    ticket: str
    reason: str
    first_at: str
    last_at: str


@dataclass(frozen=True, slots=True)
class BatchStored:
    """What one batch did: events inserted and skipped as present, tickets set aside."""

    inserted: int
    already_present: int
    problems: tuple[tuple[str, str], ...]  # (provider ticket, reason)


def read_cursor(conn: Connection, source: str) -> str | None:
    row = conn.execute("SELECT cursor FROM pull_cursors WHERE source = ?", (source,)).fetchone()
    return None if row is None else str(row[0])


def stored_tickets(conn: Connection, ids: Iterable[str]) -> set[str]:
    """Which of these ticket ids the database holds."""
    wanted = sorted(set(ids))
    found: set[str] = set()
    for i in range(0, len(wanted), _IN_CHUNK):
        part = wanted[i : i + _IN_CHUNK]
        q = f"SELECT id FROM tickets WHERE id IN ({', '.join('?' * len(part))})"
        found.update(r[0] for r in conn.execute(q, part))
    return found


@dataclass(frozen=True, slots=True)
class PullStatus:
    """A source's pull as `sladesk sources` shows it: where it is, when it moved, what it set aside."""

    cursor: str | None
    moved_at: str | None
    problems: tuple[Problem, ...]


def pull_status(conn: Connection) -> dict[str, PullStatus]:
    """Every pulled source's status; empty for a database from before pulling."""
    try:
        cursors = {
            r[0]: (str(r[1]), str(r[2])) for r in conn.execute("SELECT source, cursor, at FROM pull_cursors")
        }
        found = problems(conn)
    except sqlite3.OperationalError:  # no such table: never pulled
        return {}
    out: dict[str, PullStatus] = {}
    for name in sorted(set(cursors) | {p.source for p in found}):
        cursor, at = cursors.get(name, (None, None))
        out[name] = PullStatus(cursor, at, tuple(p for p in found if p.source == name))
    return out


def problems(conn: Connection, source: str | None = None) -> list[Problem]:
    """The tickets pulls could not store, newest first (per source when given)."""
    q = "SELECT source, provider_ticket, ticket, reason, first_ts, last_at FROM pull_problems"
    args: tuple[str, ...] = ()
    if source is not None:
        q += " WHERE source = ?"
        args = (source,)
    q += " ORDER BY last_ts DESC, source, provider_ticket"
    return [Problem(r[0], r[1], r[2], r[3], iso_utc(r[4]), r[5]) for r in conn.execute(q, args)]


def store_batch(
    conn: Connection,
    source: str,
    tickets: Sequence[TicketBatch],
    cursor: str,
    *,
    actor: str,
    require: str | None = None,
) -> BatchStored:
    """Store the tickets' events, record the problems and move the cursor, atomically.

    Each event's `seq` must be unique within the batch: the importer names a refused
    event by it, and that is how its ticket is found and set aside. `require` is the
    role `actor` must hold, checked inside the transaction (the puller: feed), so a
    pull whose account lost the role stops at its next page.
    """
    set_aside: dict[str, str] = {t.provider_ticket: t.problem for t in tickets if t.problem is not None}
    while True:
        good = [t for t in tickets if t.provider_ticket not in set_aside]
        events = [ev for t in good for ev in t.events]
        owner = {ev.seq: t.provider_ticket for t in good for ev in t.events}
        try:
            with write_tx(conn):
                result = ingest_in_tx(
                    conn, events, actor=actor, source=f"pull:{source}", name="pull", require=require
                )
                _write_state(conn, source, cursor, tickets, good, set_aside)
        except ImportRejected as exc:
            for err in exc.errors:
                seq = _seq_of(err.where)
                who = owner.get(seq) if seq is not None else None
                if who is None:  # cannot happen: every event has its seq; refuse rather than loop
                    raise
                set_aside.setdefault(who, f"{err.args[0]}; nothing of the ticket is stored")
            continue
        return BatchStored(result.inserted, result.already_present, tuple(sorted(set_aside.items())))


def _write_state(
    conn: Connection,
    source: str,
    cursor: str,
    tickets: Sequence[TicketBatch],
    good: Sequence[TicketBatch],
    set_aside: dict[str, str],
) -> None:
    ts = now_ts()
    at = iso_utc(ts)
    conn.execute(
        "INSERT INTO pull_cursors (source, cursor, ts, at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, ts = excluded.ts, at = excluded.at",
        (source, cursor, ts, at),
    )
    if good:
        conn.executemany(
            "DELETE FROM pull_problems WHERE source = ? AND provider_ticket = ?",
            [(source, t.provider_ticket) for t in good],
        )
    ours = {t.provider_ticket: t.ticket for t in tickets}
    conn.executemany(
        "INSERT INTO pull_problems (source, provider_ticket, ticket, reason, first_ts, last_ts, last_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, provider_ticket) DO UPDATE SET"
        " ticket = excluded.ticket, reason = excluded.reason, last_ts = excluded.last_ts,"
        " last_at = excluded.last_at",
        [(source, pt, ours[pt], reason, ts, ts, at) for pt, reason in set_aside.items()],
    )


def _seq_of(where: str | None) -> int | None:
    tail = (where or "").rpartition(":")[2]
    return int(tail) if tail.isdigit() else None
