"""Peer authentication: a real Unix account is its own role, and is recorded as itself.

docs/postgresql.md's `local ... peer` line: over the Unix socket the server asks the
kernel who the connecting process runs as, and admits it as the role of that name,
with no password. Here a throwaway account (random prefix, removed afterwards) runs
the real `psql` over the socket; what it records names it, a row naming anybody
else is refused, and the row it slipped in behind sladesk's back is named by
`sladesk audit verify` (the database enforces who; the chain still sees what).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_desk import Desk, make_desk, psql_binary
from pg_support import PgServer

SOCKET_DIR = "/var/run/postgresql"
REPO = Path(__file__).resolve().parents[2]


def _peer_problem() -> str | None:
    if os.geteuid() != 0:
        return "the peer-login test creates a Unix account: run as root (CI does)"
    missing = [t for t in ("useradd", "userdel", "runuser") if shutil.which(t) is None]
    if missing:
        return f"missing tools for the peer-login test: {', '.join(missing)}"
    if not Path(SOCKET_DIR).is_dir():
        return f"no PostgreSQL socket directory {SOCKET_DIR} (is the server local?)"
    return None


@pytest.fixture(scope="module")
def peer(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Desk, str]]:
    problem = _peer_problem()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    desk = make_desk(pg_server, tmp_path_factory.mktemp("peer"), ("admin", "lead", "feed"))
    account = desk.add_person("peer")  # the role, named like the account below
    subprocess.run(
        [
            "useradd",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            account,
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield desk, account
    finally:
        subprocess.run(["userdel", account], check=False, capture_output=True)


def as_account(desk: Desk, account: str, sql: str) -> subprocess.CompletedProcess[str]:
    """The real psql, run as the Unix account, over the local socket: no password."""
    port = urllib.parse.urlsplit(desk.server.admin_url).port or 5432
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run(
        [
            shutil.which("runuser") or "runuser",
            "-u",
            account,
            "--",
            psql_binary(),
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            SOCKET_DIR,
            "-p",
            str(port),
            "-d",
            desk.name,
            "-c",
            sql,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd="/",
        check=False,
    )


def _override(operator: str) -> str:
    # Dated now: a person records the present (docs/postgresql.md).
    return (
        "INSERT INTO overrides (ticket, kind, clock, ts, at, by_s, reason, justification, operator,"
        " before_json, after_json) VALUES ('T-1', 'extend', 'resolution', extract(epoch FROM now()),"
        " sladesk_recorded_at(),"
        f" 60, 'other', 'over the socket', '{operator}', '{{}}', '{{}}') RETURNING operator"
    )


def test_the_account_is_its_own_role_and_recorded_as_itself(peer: tuple[Desk, str]) -> None:
    desk, account = peer
    who = as_account(desk, account, "SELECT session_user")
    assert who.returncode == 0, who.stderr
    assert who.stdout.strip() == account

    other = as_account(desk, account, _override(desk.role("lead")))
    assert other.returncode != 0
    assert f"overrides.operator: {account} may not record the name" in other.stderr

    own = as_account(desk, account, _override(account))
    assert own.returncode == 0, own.stderr
    assert own.stdout.strip() == account
    assert desk.admin_scalar("SELECT operator FROM overrides ORDER BY id DESC LIMIT 1") == account

    # Allowed by the database, but not through sladesk: the chain names the row.
    r = subprocess.run(
        [sys.executable, "-m", "sladesk_tui", "audit", "verify", "--db", desk.url("lead")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "overrides row id=" in r.stderr and "is not recorded in the audit log" in r.stderr, r.stderr
