"""The live queue on real SQLite files: the feed, another process's commits, the CLI."""

from __future__ import annotations

from pathlib import Path

from queue_data import NOW
from test_queue_screen import started, until
from tui_store import Ingest, created

from sladesk_tui.core.events import Event
from sladesk_tui.tui.app import SladeskApp
from sladesk_tui.tui.data import Desk, StoreQueueSource


def app_on(path: Path, clock=lambda: NOW) -> SladeskApp:
    return SladeskApp(path, "sam", clock=clock, poll_interval=0.05)


def test_feed_answers_only_when_another_connection_committed(small_queue: tuple[Path, Ingest]) -> None:
    path, add = small_queue
    source = StoreQueueSource(Desk(str(path), "sam", lambda: NOW))
    try:
        rows = source.poll(NOW)
        assert rows is not None and sorted(r.id for r in rows) == [f"T-{i}" for i in range(1, 6)]
        assert source.poll(NOW) is None  # nothing committed: no reload
        add([Event(id="r1", type="reply", at=NOW - 60, ticket="T-5", author="sam")])
        rows = source.poll(NOW)
        assert rows is not None
        t5 = next(r for r in rows if r.id == "T-5")
        assert t5.response.phase == "stopped" and t5.response.state == "met"
        add([Event(id="x1", type="resolved", at=NOW - 30, ticket="T-4")])
        rows = source.poll(NOW)
        assert rows is not None and "T-4" not in {r.id for r in rows}
    finally:
        source.close()


def test_rows_carry_engine_instants_and_the_desk_calendar(store: tuple[Path, Ingest]) -> None:
    path, add = store
    # NOW is Friday 08:00 UTC; the desk works 07:00-19:00. A P3 on the 24x7 agreement
    # has 4h to respond: created 06:30 it is due 10:30 (staffed); created 16:00, due
    # 20:00, when nobody is there: off shift.
    later = NOW + 8 * 3600
    add([created("T-day", NOW - 1.5 * 3600, priority="P3"), created("T-eve", later, priority="P3")])
    source = StoreQueueSource(Desk(str(path), "sam", lambda: later))
    try:
        rows = {r.id: r for r in source.poll(later) or []}
    finally:
        source.close()
    assert rows["T-day"].response.due_at == NOW + 2.5 * 3600
    assert rows["T-eve"].response.due_at == NOW + 12 * 3600
    assert rows["T-eve"].off_shift and not rows["T-day"].off_shift
    assert rows["T-day"].calendar is None  # 24x7: wall-clock countdowns


async def test_a_commit_from_another_connection_appears_without_a_keypress(
    small_queue: tuple[Path, Ingest],
) -> None:
    path, add = small_queue
    async with app_on(path).run_test(size=(120, 40)) as pilot:
        view = await started(pilot)
        assert len(view.rows) == 5
        before = view.all_rows
        add([created("T-new", NOW - 7200, title="Appeared by itself", priority="P1")])
        await until(pilot, lambda: view.all_rows is not before and any(r.id == "T-new" for r in view.rows))
        assert view.rows[0].id == "T-new"  # created 2h ago, P1: already breached, so first
        assert view.rows[0].state_at(NOW) == "breached"


async def test_cursor_stays_on_its_ticket_when_a_commit_reorders_the_queue(
    small_queue: tuple[Path, Ingest],
) -> None:
    path, add = small_queue
    async with app_on(path).run_test(size=(120, 40)) as pilot:
        view = await started(pilot)
        await pilot.press("end")
        target = view.cursor_row.id
        assert target == "T-1"  # the youngest ticket is the least urgent
        before = view.all_rows
        # T-1 gets a priority bump to P1 (keep elapsed: 10 of 15 minutes used): now most urgent.
        add([Event(id="p1", type="priority", at=NOW - 60, ticket="T-1", priority="P1")])
        await until(pilot, lambda: view.all_rows is not before)
        assert view.rows[0].id == "T-1"
        assert view.cursor_row.id == "T-1" and view.cursor == 0


def test_default_command_opens_the_app_on_the_database(tmp_path: Path, monkeypatch) -> None:
    from sladesk_tui import cli
    from sladesk_tui.tui import app as app_module

    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(
        app_module.SladeskApp, "run", lambda self: seen.append((self.desk.db_path, self.desk.operator))
    )
    db = tmp_path / "sub" / "new.db"
    assert cli.main(["--db", str(db)], operator="ana") == 0
    assert seen == [(str(db), "ana")]
    assert db.exists()  # created and migrated on the way


def test_an_unknown_theme_is_refused_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    from sladesk_tui import cli

    monkeypatch.setenv("SLADESK_THEME", "neon-pink")
    assert cli.main(["--db", str(tmp_path / "x.db")], operator="ana") == 2
    err = capsys.readouterr().err
    assert err.startswith("sladesk: SLADESK_THEME: unknown theme 'neon-pink'") and "ansi-dark" in err
    assert err.count("\n") == 1


async def test_the_demo_opens_with_every_state_on_screen(tmp_path: Path) -> None:
    import datetime as dt

    from sladesk_tui.store.demo import build_demo

    at = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC).timestamp()  # a Friday morning
    summary = build_demo(tmp_path / "demo.db", now=at, seed=7, operator="dana")
    app = SladeskApp(tmp_path / "demo.db", "dana", clock=lambda: at, poll_interval=0.05, theme="ansi-dark")
    async with app.run_test(size=(80, 24)) as pilot:
        view = await started(pilot)
        assert app.theme == "ansi-dark"
        assert len(view.rows) == summary.open_tickets
        c = view.counts
        assert c.breached and c.at_risk and c.paused
        text = "\n".join(view.render_line(y).text for y in range(1, 23))
        assert "BREACHED" in text and "AT RISK" in text
        await pilot.press("m")
        assert view.rows and all(r.assignee == "dana" for r in view.rows)


async def test_the_filter_searches_the_store_text_index(store: tuple[Path, Ingest]) -> None:
    from textual.widgets import Input

    path, add = store
    add(
        [
            created("T-1", NOW - 600, title="Café machine broken", customer="acme"),
            created("T-2", NOW - 1200, title="Printer jam", customer="acme"),
            created("T-3", NOW - 1800, title="Cafeteria badge reader", customer="beta"),
        ]
    )
    async with app_on(path).run_test(size=(120, 40)) as pilot:
        view = await started(pilot)
        assert len(view.rows) == 3
        await pilot.press("slash", *"broken cafe")  # words in any order, the accent folded
        await until(pilot, lambda: [r.id for r in view.rows] == ["T-1"])
        box = pilot.app.screen.query_one("#filter", Input)
        box.value = "cafe"  # a word beginning: both café and cafeteria
        await until(pilot, lambda: {r.id for r in view.rows} == {"T-1", "T-3"})
        box.value = "acme jam"  # customer and title words together
        await until(pilot, lambda: [r.id for r in view.rows] == ["T-2"])
        add([Event(id="T-2-x", type="resolved", at=NOW - 60, ticket="T-2")])
        await until(pilot, lambda: view.rows == [])  # resolved: out of the queue, whatever the index says
