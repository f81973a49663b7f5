"""The ticket screen on real SQLite files: what it shows, and each action's event.

The database is built through the store's own APIs (an agreements file loaded, events
ingested), the app runs with a frozen clock, a fixed operator and a fixed display
zone, so what the screen shows is a function of the data alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import agreements_db
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList, Static

from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.store.db import connect, open_db
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.overrides import record_override, record_review
from sladesk_tui.tui.app import SladeskApp
from sladesk_tui.tui.screens.ticket import TicketScreen
from sladesk_tui.tui.screens.ticket.dialogs import PriorityDialog, StatusDialog
from sladesk_tui.tui.widgets.clock_panel import ClockPanel

# Friday 27 November 2026, 10:00 UTC = 11:00 in Berlin, 10:00 in London.
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC).timestamp()
H = 3600.0
OPERATOR = "kim"
DISPLAY_TZ = ZoneInfo("Europe/London")
OSC52 = "\x1b]52;c;b3duZWQ=\x07"
HOSTILE_TITLE = f"[@click=app.quit]x[/] [P1] [/] clip{OSC52}board"
HOSTILE_NOTE = "[bold]not bold[/] [@click=app.quit]quit[/]"
JUSTIFICATION = "[red]Customer[/] asked for two more hours, see mail"

AGREEMENTS = """
[[calendar]]
id = "berlin"
tz = "Europe/Berlin"
holidays = ["2026-12-25"]
hours = { mon = ["09:00-12:30", "13:30-17:00"], tue = ["09:00-12:30", "13:30-17:00"],
          wed = ["09:00-12:30", "13:30-17:00"], thu = ["09:00-12:30", "13:30-17:00"],
          fri = ["09:00-12:30", "13:30-17:00"] }

[[agreement]]
id = "acme-gold"
name = "ACME Gold support"
customer = "acme"
calendar = "berlin"
valid_from = "2026-01-01"
valid_until = "2026-12-31"
pause_statuses = ["waiting"]
at_risk = { ratio = 0.75 }

