"""Palette hits that open a ticket by id, from any screen.

One home for them: the queue's own provider and `OpenTicketCommands` (every other
screen) both yield `ticket_hits`, so an agent reading one ticket can jump to another
by typing its id. The ids come from the open queue (the queue screen is always at the
bottom of the stack); an id not in it is still offered as typed, since the ticket
screen shows any ticket and says when there is none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from textual.command import Hit, Hits, Provider
from textual.content import Content

from sladesk_tui.core.text import safe_text
from sladesk_tui.tui.messages import OpenTicket

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from sladesk_tui.core.queue import QueueRow

MAX_TICKETS = 20


def ticket_hits(screen: MessagePump, rows: Sequence[QueueRow], query: str) -> Iterator[Hit]:
    """Up to `MAX_TICKETS` open tickets whose id contains `query`, then the id as typed."""
    needle = query.strip().casefold()
    if not needle:
        return
    found = 0
    exact = False
    for row in rows:
        if needle not in row.id.casefold():
            continue
        exact = exact or row.id.casefold() == needle
        prompt = Content.assemble("Open ticket ", (row.id, "bold"), "  ", row.title)
        yield Hit(
            1.0 if row.id.casefold() == needle else 0.9,
            prompt,
            _opener(screen, row.id),
            text=f"Open ticket {row.id}",
            help="Show the ticket with its clocks",
        )
        found += 1
        if found >= MAX_TICKETS:
            break
    if not exact:
        typed = safe_text(query.strip())
        yield Hit(
            0.5,
            Content.assemble("Open ticket ", (typed, "bold")),
            _opener(screen, query.strip()),
            text=f"Open ticket {typed}",
            help="Open a ticket that is not in the queue",
        )


def _opener(screen: MessagePump, ticket_id: str) -> Callable[[], None]:
    def open_it() -> None:
        screen.post_message(OpenTicket(ticket_id))

    return open_it


class OpenTicketCommands(Provider):
    """`ctrl+p`, then a ticket id: for screens other than the queue (whose provider adds its actions)."""

    async def search(self, query: str) -> Hits:
        from sladesk_tui.tui.screens.queue import QueueScreen

        rows: list[QueueRow] = []
        for screen in self.app.screen_stack:
            if isinstance(screen, QueueScreen):
                rows = list(screen.queue.all_rows)
                break
        for hit in ticket_hits(self.screen, rows, query):
            yield hit
