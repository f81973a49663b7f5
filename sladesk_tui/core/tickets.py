"""A ticket as the screens, lookups and clock engine read it: its row, history and overrides.

It lives in core, not in the store, because the evaluation glue (`core.evaluate`) and
the screens consume it without touching SQLite; the store only fills it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override


@dataclass(frozen=True, slots=True)
class Review:
    """A team lead's decision on an override; the latest one per override wins."""

    id: int
    override_id: int
    decision: str  # approved | rejected
    reviewer: str
    at: float
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """One ticket: the projected row, its events in `(at, seq)` order and its overrides.

    Each override's `status` is already derived from its latest review. `agreement_id`
    and `agreement_version` name the agreement that governs the ticket (fixed when it
    was created); when both are None, `no_agreement_reason` says why. `reviews` is
    filled only by single-ticket lookups (the queue does not need them).
    """

    id: str
    customer: str
    service: str | None
    title: str
    priority: str
    status: str
    assignee: str | None
    agreement_id: str | None
    agreement_version: int | None
    no_agreement_reason: str | None
    is_open: bool
    created_ts: float
    updated_ts: float
    ended_ts: float | None
    events: tuple[Event, ...] = ()
    overrides: tuple[Override, ...] = ()
    reviews: tuple[Review, ...] = ()
