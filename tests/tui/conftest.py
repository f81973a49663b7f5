"""Real SQLite stores for the TUI tests, built through the store's own APIs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # queue_data.py, shared by the tests here

from queue_data import NOW  # noqa: E402

from sladesk_tui.core.events import Event  # noqa: E402
from sladesk_tui.store.agreements import load_agreements_file  # noqa: E402
from sladesk_tui.store.db import open_db  # noqa: E402
from sladesk_tui.store.imports import ingest  # noqa: E402

AGREEMENTS = """
[[calendar]]
id = "desk"
tz = "UTC"
hours = { mon = ["07:00-19:00"], tue = ["07:00-19:00"], wed = ["07:00-19:00"],
          thu = ["07:00-19:00"], fri = ["07:00-19:00"] }

[[calendar]]
id = "office"
tz = "UTC"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"],
          thu = ["09:00-17:00"], fri = ["09:00-17:00"] }

[[agreement]]
id = "acme-gold"
name = "ACME Gold"
customer = "acme"
calendar = "24x7"
at_risk = { ratio = 0.75 }
[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
P3 = { response = "4h", resolution = "40h" }

[[agreement]]
id = "beta-std"
name = "Beta Standard"
customer = "beta"
calendar = "office"
[agreement.targets]
P2 = { response = "2h", resolution = "16h" }
"""

Ingest = Callable[[Iterable[Event]], None]


def created(tid: str, at: float, *, customer: str = "acme", priority: str = "P2", title: str | None = None,
            assignee: str | None = None) -> Event:
    return Event(id=f"{tid}-c", type="created", at=at, ticket=tid, customer=customer, priority=priority,
                 title=title or f"Ticket {tid}", assignee=assignee)


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, Ingest]:
    """A migrated database with agreements loaded, and a function that ingests events."""
    path = tmp_path / "sladesk.db"
    (tmp_path / "agreements.toml").write_text(AGREEMENTS, encoding="utf-8")
    conn = open_db(path)
    try:
        load_agreements_file(conn, tmp_path / "agreements.toml", actor="lead")
    finally:
        conn.close()

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
