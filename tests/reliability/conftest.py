"""Fixtures of the reliability suite: a team database prepared by the real command line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rel_support import AGREEMENTS_TOML, created, jsonl, sladesk

from sladesk_tui.store.identity import login_user


@pytest.fixture
def team_db(tmp_path: Path) -> Path:
    """A database with the agreements loaded and ticket SHARED created, each by `sladesk`
    in a child process, as an admin would set one up."""
    db = tmp_path / "team.db"
    agreements = tmp_path / "agreements.toml"
    agreements.write_text(AGREEMENTS_TOML, encoding="utf-8")
    shared = tmp_path / "shared.jsonl"
    shared.write_text(
        jsonl([created("shared-1", "SHARED", time.time() - 7200, priority="P1")]), encoding="utf-8"
    )
    me = login_user()
    for args in (
        ("init", "--db", db, "--admin", me),
        ("role", "grant", "--db", db, "feed", me),
        ("load", "--db", db, agreements),
        ("import", "--db", db, shared),
    ):
        r = sladesk(*args)
        assert r.returncode == 0, r.stderr
    return db
