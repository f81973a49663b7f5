"""Zammad history as our events: a ticket's history and articles replayed as snapshots (docs/pull.md).

Zammad's webhooks send a snapshot of the ticket (and the article that triggered
them) and the receiver turns each difference from the stored state into an event
(`core.sources.payloads`). Its REST API has the history behind those snapshots:
`/api/v1/ticket_history/ID` lists the ticket's `created` entry and each `updated`
entry (`attribute`, `value_from`, `value_to`, `created_at`), and
`/api/v1/ticket_articles/by_ticket/ID` its articles (`internal`, `sender`). This
module rebuilds the snapshots a webhook would have sent after each change (the
ticket as it was then) and maps them through the receiver's own code, so a change
seen both ways has the same id: the article id for a reply or note, the ticket id
for its creation, the new value and whole second for a state or priority change.

The state and priority at creation are read backwards from the first change of
each, else the current values. The owner is not replayed: the history names the
agent by display name, the webhook by login (docs/pull.md says what that costs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.sources.batch import TicketBatch
from sladesk_tui.core.sources.ids import ticket_id
from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.core.sources.refusals import Refusal
from sladesk_tui.core.sources.replay import replay

_REPLAYED = ("state", "priority")


def snapshots(
    ticket: Mapping[str, Any], history: Sequence[Mapping[str, Any]], articles: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The webhook bodies of the ticket's life, oldest first (history checked by the caller)."""
    changes = sorted(
        (
            h
            for h in history
            if _is_ticket(h) and h.get("type") == "updated" and h.get("attribute") in _REPLAYED
        ),
        key=lambda h: (_when(h.get("created_at")), _num(h.get("id"))),
    )
    current = {a: _name(ticket.get(a)) for a in _REPLAYED}
    at_creation = dict(current)
    for attr in _REPLAYED:
        first = next((h for h in changes if h.get("attribute") == attr), None)
        if first is not None:
            at_creation[attr] = first.get("value_from")
    owner_changed = any(_is_ticket(h) and h.get("attribute") in ("owner", "owner_id") for h in history)
    base = {
        "id": ticket.get("id"),
        "number": ticket.get("number"),
        "title": ticket.get("title"),
        "created_at": ticket.get("created_at"),
        "customer": _customer(ticket.get("customer")),
        "organization": _organization(ticket.get("organization")),
        **{k: v for k, v in ticket.items() if k not in _SNAPSHOT_KEYS},  # custom attributes
    }

    def snap(
        when: object, values: Mapping[str, Any], owner: object, article: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "ticket": {
                **base,
                "state": values["state"],
                "priority": {"name": values["priority"]},
                "updated_at": when,
                "owner": owner,
            }
        }
        if article is not None:
            doc["article"] = dict(article)
        return doc

    # Within one second, changes before articles: a webhook sent for an update that
    # added an article and changed the state carries the new state with the article.
    timeline: list[tuple[float, int, float, int, Mapping[str, Any]]] = [
        (_second(h.get("created_at")), 0, _when(h.get("created_at")), n, h) for n, h in enumerate(changes)
    ]
    timeline += [
        (_second(a.get("created_at")), 1, _when(a.get("created_at")), n, a) for n, a in enumerate(articles)
    ]
    timeline.sort(key=lambda x: x[:4])
    # Zammad's create trigger sends the ticket with its first article: one snapshot.
    created = _when(ticket.get("created_at"))
    opening = next((x for x in timeline if x[1] == 1 and x[2] == created), None)
    first_owner = None if owner_changed else ticket.get("owner")
    out = [snap(ticket.get("created_at"), at_creation, first_owner, opening[4] if opening else None)]
    values = dict(at_creation)
    for entry in timeline:
        if entry is opening:
            continue
        kind, item = entry[1], entry[4]
        if kind == 0:
            values[str(item["attribute"])] = item.get("value_to")
            out.append(snap(item.get("created_at"), values, None, None))
        else:
            out.append(snap(item.get("created_at"), values, None, item))
    return out


_SNAPSHOT_KEYS = frozenset(
    {
        "id",
        "number",
        "title",
        "created_at",
        "updated_at",
        "customer",
        "organization",
        "state",
        "priority",
        "owner",
    }
)


def map_ticket(
    source: Source,
    ticket: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    articles: Sequence[Mapping[str, Any]],
    *,
    seq: int = 1,
) -> TicketBatch:
    """The ticket's whole history as events (numbered from `seq`), or why it is set aside."""
    tid = str(ticket.get("id") or "?")
    ours = ticket_id(source.ticket_prefix, tid)

    def refuse(reason: str) -> TicketBatch:
        return TicketBatch(tid, ours, problem=f"Zammad ticket {tid}: {reason}; nothing of it is stored")

    instants = [("ticket", ticket.get("created_at"))]
    instants += [(f"history entry {h.get('id')}", h.get("created_at")) for h in history]
    instants += [(f"article {a.get('id')}", a.get("created_at")) for a in articles]
    for what, value in instants:
        if not _zoned(value):
            return refuse(f"{what}: instant {str(value)[:40]!r} has no UTC offset")
    created = _when(ticket.get("created_at"))
    early = [what for what, value in instants[1:] if _when(value) < created]
    if early:
        return refuse(f"its history starts before its creation ({early[0]})")
    own = sorted(
        (h for h in history if _is_ticket(h)), key=lambda h: (_when(h.get("created_at")), _num(h.get("id")))
    )
    if not own or own[0].get("type") != "created":
        first = f"{own[0].get('type')} entry {own[0].get('id')}" if own else "nothing"
        return refuse(f"its history starts with {first}, not with its creation")
    try:
        events = replay(source, ours, snapshots(ticket, history, articles), state=None, seq=seq)
    except (InputError, Refusal) as exc:
        return refuse(str(exc))
    return TicketBatch(tid, ours, events)


def _is_ticket(h: Mapping[str, Any]) -> bool:
    return str(h.get("object") or "") == "Ticket"


def _name(v: object) -> Any:
    if isinstance(v, Mapping):
        return v.get("name")
    return v


def _customer(v: object) -> dict[str, Any]:
    """The expanded API writes the customer's login (usually the e-mail); the webhook an object."""
    if isinstance(v, Mapping):
        return dict(v)
    return {"email": v, "login": v} if v not in (None, "") else {}


def _organization(v: object) -> dict[str, Any] | None:
    if isinstance(v, Mapping):
        return dict(v)
    return {"name": v} if v not in (None, "") else None


def _num(v: object) -> int:
    try:
        return int(str(v))
    except ValueError:
        return 0


def _zoned(value: object) -> bool:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def _second(value: object) -> float:
    return float(int(_when(value) // 1))


def _when(value: object) -> float:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return parsed.timestamp() if parsed.tzinfo is not None else 0.0
