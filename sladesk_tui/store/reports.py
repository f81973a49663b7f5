"""The compliance report's reads: the daily rollup today, the log replayed as of an instant.

Both paths read inside one short snapshot and hand `core.report.build_report` the
same kind of rows, so a report as of an instant after every write equals the stored
one (tests/store/test_outcomes.py holds them to it).

As of an instant (`--at`) nothing stored is trusted: the tickets whose clocks can
have stopped in the period are replayed from their events, overrides and reviews up
to that instant, the agreements are the versions loaded by then, and outages are
cut at it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sladesk_tui.core.availability import merge_outages
from sladesk_tui.core.report import Period, Report, Tally, Terms, build_report, tallies, ticket_outcomes
from sladesk_tui.store.agreements import latest_version
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import snapshot
from sladesk_tui.store.queries import agreements_for_versions, load_records, require_known

if TYPE_CHECKING:
    from sladesk_tui.core.tickets import TicketRecord


def rollup_query(*, by_operator: bool = False, one_agreement: bool = False) -> str:
    """The month's read: a range of the rollup's primary key, summed per calendar month.

    Summing in SQL leaves Python a few dozen rows per month instead of one per day,
    agreement, priority, clock and operator (tens of thousands on a busy desk). The
    month (not the day) is kept because penalties are capped per month; `MIN(day)`
    stands for it. Operators are summed away unless the report is by operator.
    """
    operator = "operator" if by_operator else "''"
    where = "day BETWEEN :first AND :last" + (" AND agreement_id = :agreement" if one_agreement else "")
    return (
        f"SELECT MIN(day), agreement_id, agreement_version, priority, clock, {operator},"
        " SUM(n), SUM(raw_met), SUM(raw_breached), SUM(adj_met), SUM(adj_breached), SUM(adj_exempt)"
        f" FROM outcome_days WHERE {where}"
        " GROUP BY substr(day, 1, 7), agreement_id, agreement_version, priority, clock"
        + (", operator" if by_operator else "")  # a constant in GROUP BY: an error on PostgreSQL
    )


def compliance_report(
    conn: Connection,
    period: Period,
    now: float,
    *,
    at: float | None = None,
    agreement: str | None = None,
    by: str = "priority",
) -> Report:
    """The report of `period`: from the stored outcomes, or replayed as of `at`.

    `now` is the instant expiry and ongoing outages are judged at (`at` when given).
    """
    when = now if at is None else at
    with snapshot(conn):
        require_known(conn, agreement=agreement)
        if at is None:
            rows = _stored_tallies(conn, period, agreement, by)
            versions: set[int | None] = {t.agreement_version for t in rows}
        else:
            records = _replayed_records(conn, period, at, agreement)
            versions = {r.agreement_version for r in records}
        latest = latest_version(conn, at=at)
        books = agreements_for_versions(conn, versions | ({latest} if latest else set()))
        outage_events = _outage_events(conn, period, when)
    if at is not None:  # the engine replays after the snapshot is released: it is the slow part
        rows = tallies(o for r in records for o in ticket_outcomes(r, books, at))
    terms = {
        (a.id, v): Terms(a, v, aset.zone_of(a.calendar)) for v, aset in books.items() for a in aset.agreements
    }
    listed = [terms[(a.id, latest)] for a in books[latest].agreements] if latest else []
    return build_report(
        rows,
        terms,
        listed,
        merge_outages(outage_events, when),
        period,
        when,
        by=by,
        agreement=agreement,
        as_of=at,
    )


def _stored_tallies(conn: Connection, period: Period, agreement: str | None, by: str) -> list[Tally]:
    params = {"first": period.first.isoformat(), "last": period.last.isoformat(), "agreement": agreement}
    cur = conn.cursor()
    cur.row_factory = None
    sql = rollup_query(by_operator=by == "operator", one_agreement=agreement is not None)
    return [Tally(*row) for row in cur.execute(sql, params)]


def _replayed_records(
    conn: Connection, period: Period, at: float, agreement: str | None
) -> list[TicketRecord]:
    """The tickets whose clocks can have stopped in `period`, as of `at`.

    A superset is loaded (created by the period's end, and open or ended after its
    start, in any zone); `build_report` keeps the days inside the period.
    """
    lo, hi = period.widest_bounds()
    where = "t.agreement_id IS NOT NULL AND t.created_ts <= :hi AND (t.is_open = 1 OR t.ended_ts >= :lo)"
    params: dict[str, object] = {"hi": min(hi, at), "lo": lo}
    if agreement is not None:
        where += " AND t.agreement_id = :agreement"
        params["agreement"] = agreement
    return load_records(conn, where, params, at=at)


def _outage_events(conn: Connection, period: Period, when: float) -> list[tuple[str, str, float]]:
    """Outage events up to the period's end (and `when`), in `(at, arrival)` order."""
    _lo, hi = period.widest_bounds()
    cur = conn.cursor()
    cur.row_factory = None
    rows: list[tuple[str, str, float]] = cur.execute(
        "SELECT service, type, ts FROM events WHERE type IN ('outage_start', 'outage_end')"
        " AND ts <= ? ORDER BY ts, seq",
        (min(hi, when),),
    ).fetchall()
    return rows
