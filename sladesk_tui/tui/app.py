"""The Textual app: screens on top of one `Desk` (database, operator, clock).

How a screen plugs in (docs/tui.md):

- `sladesk_app(self).desk` (`tui.helpers`, the one typed accessor; a
  `BackgroundScreen` has it as `self.desk`): `.operator` (login user, the actor of
  every write), `.now()` (the injected clock: frozen in tests and screenshots, never
  call `time.time()` in a screen), `.conn` (the UI thread's connection), `.run(job)`
  (a job on a new connection of the calling thread).
- Reads and writes go through `tui.background` (thread workers, results as messages).
- Navigation is a message (`tui.messages`: `OpenTicket`, `OpenOverride`,
  `QueueStale`) handled here, in one place; screens never call the app's methods
  nor import each other.
- After a write, post `QueueStale` (a `LiveScreen` does it for you); the queue's
  feed would see the commit through `PRAGMA data_version` within `poll_interval` anyway.
- On PostgreSQL a listener worker hears the database's change hints
  (`store.changes`, docs/postgresql.md) and posts `StoreChanged`: the queue and the
  screen on top read again at once, instead of polling.
- Untrusted text goes on screen as `Content(safe_text(s))` / `Text(safe_text(s))`.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import get_current_worker

from sladesk_tui.core.errors import InputError
from sladesk_tui.tui.alert_watch import AlertWatch
from sladesk_tui.tui.data import Desk, QueueSource, StoreQueueSource
from sladesk_tui.tui.messages import AlertsSeen, OpenOverride, OpenTicket, QueueStale, StoreChanged

if TYPE_CHECKING:
    from sladesk_tui.tui.screens.queue import QueueScreen

SourceFactory = Callable[[Desk], QueueSource]


class SladeskApp(App[None]):
    """The service desk: a live queue first, everything else pushed on top."""

    TITLE = "sladesk"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("question_mark", "help", "Help", tooltip="List every key", id="app.help"),
        Binding("f1", "help", "Help", show=False, id="app.help-f1"),
        Binding(
            "ctrl+p",
            "command_palette",
            "Command palette",
            show=False,
            priority=True,
            id="app.command-palette",
        ),
        Binding("ctrl+q", "quit", "Quit", priority=True, tooltip="Quit sladesk", id="app.quit"),
        Binding(
            "L",
            "review",
            "Review overrides",
            show=False,
            tooltip="The leads' review of overrides",
            id="app.review",
        ),
    ]

    def __init__(
        self,
        db_path: str | Path,
        operator: str,
        *,
        clock: Callable[[], float] = time.time,
        source_factory: SourceFactory = StoreQueueSource,
        poll_interval: float = 0.5,
        tick_interval: float = 1.0,
        theme: str | None = None,
        display_tz: dt.tzinfo | None = None,
        keymap: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.desk = Desk(str(db_path), operator, clock)
        self.source_factory = source_factory
        self.poll_interval = poll_interval
        self.tick_interval = tick_interval
        # The operator's zone for instants on screen; None: this machine's. Fixed in
        # tests and screenshots so they do not depend on where they run.
        self.display_tz = display_tz
        self._queue: QueueScreen | None = None
        self._user_keymap = dict(keymap or {})  # binding id -> keys (tui.keymap)
        if theme is not None:
            self.theme = theme
        self.alert_watch = AlertWatch(self)

    def get_default_screen(self) -> Screen[None]:
        from sladesk_tui.tui.screens.queue import QueueScreen

        self._queue = QueueScreen()
        return self._queue

    def on_mount(self) -> None:
        if self._user_keymap:
            self.set_keymap(self._user_keymap)
        self.alert_watch.start()
        if self.desk.hints is not None:
            self._listen()

    def on_unmount(self) -> None:
        self.desk.close()

    # ---- the database's change hints (PostgreSQL) -----------------------------------

    @work(thread=True, exclusive=True, group="store-changes", exit_on_error=False)
    def _listen(self) -> None:
        """Wait for hints on a connection of this thread; each one is recorded in the
        desk's `ChangeHints` and wakes the readers (`StoreChanged`).

        The first hint recorded is "re-read everything": what was committed between
        the screens' first reads and the ``LISTEN`` was announced to nobody. A
        listener that cannot connect yet tries again (the screens show the error).
        """
        from sladesk_tui.store.changes import RETRY_S, Change

        worker = get_current_worker()
        hints = self.desk.hints
        assert hints is not None  # started only when the desk has hints
        listener = None
        try:
            while not worker.is_cancelled:
                if listener is None:
                    try:
                        listener = self.desk.listen()
                    except Exception:  # noqa: BLE001 - the screens' reads report the database's state
                        time.sleep(RETRY_S)
                        continue
                    change: Change | None = Change.EVERYTHING
                else:
                    change = listener.wait(min(0.5, RETRY_S))
                if change is not None and not worker.is_cancelled:
                    hints.add(change)
                    self.post_message(StoreChanged())
        finally:
            if listener is not None:
                listener.close()

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        from sladesk_tui.tui.background import LiveScreen

        if self._queue is not None:
            self._queue.request_reload()
        screen = self.screen
        if isinstance(screen, LiveScreen):
            screen.check_changes()
        self.alert_watch.check()

    # ---- navigation: the screens' messages, handled here only ---------------------

    @on(OpenTicket)
    def _open_ticket(self, message: OpenTicket) -> None:
        from sladesk_tui.tui.screens.ticket import TicketScreen

        self.push_screen(TicketScreen(message.ticket_id))

    @on(OpenOverride)
    def _open_override(self, message: OpenOverride) -> None:
        from sladesk_tui.tui.screens.override_dialog import OverrideDialog

        self.push_screen(OverrideDialog(message.ticket_id))

    @on(QueueStale)
    def _queue_stale(self, message: QueueStale) -> None:
        """Ask the queue to reload now rather than at its next poll."""
        if self._queue is not None:
            self._queue.request_reload()

    @on(AlertsSeen)
    def _alerts_seen(self, message: AlertsSeen) -> None:
        self.alert_watch.mark_read(message.ticket_id)

    def unread_alerts_changed(self) -> None:
        """The alert watch's count moved: the queue's status bar shows it."""
        if self._queue is not None:
            self._queue.show_unread_alerts(self.alert_watch.unread_count)

    def action_review(self) -> None:
        from sladesk_tui.tui.screens.review import ReviewScreen

        if not isinstance(self.screen, ReviewScreen):
            self.push_screen(ReviewScreen())

    def action_compliance(self) -> None:
        from sladesk_tui.tui.screens.compliance import ComplianceScreen

        if not isinstance(self.screen, ComplianceScreen):
            self.push_screen(ComplianceScreen())

    def action_help(self) -> None:
        from sladesk_tui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "List every key of this screen", self.action_help)
        yield SystemCommand(
            "Review overrides", "The override log: approve or reject (leads)", self.action_review
        )
        yield SystemCommand(
            "Compliance",
            "Met and breached per agreement, raw and adjusted; penalties, availability",
            self.action_compliance,
        )
        override = getattr(screen, "action_override", None)
        if override is not None:
            yield SystemCommand("Override", "Override a clock of the ticket, with a justification", override)


def run_app(db_path: str | Path, operator: str) -> int:
    """Open the app on `db_path` (migrated if behind; a missing file is refused) as `operator`.

    `SLADESK_THEME` picks the theme (e.g. `ansi-dark`, which follows the terminal's
    own palette: kind to SSH sessions); the keymap file remaps keys (`tui.keymap`).
    """
    from textual.theme import BUILTIN_THEMES

    from sladesk_tui.store.db import open_db
    from sladesk_tui.tui.keymap import load_keymap

    theme = os.environ.get("SLADESK_THEME") or None
    if theme is not None and theme not in BUILTIN_THEMES:
        raise InputError(
            f"SLADESK_THEME: unknown theme {theme!r} (one of: {', '.join(sorted(BUILTIN_THEMES))})"
        )
    keymap = load_keymap()
    open_db(db_path).close()
    SladeskApp(db_path, operator, theme=theme, keymap=keymap).run()
    return 0
