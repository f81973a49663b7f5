"""The admin, feed and lead roles: granting, refusing, migrating, and the commands that need them."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from support import GOLD_24X7

from sladesk_tui.cli import main
from sladesk_tui.core.errors import InputError, Refused
from sladesk_tui.store.audit import verify
from sladesk_tui.store.backend import dialect
from sladesk_tui.store.db import connect, migrate, open_db, schema_dir
from sladesk_tui.store.roles import (
    grant_role,
    has_role,
    holders,
    leads,
    name_first,
    name_first_lead,
    require_role,
    revoke_role,
    roles_of,
)


@pytest.mark.both_backends
def test_first_admin_then_grants_by_admins_only(conn: sqlite3.Connection) -> None:
    assert holders(conn, "admin") == []
    name_first(conn, "admin", "ada", actor="root")
    with pytest.raises(Refused, match="already named"):
        name_first(conn, "admin", "eve", actor="eve")
    with pytest.raises(Refused, match="only the first admin and the first lead"):
        name_first(conn, "feed", "eve", actor="eve")
    with pytest.raises(Refused, match="only an admin may grant the feed role, and eve is not an admin"):
        grant_role(conn, "feed", "eve", actor="eve")
    grant_role(conn, "feed", "svc", actor="ada")
    grant_role(conn, "admin", "bo", actor="ada")
    with pytest.raises(Refused, match="already a feed account"):
        grant_role(conn, "feed", "svc", actor="bo")
    # A lead is not an admin: the lead role grants only the lead role.
    name_first_lead(conn, "lee", actor="root")
    with pytest.raises(Refused, match="lee is not an admin"):
        grant_role(conn, "feed", "lee", actor="lee")
    with pytest.raises(Refused, match="only a team lead may grant the lead role, and ada is not a lead"):
        grant_role(conn, "lead", "ada", actor="ada")
    assert roles_of(conn, "ada") == ["admin"] and roles_of(conn, "lee") == ["lead"]
    assert roles_of(conn, "sam") == []  # an agent
    revoke_role(conn, "admin", "ada", actor="bo")
    with pytest.raises(Refused, match="bo is the last admin"):
        revoke_role(conn, "admin", "bo", actor="bo")
    revoke_role(conn, "feed", "svc", actor="bo")  # the feed role may drop to nobody
    assert holders(conn, "feed") == [] and holders(conn, "admin") == ["bo"]
    assert verify(conn).ok
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert actions == [
        "role.admin.init",
        "role.feed.grant",
        "role.admin.grant",
        "role.init",
        "role.admin.revoke",
        "role.feed.revoke",
    ]


@pytest.mark.both_backends
def test_grants_are_append_only(conn: sqlite3.Connection) -> None:
    name_first(conn, "admin", "ada", actor="root")
    statements = ["UPDATE role_grants SET role = 'feed'", "DELETE FROM role_grants"]
    if dialect(conn).name == "sqlite":  # PostgreSQL has no INSERT OR REPLACE
        statements.append("INSERT OR REPLACE INTO role_grants SELECT * FROM role_grants")
    for sql in statements:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    with pytest.raises(sqlite3.IntegrityError, match="(?i)check"):
        conn.execute(
            'INSERT INTO role_grants ("user", role, action, by_user, ts, at)'
            " VALUES ('x', 'root', 'grant', 'x', 0, '')"
        )


@pytest.mark.both_backends
def test_require_role_is_one_line_naming_the_fix(conn: sqlite3.Connection) -> None:
    name_first(conn, "admin", "ada", actor="root")
    grant_role(conn, "feed", "svc", actor="ada")
    require_role(conn, "svc", "feed")
    require_role(conn, "ada", "admin")
    with pytest.raises(InputError) as info:
        require_role(conn, "sam", "feed")
    assert str(info.value) == (
        "sam is not a feed account: this needs the feed role"
        " (an admin grants it with `sladesk role grant feed sam`)"
    )
    with pytest.raises(Refused, match="svc is not an admin"):
        require_role(conn, "svc", "admin")
    with pytest.raises(ValueError, match="unknown role"):
        require_role(conn, "svc", "root")


def _old_database(tmp_path: Path, name: str) -> tuple[Path, sqlite3.Connection]:
    """A database at the schema before the roles migration, as an older sladesk left it."""
    old = tmp_path / "schema-old"
    old.mkdir(exist_ok=True)
    (roles,) = [f.name for f in schema_dir().iterdir() if f.name.endswith("_roles.sql")]
    for f in schema_dir().iterdir():
        if f.name.endswith(".sql") and f.name < roles:
            shutil.copy(f, old / f.name)
    path = tmp_path / name
    conn = connect(path, create=True)
    migrate(conn, old)
    return path, conn


def test_migration_makes_the_first_lead_admin(tmp_path: Path) -> None:
    path, conn = _old_database(tmp_path, "leads.db")
    name_first_lead(conn, "lee", actor="root")
    conn.execute("SELECT 1")
    from sladesk_tui.store.roles import grant_lead

    grant_lead(conn, "kim", actor="lee")
    conn.close()
    conn = open_db(path)
    try:
        assert holders(conn, "admin") == ["lee"] and leads(conn) == ["kim", "lee"]
        assert holders(conn, "feed") == []
        row = conn.execute("SELECT action, after_json FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        assert row[0] == "role.admin.migrate"
        assert json.loads(row[1])["as"] == "first lead"
        assert verify(conn).ok
        grant_role(conn, "feed", "svc", actor="lee")  # the documented step after upgrading
        assert verify(conn).ok
    finally:
        conn.close()
    open_db(path).close()  # opening again changes nothing
    assert len(holders(sqlite3.connect(path), "admin")) == 1


def test_migration_makes_the_creator_admin_or_nobody(tmp_path: Path) -> None:
    path, conn = _old_database(tmp_path, "creator.db")
    toml = tmp_path / "a.toml"
    toml.write_text(GOLD_24X7, encoding="utf-8")
    from sladesk_tui.store.agreements import load_agreements_file

    load_agreements_file(conn, toml, actor="carla")
    conn.close()
    conn = open_db(path)
    assert holders(conn, "admin") == ["carla"] and verify(conn).ok
    conn.close()

    empty, conn = _old_database(tmp_path, "empty.db")
    conn.close()
    conn = open_db(empty)
    assert holders(conn, "admin") == []  # `sladesk init --admin USER` names one
    conn.close()


# ---- the commands -----------------------------------------------------------------------


class Desk:
    def __init__(self, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.db, self.capsys = db, capsys

    def run(self, *argv: str, operator: str) -> tuple[int, str, str]:
        code = main(["--db", str(self.db), *argv], operator=operator)
        out = self.capsys.readouterr()
        return code, out.out, out.err


def test_init_names_admin_and_lead_and_role_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = Desk(tmp_path / "d.db", capsys)
    code, out, _ = desk.run("init", "--admin", "ada", "--lead", "lee", operator="root")
    assert code == 0 and out.endswith("; ada is the first admin; lee is the first team lead\n")
    assert desk.run("role", "grant", "feed", "svc", operator="ada")[:2] == (
        0,
        "svc now holds the feed role\n",
    )
    code, _, err = desk.run("role", "grant", "admin", "sam", operator="sam")
    assert code == 2 and err == "sladesk: only an admin may grant the admin role, and sam is not an admin\n"
    assert desk.run("role", "grant", "lead", "kim", operator="lee")[0] == 0
    assert desk.run("lead", "list", operator="sam")[1] == "kim\nlee\n"  # the old spelling still works
    assert desk.run("role", "list", operator="sam")[1] == "admin\tada\nfeed\tsvc\nlead\tkim\nlead\tlee\n"
    assert desk.run("role", "list", "feed", operator="sam")[1] == "feed\tsvc\n"
    code, _, err = desk.run("role", "grant", "root", "sam", operator="ada")
    assert code == 2 and "invalid choice: 'root'" in err and err.count("\n") == 1
    assert desk.run("role", "revoke", "feed", "svc", operator="ada")[:2] == (
        0,
        "svc no longer holds the feed role\n",
    )


def test_load_needs_admin_and_import_needs_feed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    desk = Desk(tmp_path / "d.db", capsys)
    toml = tmp_path / "a.toml"
    toml.write_text(GOLD_24X7, encoding="utf-8")
    events = tmp_path / "e.jsonl"
    events.write_text(
        json.dumps(
            {
                "id": "c1",
                "ticket": "T-1",
                "at": "2026-11-27T08:00:00Z",
                "type": "created",
                "customer": "acme",
                "priority": "P1",
                "title": "Down",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    # Before the database exists: refused, and nothing is created.
    code, _, err = desk.run("import", str(events), operator="sam")
    assert code == 2 and "no such database" in err and not desk.db.exists()
    desk.run("init", "--admin", "ada", operator="root")
    before = verify(connect(desk.db, readonly=True)).rows
    for argv, role in ((("load", str(toml)), "admin"), (("import", str(events)), "feed")):
        for extra in ([], ["--follow"]) if role == "feed" else ([],):
            code, out, err = desk.run(*argv, *extra, operator="sam")
            assert (code, out) == (2, "")
            assert err == (
                f"sladesk: sam is not {'an admin' if role == 'admin' else 'a feed account'}: this needs the"
                f" {role} role (an admin grants it with `sladesk role grant {role} sam`)\n"
            )
    code, _, err = desk.run("load", str(toml), operator="ada")
    assert code == 0, err
    assert desk.run("import", str(events), operator="ada")[0] == 2  # an admin is not a feed
    desk.run("role", "grant", "feed", "svc", operator="ada")
    assert desk.run("import", str(events), operator="svc")[0] == 0
    conn = connect(desk.db, readonly=True)
    assert verify(conn).rows == before + 3  # the load, the grant, the import: refusals wrote nothing
    assert [tuple(r) for r in conn.execute("SELECT actor FROM events")] == [("svc",)]
    conn.close()


def test_load_reads_agreements_from_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = Desk(tmp_path / "d.db", capsys)
    desk.run("init", "--admin", "ada", operator="root")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(GOLD_24X7.encode()), encoding="utf-8"))
    assert desk.run("load", "-", operator="ada")[:2] == (0, "loaded version 1: 1 agreement\n")
    conn = connect(desk.db, readonly=True)
    assert [tuple(r) for r in conn.execute("SELECT source_name FROM agreement_versions")] == [("<stdin>",)]
    conn.close()
    bad = b'[[agreement]]\nid = "x\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(bad), encoding="utf-8"))
    code, _, err = desk.run("load", "-", operator="ada")
    assert code == 2 and err.startswith("sladesk: <stdin>:2:") and err.count("\n") == 1
    assert has_role(sqlite3.connect(desk.db), "ada", "admin")


def test_a_feed_stops_at_its_next_batch_once_its_role_is_revoked(tmp_path: Path) -> None:
    import threading
    import time

    from sladesk_tui.store.follow import follow

    db = tmp_path / "d.db"
    conn = open_db(db, create=True)
    toml = tmp_path / "a.toml"
    toml.write_text(GOLD_24X7, encoding="utf-8")
    from sladesk_tui.store.agreements import load_agreements_file

    load_agreements_file(conn, toml, actor="ada")
    name_first(conn, "admin", "ada", actor="ada")
    grant_role(conn, "feed", "svc", actor="ada")
    feed = tmp_path / "feed.jsonl"

    def line(i: int) -> str:
        event = {"id": f"c{i}", "ticket": f"T-{i}", "at": "2026-11-27T08:00:00Z", "type": "created"}
        return json.dumps({**event, "customer": "acme", "priority": "P1", "title": "Down"}) + "\n"

    feed.write_text(line(1), encoding="utf-8")
    outcome: list[BaseException | None] = []
    stop = threading.Event()

    def run() -> None:
        try:
            follow(db, feed, actor="svc", poll_interval=0.02, stop=stop, require="feed")
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    t = threading.Thread(target=run)
    t.start()
    try:
        deadline = time.monotonic() + 10
        while conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] < 1:
            assert time.monotonic() < deadline, "the feed did not import its first line"
            time.sleep(0.02)
        revoke_role(conn, "feed", "svc", actor="ada")
        with feed.open("a", encoding="utf-8") as f:
            f.write(line(2))
        t.join(timeout=10)
    finally:
        stop.set()
        t.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], Refused)
    assert "svc is not a feed account" in str(outcome[0])
    assert [r[0] for r in conn.execute("SELECT id FROM events")] == ["c1"]
    assert verify(conn).ok
    conn.close()
