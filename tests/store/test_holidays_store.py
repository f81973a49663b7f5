"""The country-holiday snapshot in the database: append-only, audited, read per database."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from sladesk_tui.cli import main
from sladesk_tui.core.agreements import build_calendar
from sladesk_tui.store.agreements import current_agreements, load_agreements_text
from sladesk_tui.store.audit import verify
from sladesk_tui.store.db import migrate, open_db, schema_dir, schema_version

BERLIN = dt.timezone(dt.timedelta(hours=1))  # winter time is enough for March
MARCH_10 = dt.datetime(2026, 3, 10, 10, tzinfo=BERLIN)  # a Tuesday, a holiday nowhere in Germany


def agreements(valid_until: str = "2026-12-31", name: str = "Office") -> str:
    return f"""
[[calendar]]
id = "berlin"
tz = "Europe/Berlin"
holidays = {{ country = "DE", subdiv = "BE" }}
hours = {{ mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"],
          thu = ["09:00-17:00"], fri = ["09:00-17:00"] }}

[[agreement]]
id = "office"
name = "{name}"
customer = "acme"
calendar = "berlin"
valid_from = "2026-01-01"
valid_until = "{valid_until}"
[agreement.targets]
P2 = {{ response = "1h", resolution = "8h" }}
"""


def load(conn: sqlite3.Connection, text: str) -> int:
    return load_agreements_text(conn, text, name="sla.toml", actor="lee").version


def attacker(db: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection that first drops the table's triggers, as anyone with
    write access to the file could."""
    c = sqlite3.connect(db, isolation_level=None)
    triggers = c.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'holiday_dates'"
    )
    for (name,) in triggers.fetchall():
        c.execute(f"DROP TRIGGER {name}")
    return c


def covers(conn: sqlite3.Connection, version: int) -> list[tuple[str, int, int]]:
    row = conn.execute(
        "SELECT covers FROM audit_log WHERE subject = ?", (f"agreements v{version}",)
    ).fetchone()
    return [(r["table"], r["first"], r["last"]) for r in json.loads(row[0])]


@pytest.mark.both_backends
def test_each_load_stores_its_new_years_under_its_version_and_audits_them(conn: sqlite3.Connection) -> None:
    assert load(conn, agreements()) == 1
    years = dict(
        conn.execute("SELECT year, version FROM holiday_dates WHERE country = 'DE' AND subdiv = 'BE'")
    )
    assert {2025, 2026, 2027} <= set(years) and set(years.values()) == {1}
    assert ("holiday_dates", 1, 1) in covers(conn, 1)

    assert load(conn, agreements(valid_until="2040-12-31")) == 2  # needs years up to 2041
    added = {y for (y,) in conn.execute("SELECT year FROM holiday_dates WHERE version = 2")}
    assert added and min(added) > max(years) and max(added) == 2041
    assert ("holiday_dates", 2, 2) in covers(conn, 2)

    assert load(conn, agreements(valid_until="2040-12-31", name="Renamed")) == 3  # no year is new
    assert not conn.execute("SELECT 1 FROM holiday_dates WHERE version = 3").fetchall()
    assert all(table != "holiday_dates" for table, _, _ in covers(conn, 3))
    assert verify(conn).ok


def test_holiday_rows_are_append_only(db_path: Path) -> None:
    conn = open_db(db_path)
    load(conn, agreements())
    conn.close()
    refused = [
        "UPDATE holiday_dates SET dates = '[]' WHERE year = 2026",
        "DELETE FROM holiday_dates WHERE year = 2026",
        "INSERT OR REPLACE INTO holiday_dates (version, country, subdiv, year, dates) VALUES (1, 'DE', 'BE', 2026, '[]')",
    ]
    for client in (open_db(db_path), sqlite3.connect(db_path, isolation_level=None)):
        try:
            for sql in refused:
                with pytest.raises(sqlite3.IntegrityError, match="holiday_dates is append-only"):
                    client.execute(sql)
        finally:
            client.close()
    conn = open_db(db_path)
    try:
        assert "2026-05-01" in json.loads(
            conn.execute("SELECT dates FROM holiday_dates WHERE year = 2026").fetchone()[0]
        )
        assert verify(conn).ok
    finally:
        conn.close()


