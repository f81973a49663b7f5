"""Zendesk history as our events: ticket audits replayed as the webhooks (docs/pull.md).

Zendesk's incremental ticket event export (`/api/v2/incremental/ticket_events`, with
`include=comment_events`) and a ticket's audits (`/api/v2/tickets/ID/audits`) tell
the same thing in two spellings: an audit (an update of one ticket at one instant)
holding child events, `Create` (a field set on a new ticket), `Change` (a field's new
value and `previous_value`) and `Comment` (`id`, `public`, `author_id`, `body`).
This module reads both spellings into `Audit`s and turns a ticket's audits into the
webhook bodies Zendesk would have sent (`ticket.created`, `ticket.status_changed`,
`ticket.priority_changed`, `ticket.comment_added`), mapped by the receiver's own
code (`core.sources.payloads`): one mapping of Zendesk, and the same event ids both
ways where Zendesk gives a common key (the comment id; the ticket id for its
creation; the new value and second of a status or priority change).

Not mapped: assignment changes (the API names the agent by id, webhooks by name),
and the comment of the creating audit (the ticket's description, not a reply).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.sources.batch import TicketBatch
from sladesk_tui.core.sources.ids import ticket_id
from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.core.sources.payloads import TicketState
from sladesk_tui.core.sources.refusals import Refusal
from sladesk_tui.core.sources.replay import replay

# The ticket fields a Create or Change child event may carry, by their API names.
FIELDS = ("status", "priority", "subject", "organization_id", "requester_id", "assignee_id")


@dataclass(frozen=True, slots=True)
class Audit:
    """One update of one ticket: `changes` maps a field to its new value; `comments`
    are the Comment child events (as the API sends them)."""

    id: str
    ticket: str
    created_at: str
    creates: bool
    changes: tuple[tuple[str, Any], ...] = ()
    comments: tuple[Mapping[str, Any], ...] = ()
    fields_at_creation: Mapping[str, Any] = field(default_factory=dict)

    @property
    def when(self) -> float:
        return _when(self.created_at)


def parse_export_item(item: Mapping[str, Any]) -> Audit:
    """An item of the incremental ticket event export (`child_events`, `event_type`)."""
    return _audit(item, item.get("child_events") or [], "event_type")


def parse_ticket_audit(item: Mapping[str, Any]) -> Audit:
    """An item of a ticket's audits (`events`, `type`)."""
    return _audit(item, item.get("events") or [], "type")


def _audit(item: Mapping[str, Any], children: Iterable[Any], kind_key: str) -> Audit:
    if item.get("ticket_id") in (None, "") or item.get("id") in (None, ""):
        raise InputError(f"Zendesk audit {str(item.get('id'))[:40]!r}: no id or ticket_id")
    created_at = item.get("created_at")
    if not isinstance(created_at, str) and isinstance(item.get("timestamp"), (int, float)):
        created_at = dt.datetime.fromtimestamp(float(item["timestamp"]), dt.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    creates = False
    at_creation: dict[str, Any] = {}
    changes: list[tuple[str, Any]] = []
    comments: list[Mapping[str, Any]] = []
    for child in children:
        if not isinstance(child, Mapping):
            continue
        kind = str(child.get(kind_key) or child.get("type") or child.get("event_type") or "")
        if kind == "Comment":
            comments.append(child)
        elif kind in ("Create", "Change"):
            for name, value in _child_fields(child):
                if kind == "Create":
                    creates = True
                    at_creation[name] = value
                else:
                    changes.append((name, value))
    return Audit(
        id=str(item["id"]),
        ticket=str(item["ticket_id"]),
        created_at=str(created_at or ""),
        creates=creates,
        changes=tuple(changes),
        comments=tuple(comments),
        fields_at_creation=at_creation,
    )


def _child_fields(child: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The audit spelling (`field_name`, `value`) or the export's (the field as a key)."""
    name = child.get("field_name")
    if isinstance(name, str):
        return [(name, child.get("value"))] if name in FIELDS else []
    return [(f, child[f]) for f in FIELDS if f in child]


@dataclass(frozen=True, slots=True)
class Author:
    """A comment author as the users API shows them: the webhook's `author` carries
    the same name and whether they are staff (an agent or admin)."""

    name: str | None
    is_staff: bool


def deliveries(
    ticket: str, audits: Sequence[Audit], *, authors: Mapping[str, Author], requester: str | None = None
) -> list[dict[str, Any]]:
    """The webhook bodies of a ticket's audits, oldest first. An author not in
    `authors` is staff unless they are the ticket's requester."""
    out: list[dict[str, Any]] = []
    detail: dict[str, Any] = {"id": ticket}
    for a in sorted(audits, key=lambda x: (x.when, x.id)):
        if a.creates:
            detail.update(a.fields_at_creation)
            detail["created_at"] = a.created_at
            requester = str(detail.get("requester_id") or requester or "") or None
            out.append(_doc("ticket.created", a, detail, {}))
            continue
        for name, value in a.changes:
            detail[name] = value
            if name in ("status", "priority"):
                out.append(_doc(f"ticket.{name}_changed", a, detail, {"current": value}))
        for c in a.comments:
            aid = str(c.get("author_id") or "")
            who = authors.get(aid) or Author(None, not (requester is not None and aid == requester))
            comment = {
                "id": c.get("id"),
                "body": c.get("body") if c.get("body") is not None else c.get("plain_body"),
                "is_public": c.get("public") is not False,
                "author": {"id": aid, "name": who.name, "is_staff": who.is_staff},
            }
            out.append(_doc("ticket.comment_added", a, detail, {"comment": comment}))
    return out


def _doc(name: str, a: Audit, detail: Mapping[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": f"zen:event-type:{name}",
        "id": f"audit-{a.id}",
        "time": a.created_at,
        "detail": dict(detail),
        "event": dict(event),
    }


def map_ticket(
    source: Source,
    ticket: str,
    audits: Sequence[Audit],
    *,
    state: TicketState | None,
    authors: Mapping[str, Author] | None = None,
    seq: int = 1,
) -> TicketBatch:
    """A ticket's audits of one page as events (numbered from `seq`), or why it is set aside.

    `state` is what the store holds of the ticket (None: never stored; then the
    audits must start with its creation).
    """
    ours = ticket_id(source.ticket_prefix, ticket)
    ordered = sorted(audits, key=lambda x: (x.when, x.id))
    for a in ordered:
        if not _zoned(a.created_at):
            return TicketBatch(
                ticket,
                ours,
                problem=f"Zendesk ticket {ticket}, audit {a.id}: instant {a.created_at!r} has no UTC offset; "
                "nothing of the ticket is stored",
            )
    if state is None and (not ordered or not ordered[0].creates):
        first = ordered[0].id if ordered else "?"
        return TicketBatch(
            ticket,
            ours,
            problem=f"Zendesk ticket {ticket}: its history starts with audit {first}, not with its creation; "
            "nothing of it is stored",
        )
    try:
        events = replay(
            source, ours, deliveries(ticket, ordered, authors=authors or {}), state=state, seq=seq
        )
    except (InputError, Refusal) as exc:
        return TicketBatch(ticket, ours, problem=f"Zendesk ticket {ticket}: {exc}")
    return TicketBatch(ticket, ours, events)


def _zoned(text: str) -> bool:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def _when(value: object) -> float:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
