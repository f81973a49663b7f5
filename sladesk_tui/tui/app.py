"""The Textual app: screens on top of one `Desk` (database, operator, clock).

How a screen plugs in (ticket, override, review screens):

- `self.app.desk` (a `sladesk_tui.tui.data.Desk`): `.operator` (login user, the
  actor of every write), `.now()` (the injected clock: frozen in tests and
  screenshots, never call `time.time()` in a screen), `.conn` (the UI thread's
  connection; a worker thread opens its own with `.open()`), `.db_path`.
- `self.app.open_ticket(ticket_id)` pushes the ticket screen from anywhere.
- After a write, nothing to do: the queue's worker sees the commit through
  `PRAGMA data_version` within `poll_interval`. `self.app.refresh_queue()` asks now.
- Untrusted text goes on screen as `Content(safe_text(s))` / `Text(safe_text(s))`.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from sladesk_tui.core.errors import InputError
from sladesk_tui.tui.data import Desk, QueueSource, StoreQueueSource

SourceFactory = Callable[[Desk], QueueSource]


class SladeskApp(App[None]):
    """The service desk: a live queue first, everything else pushed on top."""

    CSS_PATH = "sladesk.tcss"
    TITLE = "sladesk"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("question_mark", "help", "Help", tooltip="List every key"),
        Binding("f1", "help", "Help", show=False),
        Binding("ctrl+p", "command_palette", "Command palette", show=False, priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True, tooltip="Quit sladesk"),
        Binding("L", "review", "Review overrides", show=False, tooltip="The leads' review of overrides"),
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
    ) -> None:
        super().__init__()
        self.desk = Desk(str(db_path), operator, clock)
        self.source_factory = source_factory
        self.poll_interval = poll_interval
        self.tick_interval = tick_interval
        # The operator's zone for instants on screen; None: this machine's. Fixed in
        # tests and screenshots so they do not depend on where they run.
        self.display_tz = display_tz
        if theme is not None:
            self.theme = theme

    def get_default_screen(self) -> Screen[Any]:
        from sladesk_tui.tui.screens.queue import QueueScreen

        return QueueScreen()

    def on_unmount(self) -> None:
        self.desk.close()

    # ---- actions shared by screens ----------------------------------------------

    def open_ticket(self, ticket_id: str) -> None:
        """Push the ticket screen (absent in this build: say so instead of crashing)."""
        try:
            from sladesk_tui.tui.screens.ticket import TicketScreen
        except ImportError:
            self.notify("The ticket screen is not available in this build.", severity="warning", markup=False)
            return
        self.push_screen(TicketScreen(ticket_id))

    def open_override(self, ticket_id: str) -> None:
        """Push the override dialog for `ticket_id` (queue and ticket screen, key `o`)."""
        from sladesk_tui.tui.screens.override_dialog import OverrideDialog

        self.push_screen(OverrideDialog(ticket_id))

    def action_review(self) -> None:
        from sladesk_tui.tui.screens.review import ReviewScreen

        if not isinstance(self.screen, ReviewScreen):
            self.push_screen(ReviewScreen())

    def action_compliance(self) -> None:
        from sladesk_tui.tui.screens.compliance import ComplianceScreen

        if not isinstance(self.screen, ComplianceScreen):
            self.push_screen(ComplianceScreen())

    def refresh_queue(self) -> None:
        """Ask the queue to reload now rather than at its next poll."""
        from sladesk_tui.tui.screens.queue import QueueScreen

        for screen in self.screen_stack:
            if isinstance(screen, QueueScreen):
                screen.request_reload()

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
    """Open the app on `db_path` (created and migrated if missing) as `operator`.

    `SLADESK_THEME` picks the theme (e.g. `ansi-dark`, which follows the terminal's
    own palette: kind to SSH sessions).
    """
    from textual.theme import BUILTIN_THEMES

    from sladesk_tui.store.db import open_db

    theme = os.environ.get("SLADESK_THEME") or None
    if theme is not None and theme not in BUILTIN_THEMES:
        raise InputError(
            f"SLADESK_THEME: unknown theme {theme!r} (one of: {', '.join(sorted(BUILTIN_THEMES))})"
        )
    open_db(db_path).close()
    SladeskApp(db_path, operator, theme=theme).run()
    return 0
