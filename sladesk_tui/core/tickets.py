"""A ticket as the screens, lookups and clock engine read it: its row, history and overrides.

It lives in core, not in the store, because the evaluation glue (`core.evaluate`) and
the screens consume it without touching SQLite; the store only fills it. The same
goes for `TicketProjection`, the rule that turns a ticket's events into its row: the
importer keeps the stored row with it and the as-of lookups replay history with it,
so the past and the present are read by one rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sladesk_tui.core.events import ENDING_TYPES, Event
from sladesk_tui.core.overrides import Override

# One event as `TicketProjection.replay` takes it (the events table's column order):
# (type, at, customer, service, title, priority, status, assignee).
HistoryRow = tuple[str, float, str | None, str | None, str | None, str | None, str | None, str | None]


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


class TicketProjection:
    """A ticket's row as its events leave it, applied one event at a time.

    Mutable (and slotted) on purpose: the importer keeps tens of thousands of these
    up to date per batch, applying each event once instead of rebuilding a frozen
    value per event. Events are applied in `(at, arrival)` order; one older than
    the state already reflects needs a `replay` of the whole history.
    """

    __slots__ = (
        "customer",
        "service",
        "title",
        "priority",
        "status",
        "assignee",
        "is_open",
        "created_ts",
        "updated_ts",
        "ended_ts",
    )

    def start(
        self, ts: float, customer: str, service: str | None, title: str, priority: str, assignee: str | None
    ) -> None:
        """The state a `created` event gives."""
        self.customer, self.service, self.title, self.priority = customer, service, title, priority
        self.status, self.assignee, self.is_open = "new", assignee, True
        self.created_ts = self.updated_ts = ts
        self.ended_ts: float | None = None

    def apply(
        self, etype: str, ts: float, priority: str | None, status: str | None, assignee: str | None
    ) -> None:
        """One later event. While the ticket is ended a `status` event is history only:
        it stays ended until `reopened`; `ended_ts` is the start of the current ended
        stretch (a `closed` after `resolved` does not move it)."""
        if etype == "status":
            if self.is_open:
                self.status = status  # type: ignore[assignment]  # required of status events
        elif etype == "priority":
            self.priority = priority  # type: ignore[assignment]  # required of priority events
        elif etype == "assign":
            self.assignee = assignee
        elif etype in ENDING_TYPES:
            if self.is_open:
                self.is_open, self.ended_ts = False, ts
            self.status = etype
        elif etype == "reopened":
            self.is_open, self.ended_ts, self.status = True, None, "open"
        if ts > self.updated_ts:
            self.updated_ts = ts

    def replay(self, history: Iterable[HistoryRow]) -> None:
        """Rebuild from a whole history in `(at, arrival)` order, its `created` event first."""
        for etype, ts, customer, service, title, priority, status, assignee in history:
            if etype == "created":
                self.start(ts, customer, service, title, priority, assignee)  # type: ignore[arg-type]  # a created row has these fields
            else:
                self.apply(etype, ts, priority, status, assignee)


def history_rows(events: Iterable[Event]) -> Iterable[HistoryRow]:
    """Events as `TicketProjection.replay` takes them."""
    return ((e.type, e.at, e.customer, e.service, e.title, e.priority, e.status, e.assignee) for e in events)
