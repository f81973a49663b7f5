"""Stored outcomes: written with the change that settles them, read by the month's report."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from lookup_fixture import (
    AVAILABILITY,
    EARLIER,
    END_OF_NOVEMBER,
    LEAD,
    NOVEMBER,
    OPERATOR,
    PENALTY,
    ts,
)
from support import agreements_db

from sladesk_tui.core.events import Event
from sladesk_tui.core.report import Period, Report
from sladesk_tui.store.db import connect, open_db
from sladesk_tui.store.imports import ImportRejected, ingest
from sladesk_tui.store.outcomes import rebuild_outcomes
from sladesk_tui.store.overrides import record_review
from sladesk_tui.store.reports import compliance_report, rollup_query

NOVEMBER_2026 = Period.month("2026-11")


def figures(report: Report) -> dict[tuple[str, str, str], tuple[object, ...]]:
    return {
        (r.agreement, r.priority or "", r.clock): (
            r.counts.tickets,
            r.counts.raw_met,
            r.counts.raw_breached,
            r.counts.met,
            r.counts.breached,
            r.counts.exempt,
            r.penalty_raw,
            r.penalty,
        )
        for r in report.rows
    }


def outcome_rows(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute("SELECT * FROM outcomes ORDER BY ticket, clock, cycle")]


def rollup_rows(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute("SELECT * FROM outcome_days ORDER BY 1, 2, 3, 4, 5, 6")]


def grouped_outcomes(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    """What the rollup must hold: GROUP BY over the outcomes themselves."""
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT day, agreement_id, agreement_version, priority, clock, operator, COUNT(*),"
            # CASE, not SQLite's sum of comparisons: the same on PostgreSQL.
            " SUM(CASE WHEN raw_state = 'met' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN raw_state = 'breached' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN adj_state = 'met' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN adj_state = 'breached' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN adj_state = 'exempt' THEN 1 ELSE 0 END) FROM outcomes"
            " GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6"
        )
    ]


@pytest.fixture
def writable(backend: str, lookup_db: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A private copy of the fixture history, for tests that write (on PostgreSQL, the
    history written again into a fresh database)."""
    if backend == "postgresql":
        from lookup_fixture import build

        server = request.getfixturevalue("pg_server")
        return build(server.fresh(server.role("owner"), migrated=True), toml=tmp_path / "a.toml")
    dest = tmp_path / "copy.db"
    src = sqlite3.connect(lookup_db)
    try:
        out = sqlite3.connect(dest)
        src.backup(out)
        out.close()
    finally:
        src.close()
    return dest


@pytest.mark.both_backends
def test_the_stored_report_equals_the_hand_computed_figures(lookup_db: Path) -> None:
    conn = connect(lookup_db, readonly=True)
    try:
        report = compliance_report(conn, NOVEMBER_2026, END_OF_NOVEMBER)
    finally:
        conn.close()
    assert report.source == "stored outcomes"
    assert figures(report) == NOVEMBER
    gold = report.for_agreement("acme-gold")
    assert gold is not None and gold.penalty is not None
    p = gold.penalty
    assert {
        "raw_uncapped": p.raw_uncapped,
        "raw": p.raw,
        "adjusted_uncapped": p.adjusted_uncapped,
        "adjusted": p.adjusted,
    } == PENALTY
    avail = {a.service: a for a in gold.availability}
    assert set(avail) == set(AVAILABILITY)  # crm had an outage but is not one of its services
    for service, want in AVAILABILITY.items():
        a = avail[service]
        assert a.downtime_s == want["downtime_s"] and a.met is want["met"]
        assert round(a.ratio * 100, 4) == want["availability"]
        assert a.budget_left_s == pytest.approx(want["budget_left_s"])
    assert (gold.days_left, gold.expiring) == (15, True)


@pytest.mark.both_backends
def test_replaying_the_log_gives_the_stored_figures(lookup_db: Path) -> None:
    conn = connect(lookup_db, readonly=True)
    try:
        stored = compliance_report(conn, NOVEMBER_2026, END_OF_NOVEMBER)
        replayed = compliance_report(conn, NOVEMBER_2026, END_OF_NOVEMBER, at=END_OF_NOVEMBER)
        october = compliance_report(conn, Period.month("2026-10"), END_OF_NOVEMBER)
    finally:
        conn.close()
    assert replayed.source == "replayed from the log"
    assert figures(replayed) == figures(stored)
    assert replayed.agreements == stored.agreements
    # T-5's response stopped on 31 October: it counts there, its resolution in November.
    assert figures(october) == {("acme-gold", "P1", "response"): (1, 1, 0, 1, 0, 0, 0.0, 0.0)}


