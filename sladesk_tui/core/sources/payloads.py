"""Provider payloads into our events (docs/sources.md, "What each provider sends").

Two steps, so the store is asked only for what it must know: `decode` checks the
body and names the tickets it concerns; `to_events` maps it, given the stored state
of those tickets (`TicketState`, None for a ticket never seen). Both are pure.

- Zendesk (event subscriptions, `zen:event-type:ticket.*`): created, status and
  priority changes, agent assignment, comments (`is_public`, `author.is_staff`).
- Jira / Jira Service Management: `jira:issue_created`, `jira:issue_updated` (its
  changelog items for status, priority and assignee) and `comment_created`, where
  `jsdPublic: false` is an internal comment and a comment by the reporter is the
  customer's.
- Zammad sends a snapshot of the ticket (and the article that triggered it) with
  no event type: the snapshot is compared with the stored state, each difference
  becoming an event stamped with the ticket's `updated_at`; an article maps by its
  `internal` flag and `sender` (`Customer`, `Agent`, `System`).
- GLPI sends `{"event": "new"|"update"|"delete", "item": {...}}`: a Ticket item is a
  snapshot compared like Zammad's, an ITILFollowup item a comment (`is_private`).
  GLPI writes local times without an offset: the source's `timezone` says whose.
- sladesk: our own events (a JSON object, an array of them, or JSON Lines).

A delivery for a ticket never seen first creates it from its own creation time and
fields. Provider events that carry nothing for the clocks (tags, a deletion) are
read and ignored; an event type not known at all is refused (`UnknownEvent`).
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.eventfile import EventReader, event_from_mapping
from sladesk_tui.core.events import Event
from sladesk_tui.core.sources.ids import event_id, snapshot_key, ticket_id
from sladesk_tui.core.sources.mapping import ENDING_STATUSES, Source
from sladesk_tui.core.sources.refusals import Malformed, UnknownEvent

MAX_TITLE = 500
MAX_BODY = 65536
JSON_TYPES: frozenset[str] = frozenset({"application/json"})
JSONL_TYPES: frozenset[str] = frozenset(
    {"application/x-ndjson", "application/jsonl", "application/json-lines"}
)

_ZENDESK_IGNORED = frozenset(
    {
        "ticket.tags_changed",
        "ticket.subject_changed",
        "ticket.description_changed",
        "ticket.group_assignment_changed",
        "ticket.organization_changed",
        "ticket.requester_changed",
        "ticket.custom_field_changed",
        "ticket.custom_status_changed",
        "ticket.ccs_changed",
        "ticket.followers_changed",
        "ticket.type_changed",
        "ticket.brand_changed",
        "ticket.form_changed",
        "ticket.external_id_changed",
        "ticket.problem_link_changed",
        "ticket.marked_as_spam",
        "ticket.soft_deleted",
        "ticket.permanently_deleted",
        "ticket.undeleted",
        "ticket.merged",
        "ticket.comment_made_private",
        "ticket.comment_redacted",
        "ticket.attachment_linked_to_comment",
        "ticket.attachment_redacted_from_comment",
        "ticket.sla_policy_changed",
        "ticket.schedule_changed",
        "ticket.due_at_changed",
        "ticket.task_due_at_changed",
    }
)
_JIRA_IGNORED = frozenset(
    {
        "jira:issue_deleted",
        "comment_updated",
        "comment_deleted",
        "worklog_created",
        "worklog_updated",
        "worklog_deleted",
        "issuelink_created",
        "issuelink_deleted",
        "attachment_created",
        "attachment_deleted",
    }
)


@dataclass(frozen=True, slots=True)
class TicketState:
    """What the store holds of one ticket: the snapshot diff compares with it."""

    status: str
    priority: str | None
    assignee: str | None
    is_open: bool


@dataclass(frozen=True, slots=True)
class Decoded:
    """A body that parsed: what it is (for the log) and the tickets it concerns."""

    what: str
    tickets: tuple[str, ...] = ()
    doc: Any = None
    events: tuple[Event, ...] = ()  # `sladesk` bodies: the events themselves
    ignored: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


States = Mapping[str, TicketState | None]


def decode(source: Source, body: bytes, content_type: str) -> Decoded:
    """Parse a verified body; raises Malformed or UnknownEvent."""
    if source.provider == "sladesk":
        return _decode_sladesk(body, content_type)
    if content_type not in JSON_TYPES:
        raise Malformed(f"content type {content_type!r}: {source.provider} sends application/json")
    doc = _json(body)
    if not isinstance(doc, dict):
        raise Malformed("the body is not a JSON object")
    try:
        return _DECODERS[source.provider](source, doc)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise Malformed(f"{source.provider}: a field is missing or of the wrong kind ({exc})") from None


def to_events(source: Source, decoded: Decoded, states: States) -> list[Event]:
    """Our events for a decoded delivery; raises Unmapped (an Unmappable) or Malformed."""
    if decoded.ignored:
        return []
    if source.provider == "sladesk":
        return list(decoded.events)
    out = _Out(source)
    try:
        _MAPPERS[source.provider](source, decoded, states, out)
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        raise Malformed(f"{decoded.what}: a field is missing or of the wrong kind ({exc})") from None
    return out.events


# ---- building events ---------------------------------------------------------------------


class _Out:
    """Collects events as plain fields and validates each through the event format."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.events: list[Event] = []

    def add(
        self, provider_ticket: object, kind: str, key: object, etype: str, at: float, **fields: Any
    ) -> None:
        values: dict[str, Any] = {
            "id": event_id(self.source.name, str(provider_ticket), kind, str(key)),
            "type": etype,
            "at": _iso_out(at),
            "ticket": ticket_id(self.source.ticket_prefix, str(provider_ticket)),
        }
        for k, v in fields.items():
            if v is None or v == "":
                continue
            v = str(v)
            if k == "title":
                v = " ".join(v.split())[:MAX_TITLE] or "(no title)"
            elif k == "body":
                v = v.replace("\x00", "")[:MAX_BODY]
            elif k in ("customer", "assignee", "author", "service"):
                v = _name(v)
                if v is None:
                    continue
            values[k] = v
        try:
            self.events.append(event_from_mapping(values, seq=len(self.events) + 1))
        except InputError as exc:
            raise Malformed(f"ticket {values['ticket']}: {exc}") from None

    def created(
        self,
        provider_ticket: object,
        at: float,
        *,
        title: object,
        priority: str,
        customer: str,
        assignee: object = None,
    ) -> None:
        self.add(
            provider_ticket,
            "created",
            provider_ticket,
            "created",
            at,
            title=title or "(no title)",
            priority=priority,
            customer=customer,
            service=self.source.service,
            assignee=assignee,
        )

    def status_change(
        self,
        provider_ticket: object,
        state: TicketState | None,
        ours: str,
        raw: object,
        at: float,
        key: object = None,
    ) -> None:
        """The events moving a ticket from `state` to our status `ours`."""
        k = key if key is not None else snapshot_key(str(raw), _iso_out(at))
        is_open = state.is_open if state is not None else True
        current = state.status if state is not None else "open"
        if ours in ENDING_STATUSES:
            if is_open:
                self.add(provider_ticket, ours, k, ours, at)
            return
        if not is_open:
            self.add(provider_ticket, "reopened", k, "reopened", at)
            current = "open"
        if ours != current:
            self.add(provider_ticket, "status", k, "status", at, status=ours)


