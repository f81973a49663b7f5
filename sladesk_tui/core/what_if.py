"""What the clocks would become if a change were recorded now: the priority preview.

The preview is the engine's answer, not a second set of rules: the change is added
to the ticket's events as the event it would be, and the ticket is evaluated again
(docs/tui.md, "The priority preview").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sladesk_tui.core.events import Event

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import AgreementSet
    from sladesk_tui.core.clocks import Clock
    from sladesk_tui.core.tickets import TicketRecord


def what_if_priority(
    record: TicketRecord, books: Mapping[int, AgreementSet], priority: str, now: float
) -> Mapping[str, Clock]:
    """The adjusted clocks if a `priority` event were recorded at `now`."""
    from sladesk_tui.core.evaluate import evaluate

    seq = max((e.seq for e in record.events), default=0) + 1
    change = Event(id="what-if", type="priority", at=now, ticket=record.id, seq=seq, priority=priority)
    events = tuple(sorted((*record.events, change), key=lambda e: e.order_key))
    return evaluate(dataclasses.replace(record, events=events), books, now).adjusted
