"""Alerts in the app: a toast and the bell when one of my tickets crosses a level, the
unread count in the status bar, and the alerts sent about a ticket on its screen.

The alerts are written by another connection exactly as `sladesk notify` writes them
(`store.alerts.record_crossings`), on a real SQLite file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from support import agreements_db
from textual.pilot import Pilot
from textual.widgets import DataTable

from sladesk_tui.core.alerts import Crossing
from sladesk_tui.core.events import Event
from sladesk_tui.store.alerts import NewAlert, record_crossings
from sladesk_tui.store.db import connect
from sladesk_tui.store.imports import ingest
from sladesk_tui.tui.app import SladeskApp
from sladesk_tui.tui.messages import OpenTicket
from sladesk_tui.tui.screens.ticket import TicketScreen
from sladesk_tui.tui.widgets.status_bar import StatusBar, fit_status

NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC).timestamp()
OPERATOR = "kim"
AGREEMENTS = """
[[agreement]]
id = "gold"
customer = "acme"
calendar = "24x7"
[agreement.targets]
P1 = { response = "1h", resolution = "4h" }
"""


def _db(tmp_path: Path) -> Path:
    db = tmp_path / "desk.db"
    with agreements_db(db, AGREEMENTS, actor="lena") as conn:
        ingest(
            conn,
            [
                Event(
                    id=f"{t}-c",
                    type="created",
                    at=NOW - 3600,
                    ticket=t,
                    customer="acme",
                    priority="P1",
                    title=f"[bold]title of {t}[/]",
                    assignee=who,
                )
                for t, who in (("T-1", OPERATOR), ("T-2", "sam"))
            ],
            actor="tester",
            source="test",
        )
    return db


def _raise(db: Path, ticket: str, level: str, assignee: str) -> None:
    c = Crossing(ticket, "response", int(NOW - 3600), level, NOW, NOW, False, ("assignee",))
    conn = connect(db)
    try:
        record_crossings(conn, [NewAlert(c, f"person:{assignee}", assignee)], now=NOW, actor="sladesk-data")
    finally:
        conn.close()


def _bar(app: SladeskApp) -> str:
    """What the queue's status bar says at 120 columns."""
    state = app.screen.query_one(StatusBar).state
    return "" if state is None else "".join(text for text, _ in fit_status(state, 120))


async def _until(pilot: Pilot[None], predicate: Callable[[], bool], tries: int = 100) -> None:
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition never held")


@pytest.mark.parametrize("bell", ["on", "off"])
async def test_my_ticket_crossing_a_level_toasts_rings_and_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bell: str
) -> None:
    monkeypatch.setenv("SLADESK_ALERT_BELL", bell)
    db = _db(tmp_path)
    _raise(db, "T-1", "50%", OPERATOR)  # before the app opened: not news
    app = SladeskApp(db, OPERATOR, clock=lambda: NOW, poll_interval=0.05)
    rings: list[int] = []
    monkeypatch.setattr(app, "bell", lambda: rings.append(1))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.3)
        _raise(db, "T-2", "breach", "sam")  # not my ticket: nothing
        _raise(db, "T-1", "breach", OPERATOR)
        await _until(pilot, lambda: app.alert_watch.unread_count == 1)
        toasts = [n for n in app._notifications if n.title == "SLA alert"]  # noqa: SLF001 - Textual keeps them here
        assert [n.message for n in toasts] == ["T-1 response BREACHED: [bold]title of T-1[/]"]
        assert not toasts[0].markup and toasts[0].severity == "error"
        assert rings == ([1] if bell == "on" else [])
        await _until(pilot, lambda: "1 new alert" in _bar(app))

        app.post_message(OpenTicket("T-1"))
        await _until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.ready)
        table = app.screen.query_one("#alerts", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
            ("50%", "response", "person:kim", "PENDING"),
            ("breach", "response", "person:kim", "PENDING"),
        ]
        assert app.alert_watch.unread_count == 0  # looked at
        await pilot.press("escape")
        await _until(pilot, lambda: "new alert" not in _bar(app))
