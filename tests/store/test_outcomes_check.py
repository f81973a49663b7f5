"""`sladesk audit verify` recomputes the stored outcomes from the record (docs/postgresql.md).

The stored outcomes and their daily rollup are a projection: on SQLite whoever may
write the file may change them, on PostgreSQL the owner may. `audit verify` then
recomputes every ticket's outcomes with the store's own code (`store.outcomes`) and
names the first ticket (or rollup row) that differs, exit status 1; an untampered
desk (the hand-checked November history, the demo) passes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from backends import rows
from lookup_fixture import build

from sladesk_tui.store.db import connect
from sladesk_tui.store.demo import build_demo

ROOT = Path(__file__).resolve().parents[2]


def verify(target: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sladesk_tui", "audit", "verify", "--db", str(target)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )


def raw(target: str, sql: str) -> None:
    """A write behind sladesk's back: plain SQL, as the file's writer or the schema's owner."""
    conn = connect(target)
    try:
        conn.execute("BEGIN")
        conn.execute(sql)
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.fixture
def november(db_target: str, tmp_path: Path) -> str:
    """The hand-checked history, on the test's backend, ours to tamper with."""
    build(db_target, toml=tmp_path / "agreements.toml")  # type: ignore[arg-type]  # a path or a URL
    return db_target


@pytest.mark.both_backends
def test_an_untampered_desk_passes(november: str) -> None:
    r = verify(november)
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()
    assert first.startswith("audit chain ok:")
    n = rows(november, "SELECT COUNT(*) FROM outcomes")[0][0]
    assert n > 0 and second.startswith(f"outcomes ok: {n} rows of ")


def test_the_demo_desk_passes(tmp_path: Path) -> None:
    build_demo(tmp_path / "demo.db", now=time.time(), operator="ada")
    r = verify(tmp_path / "demo.db")
    assert r.returncode == 0, r.stderr
    assert "outcomes ok:" in r.stdout


def _breached(target: str) -> tuple[str, str, int]:
    found = rows(
        target,
        "SELECT ticket, clock, cycle FROM outcomes WHERE adj_state = 'breached' ORDER BY ticket LIMIT 1",
    )
    assert found, "the history has a breach"
    return found[0][0], found[0][1], int(found[0][2])


@pytest.mark.both_backends
def test_a_breach_turned_met_is_named(november: str) -> None:
    ticket, clock, cycle = _breached(november)
    where = f"ticket = '{ticket}' AND clock = '{clock}' AND cycle = {cycle}"
    # Delete and insert (the rollup follows both), as a projection writer would.
    raw(november, f"DELETE FROM outcomes WHERE {where}")
    r = verify(november)
    assert r.returncode == 1
    assert r.stdout.startswith("audit chain ok:")  # the record is intact
    assert f"ticket {ticket}: {clock} clock, cycle {cycle}: the record settles it (breached)" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.both_backends
def test_a_changed_outcome_is_named(november: str) -> None:
    ticket, clock, cycle = _breached(november)
    cols = rows(
        november,
        f"SELECT * FROM outcomes WHERE ticket = '{ticket}' AND clock = '{clock}' AND cycle = {cycle}",
    )[0]
    raw(november, f"DELETE FROM outcomes WHERE ticket = '{ticket}' AND clock = '{clock}' AND cycle = {cycle}")
    values = ", ".join("NULL" if v is None else repr(v) if isinstance(v, str) else str(v) for v in cols)
    raw(november, f"INSERT INTO outcomes VALUES ({values.replace(repr('breached'), repr('met'))})")
    r = verify(november)
    assert r.returncode == 1
    assert (
        f"ticket {ticket}: {clock} clock, cycle {cycle}: stored raw_state 'met', the record gives 'breached'"
        in r.stderr
    )