def _name(v: str) -> str | None:
    """A provider's person or organisation name as our name field takes it."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in v).split())[:200]
    return cleaned or None


# ---- zendesk -------------------------------------------------------------------------------


def _decode_zendesk(source: Source, doc: dict[str, Any]) -> Decoded:
    etype = doc.get("type")
    if not isinstance(etype, str) or not etype.startswith("zen:event-type:"):
        raise UnknownEvent(f"not a Zendesk event (type {_show(etype)})")
    name = etype.removeprefix("zen:event-type:")
    detail = doc.get("detail")
    if not isinstance(detail, dict) or detail.get("id") in (None, ""):
        raise Malformed(f"zendesk {name}: no detail.id")
    tid = ticket_id(source.ticket_prefix, str(detail["id"]))
    handled = {
        "ticket.created",
        "ticket.status_changed",
        "ticket.priority_changed",
        "ticket.agent_assignment_changed",
        "ticket.comment_added",
    }
    if name in _ZENDESK_IGNORED:
        return Decoded(f"zendesk {name} {tid}", (tid,), doc, ignored=True)
    if name not in handled:
        raise UnknownEvent(f"zendesk event type {_show(name)} is not one this receiver reads")
    return Decoded(f"zendesk {name} {tid}", (tid,), doc)


def _map_zendesk(source: Source, d: Decoded, states: States, out: _Out) -> None:
    doc = d.doc
    name = doc["type"].removeprefix("zen:event-type:")
    detail, event = doc["detail"], doc.get("event") or {}
    pt = str(detail["id"])
    # Whole seconds: the API's audits (what `sladesk pull` reads) carry no fractions,
    # and the same change must have the same instant, hence the same digest, both ways.
    at = _second(_instant(doc.get("time") or detail.get("updated_at"), source))
    key = doc.get("id") or snapshot_key(name, _iso_out(at))
    state = states.get(d.tickets[0])
    if state is None:
        created_at = _second(_instant(detail.get("created_at") or doc.get("time"), source))
        customer = source.customer_name(
            organization=_str(detail.get("organization_id"))
            if str(detail.get("organization_id")) != "0"
            else None,
            fields={},
            requester_email=None,
        )
        out.created(
            pt,
            created_at,
            title=detail.get("subject"),
            priority=source.priority(detail.get("priority")),
            customer=customer,
            assignee=_str(detail.get("assignee_id")),
        )
        state = TicketState("open", None, None, True)
        if name == "ticket.created":
            raw = detail.get("status") or "new"
            out.status_change(
                pt, state, source.status(raw), raw, created_at, zendesk_change_key(raw, created_at)
            )
            return
    # A status or priority change is keyed by its new value and its second, not by the
    # webhook's own event id: the incremental export (`sladesk pull`) never shows that
    # id, but it shows the value and the instant (docs/pull.md, "Zendesk").
    if name == "ticket.status_changed":
        raw = _current(event, detail.get("status"))
        out.status_change(pt, state, source.status(raw), raw, at, zendesk_change_key(raw, at))
    elif name == "ticket.priority_changed":
        raw = _current(event, detail.get("priority"))
        ours = source.priority(raw)
        if ours != state.priority:
            out.add(pt, "priority", zendesk_change_key(raw, at), "priority", at, priority=ours)
    elif name == "ticket.agent_assignment_changed":
        who = _current(event, detail.get("assignee_id"))
        if isinstance(who, dict):
            who = who.get("name") or who.get("id")
        if who not in (None, ""):
            out.add(pt, "assign", key, "assign", at, assignee=who)
    elif name == "ticket.comment_added":
        c = event.get("comment") or {}
        author = c.get("author") or {}
        etype = source.comments.event_type(
            public=bool(c.get("is_public", True)), by_customer=not author.get("is_staff", False)
        )
        if etype is not None:
            out.add(
                pt, "comment", c.get("id") or key, etype, at, author=author.get("name"), body=c.get("body")
            )


def zendesk_change_key(raw: object, at: float) -> str:
    """The key of a Zendesk status or priority change, the same from a webhook and
    from the API: the new value as Zendesk names it (lower case: webhooks write
    `PENDING`, the API `pending`) and the change's whole second."""
    return snapshot_key(str(raw).strip().lower(), _iso_out(_second(at)))


