"""Stored clock outcomes: kept right in the transaction of every write that can change them.

A month's report must not replay a month of history (docs/storage.md: a daily rollup answers
in milliseconds where a scan of a million rows takes a second). So whenever a write
may settle or unsettle a clock (an import, an override, a review), the writer calls
`refresh_outcomes` for the tickets it touched, inside its own write transaction:
the clocks are recomputed by the engine and the `outcomes` rows of those tickets
brought in line (only the rows that differ are rewritten). The `outcome_days` rollup
follows the `outcomes` rows by trigger (schema/0002_outcomes.sql).

The tables are a projection of the log, never the record: `rebuild_outcomes`
recomputes them from scratch (after an engine fix, say), and `--at` reports replay
the log instead of reading them.

Stopped clocks are computed at the latest of `now` and the ticket's newest event or
override: an event dated ahead of the wall clock (an import from a system whose
clock runs fast) is still part of the history a stopped clock was settled by.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from sladesk_tui.core.agreements import match_agreement
from sladesk_tui.core.errors import InputError
from sladesk_tui.core.eventfile import parse_instant
from sladesk_tui.core.report import Outcome, ticket_outcomes
from sladesk_tui.core.tickets import TicketProjection, TicketRecord
from sladesk_tui.store.backend import Connection, dialect
from sladesk_tui.store.bulk_sqlite import insert_rows
from sladesk_tui.store.db import write_tx
from sladesk_tui.store.instants import iso_utc
from sladesk_tui.store.queries import agreements_for_versions, load_records, replayed

_COLUMNS = (
    "ticket",
    "clock",
    "cycle",
    "agreement_id",
    "agreement_version",
    "priority",
    "operator",
    "stopped_ts",
    "day",
    "raw_state",
    "raw_elapsed_s",
    "raw_target_s",
    "adj_state",
    "adj_elapsed_s",
    "adj_target_s",
)
_INSERT = f"INSERT INTO outcomes ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_DELETE = "DELETE FROM outcomes WHERE ticket = ? AND clock = ? AND cycle = ?"
# Tickets per round of loading: bounds memory and SQLite's host parameters.
_CHUNK = 900


def refresh_outcomes(
    conn: Connection,
    ticket_ids: Iterable[str],
    now: float,
    *,
    known: Mapping[str, TicketRecord] | None = None,
) -> int:
    """Bring the stored outcomes of `ticket_ids` in line with their history; return rows changed.

    Must run inside the caller's write transaction, after its own rows are written,
    so the outcomes commit (or roll back) with the change that caused them. `known`
    are records the caller already holds exactly as `load_records` would read them
    (the importer's tickets created in this very transaction): not read back.
    """
    if not conn.in_transaction:
        raise RuntimeError("refresh_outcomes must run inside the caller's write transaction (write_tx)")
    changed = 0
    for part in _chunks(sorted(set(ticket_ids))):
        changed += _refresh_chunk(conn, part, now, known or {})
    return changed


def rebuild_outcomes(conn: Connection, now: float) -> int:
    """Recompute every stored outcome from the log in one write transaction; return the row count."""
    with write_tx(conn):
        conn.execute("DELETE FROM outcome_days")
        conn.execute("DELETE FROM outcomes")
        ids = [
            r[0] for r in conn.execute("SELECT id FROM tickets WHERE agreement_id IS NOT NULL ORDER BY id")
        ]
        refresh_outcomes(conn, ids, now)
        return int(conn.execute("SELECT COUNT(*) FROM outcomes").fetchone()[0])


def _refresh_chunk(conn: Connection, ids: list[str], now: float, known: Mapping[str, TicketRecord]) -> int:
    wanted = _wanted(conn, _records(conn, ids, known), now)
    stored = _stored(conn, ids)
    gone = [k for k, row in stored.items() if wanted.get(k) != row]
    new = [row for k, row in wanted.items() if stored.get(k) != row]
    if gone:
        conn.executemany(_DELETE, gone)
    if new:
        insert_rows(conn, _INSERT, new)
    return len(gone) + len(new)


def _records(
    conn: Connection, ids: list[str], known: Mapping[str, TicketRecord], *, governed: bool = True
) -> list[TicketRecord]:
    """The records of those of `ids` under an agreement (all of them unless `governed`);
    `known` ones are not read back."""
    records = [known[i] for i in ids if i in known]
    rest = [i for i in ids if i not in known]
    if rest:
        params = {f"p{i}": v for i, v in enumerate(rest)}
        where = f"t.id IN ({', '.join(':' + k for k in params)})"
        if governed:
            where += " AND t.agreement_id IS NOT NULL"
        records += load_records(conn, where, params)
    return records


def _wanted(
    conn: Connection, records: list[TicketRecord], now: float
) -> dict[tuple[str, str, int], tuple[object, ...]]:
    """The outcome rows the records give (the one computation: refresh and check)."""
    books = agreements_for_versions(conn, {r.agreement_version for r in records})
    wanted: dict[tuple[str, str, int], tuple[object, ...]] = {}
    for r in records:
        latest = max(
            (r.events[-1].at if r.events else now),
            max((o.at for o in r.overrides), default=now),
        )
        for o in ticket_outcomes(r, books, max(now, latest)):
            wanted[(o.ticket, o.clock, o.cycle)] = _row(o)
    return wanted


def _stored(conn: Connection, ids: list[str]) -> dict[tuple[str, str, int], tuple[object, ...]]:
    cur = conn.cursor()
    cur.row_factory = None
    marks = ", ".join("?" * len(ids))
    return {
        (row[0], row[1], row[2]): tuple(row)
        for row in cur.execute(f"SELECT {', '.join(_COLUMNS)} FROM outcomes WHERE ticket IN ({marks})", ids)
    }


# ---- checking the stored outcomes against the record -----------------------------------


@dataclass(frozen=True, slots=True)
class OutcomesCheck:
    """`check_outcomes`' answer: `problem` is None when every stored row is the record's."""

    tickets: int
    rows: int
    problem: str | None = None


def check_outcomes(conn: Connection, now: float) -> OutcomesCheck:
    """Recompute every ticket's outcomes from its record, as `refresh_outcomes` does, and
    compare with the stored rows, then the daily rollup with the stored rows; stop at the
    first ticket (in id order) or rollup row that differs (docs/postgresql.md, "Prevented,
    and detected"). Read-only: run it in one snapshot (`store.db.snapshot`)."""
    ids = sorted(
        {r[0] for r in conn.execute("SELECT id FROM tickets")}
        | {r[0] for r in conn.execute("SELECT DISTINCT ticket FROM outcomes")}
    )
    rows = 0
    first_load = _first_agreements_load(conn)
    for part in _chunks(ids):
        records = _records(conn, part, {}, governed=False)
        row_problem = _ticket_row_difference(records) or _agreement_difference(conn, records, first_load)
        if row_problem is not None:
            return OutcomesCheck(len(ids), rows, row_problem)
        governed = [r for r in records if r.agreement_id is not None]
        wanted, stored = _wanted(conn, governed, now), _stored(conn, part)
        rows += len(stored)
        if wanted != stored:
            return OutcomesCheck(len(ids), rows, _first_difference(wanted, stored))
    return OutcomesCheck(len(ids), rows, _rollup_difference(conn))


# The ticket row's columns its events give: the projection's own fields (store.queries.replayed).
# The agreement is checked apart (`_agreement_difference`): it was chosen when the ticket
# was created, from the agreements then loaded.
_REPLAYED: tuple[str, ...] = TicketProjection.__slots__


def _first_agreements_load(conn: Connection) -> float | None:
    """The latest instant a ticket's creation can have been recorded at and still not
    have seen an agreements version (None: none ever loaded). A write records its
    creation from inside its write transaction, after every load committed before it:
    on SQLite both instants are this host's clock; on PostgreSQL the creation is the
    server's and a load's `loaded_ts` its client's, within the server's clock
    tolerance (schema/postgresql/0003_projection_guards.sql), which is allowed for."""
    row = conn.execute("SELECT MIN(loaded_ts) FROM agreement_versions").fetchone()
    if row is None or row[0] is None:
        return None
    tolerance = 0.0
    if dialect(conn).name != "sqlite":
        tolerance = float(conn.execute("SELECT sladesk_clock_tolerance_s()").fetchone()[0])
    return float(row[0]) + tolerance


def _agreement_difference(
    conn: Connection, records: list[TicketRecord], first_load: float | None
) -> str | None:
    """The first ticket whose stored agreement is not the one its creation was matched
    to: the importer matches the `created` event against the agreements version current
    in its transaction and stores both (`store.imports._Batch._create`), so the stored
    version and that event give the agreement again. A ticket stored with no version was
    created before any agreements were loaded, so its creation was recorded before the
    first load (`_first_agreements_load`): moving a ticket off its agreement and
    deleting its outcomes is otherwise not seen, as no outcome is then wanted."""
    books = agreements_for_versions(conn, {r.agreement_version for r in records})
    unversioned: list[TicketRecord] = []
    for r in records:  # in id order
        created = next((e for e in r.events if e.type == "created"), None)
        if created is None:
            return f"ticket {r.id}: its record has no 'created' event"
        if r.agreement_version is None:
            if r.agreement_id is not None:
                return f"ticket {r.id}: stored agreement {r.agreement_id!r} with no agreements version"
            unversioned.append(r)
            continue
        aset = books.get(r.agreement_version)
        if aset is None:
            return f"ticket {r.id}: stored agreements version {r.agreement_version} is not stored"
        agreement, _ = match_agreement(
            aset,
            customer=created.customer,
            service=created.service,
            created_at=created.at,
            agreement_id=created.agreement,
        )
        want = None if agreement is None else agreement.id
        if r.agreement_id != want:
            return (
                f"ticket {r.id}: stored agreement {r.agreement_id!r}, its creation under agreements"
                f" version {r.agreement_version} gives {want!r}"
            )
    if first_load is not None and unversioned:
        recorded = _created_recorded_ts(conn, [r.id for r in unversioned])
        for r in unversioned:
            ts = recorded.get(r.id)
            if isinstance(ts, str):
                return f"ticket {r.id}: its creation's recorded_at {ts!r} is not an instant"
            if ts is not None and ts > first_load:
                return (
                    f"ticket {r.id}: stored with no agreements version, but its creation was recorded"
                    f" at {iso_utc(ts)}, after agreements were loaded (by {iso_utc(first_load)})"
                )
    return None


def _created_recorded_ts(conn: Connection, ids: list[str]) -> dict[str, float | str]:
    """When each ticket's creation was recorded; the stored text when it is no instant."""
    cur = conn.cursor()
    cur.row_factory = None
    rows = cur.execute(
        f"SELECT ticket, recorded_at FROM events WHERE type = 'created' AND ticket IN ({', '.join('?' * len(ids))})",
        ids,
    )
    out: dict[str, float | str] = {}
    for t, at in rows:
        try:
            out[str(t)] = parse_instant(str(at))
        except InputError:
            out[str(t)] = str(at)
    return out


def _ticket_row_difference(records: list[TicketRecord]) -> str | None:
    for r in records:  # in id order
        again = replayed(r)
        for col in _REPLAYED:
            if getattr(r, col) != getattr(again, col):
                return f"ticket {r.id}: stored {col} {getattr(r, col)!r}, the record gives {getattr(again, col)!r}"
    return None


def _first_difference(
    wanted: Mapping[tuple[str, str, int], tuple[object, ...]],
    stored: Mapping[tuple[str, str, int], tuple[object, ...]],
) -> str:
    key = min(k for k in wanted.keys() | stored.keys() if wanted.get(k) != stored.get(k))
    ticket, clock, cycle = key
    what = f"ticket {ticket}: {clock} clock, cycle {cycle}"
    if key not in stored:
        return f"{what}: the record settles it ({wanted[key][12]}) and no outcome is stored"
    if key not in wanted:
        return f"{what}: an outcome is stored ({stored[key][12]}) that the record does not give"
    diff = [c for c, a, b in zip(_COLUMNS, wanted[key], stored[key], strict=True) if a != b]
    first = _COLUMNS.index(diff[0])
    return (
        f"{what}: stored {diff[0]} {stored[key][first]!r}, the record gives {wanted[key][first]!r}"
        f" ({len(diff)} column{'s' if len(diff) > 1 else ''} differ)"
    )


_ROLLUP_KEY = ("day", "agreement_id", "agreement_version", "priority", "clock", "operator")
_ROLLUP_COUNTS = (
    "COUNT(*)",
    "SUM(CASE WHEN raw_state = 'met' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN raw_state = 'breached' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN adj_state = 'met' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN adj_state = 'breached' THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN adj_state = 'exempt' THEN 1 ELSE 0 END)",
)


def _rollup_difference(conn: Connection) -> str | None:
    key = ", ".join(_ROLLUP_KEY)
    cur = conn.cursor()
    cur.row_factory = None
    from_outcomes = {
        tuple(r[:6]): tuple(int(x) for x in r[6:])
        for r in cur.execute(f"SELECT {key}, {', '.join(_ROLLUP_COUNTS)} FROM outcomes GROUP BY {key}")
    }
    kept = {
        tuple(r[:6]): tuple(int(x) for x in r[6:])
        for r in cur.execute(
            f"SELECT {key}, n, raw_met, raw_breached, adj_met, adj_breached, adj_exempt FROM outcome_days"
        )
    }
    if from_outcomes == kept:
        return None
    k = min((k for k in from_outcomes.keys() | kept.keys() if from_outcomes.get(k) != kept.get(k)), key=repr)
    return (
        f"daily rollup {'/'.join(str(x) for x in k)}: stored (n, raw met, raw breached, met, breached, exempt)"
        f" {kept.get(k)}, the outcomes give {from_outcomes.get(k)}"
    )


def _row(o: Outcome) -> tuple[object, ...]:
    return (
        o.ticket,
        o.clock,
        o.cycle,
        o.agreement_id,
        o.agreement_version,
        o.priority,
        o.operator,
        o.stopped_at,
        o.day,
        o.raw_state,
        o.raw_elapsed_s,
        o.raw_target_s,
        o.adj_state,
        o.adj_elapsed_s,
        o.adj_target_s,
    )


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]
