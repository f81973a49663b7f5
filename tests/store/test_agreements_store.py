"""Loading agreement files: atomic, versioned, audited; an invalid file changes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import backends
import pytest
from support import give_roles

from sladesk_tui.cli import main
from sladesk_tui.core.errors import InputError
from sladesk_tui.store import agreements as store_agreements
from sladesk_tui.store.agreements import current_agreements, latest_version, load_agreements_file
from sladesk_tui.store.audit import verify

GOOD = """\
[[calendar]]
id = "berlin"
tz = "Europe/Berlin"
holidays = ["2026-12-25"]
hours = { mon = ["09:00-12:30", "13:30-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-16:00"] }

[[agreement]]
id = "acme-gold"
name = "ACME Gold support"
customer = "acme"
services = ["email", "erp"]
calendar = "berlin"
valid_from = "2026-01-01"
valid_until = "2026-12-31"

[agreement.targets]
P1 = { response = "15m", update = "1h", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }

[[agreement]]
id = "globex-24x7"
name = "Globex premium"
customer = "globex"
calendar = "24x7"

[agreement.targets]
P1 = { response = "30m", resolution = "4h" }
"""


def _dump(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table: 'content unchanged' means this is equal."""
    return backends.dump_conn(conn)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.both_backends
def test_load_stores_a_version_with_its_agreements(conn: sqlite3.Connection, tmp_path: Path) -> None:
    loaded = load_agreements_file(conn, _write(tmp_path, "sla.toml", GOOD), actor="lee", source="local")
    assert (loaded.version, loaded.agreements, loaded.unchanged) == (1, 2, False)
    v = conn.execute("SELECT * FROM agreement_versions").fetchone()
    assert (v["version"], v["loaded_by"], v["source_text"]) == (1, "lee", GOOD)
    assert v["loaded_at"].endswith("Z")
    rows = conn.execute(
        "SELECT id, customer, services, calendar, valid_from, valid_until FROM agreements ORDER BY id"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("acme-gold", "acme", '["email","erp"]', "berlin", "2026-01-01", "2026-12-31"),
        ("globex-24x7", "globex", "[]", "24x7", None, None),
    ]
    audit = conn.execute("SELECT * FROM audit_log").fetchone()
    assert (audit["actor"], audit["action"], audit["subject"]) == ("lee", "agreements.load", "agreements v1")
    assert verify(conn).ok


@pytest.mark.both_backends
def test_identical_file_again_is_unchanged(conn: sqlite3.Connection, tmp_path: Path) -> None:
    f = _write(tmp_path, "sla.toml", GOOD)
    load_agreements_file(conn, f, actor="lee")
    before = _dump(conn)
    again = load_agreements_file(conn, f, actor="lee")
    assert (again.version, again.unchanged) == (1, True)
    assert _dump(conn) == before


@pytest.mark.both_backends
def test_each_change_is_a_new_version_and_history_stays(conn: sqlite3.Connection, tmp_path: Path) -> None:
    f1 = _write(tmp_path, "v1.toml", GOOD)
    f2 = _write(tmp_path, "v2.toml", GOOD.replace('P1 = { response = "30m"', 'P1 = { response = "20m"'))
    assert load_agreements_file(conn, f1, actor="lee").version == 1
    assert load_agreements_file(conn, f2, actor="lee").version == 2
    assert load_agreements_file(conn, f1, actor="lee").version == 3  # back to the old file: a real change
    assert latest_version(conn) == 3
    v2, set2 = current_agreements(conn, 2)
    v3, set3 = current_agreements(conn)
    assert (v2, v3) == (2, 3)
    globex = lambda s: next(a for a in s.agreements if a.id == "globex-24x7")  # noqa: E731 - a one-line local helper
    assert globex(set2).target("P1", "response") == 1200
    assert globex(set3).target("P1", "response") == 1800
    assert verify(conn).ok and verify(conn).rows == 3


@pytest.mark.both_backends
def test_nothing_loaded_yet(conn: sqlite3.Connection) -> None:
    version, aset = current_agreements(conn)
    assert version == 0 and aset.agreements == ()
    with pytest.raises(InputError, match="no agreements version 4"):
        current_agreements(conn, 4)


@pytest.mark.both_backends
def test_parsed_once_per_text(
    conn: sqlite3.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_agreements_file(conn, _write(tmp_path, "sla.toml", GOOD), actor="lee")
    store_agreements._cache.clear()
    calls = []
    real = store_agreements._parse
    monkeypatch.setattr(
        store_agreements, "_parse", lambda text, name, hol: calls.append(name) or real(text, name, hol)
    )
    first = current_agreements(conn)[1]
    assert current_agreements(conn)[1] is first
    assert current_agreements(conn, 1)[1] is first
    assert len(calls) == 1


BAD = [
    ("broken.toml", GOOD.replace('customer = "acme"', 'customer = "acme'), r"broken\.toml:\d+: "),
    (
        "badkey.toml",
        GOOD.replace('P2 = { response = "1h"', 'P2 = { response = "3d"'),
        r"badkey\.toml(:\d+)?: .*acme-gold",
    ),
    (
        "unknown-cal.toml",
        GOOD.replace('calendar = "berlin"', 'calendar = "paris"'),
        r"unknown-cal\.toml(:\d+)?: .*paris",
    ),
]


@pytest.mark.both_backends
@pytest.mark.parametrize(("name", "text", "pattern"), BAD)
def test_invalid_file_changes_nothing(
    conn: sqlite3.Connection, tmp_path: Path, name: str, text: str, pattern: str
) -> None:
    load_agreements_file(conn, _write(tmp_path, "ok.toml", GOOD), actor="lee")
    before = _dump(conn)
    with pytest.raises(InputError, match=pattern):
        load_agreements_file(conn, _write(tmp_path, name, text), actor="lee")
    assert _dump(conn) == before


@pytest.mark.both_backends
def test_missing_or_binary_file(conn: sqlite3.Connection, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_agreements_file(conn, tmp_path / "nope.toml", actor="lee")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(InputError, match="not UTF-8"):
        load_agreements_file(conn, binary, actor="lee")
    assert latest_version(conn) == 0


def test_cli_load(db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    give_roles(db_path, "admin", "lee")
    f = _write(tmp_path, "sla.toml", GOOD)
    assert main(["load", str(f), "--db", str(db_path)], operator="lee") == 0
    assert capsys.readouterr().out == "loaded version 1: 2 agreements\n"
    assert main(["--db", str(db_path), "load", str(f)], operator="lee") == 0
    assert "unchanged: version 1" in capsys.readouterr().out
    bad = _write(tmp_path, "bad.toml", GOOD.replace('customer = "acme"', 'customer = "acme'))
    assert main(["load", str(bad), "--db", str(db_path)], operator="lee") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sladesk: {bad}:") and err.count("\n") == 1
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT actor FROM audit_log WHERE action = 'agreements.load'").fetchall() == [
        ("lee",)
    ]
    conn.close()


def test_cli_operator_defaults_to_the_login_user(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pwd

    give_roles(db_path, "admin", pwd.getpwuid(__import__("os").getuid()).pw_name)
    monkeypatch.setenv("USER", "somebody-else")
    monkeypatch.setenv("LOGNAME", "somebody-else")
    assert main(["load", str(_write(tmp_path, "sla.toml", GOOD)), "--db", str(db_path)]) == 0
    conn = sqlite3.connect(db_path)
    assert (
        conn.execute("SELECT actor FROM audit_log WHERE action = 'agreements.load'").fetchone()[0]
        == pwd.getpwuid(__import__("os").getuid()).pw_name
    )
    conn.close()
