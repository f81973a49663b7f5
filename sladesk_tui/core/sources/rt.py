"""Request Tracker history as our events: pure mapping of REST2 transactions (docs/pull.md).

The puller (`services/pull/rt.py`) fetches; this module decides. A ticket's
transactions of one pull batch map to its events all together or not at all: any
problem (a queue the source does not pull, a status or priority the mapping does
not name, a history that does not start with the ticket's creation, a timestamp
without a zone) refuses the ticket with one reason, so nothing of it is half-written
and the rest of the batch is stored.

RT's transactions and our events:

- `Create` is `created` (customer, priority at creation, subject as title);
- `Correspond` is a public reply (`customer_reply` when a requestor wrote it),
  `Comment` an internal note, both through the source's `comments` rule;
- `Status` maps the new status through the source's `statuses`: to `resolved` or
  `closed` (their own events), from one of those back to a working status is
  `reopened` (plus a `status` event when the new status is not `open`), anything
  else a `status` event; a change between two RT statuses that map to the same of
  ours (`new` -> `open`) is no change to our clocks and maps to nothing;
- `Set` of `Priority` maps the new number through the source's ranges; a change
  that stays inside one of our priorities maps to nothing (an agreement that
  restarts clocks on a priority change must not restart them for it);
- everything else (`EmailRecord`, watchers, custom fields, links) is noise.

Event ids come from `core.sources.ids` with the transaction id as key, so an RT scrip
posting the same change and a pull store it once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.eventfile import event_from_mapping
from sladesk_tui.core.events import Event
from sladesk_tui.core.sources.batch import TicketBatch
from sladesk_tui.core.sources.ids import event_id, ticket_id
from sladesk_tui.core.sources.mapping import ENDING_STATUSES, Source
from sladesk_tui.core.sources.refusals import Refusal

# The transaction fields the puller asks REST2 for.
TRANSACTION_FIELDS = "Type,Field,OldValue,NewValue,Created,Creator,ObjectId,ObjectType"
TICKET_FIELDS = "Queue,Subject,Priority,Requestor,Created,Status"


@dataclass(frozen=True, slots=True)
class RtTransaction:
    """One REST2 transaction of a ticket, as strings the way RT sends them."""

    id: int
    ticket: int
    type: str
    field: str
    old: str
    new: str
    created: str
    creator: str


@dataclass(frozen=True, slots=True)
class RtTicket:
    """What a ticket's `created` event needs beyond its `Create` transaction.

    `priority` is the priority it was created with: REST2 shows the current one, so
    the puller passes the old value of its first priority change when it has one.
    """

    id: int
    queue: str
    subject: str
    requestors: tuple[str, ...]
    priority: str


def parse_transaction(item: Mapping[str, object]) -> RtTransaction:
    """A REST2 transaction item; InputError naming it when a field is missing or odd."""
    try:
        tid = int(str(item["id"]))
        ticket = int(str(item.get("ObjectId", "0")))
    except (KeyError, ValueError):
        raise InputError(f"transaction {str(item.get('id'))[:40]!r}: no numeric id and ticket") from None
    creator = item.get("Creator")
    name = creator.get("id") if isinstance(creator, Mapping) else creator
    return RtTransaction(
        id=tid,
        ticket=ticket,
        type=_text(item.get("Type")),
        field=_text(item.get("Field")),
        old=_text(item.get("OldValue")),
        new=_text(item.get("NewValue")),
        created=_text(item.get("Created")),
        creator=_text(name),
    )


def parse_ticket(item: Mapping[str, object], first_priority_old: str | None) -> RtTicket:
    """A REST2 ticket item (with `fields[Queue]=Name` and `fields[Requestor]=EmailAddress`)."""
    queue = item.get("Queue")
    qname = queue.get("Name") or queue.get("id") if isinstance(queue, Mapping) else queue
    requestors = item.get("Requestor")
    emails: list[str] = []
    if isinstance(requestors, list):
        for r in requestors:
            if isinstance(r, Mapping):
                e = r.get("EmailAddress") or r.get("id")
                if e:
                    emails.append(str(e))
    priority = first_priority_old if first_priority_old is not None else _text(item.get("Priority"))
    return RtTicket(
        id=int(str(item["id"])),
        queue=_text(qname),
        subject=_text(item.get("Subject")),
        requestors=tuple(emails),
        priority=priority,
    )


def is_noise(tx: RtTransaction) -> bool:
    """Transactions that never become events (the puller still moves its cursor past them)."""
    if tx.type in ("Create", "Correspond", "Comment", "Status"):
        return False
    return not (tx.type == "Set" and tx.field in ("Priority", "Status"))


def map_ticket(
    source: Source,
    ticket: RtTicket | None,
    transactions: Sequence[RtTransaction],
    *,
    stored: bool,
    seq: int = 0,
) -> TicketBatch:
    """Map one ticket's transactions (in id order) of a batch to events.

    `stored` says the ticket already exists in the database: then the batch may start
    anywhere in its history; otherwise it must start with its `Create`. `seq` numbers
    the events (the importer reports problems by it).
    """
    if not transactions:
        raise ValueError("map_ticket needs at least one transaction")
    rt_id = transactions[0].ticket
    ours = ticket_id(source.ticket_prefix, rt_id)
    try:
        events = _map(source, ticket, transactions, stored=stored, ours=ours, seq=seq)
    except (InputError, Refusal) as exc:
        return TicketBatch(str(rt_id), ours, problem=str(exc))
    return TicketBatch(str(rt_id), ours, tuple(events))


def _map(
    source: Source,
    ticket: RtTicket | None,
    transactions: Sequence[RtTransaction],
    *,
    stored: bool,
    ours: str,
    seq: int,
) -> list[Event]:
    rt_id = transactions[0].ticket
    relevant = [tx for tx in transactions if not is_noise(tx)]
    if not stored:
        first = transactions[0]
        if first.type != "Create":
            raise InputError(
                f"RT ticket {rt_id}: its history starts with transaction {first.id} ({first.type or '?'}), "
                "not with its creation; nothing of it is stored"
            )
    pull = source.pull or {}
    queues = pull.get("queues")
    if ticket is not None and isinstance(queues, list) and ticket.queue not in queues:
        raise InputError(
            f"RT ticket {rt_id}: queue {ticket.queue!r} is not one of the source's pull.queues "
            f"({', '.join(map(str, queues))})"
        )
    requestors = {r.casefold() for r in ticket.requestors} if ticket is not None else set()
    out: list[Event] = []

    def add(kind: str, tx: RtTransaction, fields: dict[str, str]) -> None:
        doc = {
            "id": event_id(source.name, rt_id, kind, tx.id),
            "ticket": ours,
            "at": tx.created,
            **fields,
        }
        if tx.creator:
            doc["author"] = tx.creator
        try:
            out.append(event_from_mapping(doc, seq=seq + len(out)))
        except InputError as exc:
            raise InputError(f"RT ticket {rt_id}, transaction {tx.id} ({tx.type}): {exc}") from None

    for tx in relevant:
        try:
            if tx.type == "Create":
                if ticket is None:
                    raise InputError("the ticket itself could not be read from RT")
                fields = {
                    "type": "created",
                    "customer": source.customer_name(
                        organization=ticket.queue,
                        fields={},
                        requester_email=ticket.requestors[0] if ticket.requestors else None,
                    ),
                    "priority": source.priority(ticket.priority),
                    "title": ticket.subject.strip() or f"RT #{rt_id}",
                }
                if source.service:
                    fields["service"] = source.service
                add("created", tx, fields)
            elif tx.type in ("Correspond", "Comment"):
                etype = source.comments.event_type(
                    public=tx.type == "Correspond", by_customer=tx.creator.casefold() in requestors
                )
                if etype is not None:
                    add("comment", tx, {"type": etype})
            elif tx.field == "Status" or tx.type == "Status":
                _status(source, tx, add)
            elif tx.field == "Priority":
                new = source.priority(tx.new)
                if not tx.old or source.priority(tx.old) != new:
                    add("priority", tx, {"type": "priority", "priority": new})
        except (InputError, Refusal) as exc:
            if str(exc).startswith(f"RT ticket {rt_id}"):
                raise
            raise InputError(f"RT ticket {rt_id}, transaction {tx.id} ({tx.type}): {exc}") from None
    return out


_Add = Callable[[str, RtTransaction, dict[str, str]], None]


def _status(source: Source, tx: RtTransaction, add: _Add) -> None:
    new = source.status(tx.new)
    old = source.status(tx.old) if tx.old else None
    if new in ENDING_STATUSES:
        if old != new:
            add(new, tx, {"type": new})
    elif old in ENDING_STATUSES:
        add("reopened", tx, {"type": "reopened"})
        if new != "open":
            add("status", tx, {"type": "status", "status": new})
    elif old != new:
        add("status", tx, {"type": "status", "status": new})


def _text(value: object) -> str:
    return "" if value is None else str(value)
