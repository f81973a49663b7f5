"""Where a screen asks to go: navigation as messages, handled in one place (the app).

A screen posts one of these (`self.post_message(OpenTicket(tid))`); it bubbles to
`SladeskApp`, whose `@on` handlers push the screen or wake the queue. No screen
calls the app's methods or imports another screen (docs/tui.md), so a screen can be
moved, replaced or tested alone: a test app intercepts the message and calls
`prevent_default()`.
"""

from __future__ import annotations

from textual.message import Message


class OpenTicket(Message):
    """Show one ticket (its clocks, history and overrides)."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__()
        self.ticket_id = ticket_id


class OpenOverride(Message):
    """Open the override dialog for one ticket."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__()
        self.ticket_id = ticket_id


class QueueStale(Message):
    """This app committed a write: the queue reloads now rather than at its next poll."""


class AlertsSeen(Message):
    """The operator looked at a ticket's alerts: they no longer count as unread."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__()
        self.ticket_id = ticket_id


class StoreChanged(Message):
    """The database said another connection committed (PostgreSQL's hints, `store.changes`):
    the queue and the screen on top read again now."""
