"""Fixtures shared by the store tests: real, migrated SQLite files in tmp_path."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from sladesk_tui.store.db import open_db


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A freshly migrated database file (its connection already closed)."""
    path = tmp_path / "sladesk.db"
    open_db(path, create=True).close()
    return path


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A writable connection to `db_path`, closed after the test."""
    c = open_db(db_path)
    yield c
    c.close()
