"""Event and ticket ids derived from the provider's own ids (docs/sources.md).

A webhook and a later history pull of the same change must produce the same event
id, so the store's idempotency (same id, same digest: skipped) never counts a change
twice. Both paths therefore build ids here, from the source's name and the
provider's ids of the ticket and of the change (a comment, a changelog entry, an RT
transaction). A change without an id of its own (a snapshot's new status) is keyed
by its new value and the instant the provider stamped it.

An id that would not fit the event format (over 100 characters, or holding spaces
or control characters) is replaced by a digest of the same parts: still
deterministic, still distinct.
"""

from __future__ import annotations

import re

from sladesk_tui.core.canonical import sha256_hex
from sladesk_tui.core.eventfile import TOKEN_PATTERN

MAX_ID = 100
_TOKEN = re.compile(TOKEN_PATTERN)
# Kinds of change an id is derived for; the pull helper uses the same names.
KINDS: frozenset[str] = frozenset(
    {"created", "comment", "status", "priority", "assign", "resolved", "reopened", "closed", "change"}
)


def _fits(text: str) -> bool:
    return len(text) <= MAX_ID and _TOKEN.fullmatch(text) is not None


def ticket_id(prefix: str, provider_ticket: str | int) -> str:
    """Our ticket id for the provider's ticket: the source's prefix and its id."""
    tid = f"{prefix}{provider_ticket}"
    return tid if _fits(tid) else f"{prefix}h{sha256_hex(str(provider_ticket))[:32]}"


def event_id(source: str, provider_ticket: str | int, kind: str, key: str | int) -> str:
    """`SOURCE:TICKET:KIND:KEY`, e.g. `zd:4711:comment:99102` or
    `zammad:42:status:pending reminder@...` digested when it does not fit.

    `key` is the provider's id of the change when it has one; else the new value and
    the provider's instant of the change (`value@2026-11-27T08:05:00Z`).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown change kind {kind!r}")
    eid = f"{source}:{provider_ticket}:{kind}:{key}"
    if _fits(eid):
        return eid
    digest = sha256_hex("\x00".join((str(provider_ticket), kind, str(key))))
    return f"{source}:{kind}:h{digest[:40]}"


def snapshot_key(value: str | int, instant_iso: str) -> str:
    """The key of a change known only from a snapshot: its new value and when."""
    return f"{value}@{instant_iso}"