TAMPERING = {
    "edited": (
        "UPDATE holiday_dates SET dates = json_insert(dates, '$[#]', '2026-03-10') WHERE year = 2026",
        "row 1: holiday_dates rows version 1..1 differ from what was recorded (edited)",
    ),
    "deleted": (
        "DELETE FROM holiday_dates WHERE year = 2026",
        "row 1: holiday_dates rows version 1..1 differ from what was recorded (",
    ),
    "slipped in": (
        "INSERT INTO holiday_dates (version, country, subdiv, year, dates) VALUES (1, 'DE', 'BY', 2026, '[]')",
        "row 1: holiday_dates rows version 1..1 differ from what was recorded (",
    ),
    "slipped in under a version of its own": (
        "INSERT INTO holiday_dates (version, country, subdiv, year, dates) VALUES (9, 'DE', 'BY', 2026, '[]')",
        "holiday_dates row version=9 is not recorded in the audit log",
    ),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_a_holiday_row_changed_behind_the_programs_back_is_found(
    db_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sql, expected = TAMPERING[case]
    conn = open_db(db_path)
    load(conn, agreements())
    conn.close()
    bad = attacker(db_path)
    bad.execute("PRAGMA foreign_keys = OFF")
    assert bad.execute(sql).rowcount == 1
    bad.close()
    assert main(["audit", "verify", "--db", str(db_path)]) == 1
    assert f"sladesk: audit chain BROKEN: {expected}" in capsys.readouterr().err
    conn = open_db(db_path)
    try:
        result = verify(conn)
    finally:
        conn.close()
    assert not result.ok and expected.removeprefix("row 1: ") in (result.reason or "")


def test_each_database_reads_its_own_snapshot(tmp_path: Path) -> None:
    """One process, two databases whose snapshots differ: neither borrows the other's."""
    honest, odd = tmp_path / "honest.db", tmp_path / "odd.db"
    for path in (honest, odd):
        c = open_db(path, create=True)
        load(c, agreements())
        c.close()
    bad = attacker(odd)
    bad.execute("UPDATE holiday_dates SET dates = json_insert(dates, '$[#]', '2026-03-10') WHERE year = 2026")
    bad.close()
    calendars = {}
    for path in (honest, odd, honest):
        c = open_db(path)
        try:
            aset = current_agreements(c)[1]
        finally:
            c.close()
        calendars[path] = build_calendar(aset, "berlin")
    assert calendars[honest].is_open(MARCH_10)
    assert not calendars[odd].is_open(MARCH_10)


def test_migration_drops_the_unaudited_rows_of_0002(tmp_path: Path) -> None:
    """Rows from before 0004 carry no version and no audit row: they go, and the
    database verifies before and after the migration."""
    old = tmp_path / "schema3"
    old.mkdir()
    for f in sorted(schema_dir().glob("000[123]_*.sql")):
        shutil.copy(f, old / f.name)
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        assert migrate(conn, old) == 3
        conn.execute(
            "INSERT INTO holiday_dates (country, subdiv, year, dates) VALUES ('DE', 'BE', 2026, '[]')"
        )
        assert verify(conn).ok  # not yet audited there: nothing to hold against it
        assert migrate(conn) == schema_version(conn) >= 4
        assert conn.execute("SELECT COUNT(*) FROM holiday_dates").fetchone()[0] == 0
        assert "version" in [r[1] for r in conn.execute("PRAGMA table_info(holiday_dates)")]
        assert verify(conn).ok
    finally:
        conn.close()


@pytest.mark.both_backends
def test_a_load_stores_every_year_each_agreements_validity_needs(conn: sqlite3.Connection) -> None:
    load(conn, agreements())  # valid 2026: one year either side
    years = [y for (y,) in conn.execute("SELECT year FROM holiday_dates ORDER BY year")]
    assert years == [2025, 2026, 2027]
    open_ended = agreements().replace('valid_from = "2026-01-01"\nvalid_until = "2026-12-31"\n', "")
    assert "valid_" not in open_ended
    load(conn, open_ended)  # no validity limit: every year instants may have
    years = [y for (y,) in conn.execute("SELECT year FROM holiday_dates ORDER BY year")]
    assert years == list(range(1970, 2200))


def test_lookups_outside_the_stored_years_never_import_the_package(tmp_path: Path) -> None:
    """A ticket of the last valid day, looked at years later: its clock runs through
    years no agreement needs, which count no country holidays and ask no package."""
    import subprocess
    import sys

    db = tmp_path / "team.db"
    c = open_db(db, create=True)
    try:
        load(c, agreements())
    finally:
        c.close()
    from support import give_roles

    give_roles(db, "feed", "lee")
    events = tmp_path / "ev.jsonl"
    events.write_text(
        json.dumps(
            {"id": "c1", "type": "created", "ticket": "T-1", "at": "2026-12-31T10:00:00+01:00"}
            | {"customer": "acme", "priority": "P2", "title": "late in the year"}
        )
        + "\n"
    )
    assert main(["--db", str(db), "import", str(events)], operator="lee") == 0
    script = (
        "import sys\n"
        "from sladesk_tui.cli import main\n"
        f"db = {str(db)!r}\n"
        "codes = [main(['--db', db, 'ticket', 'T-1', '--at', '2030-06-01T00:00Z'], operator='lee'),\n"
        "         main(['--db', db, 'report', '--month', '2023-01', '--at', '2030-06-01T00:00Z'], operator='lee'),\n"
        "         main(['--db', db, 'queue', '--at', '2031-01-02T00:00Z'], operator='lee')]\n"
        "print(codes, 'holidays' in sys.modules, file=sys.stderr)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert r.stderr.splitlines()[-1] == "[0, 0, 0] False", r.stderr
