"""Local actions on the ticket screen: marked as such, and refused when the desk turns them off.

A desk fed by its ticketing system may switch agents' own clock-moving actions off
(docs/roles.md); the keys then say why they do nothing, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import GOLD_24X7, agreements_db
from textual.pilot import Pilot
from textual.widgets import DataTable

from sladesk_tui.core.events import Event
from sladesk_tui.core.settings import LOCAL_ACTIONS_OFF
from sladesk_tui.store.db import open_db
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.roles import name_first
from sladesk_tui.store.settings import change_setting
from sladesk_tui.tui.app import SladeskApp
from sladesk_tui.tui.screens.ticket import TicketScreen

NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC).timestamp()
OPERATOR = "kim"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "desk.db"
    with agreements_db(path, GOLD_24X7, actor="ada") as conn:
        name_first(conn, "admin", "ada", actor="ada")
        created = Event("c1", "created", NOW - 3600, "T-1", customer="acme", priority="P2", title="Down")
        ingest(conn, [created], actor="svc-feed", source="import:feed.jsonl")
    return path


def app_for(db: Path) -> SladeskApp:
    return SladeskApp(db, OPERATOR, clock=lambda: NOW, display_tz=ZoneInfo("UTC"))


async def until(pilot: Pilot, cond: Callable[[], bool], timeout: float = 5.0) -> None:
    waited = 0.0
    while not cond():
        if waited > timeout:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)
        waited += 0.02


async def open_ticket(pilot: Pilot) -> TicketScreen:
    await pilot.pause()
    screen = TicketScreen("T-1")
    await pilot.app.push_screen(screen)
    await until(pilot, lambda: screen.ready)
    return screen


def history(screen: TicketScreen) -> list[list[str]]:
    table = screen.query_one("#history", DataTable)
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


def local_rows(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT type, actor FROM events WHERE source = 'tui' ORDER BY seq").fetchall()
    finally:
        conn.close()


async def test_a_reply_in_the_app_is_marked_local_beside_the_feeds_events(db: Path) -> None:
    async with app_for(db).run_test(size=(120, 40)) as pilot:
        screen = await open_ticket(pilot)
        asked = screen.generation
        await pilot.press("r")
        await until(pilot, lambda: screen.shown > asked and len(history(screen)) == 2)
        rows = history(screen)
    # when, event, detail, by (the author claimed), recorded by (the login)
    assert [r[1:] for r in rows] == [
        ["created", "P2 · acme · Down", "", "svc-feed"],
        ["reply (local)", "", OPERATOR, OPERATOR],
    ]
    assert local_rows(db) == [("reply", OPERATOR)]


async def test_when_the_desk_turns_local_actions_off_the_keys_say_why(db: Path) -> None:
    conn = open_db(db)
    try:
        change_setting(conn, "local-actions", "off", actor="ada")
    finally:
        conn.close()
    app = app_for(db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_ticket(pilot)
        for key in ("r", "s", "p", "x"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen  # no dialog opened
        await pilot.press("a")  # taking a ticket moves no clock: still allowed
        await until(pilot, lambda: screen.view is not None and screen.view.record.assignee == OPERATOR)
        messages = [n.message for n in app._notifications]
    assert messages.count(f"Nothing recorded: {LOCAL_ACTIONS_OFF}.") == 4
    assert local_rows(db) == [("assign", OPERATOR)]
