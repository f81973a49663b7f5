"""A provider ticket's share of one pull batch: its events, or why none is stored.

Every provider's history mapping (`core.sources.rt`, ...) returns these and the store
(`store.pulls.store_batch`) takes them: a ticket is stored whole or not at all
(docs/pull.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from sladesk_tui.core.events import Event


@dataclass(frozen=True, slots=True)
class TicketBatch:
    """`provider_ticket` is the provider's id as text, `ticket` ours."""

    provider_ticket: str
    ticket: str
    events: tuple[Event, ...] = ()
    problem: str | None = None