@pytest.mark.both_backends
def test_a_changed_rollup_is_named(november: str) -> None:
    raw(
        november,
        "UPDATE outcome_days SET adj_met = adj_met + adj_breached, adj_breached = 0 WHERE adj_breached > 0",
    )
    r = verify(november)
    assert r.returncode == 1
    assert "daily rollup " in r.stderr and "the outcomes give" in r.stderr
    # The chain alone still passes: the rollup is not a record.
    chain = subprocess.run(
        [sys.executable, "-m", "sladesk_tui", "audit", "verify", "--chain-only", "--db", str(november)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert chain.returncode == 0, chain.stderr


@pytest.mark.both_backends
def test_a_changed_ticket_row_is_named(november: str) -> None:
    """The report counts tickets by priority: a ticket row whose priority is not the one its
    events give is named, before its outcomes are compared."""
    ticket = _breached(november)[0]
    (priority,) = rows(november, f"SELECT priority FROM tickets WHERE id = '{ticket}'")[0]
    other = "P2" if priority == "P1" else "P1"
    raw(november, f"UPDATE tickets SET priority = '{other}' WHERE id = '{ticket}'")
    r = verify(november)
    assert r.returncode == 1
    assert f"ticket {ticket}: stored priority '{other}', the record gives '{priority}'" in r.stderr


@pytest.mark.both_backends
def test_a_ticket_moved_to_another_agreement_is_named(november: str) -> None:
    """Its creation, under the agreements version stored with it, gives its agreement
    back: a breach moved under another agreement (or none) is named."""
    ticket = _breached(november)[0]
    (agreement, version) = rows(
        november, f"SELECT agreement_id, agreement_version FROM tickets WHERE id = '{ticket}'"
    )[0]
    raw(november, f"DELETE FROM outcomes WHERE ticket = '{ticket}'")
    raw(november, f"UPDATE tickets SET agreement_id = 'lenient' WHERE id = '{ticket}'")
    r = verify(november)
    assert r.returncode == 1
    assert (
        f"ticket {ticket}: stored agreement 'lenient', its creation under agreements version {version}"
        f" gives {agreement!r}" in r.stderr
    )


def test_a_ticket_moved_off_every_agreement_is_named(november: str) -> None:
    """Stored with no agreement and no version, as if created before any agreements
    were loaded, and its breaches deleted: no outcome is wanted of it then, so only
    when its creation was recorded tells (here just after the load; on PostgreSQL,
    where people cannot do this (0004), the owner's change is seen once the creation
    was recorded more than the clock tolerance, 5 minutes, after the first load)."""
    ticket = _breached(november)[0]
    raw(november, f"DELETE FROM outcomes WHERE ticket = '{ticket}'")
    raw(
        november,
        "UPDATE tickets SET agreement_id = NULL, agreement_version = NULL,"
        f" no_agreement_reason = 'no agreement in force' WHERE id = '{ticket}'",
    )
    r = verify(november)
    assert r.returncode == 1
    assert f"ticket {ticket}: stored with no agreements version, but its creation was recorded at" in r.stderr


def test_a_creation_recorded_at_no_instant_is_named(november: str) -> None:
    """A ticket with no agreements version is checked against when its creation was
    recorded: a `recorded_at` that is no instant (written behind sladesk's back) is named,
    not a crash."""
    from sladesk_tui.store.outcomes import check_outcomes

    raw(
        november,
        "INSERT INTO events (id, type, ticket, ts, at, customer, priority, title, digest, actor, source, recorded_at)"
        " VALUES ('raw-c', 'created', 'T-raw', 1796032800, '2026-12-01T08:00:00.000000Z', 'acme', 'P2', 'x', 'd',"
        " 'mallory', 'raw', 'yesterday')",
    )
    raw(
        november,
        "INSERT INTO tickets (id, customer, title, priority, status, is_open, created_ts, updated_ts)"
        " VALUES ('T-raw', 'acme', 'x', 'P2', 'new', 1, 1796032800, 1796032800)",
    )
    conn = connect(november)
    try:
        found = check_outcomes(conn, time.time())
    finally:
        conn.close()
    assert found.problem == "ticket T-raw: its creation's recorded_at 'yesterday' is not an instant"
