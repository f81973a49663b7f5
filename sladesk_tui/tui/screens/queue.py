"""The queue screen: the live queue, its status bar, the filter box and the feed worker.

The feed is one long-lived thread worker (so two reloads can never overlap) that
opens its own connection, polls `PRAGMA data_version` every `poll_interval` seconds
and posts fresh rows only when another connection committed. It idles while any
screen (the ticket screen, a modal, the command palette) covers the queue, and
looks again the moment the queue is back on top.

The `/` filter narrows at once to the rows whose id, title, customer, status or
assignee holds the text, and asks the full-text index (`QueueSource.search`, in a
worker) for the tickets whose title or customer holds its words in any order, as
word beginnings, accents folded: those are shown too.

A one-second timer repaints the countdowns: `QueueView.tick()`, no engine, no SQL.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import cast

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.widgets import Footer, Input
from textual.worker import get_current_worker

from sladesk_tui.core.queue import SORTS, QueueCounts, QueueFilter, QueueRow, cycle, natural_key
from sladesk_tui.tui.background import BackgroundScreen, Failed, Finished, failure_text
from sladesk_tui.tui.helpers import keep_printable
from sladesk_tui.tui.messages import OpenOverride, OpenTicket
from sladesk_tui.tui.ticket_commands import ticket_hits
from sladesk_tui.tui.widgets.queue_view import QueueView
from sladesk_tui.tui.widgets.status_bar import StatusBar, ViewState


class QueueCommands(Provider):
    """Palette commands of the queue: open a ticket by id, filters, sort.

    Displays are `Content` built from plain strings: the palette parses a `str`
    prompt (and `help`) as markup, and ticket titles are untrusted.
    """

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
        for hit in ticket_hits(self._screen, self._screen.queue.all_rows, query):
            yield hit


class QueueScreen(BackgroundScreen[None]):
    """Open tickets, most urgent first."""

    CSS_PATH = "queue.tcss"
    COMMANDS = {QueueCommands}
    BINDINGS = [
        Binding("question_mark", "app.help", "Help", tooltip="List every key", id="app.help"),
        Binding(
            "slash",
            "filter",
            "Filter",
            tooltip="Filter by id, title, customer, status, assignee",
            id="queue.filter",
        ),
        Binding("m", "toggle_mine", "Mine", tooltip="Only tickets assigned to me", id="queue.toggle-mine"),
        Binding(
            "r",
            "toggle_urgent",
            "At risk",
            tooltip="Only at-risk and breached tickets",
            id="queue.toggle-urgent",
        ),
        Binding(
            "a",
            "cycle_agreement",
            "Agreement",
            show=False,
            tooltip="Cycle through agreements",
            id="queue.cycle-agreement",
        ),
        Binding(
            "p",
            "cycle_priority",
            "Priority",
            show=False,
            tooltip="Cycle through priorities",
            id="queue.cycle-priority",
        ),
        Binding("s", "cycle_sort", "Sort", tooltip="Cycle the sort order", id="queue.cycle-sort"),
        Binding("escape", "clear", "Clear filters", show=False, id="queue.clear"),
        Binding(
            "o",
            "override",
            "Override",
            show=False,
            tooltip="Override a clock of the highlighted ticket",
            id="queue.override",
        ),
        Binding(
            "w",
            "toggle_raw",
            "Raw clocks",
            show=False,
            tooltip="Raw clocks (overrides ignored) / adjusted",
            id="queue.toggle-raw",
        ),
        Binding(
            "c",
            "app.compliance",
            "Compliance",
            show=False,
            tooltip="Compliance per agreement, by month",
            id="queue.compliance",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._active = threading.Event()
        self._kick = threading.Event()
        self._closing = False  # the screen is going: the feed stops at once, not a poll later
        self._failure: str | None = None
        self._counts: QueueCounts | None = None  # until the first rows arrive
        self._unread_alerts = 0  # alerts on my tickets not yet looked at (the app's alert watch)

    @property
    def queue(self) -> QueueView:
        return self.query_one(QueueView)

    @property
    def ready(self) -> bool:
        """The first rows are on screen (the status bar has counts to show)."""
        return self._counts is not None

    def compose(self) -> ComposeResult:
        desk = self.sladesk.desk
        yield StatusBar(id="status-bar")
        yield Input(placeholder="filter: id, title, customer, status, assignee", id="filter", compact=True)
        yield QueueView(desk.clock, id="queue")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        app = self.sladesk
        # Made here, used by the feed's thread (poll) and by search workers (search).
        self._source = app.source_factory(app.desk)
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

    def on_unmount(self) -> None:
        self._closing = True
        self._active.set()
        self._kick.set()

    # ---- the feed ---------------------------------------------------------------

    @work(thread=True, exclusive=True, group="queue-feed", exit_on_error=False)
    def _feed(self) -> None:
        """The one long-lived job: it keeps its connection (`PRAGMA data_version` is
        per connection) and posts `Finished`/`Failed` as every background job does."""
        worker = get_current_worker()
        app = self.sladesk
        source = self._source
        first = True
        try:
            while not worker.is_cancelled and not self._closing:
                if not self._active.wait(0.25):
                    continue
                try:
                    rows = source.poll(app.desk.now(), force=first)
                except Exception as exc:  # noqa: BLE001 - shown to the agent, then retried
                    self.post_message(Failed(f"Cannot read the queue: {failure_text(exc)}"))
                    rows = None
                else:
                    first = False
                if rows is not None and not worker.is_cancelled:
                    self.post_message(Finished(self._rows_loaded, rows))
                self._kick.wait(app.poll_interval)
                self._kick.clear()
        finally:
            source.close()

    def _rows_loaded(self, rows: list[QueueRow]) -> None:
        self._failure = None
        self.queue.set_rows(rows)

    def failed(self, reason: str) -> None:
        if reason != self._failure:  # once per distinct problem, not every poll
            self._failure = reason
            self.say(reason, "error")

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
                unread_alerts=self._unread_alerts,
            )
        )

    def show_unread_alerts(self, count: int) -> None:
        """The app's alert watch counted `count` unread alerts on my tickets (tui.alert_watch)."""
        if count != self._unread_alerts:
            self._unread_alerts = count
            self._update_view_state()

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
        # A pasted escape sequence would reach the terminal as the box redraws it.
        if keep_printable(event.input):
            text = event.value.strip()
            self._set_filter(text=text)  # substring matches at once, in memory
            if text:
                self._search(text)

    def _search(self, text: str) -> None:
        """Ask the text index too (words in any order, word beginnings, accents folded);
        an answer for text no longer in the box is ignored by the view."""
        source = self._source
        self.off_thread(
            lambda: source.search(text),
            lambda ids: self.queue.set_found(text, ids),
            failed="Cannot search the queue",
            group="queue-search",
        )

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
            self.post_message(OpenOverride(row.id))

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
        self.post_message(OpenTicket(message.ticket_id))