@pytest.mark.both_backends
def test_as_of_an_earlier_instant_equals_the_history_cut_there(
    lookup_db: Path, lookup_db_earlier: Path
) -> None:
    full = connect(lookup_db, readonly=True)
    cut = connect(lookup_db_earlier, readonly=True)
    try:
        then = compliance_report(full, NOVEMBER_2026, EARLIER, at=EARLIER)
        stored_then = compliance_report(cut, NOVEMBER_2026, EARLIER)
    finally:
        full.close()
        cut.close()
    assert figures(then) == figures(stored_then)
    # By then: T-5 resolved, T-1 and T-2 done, T-3 exempted, T-4 answered (its resolution still running).
    assert figures(then)[("acme-gold", "P2", "response")] == (2, 1, 1, 1, 0, 1, 200.0, 0.0)
    assert ("acme-gold", "P2", "resolution") in figures(then)  # T-3's
    assert figures(then)[("acme-gold", "P2", "resolution")][0] == 1


@pytest.mark.both_backends
def test_the_rollup_always_equals_the_outcomes(lookup_db: Path) -> None:
    conn = connect(lookup_db, readonly=True)
    try:
        assert rollup_rows(conn) == grouped_outcomes(conn)
        assert len(outcome_rows(conn)) == 16
    finally:
        conn.close()


@pytest.mark.both_backends
def test_rebuild_recomputes_the_same_rows(writable: Path) -> None:
    conn = open_db(writable)
    try:
        before, rollup = outcome_rows(conn), rollup_rows(conn)
        conn.execute("DELETE FROM outcomes WHERE ticket = 'T-2'")  # a projection: may be lost...
        assert outcome_rows(conn) != before
        assert rebuild_outcomes(conn, END_OF_NOVEMBER) == len(before)  # ...and recomputed
        assert outcome_rows(conn) == before and rollup_rows(conn) == rollup
    finally:
        conn.close()


@pytest.mark.both_backends
def test_a_rejection_restores_the_raw_outcome_in_the_same_transaction(writable: Path) -> None:
    conn = open_db(writable)
    try:
        oid = conn.execute("SELECT id FROM overrides WHERE ticket = 'T-7'").fetchone()[0]
        record_review(
            conn, oid, "rejected", reviewer=LEAD, comment="No hold was agreed.", at=ts("11-08 09:00")
        )
        row = conn.execute(
            "SELECT raw_state, adj_state FROM outcomes WHERE ticket = 'T-7' AND clock = 'resolution'"
        )
        assert tuple(row.fetchone()) == ("breached", "breached")
        report = compliance_report(conn, NOVEMBER_2026, END_OF_NOVEMBER)
        assert figures(report)[("acme-gold", "P1", "resolution")] == (4, 2, 2, 2, 2, 0, 1000.0, 1000.0)
        assert rollup_rows(conn) == grouped_outcomes(conn)
    finally:
        conn.close()


@pytest.mark.both_backends
def test_reopening_withdraws_an_outcome_and_resolving_again_files_it_in_its_new_month(writable: Path) -> None:
    conn = open_db(writable)
    try:

        def add(*events: Event) -> None:
            ingest(conn, list(events), actor=OPERATOR, source="test")

        add(Event(id="r1", type="reopened", at=ts("11-29 09:00"), ticket="T-1", seq=1))
        assert (
            conn.execute("SELECT 1 FROM outcomes WHERE ticket = 'T-1' AND clock = 'resolution'").fetchone()
            is None
        )
        add(Event(id="r2", type="resolved", at=ts("12-01 09:00"), ticket="T-1", seq=1))
        day, state = conn.execute(
            "SELECT day, adj_state FROM outcomes WHERE ticket = 'T-1' AND clock = 'resolution'"
        ).fetchone()
        assert (day, state) == ("2026-12-01", "breached")  # resumed: 3h before the reopen + 48h after it
        assert rollup_rows(conn) == grouped_outcomes(conn)
    finally:
        conn.close()


