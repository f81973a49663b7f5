"""The ticket projection: the one rule the importer keeps stored rows by and `--at` replays with."""

from __future__ import annotations

from sladesk_tui.core.events import Event
from sladesk_tui.core.tickets import TicketProjection, history_rows

T0 = 1_800_000_000.0


def ev(n: int, etype: str, **fields: str) -> Event:
    return Event(id=f"e{n}", type=etype, at=T0 + 60 * n, ticket="T-1", seq=n, **fields)


CREATED = ev(0, "created", customer="acme", title="Invoices fail", priority="P2", assignee="sam")


def replayed(*later: Event) -> TicketProjection:
    t = TicketProjection()
    t.replay(history_rows((CREATED, *later)))
    return t


def test_created_gives_a_new_open_ticket() -> None:
    t = replayed()
    assert (t.status, t.priority, t.assignee, t.is_open, t.ended_ts) == ("new", "P2", "sam", True, None)
    assert t.created_ts == t.updated_ts == CREATED.at


def test_a_status_while_ended_is_history_only_until_reopened() -> None:
    resolved = ev(2, "resolved")
    t = replayed(ev(1, "status", status="waiting"), resolved, ev(3, "status", status="open"))
    assert (t.status, t.is_open, t.ended_ts) == ("resolved", False, resolved.at)
    t = replayed(
        ev(1, "status", status="waiting"), resolved, ev(3, "status", status="open"), ev(4, "reopened")
    )
    assert (t.status, t.is_open, t.ended_ts, t.updated_ts) == ("open", True, None, T0 + 240)


def test_closing_a_resolved_ticket_keeps_the_start_of_its_ended_stretch() -> None:
    t = replayed(ev(1, "resolved"), ev(2, "closed"))
    assert (t.status, t.is_open, t.ended_ts) == ("closed", False, T0 + 60)
