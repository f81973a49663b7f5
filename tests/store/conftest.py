"""Fixtures shared by the store tests: real, migrated databases.

SQLite files in tmp_path; in a module or test marked `both_backends`, also a fresh
PostgreSQL database (tests/conftest.py `db_target`), where `db_path` is its URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import open_db


@pytest.fixture
def db_path(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A freshly migrated database (its connection already closed): a file, or a URL."""
    if backend == "sqlite":
        path = tmp_path / "sladesk.db"
        open_db(path, create=True).close()
        return path
    from pg_support import PgServer

    server: PgServer = request.getfixturevalue("pg_server")
    owner = server.role("owner")
    return server.fresh(owner, migrated=True)  # type: ignore[return-value]  # a URL on PostgreSQL


@pytest.fixture
def conn(db_path: Path) -> Iterator[Connection]:
    """A writable connection to `db_path`, closed after the test."""
    c = open_db(db_path)
    yield c
    c.close()