@pytest.mark.both_backends
def test_a_refused_import_changes_no_outcome(writable: Path) -> None:
    conn = open_db(writable)
    try:
        before = outcome_rows(conn)
        with pytest.raises(ImportRejected):
            ingest(
                conn,
                [
                    Event(id="x1", type="reply", at=ts("11-28 10:05"), ticket="T-9", seq=1),
                    Event(id="x2", type="reply", at=ts("11-28 10:06"), ticket="NOPE", seq=2),
                ],
                actor=OPERATOR,
                source="test",
            )
        assert outcome_rows(conn) == before
        ingest(
            conn,
            [Event(id="x1", type="reply", at=ts("11-28 10:05"), ticket="T-9", seq=1)],
            actor=OPERATOR,
            source="test",
        )
        assert len(outcome_rows(conn)) == len(before) + 1
    finally:
        conn.close()


@pytest.mark.both_backends
def test_outcomes_change_only_by_delete_and_insert(writable: Path) -> None:
    conn = open_db(writable)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="delete and insert"):
            conn.execute("UPDATE outcomes SET adj_state = 'met'")
    finally:
        conn.close()


@pytest.mark.parametrize("by_operator", [False, True])
def test_the_month_query_searches_the_rollup_by_its_key(lookup_db: Path, by_operator: bool) -> None:
    """A range of the rollup's primary key (never a scan), summed per month in SQL."""
    conn = connect(lookup_db, readonly=True)
    try:
        sql = rollup_query(by_operator=by_operator, one_agreement=True)
        params = {"first": "2026-11-01", "last": "2026-11-30", "agreement": "acme-gold"}
        plan = [str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        rows = conn.execute(sql, params).fetchall()
    finally:
        conn.close()
    assert plan[0] == "SEARCH outcome_days USING PRIMARY KEY (day>? AND day<?)"
    assert not any(step.startswith("SCAN") for step in plan)
    assert len(rows) == 5 and all(r[0].startswith("2026-11-") for r in rows)


@pytest.mark.both_backends
def test_refresh_refuses_to_run_outside_a_transaction(writable: Path) -> None:
    from sladesk_tui.store.outcomes import refresh_outcomes

    conn = open_db(writable)
    try:
        with pytest.raises(RuntimeError):
            refresh_outcomes(conn, ["T-1"], END_OF_NOVEMBER)
    finally:
        conn.close()


HOLIDAY_AGREEMENTS = """
[[calendar]]
id = "berlin"
tz = "Europe/Berlin"
holidays = { country = "DE", subdiv = "BE" }
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"],
          thu = ["09:00-17:00"], fri = ["09:00-17:00"] }

[[agreement]]
id = "office"
customer = "acme"
calendar = "berlin"
valid_from = "2026-01-01"
valid_until = "2026-12-31"
[agreement.targets]
P2 = { response = "1h", resolution = "8h" }
"""


def test_country_holidays_are_snapshotted_at_load_and_lookups_skip_the_package(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    with agreements_db(db, HOLIDAY_AGREEMENTS, actor=LEAD, toml=tmp_path / "a.toml") as conn:
        ingest(
            conn,
            [
                Event(
                    id="c",
                    type="created",
                    at=ts("12-24 08:00"),
                    ticket="T",
                    seq=1,
                    customer="acme",
                    priority="P2",
                    title="t",
                )
            ],
            actor=OPERATOR,
            source="test",
        )
        years = {
            r[0]
            for r in conn.execute("SELECT year FROM holiday_dates WHERE country = 'DE' AND subdiv = 'BE'")
        }
    assert {2025, 2026, 2027} <= years
    code = (
        "import sys, json\n"
        "from sladesk_tui.cli import main\n"
        f"rc = main(['ticket', 'T', '--db', {str(db)!r}, '--at', '2026-12-28T10:00:00Z', '--format', 'json'])\n"
        "assert rc == 0, rc\n"
        "assert 'holidays' not in sys.modules, 'the holidays package was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    import json

    clocks = json.loads(out.stdout)["clocks"]
    # Created Thursday 24 Dec 09:00 Berlin: 8h that day; 25 and 26 Dec are holidays, 27 a
    # Sunday; Monday 28 Dec 09:00-11:00 Berlin (10:00Z) adds 2h. The 8h target was reached
    # on the 24th at 17:00, so it breached when counting resumed: Monday 09:00 Berlin.
    assert clocks["resolution"]["elapsed_s"] == 10 * 3600.0
    assert clocks["resolution"]["breached_at"] == "2026-12-28T08:00:00Z"
