"""Backups with pg_dump, restored with pg_restore (docs/postgresql.md, "Backups").

The page's commands, on the real server: a custom-format dump of a live desk, the
database dropped, `pg_restore --create` bringing it back under its own name. The
audit chain verifies on the restored database, the people still connect as
themselves, and the rules came back with it (an UPDATE of a log table is still
refused; the database is closed to roles outside the agent group again).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from pg_desk import Desk, extend, make_desk
from pg_support import PgServer

from sladesk_tui.store.overrides import place_override

REPO = Path(__file__).resolve().parents[2]


def tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
    if found is None:
        pytest.fail(f"no {name} (apt-get install postgresql-client)")
    return str(found)


def as_admin(desk: Desk, *argv: str) -> subprocess.CompletedProcess[str]:
    parts = urllib.parse.urlsplit(desk.server.admin_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        PGHOST=parts.hostname or "127.0.0.1",
        PGPORT=str(parts.port or 5432),
        PGUSER=urllib.parse.unquote(parts.username or ""),
        PGPASSWORD=urllib.parse.unquote(parts.password or ""),
    )
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=300, env=env, check=False)


def verify(desk: Desk, who: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sladesk_tui", "audit", "verify", "--db", desk.url(who)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )


def untimed(report: str) -> str:
    return re.sub(r" in \d+(\.\d+)? s$", "", report, flags=re.MULTILINE)


def test_a_dump_restores_with_its_chain_its_people_and_its_rules(pg_server: PgServer, tmp_path: Path) -> None:
    desk = make_desk(pg_server, tmp_path, ("admin", "lead", "feed", "ann"))
    with desk.connect("ann") as conn:
        place_override(conn, extend(desk, "ann"))
    before = verify(desk, "ann")
    assert before.returncode == 0, before.stderr

    dump = tmp_path / "sladesk.dump"
    r = as_admin(desk, tool("pg_dump"), "-Fc", "-f", str(dump), "-d", desk.name)
    assert r.returncode == 0, r.stderr
    r = as_admin(desk, tool("dropdb"), "--force", desk.name)
    assert r.returncode == 0, r.stderr
    r = as_admin(desk, tool("pg_restore"), "--create", "--exit-on-error", "-d", "postgres", str(dump))
    assert r.returncode == 0, r.stderr

    after = verify(desk, "ann")
    assert after.returncode == 0, after.stderr
    # The same rows, the same head, the same outcomes (the time each check took aside).
    assert untimed(after.stdout) == untimed(before.stdout)
    denied = desk.psql("ann", "UPDATE overrides SET justification = 'rewritten'")
    assert denied.returncode != 0 and "permission denied" in denied.stderr, denied.stderr
    # The database's own privileges came back too: CONNECT for the agent group only.
    assert desk.admin_scalar(f"SELECT has_database_privilege('public', '{desk.name}', 'CONNECT')") is False
