"""Fixtures shared across test folders; this file also puts `tests/` on sys.path, so the
helper modules here (`lookup_fixture`, `support`) import from any folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import PgServer, connect_server, unavailable


@pytest.fixture(scope="session")
def lookup_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-checked lookup history (tests/lookup_fixture.py), whole. Read it, never write it."""
    from lookup_fixture import build

    return build(tmp_path_factory.mktemp("lookup") / "full.db")


@pytest.fixture(scope="session")
def lookup_db_earlier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same history cut at `lookup_fixture.EARLIER`: what `--at EARLIER` must reproduce."""
    from lookup_fixture import EARLIER, build

    return build(tmp_path_factory.mktemp("lookup") / "earlier.db", until=EARLIER)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The PostgreSQL server of `tests/pg_support.py`; skips (fails in CI) without one."""
    found = connect_server()
    if isinstance(found, str):
        unavailable(found)
        raise AssertionError("unreachable")  # skip/fail raise
    try:
        yield found
    finally:
        found.cleanup()


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_backends` run once per backend (the `backend` fixture's value)."""
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", BACKENDS)


@pytest.fixture
def backend() -> str:
    """The backend a test runs on: SQLite, unless marked `both_backends` (then each in turn)."""
    return "sqlite"


@pytest.fixture
def db_target(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database on the test's backend: a file path (not yet created), or the URL of
    a new, empty PostgreSQL database owned by the session's owner role (which migrates it)."""
    if backend == "sqlite":
        return str(tmp_path / "sladesk.db")
    server: PgServer = request.getfixturevalue("pg_server")
    owner = server.role("owner")
    return server.url(owner, server.database(owner))
