"""Fixtures shared across test folders; this file also puts `tests/` on sys.path, so the
helper modules here (`lookup_fixture`, `support`) import from any folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from pg_support import PgServer, connect_server, unavailable

# No hypothesis example may fail for being slow: these machines are shared and noisy,
# and a test never asserts on wall-clock time (benchmarks/ measure speed). Hypothesis'
# default 200 ms deadline and its too_slow health check are exactly such assertions.
settings.register_profile("sladesk", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sladesk")


@pytest.fixture(scope="session")
def lookup_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The hand-checked lookup history (tests/lookup_fixture.py) in SQLite files: whole,
    and cut at `lookup_fixture.EARLIER` (what `--at EARLIER` must reproduce)."""
    from lookup_fixture import EARLIER, build

    folder = tmp_path_factory.mktemp("lookup")
    return build(folder / "full.db"), build(folder / "earlier.db", until=EARLIER)


@pytest.fixture(scope="session")
def lookup_urls(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The same two histories in PostgreSQL databases (written as the owner role)."""
    from lookup_fixture import EARLIER, build

    folder = tmp_path_factory.mktemp("lookup-pg")
    owner = pg_server.role("owner")
    full = build(pg_server.fresh(owner, migrated=True), toml=folder / "a.toml")  # type: ignore[arg-type]  # a URL
    earlier = build(pg_server.fresh(owner, migrated=True), until=EARLIER, toml=folder / "b.toml")  # type: ignore[arg-type]  # a URL
    return str(full), str(earlier)


@pytest.fixture
def lookup_db(backend: str, request: pytest.FixtureRequest) -> Path:
    """The whole lookup history on the test's backend. Read it, never write it."""
    if backend == "sqlite":
        return request.getfixturevalue("lookup_files")[0]  # type: ignore[no-any-return]  # pytest's Any
    return request.getfixturevalue("lookup_urls")[0]  # type: ignore[no-any-return]  # a URL on PostgreSQL


@pytest.fixture
def lookup_db_earlier(backend: str, request: pytest.FixtureRequest) -> Path:
    """The history cut at `lookup_fixture.EARLIER`, on the test's backend."""
    if backend == "sqlite":
        return request.getfixturevalue("lookup_files")[1]  # type: ignore[no-any-return]  # pytest's Any
    return request.getfixturevalue("lookup_urls")[1]  # type: ignore[no-any-return]  # a URL on PostgreSQL


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
    return server.fresh(server.role("owner"))