def _second(ts: float) -> float:
    return float(int(ts // 1))


def _current(event: Mapping[str, Any], fallback: object) -> Any:
    cur = event.get("current")
    if isinstance(cur, dict) and len(cur) == 1:
        cur = next(iter(cur.values()))
    return fallback if cur in (None, "") else cur


# ---- jira ----------------------------------------------------------------------------------


def _decode_jira(source: Source, doc: dict[str, Any]) -> Decoded:
    name = doc.get("webhookEvent")
    issue = doc.get("issue")
    if not isinstance(name, str):
        raise UnknownEvent("not a Jira webhook (no webhookEvent)")
    if name in _JIRA_IGNORED:
        return Decoded(f"jira {name}", (), doc, ignored=True)
    if name not in ("jira:issue_created", "jira:issue_updated", "comment_created"):
        raise UnknownEvent(f"jira event {_show(name)} is not one this receiver reads")
    if not isinstance(issue, dict) or not issue.get("key") or not isinstance(issue.get("fields"), dict):
        raise Malformed(f"jira {name}: no issue with a key and fields")
    tid = ticket_id(source.ticket_prefix, str(issue["key"]))
    return Decoded(f"jira {name} {tid}", (tid,), doc)


def _map_jira(source: Source, d: Decoded, states: States, out: _Out) -> None:
    doc = d.doc
    name, issue = doc["webhookEvent"], doc["issue"]
    f = issue["fields"]
    pt = str(issue["key"])
    at = _instant(doc.get("timestamp") or f.get("updated"), source)
    state = states.get(d.tickets[0])
    if state is None:
        created_at = _instant(f.get("created") or doc.get("timestamp"), source)
        reporter = f.get("reporter") or {}
        customer = source.customer_name(
            organization=_org(f.get("organization") or f.get("organizations")),
            fields={k: _field_value(v) for k, v in f.items()},
            requester_email=reporter.get("emailAddress"),
        )
        out.created(
            pt,
            created_at,
            title=f.get("summary"),
            priority=source.priority(_named(f.get("priority"))),
            customer=customer,
            assignee=_person(f.get("assignee")),
        )
        state = TicketState("open", None, _person(f.get("assignee")), True)
        raw = _named(f.get("status"))
        items = (doc.get("changelog") or {}).get("items") or []
        moved = any(str(i.get("field") or "").lower() == "status" for i in items)
        if raw is not None and not moved:
            # Created now: its status since creation; seen late: its status now.
            when = created_at if name == "jira:issue_created" else at
            out.status_change(pt, state, source.status(raw), raw, when, key=snapshot_key(raw, _iso_out(when)))
            state = _after(state, source.status(raw))
    changelog = doc.get("changelog") or {}
    cl_id = changelog.get("id") or snapshot_key("update", _iso_out(at))
    for item in changelog.get("items") or []:
        fld = str(item.get("field") or item.get("fieldId") or "").lower()
        if fld == "status":
            raw = item.get("toString")
            ours = source.status(raw)
            out.status_change(pt, state, ours, raw, at, key=cl_id)
            state = _after(state, ours)
        elif fld == "priority":
            ours = source.priority(item.get("toString"))
            if ours != state.priority:
                out.add(pt, "priority", cl_id, "priority", at, priority=ours)
        elif fld == "assignee" and item.get("toString"):
            out.add(pt, "assign", cl_id, "assign", at, assignee=item.get("toString"))
    c = doc.get("comment")
    if name == "comment_created" and isinstance(c, dict):
        author = c.get("author") or {}
        reporter = f.get("reporter") or {}
        by_customer = bool(author.get("accountId")) and author.get("accountId") == reporter.get("accountId")
        etype = source.comments.event_type(
            public=c.get("jsdPublic", True) is not False, by_customer=by_customer
        )
        if etype is not None:
            when = _instant(c.get("created") or doc.get("timestamp"), source)
            out.add(
                pt, "comment", c.get("id"), etype, when, author=_person(author), body=_text(c.get("body"))
            )


def _after(state: TicketState, ours: str) -> TicketState:
    ended = ours in ENDING_STATUSES
    return TicketState(state.status if ended else ours, state.priority, state.assignee, not ended)


# ---- zammad --------------------------------------------------------------------------------


def _decode_zammad(source: Source, doc: dict[str, Any]) -> Decoded:
    t = doc.get("ticket")
    if not isinstance(t, dict) or t.get("id") in (None, ""):
        raise UnknownEvent("not a Zammad ticket snapshot (no ticket.id)")
    tid = ticket_id(source.ticket_prefix, str(t["id"]))
    return Decoded(f"zammad ticket {tid}", (tid,), doc)


def _map_zammad(source: Source, d: Decoded, states: States, out: _Out) -> None:
    t = d.doc["ticket"]
    pt = str(t["id"])
    # The snapshot's changes are keyed and stamped by the whole second of `updated_at`:
    # Zammad's history (read by `sladesk pull`) stamps the same change a few
    # milliseconds apart, never the same fraction (docs/pull.md, "Zammad").
    at = _second(_instant(t.get("updated_at"), source))
    raw_status = _named(t.get("state"))
    raw_prio = _named(t.get("priority"))
    ours_status = source.status(raw_status)
    ours_prio = source.priority(raw_prio)
    owner = _zammad_user(t.get("owner"))
    state = states.get(d.tickets[0])
    customer_obj = t.get("customer") if isinstance(t.get("customer"), dict) else {}
    if state is None:
        created_at = _instant(t.get("created_at"), source)
        customer = source.customer_name(
            organization=_named(t.get("organization")) or customer_obj.get("organization"),
            fields=t,
            requester_email=customer_obj.get("email"),
        )
        out.created(
            pt, created_at, title=t.get("title"), priority=ours_prio, customer=customer, assignee=owner
        )
        state = TicketState("open", ours_prio, owner, True)
        at = max(at, created_at)
    _snapshot_diff(out, pt, state, ours_status, raw_status, ours_prio, owner, at)
    art = d.doc.get("article")
    if isinstance(art, dict) and art.get("id") not in (None, ""):
        sender = str(art.get("sender") or "")
        if sender.lower() != "system":
            etype = source.comments.event_type(
                public=not bool(art.get("internal", False)), by_customer=sender.lower() == "customer"
            )
            if etype is not None:
                when = _instant(art.get("created_at") or t.get("updated_at"), source)
                author = _zammad_user(art.get("created_by")) or art.get("from")
                out.add(pt, "comment", art["id"], etype, when, author=author, body=art.get("body"))


def _zammad_user(u: object) -> str | None:
    """A user's login; Zammad's `-` (its user 1) is nobody, as a login or an object."""
    if isinstance(u, dict):
        u = u.get("login") or u.get("email")
    return _str(u) if u not in (None, "", "-") else None


def _snapshot_diff(
    out: _Out,
    pt: str,
    state: TicketState,
    ours_status: str,
    raw_status: object,
    ours_prio: str,
    owner: str | None,
    at: float,
) -> None:
    """Events for what differs between the stored state and a snapshot stamped `at`."""
    out.status_change(pt, state, ours_status, raw_status, at)
    if ours_prio != state.priority:
        out.add(pt, "priority", snapshot_key(ours_prio, _iso_out(at)), "priority", at, priority=ours_prio)
    if owner and owner != state.assignee:
        out.add(pt, "assign", snapshot_key(owner, _iso_out(at)), "assign", at, assignee=owner)


# ---- glpi ----------------------------------------------------------------------------------


def _decode_glpi(source: Source, doc: dict[str, Any]) -> Decoded:
    event, item = doc.get("event"), doc.get("item")
    if event not in ("new", "update", "delete"):
        raise UnknownEvent(f"GLPI event {_show(event)} is not new, update or delete")
    if not isinstance(item, dict) or item.get("id") in (None, ""):
        raise Malformed(f"GLPI {event}: no item with an id")
    followup = item.get("itemtype") == "Ticket" and item.get("items_id") not in (None, "")
    pt = str(item["items_id"] if followup else item["id"])
    tid = ticket_id(source.ticket_prefix, pt)
    kind = "followup" if followup else "ticket"
    if event == "delete":
        return Decoded(f"glpi {event} {kind} {tid}", (tid,), doc, ignored=True)
    return Decoded(f"glpi {event} {kind} {tid}", (tid,), doc, extra={"followup": followup, "pt": pt})


def _map_glpi(source: Source, d: Decoded, states: States, out: _Out) -> None:
    item = d.doc["item"]
    pt = d.extra["pt"]
    state = states.get(d.tickets[0])
    if d.extra["followup"]:
        if state is None:
            raise Malformed(
                f"GLPI follow-up {item['id']} is for ticket {d.tickets[0]}, never seen: send ticket webhooks too"
            )
        etype = source.comments.event_type(public=not bool(item.get("is_private")), by_customer=False)
        if etype is not None:
            at = _instant(item.get("date") or item.get("date_creation"), source)
            out.add(pt, "comment", f"f{item['id']}", etype, at, body=item.get("content"))
        return
    at = _instant(item.get("date_mod"), source)
    raw_status, raw_prio = _glpi_value(item.get("status")), _glpi_value(item.get("priority"))
    ours_status = source.status(raw_status)
    ours_prio = source.priority(raw_prio)
    if state is None:
        created_at = _instant(item.get("date") or item.get("date_creation"), source)
        entity = item.get("entity")
        org = _str(entity.get("name") or entity.get("id")) if isinstance(entity, dict) else None
        customer = source.customer_name(
            organization=org or _str(item.get("entities_id")), fields=item, requester_email=None
        )
        out.created(pt, created_at, title=item.get("name"), priority=ours_prio, customer=customer)
        state = TicketState("open", ours_prio, None, True)
        at = max(at, created_at)
    _snapshot_diff(out, pt, state, ours_status, raw_status, ours_prio, None, at)


def _glpi_value(v: object) -> object:
    """GLPI 10's legacy API writes `status: 4`; GLPI 11's high-level API writes
    `status: {"id": 4, "name": "Pending"}`. The number is what the mapping names."""
    if isinstance(v, dict):
        return v.get("id") if v.get("id") not in (None, "") else v.get("name")
    return v


# ---- sladesk -------------------------------------------------------------------------------


def _decode_sladesk(body: bytes, content_type: str) -> Decoded:
    if content_type in JSON_TYPES:
        doc = _json(body)
        items = doc if isinstance(doc, list) else [doc]
        events: list[Event] = []
        for n, obj in enumerate(items, 1):
            if not isinstance(obj, dict):
                raise Malformed(f"event {n}: not a JSON object")
            try:
                events.append(event_from_mapping(obj, seq=n))
            except InputError as exc:
                raise Malformed(f"event {n}: {exc}") from None
    elif content_type in JSONL_TYPES:
        reader = EventReader("body", "jsonl")
        events = []
        for line in body.split(b"\n"):
            got = reader.feed(line)
            if got is None:
                continue
            if isinstance(got[1], InputError):
                raise Malformed(str(got[1]))
            events.append(got[1])
    else:
        raise Malformed(f"content type {content_type!r}: send application/json or application/x-ndjson")
    if not events:
        raise Malformed("the body holds no event")
    tickets = tuple(sorted({e.ticket for e in events if e.ticket is not None}))
    return Decoded(f"sladesk {len(events)} events", tickets, None, tuple(events))


# ---- shared ----------------------------------------------------------------------------------


_DECODERS: dict[str, Callable[[Source, dict[str, Any]], Decoded]] = {
    "zendesk": _decode_zendesk,
    "jira": _decode_jira,
    "zammad": _decode_zammad,
    "glpi": _decode_glpi,
}
_MAPPERS: dict[str, Callable[[Source, Decoded, States, _Out], None]] = {
    "zendesk": _map_zendesk,
    "jira": _map_jira,
    "zammad": _map_zammad,
    "glpi": _map_glpi,
}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise Malformed("invalid JSON: nested too deeply") from None


def _instant(value: object, source: Source) -> float:
    """A provider's instant: ISO 8601 (with `Z`, `+01:00` or `+0100`), epoch seconds or
    milliseconds, or a local `YYYY-MM-DD HH:MM:SS` in the source's time zone."""
    if isinstance(value, bool) or value in (None, ""):
        raise Malformed(f"an instant is missing (got {_show(value)})")
    if isinstance(value, (int, float)):
        return float(value) / 1000.0 if value > 1e11 else float(value)
    text = str(value).strip()
    if text.isdigit():
        return _instant(int(text), source)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"instant {_show(value)} is not a date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zoneinfo.ZoneInfo(source.timezone))
    return parsed.timestamp()


def _iso_out(ts: float) -> str:
    d = dt.datetime.fromtimestamp(ts, dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + (f".{d.microsecond:06d}" if d.microsecond else "") + "Z"


def _named(v: object) -> Any:
    if isinstance(v, dict):
        return v.get("name") if v.get("name") not in (None, "") else v.get("value")
    return v


def _person(v: object) -> str | None:
    if isinstance(v, dict):
        return _str(v.get("displayName") or v.get("name") or v.get("emailAddress") or v.get("accountId"))
    return _str(v)


def _org(v: object) -> str | None:
    if isinstance(v, list):
        v = v[0] if v else None
    return _str(_named(v))


def _field_value(v: object) -> object:
    if isinstance(v, list):
        v = v[0] if v else None
    return _named(v)


def _text(v: object) -> str | None:
    """Jira Cloud comment bodies are Atlassian documents: their text nodes, joined."""
    if isinstance(v, dict):
        parts: list[str] = []
        _walk(v, parts)
        return " ".join(parts) or None
    return _str(v)


def _walk(node: object, parts: list[str]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("text"), str):
            parts.append(node["text"])
        for child in node.get("content") or []:
            _walk(child, parts)


def _str(v: object) -> str | None:
    if v is None or v == "" or isinstance(v, (dict, list)):
        return None
    return str(v)


def _show(v: object) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def advance(state: TicketState | None, events: Iterable[Event]) -> TicketState | None:
    """The state after `events` (one ticket's), as the store's projection would have it:
    lets the receiver map several deliveries for one ticket in one transaction."""
    for e in sorted(events, key=lambda ev: ev.order_key):
        if e.type == "created":
            state = TicketState("new", e.priority, e.assignee, True)
        elif state is None:
            continue
        elif e.type == "status" and state.is_open:
            state = replace(state, status=e.status or state.status)
        elif e.type == "priority":
            state = replace(state, priority=e.priority)
        elif e.type == "assign":
            state = replace(state, assignee=e.assignee)
        elif e.type in ENDING_STATUSES:
            state = replace(state, status=e.type, is_open=False)
        elif e.type == "reopened":
            state = replace(state, status="open", is_open=True)
    return state


def tickets_of(events: Iterable[Event]) -> tuple[str, ...]:
    """The tickets a list of events touches, sorted."""
    return tuple(sorted({e.ticket for e in events if e.ticket is not None}))
