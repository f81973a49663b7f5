"""The queue screen: the live queue, its status bar, the filter box and the feed worker.

The feed is one long-lived thread worker (so two reloads can never overlap) that
opens its own connection, polls `PRAGMA data_version` every `poll_interval` seconds
and posts fresh rows only when another connection committed. It idles while any
screen (the ticket screen, a modal, the command palette) covers the queue, and
looks again the moment the queue is back on top.

A one-second timer repaints the countdowns: `QueueView.tick()`, no engine, no SQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, cast

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.worker import get_current_worker

from sladesk_tui.core.queue import SORTS, QueueCounts, QueueFilter, QueueRow, cycle, natural_key
from sladesk_tui.core.text import safe_text
from sladesk_tui.tui.live import Failed
from sladesk_tui.tui.widgets.queue_view import QueueView
from sladesk_tui.tui.widgets.status_bar import StatusBar, ViewState

if TYPE_CHECKING:
    from sladesk_tui.tui.app import SladeskApp


class QueueCommands(Provider):
    """Palette commands of the queue: open a ticket by id, filters, sort.

    Displays are `Content` built from plain strings: the palette parses a `str`
    prompt (and `help`) as markup, and ticket titles are untrusted.
    """

    _MAX_TICKETS = 20

    @property
    def _screen(self) -> QueueScreen:
        return cast(QueueScreen, self.screen)

    def _actions(self) -> list[tuple[str, str, object]]:
        s = self._screen
        return [
            ("Filter the queue", "Type text to narrow the queue", s.action_filter),
            ("Toggle: my tickets only", "Only tickets assigned to me", s.action_toggle_mine),
            ("Toggle: at risk only", "Only at-risk and breached tickets", s.action_toggle_urgent),
            ("Cycle agreement filter", "Show one agreement at a time", s.action_cycle_agreement),
            ("Cycle priority filter", "Show one priority at a time", s.action_cycle_priority),
            ("Cycle sort order", "Time to breach, priority, age, id", s.action_cycle_sort),
            ("Clear filters", "Show every open ticket", s.action_clear),
        ]

    async def discover(self) -> Hits:
        for name, help_text, callback in self._actions():
            yield DiscoveryHit(Content(name), callback, text=name, help=help_text)  # type: ignore[arg-type]  # Textual accepts Content, typed str

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._actions():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)  # type: ignore[arg-type]  # Textual accepts Content, typed str
        needle = query.strip().casefold()
        if not needle:
            return
        found = 0
        exact = False
        app = cast("SladeskApp", self.app)
        for row in self._screen.queue.all_rows:
            if needle not in row.id.casefold():
                continue
            exact = exact or row.id.casefold() == needle
            prompt = Content.assemble("Open ticket ", (row.id, "bold"), "  ", row.title)
            score = 1.0 if row.id.casefold() == needle else 0.9
            yield Hit(
                score,
                prompt,
                _opener(app, row.id),
                text=f"Open ticket {row.id}",
                help="Show the ticket with its clocks",
            )
            found += 1
            if found >= self._MAX_TICKETS:
                break
        if not exact:
            # Not in the open queue (resolved, closed, or not loaded yet): the ticket
            # screen shows any ticket, and says so when there is none.
            typed = safe_text(query.strip())
            yield Hit(
                0.5,
                Content.assemble("Open ticket ", (typed, "bold")),
                _opener(app, query.strip()),
                text=f"Open ticket {typed}",
                help="Open a ticket that is not in the queue",
            )


class QueueScreen(Screen[None]):
    """Open tickets, most urgent first."""

    COMMANDS = {QueueCommands}
    BINDINGS = [
        Binding("question_mark", "app.help", "Help", tooltip="List every key"),
        Binding("slash", "filter", "Filter", tooltip="Filter by id, title, customer, status, assignee"),
        Binding("m", "toggle_mine", "Mine", tooltip="Only tickets assigned to me"),
        Binding("r", "toggle_urgent", "At risk", tooltip="Only at-risk and breached tickets"),
        Binding("a", "cycle_agreement", "Agreement", show=False, tooltip="Cycle through agreements"),
        Binding("p", "cycle_priority", "Priority", show=False, tooltip="Cycle through priorities"),
        Binding("s", "cycle_sort", "Sort", tooltip="Cycle the sort order"),
        Binding("escape", "clear", "Clear filters", show=False),
        Binding(
            "o", "override", "Override", show=False, tooltip="Override a clock of the highlighted ticket"
        ),
        Binding(
            "w", "toggle_raw", "Raw clocks", show=False, tooltip="Raw clocks (overrides ignored) / adjusted"
        ),
        Binding(
            "c", "app.compliance", "Compliance", show=False, tooltip="Compliance per agreement, by month"
        ),
    ]

    class RowsLoaded(Message):
        def __init__(self, rows: list[QueueRow]) -> None:
            super().__init__()
            self.rows = rows

    class FeedFailed(Failed):
        """A poll of the feed failed; the feed retries on the next one."""

    def __init__(self) -> None:
        super().__init__()
        self._active = threading.Event()
        self._kick = threading.Event()
        self._loaded = threading.Event()
        self._failure: str | None = None
        self._counts: QueueCounts | None = None  # until the first rows arrive

    @property
    def sladesk(self) -> SladeskApp:
        return cast("SladeskApp", self.app)

    @property
    def queue(self) -> QueueView:
        return self.query_one(QueueView)

    @property
    def loaded(self) -> threading.Event:
        """Set once the first rows are on screen (tests and benchmarks wait on it)."""
        return self._loaded

    def compose(self) -> ComposeResult:
        desk = self.sladesk.desk
        yield StatusBar(id="status-bar")
        yield Input(placeholder="filter: id, title, customer, status, assignee", id="filter", compact=True)
        yield QueueView(desk.clock, id="queue")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.queue.focus()
        self._update_view_state()
        self._countdown = self.set_interval(self.sladesk.tick_interval, self.queue.tick, name="countdown")
        self._active.set()
        self._feed()

    def on_screen_suspend(self, event: events.ScreenSuspend) -> None:
        # Covered by another screen: no countdowns to repaint, no reloads to apply.
        self._active.clear()
        self._countdown.pause()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        self._active.set()
        self._kick.set()
        self._countdown.resume()
        self.queue.tick()

    def request_reload(self) -> None:
        self._kick.set()

    # ---- the feed ---------------------------------------------------------------

    @work(thread=True, exclusive=True, group="queue-feed", exit_on_error=False)
    def _feed(self) -> None:
        worker = get_current_worker()
        app = self.sladesk
        source = app.source_factory(app.desk)
        first = True
        try:
            while not worker.is_cancelled:
                if not self._active.wait(0.25):
                    continue
                try:
                    rows = source.poll(app.desk.now(), force=first)
                except Exception as exc:  # noqa: BLE001 - shown to the agent, then retried
                    self.post_message(self.FeedFailed(f"{type(exc).__name__}: {exc}"))
                    rows = None
                else:
                    first = False
                if rows is not None and not worker.is_cancelled:
                    self.post_message(self.RowsLoaded(rows))
                self._kick.wait(app.poll_interval)
                self._kick.clear()
        finally:
            source.close()

    def on_queue_screen_rows_loaded(self, message: RowsLoaded) -> None:
        self._failure = None
        self.queue.set_rows(message.rows)
        self._loaded.set()

    def on_queue_screen_feed_failed(self, message: FeedFailed) -> None:
        if message.reason != self._failure:  # once per distinct problem, not every poll
            self._failure = message.reason
            self.notify(f"Cannot read the queue: {safe_text(message.reason)}", severity="error", markup=False)

    # ---- status bar ---------------------------------------------------------------

    @on(QueueView.Changed)
    def _show_counts(self, message: QueueView.Changed) -> None:
        self._counts = message.counts
        self._update_view_state(message.shown)

    def _update_view_state(self, shown: int | None = None) -> None:
        view = self.queue
        self.query_one(StatusBar).show(
            ViewState(
                operator=self.sladesk.desk.operator,
                counts=self._counts,
                filter=view.filter,
                shown=len(view.rows) if shown is None else shown,
                sort=view.sort,
                raw=view.show_raw,
            )
        )

    # ---- filters ------------------------------------------------------------------

    def _set_filter(self, **changes: object) -> None:
        self.queue.set_filter(replace(self.queue.filter, **changes))  # type: ignore[arg-type]  # QueueFilter fields by name
        self._update_view_state()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        from sladesk_tui.tui.screens.override_dialog import keep_printable

        # A pasted escape sequence would reach the terminal as the box redraws it.
        if keep_printable(event.input):
            self._set_filter(text=event.value.strip())

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        box = self.query_one("#filter", Input)
        if not box.value.strip():
            box.display = False
        self.queue.focus()

    def action_clear(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus:
            box.value = ""
            box.display = False
            self.queue.focus()
            return
        box.value = ""
        box.display = False
        self.queue.set_filter(QueueFilter())
        self._update_view_state()

    def action_override(self) -> None:
        row = self.queue.cursor_row
        if row is not None:
            self.sladesk.open_override(row.id)

    def action_toggle_raw(self) -> None:
        self.queue.set_raw(not self.queue.show_raw)
        self._update_view_state()

    def action_toggle_mine(self) -> None:
        self._set_filter(mine=None if self.queue.filter.mine else self.sladesk.desk.operator)

    def action_toggle_urgent(self) -> None:
        self._set_filter(urgent_only=not self.queue.filter.urgent_only)

    def action_cycle_agreement(self) -> None:
        choices = sorted({r.agreement_id for r in self.queue.all_rows if r.agreement_id}, key=natural_key)
        self._set_filter(agreement=cycle(self.queue.filter.agreement, choices))

    def action_cycle_priority(self) -> None:
        choices = sorted({r.priority for r in self.queue.all_rows}, key=natural_key)
        self._set_filter(priority=cycle(self.queue.filter.priority, choices))

    def action_cycle_sort(self) -> None:
        self.queue.set_sort(SORTS[(SORTS.index(self.queue.sort) + 1) % len(SORTS)])
        self._update_view_state()

    @on(QueueView.Opened)
    def _open(self, message: QueueView.Opened) -> None:
        self.sladesk.open_ticket(message.ticket_id)


def _opener(app: SladeskApp, ticket_id: str) -> Callable[[], None]:
    return lambda: app.open_ticket(ticket_id)
