"""A ticket's history replayed as the webhooks its system would have sent (docs/pull.md).

The Jira, Zendesk and Zammad history mappings each rebuild a ticket's webhook
bodies from its API history; this module maps them through the receiver's own code
(`core.sources.payloads`), one after another against the state the ones before
leave, so a change seen by webhook and by pull becomes the same event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sladesk_tui.core.events import Event
from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.core.sources.payloads import TicketState, decode, to_events
from sladesk_tui.core.tickets import TicketProjection


def replay(
    source: Source,
    ticket: str,
    docs: Iterable[Mapping[str, Any]],
    *,
    state: TicketState | None,
    seq: int,
) -> tuple[Event, ...]:
    """The events of webhook bodies `docs` for our ticket `ticket`, from the stored
    `state` (None: never stored), numbered from `seq`. Raises what the receiver's
    mapping raises for a body it refuses (`InputError`, `Refusal`): the caller sets
    the ticket aside with its own words."""
    events: list[Event] = []
    for doc in docs:
        decoded = decode(source, json.dumps(doc).encode(), "application/json")
        new = to_events(source, decoded, {ticket: state})
        state = advance(state, new)
        events.extend(new)
    return tuple(replace(ev, seq=seq + i) for i, ev in enumerate(events))


def advance(state: TicketState | None, events: Sequence[Event]) -> TicketState | None:
    """The ticket's state after `events`, by the store's own projection rule
    (`TicketProjection`): the receiver reads the same state back from the store."""
    proj = TicketProjection()
    if state is not None:
        proj.start(0.0, "", None, "", state.priority or "", state.assignee)
        proj.status, proj.is_open = state.status, state.is_open
    started = state is not None
    for ev in events:
        if ev.type == "created":
            proj.start(ev.at, ev.customer or "", ev.service, ev.title or "", ev.priority or "", ev.assignee)
            started = True
        elif started:
            proj.apply(ev.type, ev.at, ev.priority, ev.status, ev.assignee)
    return TicketState(proj.status, proj.priority, proj.assignee, proj.is_open) if started else None
