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

from sladesk_tui.core.report import Outcome, ticket_outcomes
from sladesk_tui.core.tickets import TicketRecord
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.bulk_sqlite import insert_rows
from sladesk_tui.store.db import write_tx
from sladesk_tui.store.queries import agreements_for_versions, load_records

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
    marks = ", ".join("?" * len(ids))
    records = [known[i] for i in ids if i in known]
    rest = [i for i in ids if i not in known]
    if rest:
        params = {f"p{i}": v for i, v in enumerate(rest)}
        where = f"t.id IN ({', '.join(':' + k for k in params)}) AND t.agreement_id IS NOT NULL"
        records += load_records(conn, where, params)
    books = agreements_for_versions(conn, {r.agreement_version for r in records})
    wanted: dict[tuple[str, str, int], tuple[object, ...]] = {}
    for r in records:
        latest = max(
            (r.events[-1].at if r.events else now),
            max((o.at for o in r.overrides), default=now),
        )
        for o in ticket_outcomes(r, books, max(now, latest)):
            wanted[(o.ticket, o.clock, o.cycle)] = _row(o)
    cur = conn.cursor()
    cur.row_factory = None
    stored = {
        (row[0], row[1], row[2]): tuple(row)
        for row in cur.execute(f"SELECT {', '.join(_COLUMNS)} FROM outcomes WHERE ticket IN ({marks})", ids)
    }
    gone = [k for k, row in stored.items() if wanted.get(k) != row]
    new = [row for k, row in wanted.items() if stored.get(k) != row]
    if gone:
        conn.executemany(_DELETE, gone)
    if new:
        insert_rows(conn, _INSERT, new)
    return len(gone) + len(new)


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
