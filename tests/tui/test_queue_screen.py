"""The queue screen driven by keys and mouse (Pilot), on a synthetic feed.

The feed's contract (rows when something changed) is exercised against real SQLite
in test_queue_live.py; here the rows are fixed so each test is about the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from queue_data import NASTY_TITLES, NOW, make_row, sample_rows, source_with
from textual import on
from textual.pilot import Pilot
from textual.widgets import Input

from sladesk_tui.core.queue import sort_key
from sladesk_tui.tui.app import SladeskApp
from sladesk_tui.tui.messages import OpenTicket
from sladesk_tui.tui.screens.help import HelpScreen
from sladesk_tui.tui.screens.queue import QueueScreen
from sladesk_tui.tui.widgets.queue_view import QueueView, layout_columns
from sladesk_tui.tui.widgets.status_bar import StatusBar


class NavApp(SladeskApp):
    """The app with navigation recorded instead of done: the screens' `OpenTicket`
    messages land in `opened` (no ticket screen opens on the synthetic feed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opened: list[str] = []

    @on(OpenTicket)
    def _record(self, message: OpenTicket) -> None:
        message.prevent_default()
        self.opened.append(message.ticket_id)


def make_app(rows, *, clock: Callable[[], float] = lambda: NOW, operator: str = "sam") -> NavApp:
    return NavApp("unused.db", operator, clock=clock, source_factory=source_with(rows), poll_interval=0.02)


async def until(pilot: Pilot, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    waited = 0.0
    while not predicate():
        assert waited < timeout, "condition not reached"
        await pilot.pause(0.02)
        waited += 0.02


async def started(pilot: Pilot) -> QueueView:
    screen = pilot.app.screen
    assert isinstance(screen, QueueScreen)
    await until(pilot, lambda: screen.ready)
    await pilot.pause()
    return screen.queue


def ids(view: QueueView) -> list[str]:
    return [r.id for r in view.rows]


def screen_lines(view: QueueView) -> list[str]:
    return [view.render_line(y).text for y in range(view.scrollable_content_region.height)]


async def test_rows_arrive_most_urgent_first_with_counts() -> None:
    rows = sample_rows(30)
    async with make_app(rows).run_test(size=(120, 40)) as pilot:
        view = await started(pilot)
        assert ids(view) == [r.id for r in sorted(rows, key=sort_key("urgency"))]
        assert view.cursor_row is not None and view.cursor_row.id == "T-1000"
        c = view.counts
        assert c.open == 30 and c.breached >= 3 and c.paused > 0
        assert f"  {c.breached} breached  " in pilot.app.screen.query_one(StatusBar).render().plain
        lines = screen_lines(view)
        assert lines[0].split()[:3] == ["ticket", "pri", "customer"]
        assert "BREACHED" in lines[1] and "T-1000" in lines[1]
        assert any("PAUSED" in ln and "paused" in ln for ln in lines)


async def test_keyboard_navigation() -> None:
    async with make_app(sample_rows(60)).run_test(size=(120, 20)) as pilot:
        view = await started(pilot)
        await pilot.press("down", "down", "j")
        assert view.cursor == 3
        await pilot.press("up", "k")
        assert view.cursor == 1
        await pilot.press("end")
        assert view.cursor == 59
        assert view.scroll_y == view.max_scroll_y  # the last row is on screen
        await pilot.press("home")
        assert view.cursor == 0 and view.scroll_y == 0
        await pilot.press("pagedown")
        page = view.scrollable_content_region.height - 1
        assert view.cursor == page
        assert view.scroll_y <= view.cursor < view.scroll_y + page
        await pilot.press("pageup")
        assert view.cursor == 0


async def test_enter_opens_the_ticket_screen_or_says_it_is_missing() -> None:
    app = make_app(sample_rows(5))
    opened = app.opened
    async with app.run_test(size=(120, 40)) as pilot:
        view = await started(pilot)
        await pilot.press("down", "enter")
        assert opened == [view.rows[1].id]


async def test_filter_box_narrows_and_escape_clears() -> None:
    async with make_app(sample_rows(30)).run_test(size=(120, 40)) as pilot:
        view = await started(pilot)
        await pilot.press("slash")
        box = pilot.app.screen.query_one("#filter", Input)
        assert box.has_focus and box.display
        await pilot.press(*"t-101")
        assert set(ids(view)) == {f"T-{1010 + i}" for i in range(10)}
        await pilot.press("enter")
        assert view.has_focus and len(view.rows) == 10
        assert "showing 10" in pilot.app.screen.query_one(StatusBar).render().plain
        await pilot.press("escape")
        assert len(view.rows) == 30 and not box.display


async def test_toggles_mine_at_risk_agreement_priority_sort() -> None:
    rows = sample_rows(30)
    async with make_app(rows, operator="kim").run_test(size=(120, 40)) as pilot:
        view = await started(pilot)
        await pilot.press("m")
        assert view.rows and all(r.assignee == "kim" for r in view.rows)
        await pilot.press("m")
        assert len(view.rows) == 30
        await pilot.press("r")
        assert view.rows and all(r.state_at(NOW) in ("at_risk", "breached") for r in view.rows)
        assert len(view.rows) == view.counts.at_risk + view.counts.breached
        await pilot.press("r")
        await pilot.press("a")
        assert {r.agreement_id for r in view.rows} == {"acme-gold"}
        await pilot.press("a")
        assert {r.agreement_id for r in view.rows} == {"beta-std"}
        await pilot.press("a")
        assert len(view.rows) == 30
        await pilot.press("p")
        assert {r.priority for r in view.rows} == {"P1"}
        await pilot.press("escape")
        assert len(view.rows) == 30
        cursor_id = view.cursor_row.id
        await pilot.press("s")
        assert view.sort == "priority" and [r.priority for r in view.rows] == sorted(
            r.priority for r in view.rows
        )
        assert view.cursor_row.id == cursor_id  # the cursor stays on its ticket through a re-sort
        await pilot.press("s", "s")
        assert view.sort == "id" and ids(view)[:2] == ["T-1000", "T-1001"]
        assert "sort: ticket id" in pilot.app.screen.query_one(StatusBar).render().plain


async def test_cursor_and_its_screen_line_follow_the_ticket_across_a_reordering_refresh() -> None:
    rows = sample_rows(60)
    app = make_app(rows)
    async with app.run_test(size=(120, 20)) as pilot:
        view = await started(pilot)
        await pilot.press("pagedown", "pagedown", "down")
        assert view.scroll_y > 0
        target = view.cursor_row.id
        # New data: the target ticket becomes far more urgent, others shuffle.
        fresh = [r for r in rows if r.id != target][::-1] + [make_row(target, -7200)]
        app.source_factory.publish(fresh)
        await until(pilot, lambda: view.cursor_row is not None and view.rows[0].id == target)
        assert view.cursor_row.id == target
        assert view.cursor == 0 and view.scroll_y == 0  # moved to the top, the view went with it
        # Three tickets above it leave: it moves up three rows, yet stays on its screen line.
        await pilot.press("pagedown", "pagedown")
        target, index = view.cursor_row.id, view.cursor
        line_before = view.cursor - view.scroll_y
        assert view.scroll_y >= 3
        above = {r.id for r in view.rows[1:4]}
        before = view.all_rows
        app.source_factory.publish([r for r in fresh if r.id not in above])
        await until(pilot, lambda: view.all_rows is not before)
        assert view.cursor_row.id == target and view.cursor == index - 3
        assert view.cursor - view.scroll_y == line_before


async def test_a_ticket_that_leaves_the_queue_moves_the_cursor_to_its_neighbour() -> None:
    rows = sample_rows(10)
    app = make_app(rows)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await started(pilot)
        await pilot.press("down", "down")
        gone = view.cursor_row.id
        app.source_factory.publish([r for r in rows if r.id != gone])
        await until(pilot, lambda: len(view.all_rows) == 9)
        assert view.cursor == 2 and view.cursor_row.id != gone


async def test_countdowns_tick_with_the_clock_without_new_data() -> None:
    now = [NOW]
    rows = [make_row("T-1", 120.0, at_risk_in=60.0)]
    app = make_app(rows, clock=lambda: now[0])
    async with app.run_test(size=(120, 10)) as pilot:
        view = await started(pilot)
        assert "2m" in screen_lines(view)[1] and "AT RISK" not in screen_lines(view)[1]
        now[0] = NOW + 61
        view.tick()
        line = screen_lines(view)[1]
        assert "59s" in line and "AT RISK" in line and view.counts.at_risk == 1
        now[0] = NOW + 180
        view.tick()
        line = screen_lines(view)[1]
        assert "-1m" in line and "BREACHED" in line and view.counts.breached == 1


async def test_untrusted_titles_render_literally_and_clicks_on_them_do_nothing() -> None:
    rows = [make_row(f"T-{i}", 600.0 * (i + 1), title=t) for i, t in enumerate(NASTY_TITLES)]
    app = make_app(rows)
    opened = app.opened
    async with app.run_test(size=(120, 20)) as pilot:
        view = await started(pilot)
        lines = screen_lines(view)
        for i, title in enumerate(NASTY_TITLES[:3]):
            assert title in lines[i + 1]
        assert "clip\u241b]52;c;b3duZWQ=\u2407board" in lines[4]
        assert all("\x1b" not in ln and "\x07" not in ln for ln in lines)
        title_x = lines[0].index("title")
        for y in (1, 2, 3, 4):
            await pilot.click(QueueView, offset=(title_x + 2, y))
            assert view.cursor == y - 1  # the click moved the cursor, nothing else
        await pilot.click(QueueView, offset=(title_x + 2, 1), times=2)
        await pilot.pause()
        assert pilot.app.is_running and isinstance(pilot.app.screen, QueueScreen)
        assert opened == ["T-0"]  # a double click opens the ticket, and only that


async def test_help_lists_every_described_key_and_closes() -> None:
    async with make_app(sample_rows(3)).run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("question_mark")
        assert isinstance(pilot.app.screen, HelpScreen)
        text = str(pilot.app.screen.query_one("#help-text").render())
        for needle in (
            "Filter",
            "Mine",
            "At risk",
            "Agreement",
            "Priority",
            "Sort",
            "Open",
            "Quit",
            "Command palette",
            "OFF SHIFT",
        ):
            assert needle in text, needle
        assert "Scroll Left" not in text and text.count("Command palette") == 1
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, QueueScreen)


async def test_feed_idles_while_covered_and_catches_up_after() -> None:
    rows = sample_rows(5)
    app = make_app(rows)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await started(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.05)
        app.source_factory.publish(rows[:2])
        await pilot.pause(0.3)
        assert len(view.all_rows) == 5  # covered: no reload
        await pilot.press("escape")
        await until(pilot, lambda: len(view.all_rows) == 2)


async def test_palette_opens_a_ticket_by_id() -> None:
    app = make_app(sample_rows(30))
    opened = app.opened
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"T-1017")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: bool(opened))
        assert opened == ["T-1017"]
        # A ticket not in the open queue can still be opened by its id.
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"T-9")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: len(opened) == 2)
        assert opened[1] == "T-9"


