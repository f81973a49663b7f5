"""The throwaway team host every real-account test shares (one per test session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import GOLD_24X7
from unix_host import T0, Host, created, need, setup_problem


@pytest.fixture(scope="session")
def host() -> Iterator[Host]:
    need(setup_problem())
    h = Host.create()
    try:
        # The page's first steps: the service account creates the database and names
        # the first admin and lead; the admin names the feed account and loads agreements.
        r = h.as_service(
            str(h.venv / "bin" / "python"), "-I", "-m", "sladesk_tui", "--db", str(h.db),
            "init", "--admin", h.users["admin"], "--lead", h.users["lead"], umask="007",
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        r = h.as_operator("admin", "role", "grant", "feed", h.users["feed"])
        assert r.returncode == 0, r.stderr
        r = h.as_operator("admin", "load", "-", stdin=GOLD_24X7.encode())
        assert r.returncode == 0, r.stderr
        r = h.as_operator("feed", "import", "-", stdin=(created("c1", "T-1", T0) + "\n").encode())
        assert r.returncode == 0, r.stderr
        yield h
    finally:
        h.remove()
