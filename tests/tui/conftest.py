"""Real SQLite stores for the TUI tests, built through the store's own APIs."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # queue_data.py, tui_store.py: shared by the tests here

from queue_data import NOW  # noqa: E402 - imported after the sys.path set-up above
from support import fresh_db  # noqa: E402 - imported after the sys.path set-up above
from tui_store import AGREEMENTS, Ingest, created  # noqa: E402 - imported after the sys.path set-up above

from sladesk_tui.core.events import Event  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.db import open_db  # noqa: E402 - imported after the sys.path set-up above
from sladesk_tui.store.imports import ingest  # noqa: E402 - imported after the sys.path set-up above


@pytest.fixture
def store(db_target: str, tmp_path: Path) -> tuple[Path, Ingest]:
    """A migrated database with agreements loaded, and a function that ingests events.

    On the test's backend (tests marked `both_backends` run on both): a file, or a
    PostgreSQL URL, which the app and the store take as they take a path.
    """
    path = Path(db_target) if "://" not in db_target else db_target  # type: ignore[assignment]  # a URL is passed through as is
    fresh_db(path, AGREEMENTS, actor="lead", toml=tmp_path / "agreements.toml")

    def add(events: Iterable[Event]) -> None:
        c = open_db(path)  # a second connection, like another operator or an importer
        try:
            ingest(c, list(events), actor="importer", source="test")
        finally:
            c.close()

    return path, add


@pytest.fixture
def small_queue(store: tuple[Path, Ingest]) -> tuple[Path, Ingest]:
    """Five acme tickets created 10..50 minutes before NOW (P2: 1h response, 8h resolution)."""
    path, add = store
    add(created(f"T-{i}", NOW - 600 * i, assignee="sam" if i % 2 else "kim") for i in range(1, 6))
    return path, add