def test_narrow_layout_drops_columns_by_priority() -> None:
    wide = [c.key for c in layout_columns(119, 6)]
    assert wide == [
        "id",
        "priority",
        "customer",
        "title",
        "status",
        "assignee",
        "response",
        "resolution",
        "badge",
    ]
    narrow = layout_columns(79, 6)
    assert [c.key for c in narrow] == ["id", "priority", "title", "response", "resolution", "badge"]
    assert sum(c.width for c in narrow) + len(narrow) - 1 == 79
    title = next(c for c in narrow if c.key == "title")
    assert title.width >= 20


async def test_the_status_bar_keeps_sort_and_raw_markers_with_every_filter_on() -> None:
    async with make_app(sample_rows(30)).run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("m", "r", "a", "p", "s", "w", "slash", *"invoice", "enter")
        await pilot.pause()
        for size in ((120, 40), (100, 30), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            top = pilot.app.screen._compositor.render_strips()[0].text  # noqa: SLF001 - the line on screen
            assert "sort: priority" in top and "RAW clocks" in top, (size, top)
            assert "showing 0" in top and " breached" in top, (size, top)
        await pilot.resize_terminal(120, 40)
        await pilot.press("escape", "escape", "w")  # filters cleared, adjusted clocks: the full wording again
        await pilot.pause()
        assert pilot.app.screen.query_one(StatusBar).render().plain == (
            "sladesk sam  30 open  3 at risk  3 breached  4 paused  sort: priority"
        )


async def test_the_filter_also_finds_words_in_any_order_through_the_text_index() -> None:
    rows = sample_rows(30)
    async with make_app(rows).run_test(size=(120, 40)) as pilot:
        view = await started(pilot)
        await pilot.press("slash", *"ledger invoices")  # no title holds this text as it is typed
        wanted = {r.id for r in rows if r.title == "Invoices fail to post to the ledger"}
        assert wanted
        await until(pilot, lambda: set(ids(view)) == wanted)
        await pilot.press("backspace")  # "ledger invoice": word beginnings match too
        await until(pilot, lambda: set(ids(view)) == wanted)
        await pilot.press(*"zz")  # "ledger invoicezz": nothing, neither way
        await until(pilot, lambda: ids(view) == [])
