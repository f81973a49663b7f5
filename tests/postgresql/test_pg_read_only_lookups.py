"""The lookups work on a read replica (docs/postgresql.md, "Read replicas").

A hot standby runs every transaction read-only. The same holds for a session whose
`default_transaction_read_only` is on, which is what each command gets here
(through libpq's PGOPTIONS, on the real server): the lookups the page lists answer
with exit 0, and a write is refused by the server with nothing written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pg_desk import Desk, extend, make_desk
from pg_support import PgServer

from sladesk_tui.store.overrides import place_override

REPO = Path(__file__).resolve().parents[2]
READ_ONLY = "-c default_transaction_read_only=on"

LOOKUPS = [
    ("queue",),
    ("ticket", "T-1"),
    ("ticket", "T-1", "--format", "json"),
    ("report",),
    ("report", "--format", "json"),
    ("overrides",),
    ("overrides", "--stats"),
    ("audit", "verify"),
    ("audit", "head"),
    ("alerts",),
    ("role", "list"),
    ("lead", "list"),
    ("setting", "list"),
]


@pytest.fixture(scope="module")
def desk(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Desk:
    d = make_desk(pg_server, tmp_path_factory.mktemp("replica"), ("admin", "lead", "feed", "ann"))
    with d.connect("ann") as conn:
        place_override(conn, extend(d, "ann"))
    return d


def run(desk: Desk, who: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SLADESK_DB"}
    env["PGOPTIONS"] = READ_ONLY
    return subprocess.run(
        [sys.executable, "-m", "sladesk_tui", *args, "--db", desk.url(who)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
        check=False,
    )


@pytest.mark.parametrize("args", LOOKUPS, ids=" ".join)
def test_a_lookup_answers_in_a_read_only_session(desk: Desk, args: tuple[str, ...]) -> None:
    r = run(desk, "ann", *args)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip(), "no output"


def test_a_write_is_refused_and_writes_nothing(desk: Desk) -> None:
    before = desk.admin_scalar("SELECT count(*) FROM overrides")
    r = run(
        desk,
        "ann",
        "override",
        "T-1",
        "extend",
        "--clock",
        "resolution",
        "--by",
        "10m",
        "--reason",
        "third_party",
        "--justification",
        "the vendor's fix lands tomorrow",
    )
    assert r.returncode != 0
    assert "read-only transaction" in r.stderr, r.stderr
    assert desk.admin_scalar("SELECT count(*) FROM overrides") == before
