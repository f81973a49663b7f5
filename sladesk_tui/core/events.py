"""Ticket events as the clock engine sees them.

Instants are epoch seconds (UTC) as floats: the engine's hot loops work on numbers,
never on datetime objects (docs/calendars.md, "How it is fast"). Parsing and display convert at
the edges.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring as _ENCODE_STR  # what canonical_json's encoder calls for str
from typing import Any

from sladesk_tui.core.canonical import canonical_json, sha256_hex

# Every event type of docs/formats.md.
TICKET_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "created",
        "reply",
        "customer_reply",
        "note",
        "status",
        "priority",
        "assign",
        "resolved",
        "reopened",
        "closed",
    }
)
SERVICE_EVENT_TYPES: frozenset[str] = frozenset({"outage_start", "outage_end"})
EVENT_TYPES: frozenset[str] = TICKET_EVENT_TYPES | SERVICE_EVENT_TYPES

# Event types that end a ticket; `reopened` sets it back to `open`.
ENDING_TYPES: frozenset[str] = frozenset({"resolved", "closed"})

# Fields each type must carry beyond id/type/at (and ticket, for ticket events).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "created": ("customer", "priority", "title"),
    "status": ("status",),
    "priority": ("priority",),
    "assign": ("assignee",),
    "outage_start": ("service",),
    "outage_end": ("service",),
}

# The source of events an agent records in the app (`sladesk` TUI), as against the
# ticketing system's feed: "local actions" (docs/roles.md). Those of these types move
# a clock by hand; a desk setting can switch them off.
LOCAL_SOURCE = "tui"
LOCAL_CLOCK_TYPES: frozenset[str] = frozenset({"reply", "status", "priority", "resolved", "reopened"})

# Statuses a ticket can be in after a `status` event: a lowercase word.
STATUS_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a ticket's (or a service's) history.

    `seq` is the arrival order; events are applied in `(at, seq)` order, so two
    events at the same instant keep their file order. `author` is who the ticketing
    system says acted; `recorded_by` is the login that brought the event in (the feed
    account, or the agent in the app) and `source` how ("import:NAME", "tui", ...):
    both as stored, None on an event not stored yet, and neither in the digest.
    """

    id: str
    type: str
    at: float
    ticket: str | None = None
    seq: int = 0
    customer: str | None = None
    service: str | None = None
    priority: str | None = None
    title: str | None = None
    status: str | None = None
    assignee: str | None = None
    author: str | None = None
    agreement: str | None = None
    body: str | None = None
    recorded_by: str | None = None
    source: str | None = None

    @property
    def order_key(self) -> tuple[float, int]:
        return (self.at, self.seq)

    @property
    def is_local(self) -> bool:
        """Recorded by an agent in the app, not by the system of record."""
        return self.source == LOCAL_SOURCE

    @property
    def moves_clock_by_hand(self) -> bool:
        """A local action that moves a clock: shown as such and counted in the leads' figures."""
        return self.is_local and self.type in LOCAL_CLOCK_TYPES


OPTIONAL_FIELDS: tuple[str, ...] = (
    "customer",
    "service",
    "priority",
    "title",
    "status",
    "assignee",
    "author",
    "agreement",
    "body",
)
"""The fields an event may leave out, in the events file's order."""

DIGEST_FIELDS: tuple[str, ...] = ("id", "type", "at", "ticket", *OPTIONAL_FIELDS)


def event_digest(ev: Event) -> str:
    """sha256 of the event's content (not its arrival order): a repeated id with the
    same digest is a harmless re-import, a different digest a conflict.

    `at` enters as integer microseconds so float noise never makes a conflict. The
    bytes are `canonical_json` of the present fields (sorted keys, no spaces, UTF-8
    kept), spelled out here field by field: this runs once per imported event, and
    building a dict for the general encoder cost as much as the rest of the digest.
    `tests/core/test_event_digest.py` holds the two spellings equal.
    """
    parts = []
    for name, prefix in _DIGEST_BEFORE_AT:
        v = getattr(ev, name)
        if v is not None:
            parts.append(prefix + _encode_str(v))
    parts.append(f'"at":{round(ev.at * 1_000_000)}')
    for name, prefix in _DIGEST_AFTER_AT:
        v = getattr(ev, name)
        if v is not None:
            parts.append(prefix + _encode_str(v))
    return hashlib.sha256(("{" + ",".join(parts) + "}").encode("utf-8")).hexdigest()


def event_digest_reference(ev: Event) -> str:
    """The digest by the general canonical encoder: what `event_digest` must equal."""
    doc: dict[str, object] = {f: v for f in DIGEST_FIELDS if (v := getattr(ev, f)) is not None}
    doc["at"] = round(ev.at * 1_000_000)
    return sha256_hex(canonical_json(doc))


def _encode_str(v: object) -> str:
    if type(v) is not str:  # Event fields are text; anything else takes the general path
        return canonical_json(v)
    return _ENCODE_STR(v)


_SORTED_FIELDS = sorted(DIGEST_FIELDS)
_AT = _SORTED_FIELDS.index("at")
_DIGEST_BEFORE_AT = tuple((f, f'"{f}":') for f in _SORTED_FIELDS[:_AT])
_DIGEST_AFTER_AT = tuple((f, f'"{f}":') for f in _SORTED_FIELDS[_AT + 1 :])


def event_maker(spelled: Mapping[str, str], params: str) -> Callable[..., Event]:
    """A function of `params` (Python parameter text) returning the `Event` whose
    fields are the expressions `spelled` gives (by field name; the others take their
    defaults): `Event(**...)` at about half the cost.

    A big import builds a million events (docs/bulk_import.md), and a frozen
    dataclass's `__init__` sets each field through `object.__setattr__`; the maker
    sets the slots directly, in code generated from the dataclass's own fields (as
    `dataclasses` generates `__init__`). The expressions are the caller's constant
    code, never data. Should `Event` ever need more than its fields (a
    `__post_init__`, a required field not spelled), the maker calls `Event` itself.
    """
    fields = dataclasses.fields(Event)
    args = ", ".join(f"{f.name}={spelled[f.name]}" for f in fields if f.name in spelled)
    plain = hasattr(Event, "__post_init__") or any(
        f.name not in spelled and f.default is dataclasses.MISSING for f in fields
    )
    scope: dict[str, Any] = {"_new": object.__new__, "_Event": Event}
    if plain:
        lines = [f"def make({params}):", f"    return _Event({args})"]
    else:
        lines = [f"def make({params}):", "    e = _new(_Event)"]
        for f in fields:
            scope[f"_set_{f.name}"] = getattr(Event, f.name).__set__
            scope[f"_default_{f.name}"] = f.default
            lines.append(f"    _set_{f.name}(e, {spelled.get(f.name, f'_default_{f.name}')})")
        lines.append("    return e")
    exec("\n".join(lines), scope)  # noqa: S102 - the caller's constant expressions and Event's own field names
    maker: Callable[..., Event] = scope["make"]
    return maker