[agreement.targets]
P1 = { response = "15m", update = "1h", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
P3 = { response = "4h", resolution = "40h" }
"""


def _events() -> list[Event]:
    t0 = NOW - 2 * H  # 09:00 Berlin
    evs = [
        Event(
            "e1",
            "created",
            t0,
            "T-1001",
            customer="acme",
            service="erp",
            priority="P2",
            title="Invoices fail to post",
            assignee="sam",
        ),
        Event("e2", "reply", t0 + 40 * 60, "T-1001", author="sam"),
        Event("e3", "status", t0 + 60 * 60, "T-1001", status="waiting"),
        Event("e4", "note", t0 + 65 * 60, "T-1001", author="sam", body=HOSTILE_NOTE),
        Event("e5", "created", NOW - 30 * 60, "T-1002", customer="acme", priority="P2", title=HOSTILE_TITLE),
        Event("e6", "created", t0, "T-1003", customer="acme", priority="P3", title="Printer jams"),
        Event("e7", "reply", t0 + 10 * 60, "T-1003", author="kim"),
        Event("e8", "resolved", t0 + 30 * 60, "T-1003"),
        Event("e9", "created", t0, "T-1004", customer="initech", priority="P1", title="Who covers us?"),
    ]
    return [dataclasses.replace(e, seq=i + 1) for i, e in enumerate(evs)]


@pytest.fixture
def db(db_target: str, tmp_path: Path) -> Path:
    """The ticket's world, on the test's backend (a URL is passed on as is)."""
    path = Path(db_target) if "://" not in db_target else db_target  # type: ignore[assignment]  # a URL
    with agreements_db(path, AGREEMENTS, actor="lead", toml=tmp_path / "agreements.toml") as conn:
        ingest(conn, _events(), actor="importer", source="test")
        extend = Override(
            0,
            "T-1001",
            "extend",
            NOW - 30 * 60,
            "sam",
            "customer_request",
            JUSTIFICATION,
            clock="resolution",
            by_s=2 * H,
        )
        record_override(conn, extend, before={}, after={}, actor="sam")
        hold = Override(
            0,
            "T-1001",
            "hold",
            NOW - 20 * 60,
            "sam",
            "third_party",
            "Waiting on the ERP vendor to call back",
            until=NOW + H,
        )
        held = record_override(conn, hold, before={}, after={}, actor="sam")
        record_review(
            conn, held, "rejected", reviewer="lee", comment="status waiting covers it", at=NOW - 10 * 60
        )
    return path


def make_app(db: Path) -> SladeskApp:
    return SladeskApp(db, OPERATOR, clock=lambda: NOW, display_tz=DISPLAY_TZ)


async def until(pilot: Pilot, cond: Callable[[], bool], timeout: float = 5.0) -> None:
    waited = 0.0
    while not cond():
        if waited > timeout:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)
        waited += 0.02


async def open_ticket(pilot: Pilot, ticket_id: str) -> TicketScreen:
    await pilot.pause()
    screen = TicketScreen(ticket_id)
    await pilot.app.push_screen(screen)
    await until(pilot, lambda: screen.ready)
    await pilot.pause()
    return screen


async def act(pilot: Pilot, screen: TicketScreen, *keys: str) -> None:
    """Press keys and wait for the write and the reload that follows it."""
    asked = screen.generation
    await pilot.press(*keys)
    # Only a commit moves the data version: a load asked for after the keys is one
    # that reads the write (the screen's own reload, or its poll's).
    await until(pilot, lambda: screen.shown > asked)


def acting(db: Path) -> str:
    """Who the app's writes are recorded as: the name it was started with on SQLite,
    the role the server authenticated on PostgreSQL (never the name handed to it)."""
    from urllib.parse import urlsplit

    return (urlsplit(str(db)).username or "") if "://" in str(db) else OPERATOR


def tui_events(db: Path) -> list[sqlite3.Row]:
    conn = connect(db)  # either backend; rows by name on both
    try:
        return conn.execute("SELECT * FROM events WHERE source = 'tui' ORDER BY seq").fetchall()
    finally:
        conn.close()


def shown_text(screen: TicketScreen) -> str:
    parts = [str(s.render()) for s in screen.query(Static)]
    for table in screen.query(DataTable):
        for row in range(table.row_count):
            parts.extend(str(c) for c in table.get_row_at(row))
    return "\n".join(parts)


# ---- what it shows -------------------------------------------------------------------


@pytest.mark.both_backends
async def test_shows_clocks_with_figures_zones_and_explanation(db: Path) -> None:
    async with make_app(db).run_test(size=(120, 40)) as pilot:
        screen = await open_ticket(pilot, "T-1001")
        response = screen.query_one("#clock-response", ClockPanel)
        resolution = screen.query_one("#clock-resolution", ClockPanel)
        assert response.has_class("-met") and resolution.has_class("-paused")
        assert not screen.query_one("#clock-update", ClockPanel).display  # P2 has no update target
        text = shown_text(screen)
        assert "MET" in text and "PAUSED" in text
        assert "target 8h 00m" in text  # resolution
        assert "customer Fri 27 Nov 09:40 CET" in text  # the reply, in the customer's zone
        assert "stopped  Fri 27 Nov 08:40 GMT" in text  # ... and in the operator's
        # The explanation: 09:00-10:00 counted, then paused while waiting (Berlin time).
        assert "09:00-10:00     counted  1h 00m" in text
        assert "10:00-10:30     paused: waiting  30m" in text
        assert "10:30           ◆ extend +2h (override 1)" in text
        assert "Invoices fail to post" in text and "ACME Gold support" in text


@pytest.mark.both_backends
async def test_overrides_listed_with_status_and_raw_beside_adjusted(db: Path) -> None:
    async with make_app(db).run_test(size=(120, 40)) as pilot:
        screen = await open_ticket(pilot, "T-1001")
        resolution = screen.query_one("#clock-resolution", ClockPanel)
        figures = str(resolution.query_one(".clock-figures", Static).render())
        raw = resolution.query_one(".clock-raw", Static)
        assert "target 10h 00m" in figures  # 8h + the pending 2h extension
        assert raw.display and "without overrides: PAUSED 7h 00m left, target 8h 00m" in str(raw.render())
        assert not screen.query_one("#clock-response", ClockPanel).query_one(".clock-raw", Static).display
        await pilot.press("3")
        table = screen.query_one("#overrides", DataTable)
        rows = [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]
        assert [(r[1], r[2], r[7], r[6]) for r in rows] == [
            ("extend", "resolution", "+2h 00m", "PENDING"),
            ("hold", "all", "until Fri 27 Nov 11:00 GMT", "REJECTED"),  # the hold's end
        ]
        assert rows[0][8] == "[red]Customer[/] asked for two more\nhours, see mail"  # whole, wrapped
        assert rows[1][8] == "Waiting on the ERP vendor to call back"


@pytest.mark.both_backends
async def test_hostile_text_renders_literally(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_ticket(pilot, "T-1002")
        head = str(screen.query_one("#ticket-head", Static).render())
        assert "[@click=app.quit]x[/] [P1] [/] clip" in head
        assert "\x1b" not in head and "␛]52;c;b3duZWQ=␇" in head
        await pilot.click("#ticket-head", offset=(10, 0))  # on the would-be link
        assert app.is_running and app.screen is screen

        await app.pop_screen()
        screen = await open_ticket(pilot, "T-1001")
        await pilot.press("2")
        table = screen.query_one("#history", DataTable)
        cells = [str(c) for r in range(table.row_count) for c in table.get_row_at(r)]
        assert HOSTILE_NOTE in cells


@pytest.mark.both_backends
async def test_unknown_ticket_says_so(db: Path) -> None:
    async with make_app(db).run_test() as pilot:
        await pilot.pause()
        screen = TicketScreen("T-404")
        await pilot.app.push_screen(screen)
        head = screen.query_one("#ticket-head", Static)
        await until(pilot, lambda: "No ticket" in str(head.render()))
        await pilot.press("r")
        await pilot.pause()
        assert tui_events(db) == []


@pytest.mark.both_backends
async def test_a_commit_from_another_connection_shows_without_a_keypress(db: Path) -> None:
    app = SladeskApp(db, OPERATOR, clock=lambda: NOW, display_tz=DISPLAY_TZ, poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_ticket(pilot, "T-1002")
        assert screen.query_one("#clock-response", ClockPanel).has_class("-ok")
        conn = open_db(db)
        try:
            ingest(conn, [Event("x1", "reply", NOW - 60, "T-1002", author="sam")], actor="sam", source="test")
        finally:
            conn.close()
        await until(pilot, lambda: screen.query_one("#clock-response", ClockPanel).has_class("-met"))


# ---- actions -------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_reply_assign_resolve_reopen_write_events_as_the_operator(db: Path) -> None:
    """On PostgreSQL the operator is the role the server authenticated, whatever name
    the app was started with (docs/postgresql.md, "Who is who")."""
    who = acting(db)
    async with make_app(db).run_test(size=(120, 40)) as pilot:
        screen = await open_ticket(pilot, "T-1002")
        assert screen.query_one("#clock-response", ClockPanel).has_class("-ok")
        await act(pilot, screen, "r")
        assert screen.query_one("#clock-response", ClockPanel).has_class("-met")
        await act(pilot, screen, "a")
        assert screen.view is not None and screen.view.record.assignee == who
        await act(pilot, screen, "x")
        assert screen.view.ended
        await act(pilot, screen, "O")
        assert not screen.view.ended and screen.view.record.status == "open"

    rows = tui_events(db)
    assert [r["type"] for r in rows] == ["reply", "assign", "resolved", "reopened"]
    assert all(r["actor"] == who and r["ticket"] == "T-1002" and r["ts"] == NOW for r in rows)
    assert all(r["author"] == who for r in rows) and rows[1]["assignee"] == who
    assert len({r["id"] for r in rows}) == 4 and all(r["id"].startswith("tui-") for r in rows)


async def test_a_write_that_times_out_on_the_lock_says_nothing_was_written_and_who_holds_it(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    from sladesk_tui.store import db as store_db

    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.3)
    hold = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\nprint('holding', flush=True)\nsys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", hold, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "holding\n"
        async with make_app(db).run_test(size=(120, 40)) as pilot:
            await open_ticket(pilot, "T-1002")
            await pilot.press("r")

            def said() -> list[str]:
                return [n.message for n in pilot.app._notifications if "Not recorded" in n.message]

            await until(pilot, lambda: bool(said()))
    finally:
        child.communicate(timeout=30)
    [message] = said()
    assert message.startswith(f"Not recorded: {db}: nothing was written: the database stayed busy")
    assert f"held by pid {child.pid} (" in message and "OperationalError" not in message
    assert tui_events(db) == []


@pytest.mark.both_backends
async def test_set_status_waiting_pauses_the_clocks(db: Path) -> None:
    async with make_app(db).run_test(size=(120, 40)) as pilot:
        screen = await open_ticket(pilot, "T-1002")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(pilot.app.screen, StatusDialog))
        options = pilot.app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert "waiting  (pauses the clocks)" in labels
        options.highlighted = [o.split()[0] for o in labels].index("waiting")
        await act(pilot, screen, "enter")
        assert screen.query_one("#clock-resolution", ClockPanel).has_class("-paused")
    [row] = tui_events(db)
    assert (row["type"], row["status"], row["actor"]) == ("status", "waiting", acting(db))


async def test_priority_preview_shows_the_new_target_before_confirming(db: Path) -> None:
    async with make_app(db).run_test(size=(120, 40)) as pilot:
        screen = await open_ticket(pilot, "T-1002")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(pilot.app.screen, PriorityDialog))
        dialog = pilot.app.screen
        preview = dialog.query_one("#what-if", Static)
        assert "nothing changes" in str(preview.render())
        await pilot.press("up")  # P2 -> P1
        await pilot.pause()
        text = str(preview.render())
        # Response: 30 min counted of 1h (OK) -> of 15m: overdue by a quarter of an hour.
        assert "Response    OK 30m left, target 1h 00m" in text
        assert "→  BREACHED 15m overdue, target 15m" in text
        assert "target 4h" in text  # resolution's new target
        assert tui_events(db) == []  # a preview writes nothing
        await act(pilot, screen, "enter")
        assert screen.query_one("#clock-response", ClockPanel).has_class("-breached")
        assert screen.query_one("#clock-update", ClockPanel).display  # P1 has an update target
    [row] = tui_events(db)
    assert (row["type"], row["priority"], row["actor"]) == ("priority", "P1", OPERATOR)


async def test_escape_in_a_dialog_writes_nothing(db: Path) -> None:
    async with make_app(db).run_test() as pilot:
        screen = await open_ticket(pilot, "T-1002")
        for key in ("p", "s"):
            await pilot.press(key)
            await until(pilot, lambda: pilot.app.screen is not screen)
            await pilot.press("escape")
            await until(pilot, lambda: pilot.app.screen is screen)
        assert tui_events(db) == []


async def test_nonsense_is_refused_with_a_plain_notification(db: Path) -> None:
    app = make_app(db)
    # Notifications expire after 5 s; on a loaded machine the early ones went before the check.
    app.NOTIFICATION_TIMEOUT = 600
    async with app.run_test() as pilot:
        await open_ticket(pilot, "T-1003")  # resolved
        for key in ("x", "r", "s", "p"):
            await pilot.press(key)
        await pilot.pause()
        assert app.screen.__class__ is TicketScreen  # no dialog opened for an ended ticket
        await app.pop_screen()
        await open_ticket(pilot, "T-1001")  # open
        await pilot.press("O")
        await app.pop_screen()
        screen = await open_ticket(pilot, "T-1004")  # no agreement in force
        assert "no agreement in force: unknown customer 'initech'" in shown_text(screen)
        assert not screen.query_one("#clock-update", ClockPanel).display
        await pilot.press("p")
        await pilot.pause()
        assert app.screen is screen
        messages = [n.message for n in app._notifications]
        assert "T-1003 is resolved: it has ended already." in messages
        assert "T-1003 is resolved: reopen it before replying." in messages
        assert "T-1001 is open: there is nothing to reopen." in messages
        assert "T-1004 has no agreement in force: there are no priorities to choose from." in messages
        assert all(not n.markup for n in app._notifications)
    assert tui_events(db) == []


async def test_escape_goes_back_to_the_queue(db: Path) -> None:
    app = make_app(db)
    async with app.run_test() as pilot:
        screen = await open_ticket(pilot, "T-1001")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is not screen)
        assert type(app.screen).__name__ == "QueueScreen"


async def test_the_footer_shows_override_and_the_most_used_keys_at_80_columns(db: Path) -> None:
    from sladesk_tui.tui.screens.help import HelpScreen

    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_ticket(pilot, "T-1001")
        footer = app.screen._compositor.render_strips()[-1].text  # noqa: SLF001 - the line on screen
        for key in (
            "? Help",
            "esc Back",
            "r Reply",
            "s Status",
            "p Priority",
            "o Override",
            "x Resolve",
            "O Reopen",
            "e Why",
        ):
            assert key in footer, (key, footer)
        await pilot.press("question_mark")  # the keys the footer leaves out are all in the help
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = str(app.screen.query_one("#help-text", Static).render())
        for key in (
            "a           Take",
            "1           Clocks tab",
            "^p          Command palette",
            "^q          Quit",
        ):
            assert key in keys, key


# ---- snapshots -----------------------------------------------------------------------


def _snapshot_app(db: Path, ticket_id: str):
    app = make_app(db)

    async def run_before(pilot: Pilot) -> None:
        screen = await open_ticket(pilot, ticket_id)
        screen.action_explain()
        await pilot.pause()

    return app, run_before


def test_snapshot_ticket_120x40(db: Path, snap_compare) -> None:
    app, run_before = _snapshot_app(db, "T-1001")
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_snapshot_ticket_80x24(db: Path, snap_compare) -> None:
    app, run_before = _snapshot_app(db, "T-1002")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.both_backends
async def test_the_palette_on_a_ticket_screen_opens_another_ticket(db: Path) -> None:
    async with make_app(db).run_test(size=(120, 40)) as pilot:
        await open_ticket(pilot, "T-1001")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"T-1002")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(
            pilot,
            lambda: isinstance(pilot.app.screen, TicketScreen) and pilot.app.screen.ticket_id == "T-1002",
        )
