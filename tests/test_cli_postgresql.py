"""The command line on a PostgreSQL database (docs/postgresql.md): a desk made, loaded,
fed, overridden and verified with `--db postgresql://...`, the acting operator being
the role the server authenticated, never a name the client claims."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from backends import rows
from pg_support import PgServer
from support import GOLD_24X7

from sladesk_tui.cli import main

H = 3600


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(capsys: pytest.CaptureFixture[str], *argv: str, operator: str | None = None) -> tuple[int, str, str]:
    code = main(list(argv), operator=operator)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def url(pg_server: PgServer) -> str:
    return pg_server.fresh(pg_server.role("owner"))


def test_a_desk_on_postgresql_from_init_to_audit_verify(
    url: str, pg_server: PgServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    me = pg_server.role("owner")
    now = time.time()
    (tmp_path / "a.toml").write_text(GOLD_24X7, encoding="utf-8")
    events = [
        {"id": "1c", "ticket": "T-1", "at": iso(now - H), "type": "created", "customer": "acme",
         "priority": "P2", "title": "Invoices"},
    ]  # fmt: skip
    (tmp_path / "e.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")

    code, out, err = run(capsys, "--db", url, "init", "--admin", me, "--lead", me)
    assert code == 0, err
    assert pg_server.password not in out and ":***@" in out  # the URL is shown without its password
    for argv in (
        ("role", "grant", "feed", me),
        ("load", str(tmp_path / "a.toml")),
        ("import", str(tmp_path / "e.jsonl")),
    ):
        code, out, err = run(capsys, "--db", url, *argv, operator="mallory")  # claimed, and ignored
        assert code == 0, err
    code, out, err = run(
        capsys, "--db", url, "override", "T-1", "hold", "--until", "+1h", "--reason", "customer_unreachable",
        "--justification", "Customer's phone is off until the afternoon", operator="mallory",
    )  # fmt: skip
    assert code == 0, err
    # Everything is on the record under the connected role, not under "mallory".
    assert rows(url, "SELECT DISTINCT actor FROM audit_log") == [(me,)]
    assert rows(url, "SELECT operator FROM overrides") == [(me,)]
    assert rows(url, "SELECT DISTINCT actor FROM events") == [(me,)]
    # A lead never reviews their own override, whatever name the client gives.
    code, _out, err = run(capsys, "--db", url, "review", "1", "approve", operator="lee")
    assert code == 2 and "own override" in err

    code, out, err = run(capsys, "--db", url, "queue", "--format", "json")
    assert code == 0, err
    assert [t["id"] for t in json.loads(out)] == ["T-1"]
    code, out, err = run(capsys, "--db", url, "ticket", "T-1", "--format", "json")
    assert code == 0 and json.loads(out)["overrides"][0]["operator"] == me
    code, out, err = run(capsys, "--db", url, "audit", "verify")
    assert code == 0 and out.startswith("audit chain ok: 6 rows"), (out, err)


def test_a_refused_login_is_one_line_exit_2_without_the_password(
    url: str, pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = url.replace(pg_server.password, "not-the-password")
    code, out, err = run(capsys, "--db", wrong, "queue")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "cannot connect" in err and "not-the-password" not in err


def test_a_lookup_on_a_database_without_the_schema_is_refused(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(capsys, "--db", url, "report", "--month", "2026-11")
    assert code == 2 and "not a sladesk database" in err
