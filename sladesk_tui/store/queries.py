"""Reads the screens and lookups need: open tickets with their history, one ticket, change detection.

Every function takes a connection and reads inside one short snapshot (or the
caller's, when one is already open): an open snapshot pins the WAL (docs/storage.md), so
nothing here keeps one across calls. The queue reloads thousands of tickets, so the
open set comes in three ordered queries (tickets, events, overrides) grouped in
Python; rows become core values positionally, which is several times cheaper than
by name.

As of an instant (`at`, for `--at`): events after `at`, overrides made after `at` and
reviews after `at` are ignored, and a ticket's row is replayed from its remaining
events by `core.tickets.TicketProjection`, the rule the importer keeps the stored
rows by. Instants are event times (when it happened), not when the row reached the
database: a late import of an earlier event changes the past it describes. The
governing agreement is the one chosen at creation, so an as-of view uses the same
version as today's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from itertools import groupby, starmap
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING

from sladesk_tui.core.events import LOCAL_CLOCK_TYPES, LOCAL_SOURCE, Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.core.tickets import Review, TicketProjection, TicketRecord, history_rows
from sladesk_tui.store.backend import Connection, dialect
from sladesk_tui.store.db import snapshot

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import AgreementSet
    from sladesk_tui.core.evaluate import TicketClocks

# Column lists in the order of the core dataclasses' fields: rows unpack positionally.
_TICKET_COLS = (
    "t.id, t.customer, t.service, t.title, t.priority, t.status, t.assignee, t.agreement_id,"
    " t.agreement_version, t.no_agreement_reason, t.is_open, t.created_ts, t.updated_ts, t.ended_ts"
)
_EVENT_COLS = (
    "e.id, e.type, e.ts, e.ticket, e.seq, e.customer, e.service, e.priority, e.title, e.status,"
    " e.assignee, e.author, e.agreement, e.body, e.actor, e.source"
)
# The status column is the latest review's decision (of those up to `at`), else pending.
_OVERRIDE_COLS = (
    "o.id, o.ticket, o.kind, o.ts, o.operator, o.reason, o.justification, o.clock,"
    " COALESCE((SELECT r.decision FROM reviews r WHERE r.override_id = o.id{review_at}"
    " ORDER BY r.id DESC LIMIT 1), 'pending'),"
    " o.until_ts, o.by_s, o.responded_ts, o.to_priority, o.ahead_of"
)
_REVIEW_COLS = "r.id, r.override_id, r.decision, r.reviewer, r.ts, r.comment"


def data_version(conn: Connection) -> int:
    """Changes whenever another connection commits (about 5 µs): poll it to refresh a screen.

    SQLite's ``PRAGMA data_version``; on PostgreSQL the audit log's head, which every
    write of the program moves (`store.backend.Dialect.data_version`)."""
    return int(dialect(conn).data_version(conn) or 0)


@dataclass(frozen=True, slots=True)
class ChangeMarks:
    """How far a live reader has read: the newest event, override, review, agreements
    version and role grant it has seen (`agreements` -1: nothing read yet)."""

    event_seq: int = 0
    override_id: int = 0
    review_id: int = 0
    agreements: int = -1
    roles: int = 0


def change_marks(conn: Connection) -> ChangeMarks:
    """The marks now; call inside the snapshot the reader then loads from."""
    row = conn.execute(
        "SELECT (SELECT COALESCE(MAX(seq), 0) FROM events),"
        " (SELECT COALESCE(MAX(id), 0) FROM overrides),"
        " (SELECT COALESCE(MAX(id), 0) FROM reviews),"
        " (SELECT COALESCE(MAX(version), 0) FROM agreement_versions),"
        " (SELECT COALESCE(MAX(id), 0) FROM role_grants)"
    ).fetchone()
    return ChangeMarks(*(int(v) for v in row))


def changed_tickets(conn: Connection, since: ChangeMarks) -> set[str]:
    """Tickets whose events, overrides or override reviews arrived after `since`: what
    a live reader (the queue, the notifier) loads again after a commit."""
    rows = conn.execute(
        "SELECT ticket FROM events WHERE seq > ? AND ticket IS NOT NULL"
        " UNION SELECT ticket FROM overrides WHERE id > ?"
        " UNION SELECT o.ticket FROM reviews r JOIN overrides o ON o.id = r.override_id WHERE r.id > ?",
        (since.event_seq, since.override_id, since.review_id),
    ).fetchall()
    return {r[0] for r in rows}


def load_open_tickets(conn: Connection, *, at: float | None = None) -> list[TicketRecord]:
    """Every open ticket (open as of `at`, when given) with its events and overrides, by id."""
    # As of `at`, a superset of the tickets open then: created by then and not ended
    # for good before it (ended_ts is the start of the current ended stretch).
    where = "t.is_open = 1" if at is None else "t.created_ts <= :at AND (t.is_open = 1 OR t.ended_ts > :at)"
    with snapshot(conn):
        records = load_records(conn, where, {}, at=at)
    if at is not None:
        records = [r for r in records if r.is_open]
    return records


def load_ticket(conn: Connection, ticket_id: str, *, at: float | None = None) -> TicketRecord | None:
    """One ticket, open or ended, with its whole history, overrides and their reviews.

    None when it does not exist (or, as of `at`, did not exist yet).
    """
    where = "t.id = :id" if at is None else "t.id = :id AND t.created_ts <= :at"
    with snapshot(conn):
        records = load_records(conn, where, {"id": ticket_id}, at=at, with_reviews=True)
    return records[0] if records else None


def agreements_for_versions(conn: Connection, versions: Iterable[int | None]) -> dict[int, AgreementSet]:
    """Each agreements version named (None and 0 skipped) parsed once: the `evaluate` input."""
    from sladesk_tui.store.agreements import current_agreements

    out: dict[int, AgreementSet] = {}
    for v in versions:
        if v and v not in out:
            out[v] = current_agreements(conn, v)[1]
    return out


def evaluate_open_tickets(
    conn: Connection, now: float, *, at: float | None = None, explain: bool = False
) -> list[tuple[TicketRecord, TicketClocks]]:
    """The open tickets and their clocks at `now` (as of `at`, the clocks are at `at`)."""
    from sladesk_tui.core.evaluate import evaluate

    with snapshot(conn):
        records = load_open_tickets(conn, at=at)
        books = agreements_for_versions(conn, {r.agreement_version for r in records})
    when = now if at is None else at
    return [(r, evaluate(r, books, when, explain=explain)) for r in records]


def local_action_counts(
    conn: Connection,
    *,
    operator: str | None = None,
    ticket: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> dict[str, int]:
    """Per agent, the clock-moving actions they recorded in the app (docs/roles.md): the
    leads' figures show them beside the overrides, a clock moved by hand being a
    departure from the system of record too. `since` inclusive, `until` exclusive."""
    types = sorted(LOCAL_CLOCK_TYPES)
    sql = [
        f"SELECT actor, COUNT(*) FROM events WHERE source = '{LOCAL_SOURCE}'",
        f" AND type IN ({', '.join('?' * len(types))})",
    ]
    params: list[object] = [*types]
    for clause, value in (
        (" AND actor = ?", operator),
        (" AND ticket = ?", ticket),
        (" AND ts >= ?", since),
        (" AND ts < ?", until),
    ):
        if value is not None:
            sql.append(clause)
            params.append(value)
    sql.append(" GROUP BY actor ORDER BY actor")
    return {str(a): int(n) for a, n in conn.execute("".join(sql), params)}


def load_records(
    conn: Connection,
    where: str,
    params: Mapping[str, object],
    *,
    at: float | None = None,
    with_reviews: bool = False,
) -> list[TicketRecord]:
    """The tickets `where` selects (an SQL condition on `tickets t`, named `params`), by id.

    The store's other readers (outcomes, reports) select tickets by conditions of
    their own and share this loader. Call it inside a snapshot (`db.snapshot`): its
    queries must see one state. As of `at` (also bound as `:at` for `where`), history
    after `at` is left out and the rows are replayed from what remains.
    """
    if at is not None:
        params = {**params, "at": at}
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: unpacked positionally into the core values
    event_at = "" if at is None else " AND e.ts <= :at"
    override_at = "" if at is None else " AND o.ts <= :at"
    review_at = "" if at is None else " AND r.ts <= :at"

    tickets = cur.execute(
        f"SELECT {_TICKET_COLS} FROM tickets t WHERE {where} ORDER BY t.id", params
    ).fetchall()
    if not tickets:
        return []
    # `IN (subquery)` walks the ids in order and events_ticket gives (ticket, ts, seq)
    # order for free; a join needs a temporary B-tree to sort (EXPLAIN QUERY PLAN).
    chosen = f"(SELECT t.id FROM tickets t WHERE {where})"
    cur.execute(
        f"SELECT {_EVENT_COLS} FROM events e WHERE e.ticket IN {chosen}{event_at} ORDER BY e.ticket, e.ts, e.seq",
        params,
    )
    events = {tid: tuple(group) for tid, group in groupby(starmap(Event, cur), key=attrgetter("ticket"))}
    cols = _OVERRIDE_COLS.format(review_at=review_at)
    cur.execute(
        f"SELECT {cols} FROM overrides o WHERE o.ticket IN {chosen}{override_at} ORDER BY o.ticket, o.ts, o.id",
        params,
    )
    overrides = {
        tid: tuple(group) for tid, group in groupby(starmap(Override, cur), key=attrgetter("ticket"))
    }
    reviews: dict[str, tuple[Review, ...]] = {}
    if with_reviews:
        cur.execute(
            f"SELECT o.ticket, {_REVIEW_COLS} FROM overrides o JOIN reviews r ON r.override_id = o.id"
            f" WHERE o.ticket IN {chosen}{override_at}{review_at} ORDER BY o.ticket, r.id",
            params,
        )
        reviews = {
            tid: tuple(Review(*row[1:]) for row in group) for tid, group in groupby(cur, key=itemgetter(0))
        }

    out = []
    for row in tickets:
        tid = row[0]
        # Spelled out, not `*row[:10]`: the type checker can count these.
        record = TicketRecord(
            tid,
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
            row[8],
            row[9],
            bool(row[10]),
            row[11],
            row[12],
            row[13],
            events=events.get(tid, ()),
            overrides=overrides.get(tid, ()),
            reviews=reviews.get(tid, ()),
        )
        out.append(record if at is None else replayed(record))
    return out


# ---- replaying a row -----------------------------------------------------------------


def replayed(record: TicketRecord) -> TicketRecord:
    """The row as its (already filtered) events leave it, by the importer's projection rule.

    The first event is the `created` one: the importer refuses anything older than a
    ticket's creation, and the caller keeps only tickets created by `at`. Also what
    `audit verify` compares a stored ticket row with (store.outcomes.check_outcomes).
    """
    t = TicketProjection()
    t.replay(history_rows(record.events))
    return replace(
        record,
        customer=t.customer,
        service=t.service,
        title=t.title,
        priority=t.priority,
        status=t.status,
        assignee=t.assignee,
        is_open=t.is_open,
        created_ts=t.created_ts,
        updated_ts=t.updated_ts,
        ended_ts=t.ended_ts,
    )


# ---- filter values ------------------------------------------------------------------
# A filter with a mistyped value matches nothing, and "0 tickets" from a monitoring
# check (`queue --agreement premum --fail-on breached`) reads as "all is well". So
# every lookup checks its filter values here first and refuses an unknown one,
# naming the values it does know (docs/database.md, "Filters name what they know").

_KNOWN_SHOWN = 20  # a long list of known values is cut, with a count of the rest


def require_known(
    conn: Connection,
    *,
    agreement: str | None = None,
    priority: str | None = None,
    operator: str | None = None,
    ticket: str | None = None,
) -> None:
    """Raise `InputError` for a filter value the database has never heard of.

    Known agreements: any version's ids. Known priorities: those of any ticket or of
    the current agreements' targets. Known operators: anyone the database names
    (`_PERSON_LOOKUPS`); the refusal lists those with overrides, reviews or roles.
    The cheap exact look-up runs first; the list of known values is read only to word
    the refusal.
    """
    from sladesk_tui.core.errors import InputError

    with snapshot(conn):
        if agreement is not None and not _exists(conn, "SELECT 1 FROM agreements WHERE id = ?", agreement):
            known = _column(conn, "SELECT DISTINCT id FROM agreements ORDER BY id")
            raise InputError(f"--agreement: no agreement {agreement!r} ({_known(known, 'none loaded')})")
        if priority is not None and priority not in _target_priorities(conn):
            if not _exists(conn, "SELECT 1 FROM tickets WHERE priority = ?", priority):
                known = sorted(
                    set(_column(conn, "SELECT DISTINCT priority FROM tickets")) | _target_priorities(conn)
                )
                raise InputError(f"--priority: no priority {priority!r} ({_known(known, 'none yet')})")
        if operator is not None and not any(_exists(conn, sql, operator) for sql in _PERSON_LOOKUPS):
            known = _column(
                conn,
                "SELECT operator FROM overrides UNION SELECT reviewer FROM reviews"
                ' UNION SELECT "user" FROM role_grants ORDER BY 1',
            )
            raise InputError(f"--operator: no operator {operator!r} ({_known(known, 'none yet')})")
        if ticket is not None and not _exists(conn, "SELECT 1 FROM tickets WHERE id = ?", ticket):
            raise InputError(f"--ticket: no ticket {ticket!r}")


# Where a person appears: overrides and reviews, roles, and the events (as the actor
# who recorded one, or the ticketing system's author or assignee).
_PERSON_LOOKUPS = (
    "SELECT 1 FROM overrides WHERE operator = ?",
    "SELECT 1 FROM reviews WHERE reviewer = ?",
    'SELECT 1 FROM role_grants WHERE "user" = ?',
    "SELECT 1 FROM events WHERE actor = ?",
    "SELECT 1 FROM events WHERE author = ?",
    "SELECT 1 FROM events WHERE assignee = ?",
)


def _exists(conn: Connection, sql: str, value: str) -> bool:
    return conn.execute(sql + " LIMIT 1", (value,)).fetchone() is not None


def _column(conn: Connection, sql: str) -> list[str]:
    return [r[0] for r in conn.execute(sql)]


def _target_priorities(conn: Connection) -> set[str]:
    from sladesk_tui.store.agreements import current_agreements

    return {p for a in current_agreements(conn)[1].agreements for p in a.targets}


def _known(values: list[str], none: str) -> str:
    if not values:
        return none
    from sladesk_tui.core.text import safe_text

    shown = ", ".join(safe_text(v) for v in values[:_KNOWN_SHOWN])
    more = f" and {len(values) - _KNOWN_SHOWN} more" if len(values) > _KNOWN_SHOWN else ""
    return f"known: {shown}{more}"
