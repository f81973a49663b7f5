"""Jira (Service Management) history as our events: an issue, its changelog and comments (docs/pull.md).

Jira's REST API gives an issue's current fields, its changelog (`/issue/KEY/changelog`:
histories with an `id`, a `created` instant and status, priority and assignee items)
and its comments (with `jsdPublic: false` for internal ones). This module turns them
into the webhook bodies Jira would have sent for that history, in order
(`jira:issue_created` with the fields as they were at creation, `jira:issue_updated`
per changelog history, `comment_created` per comment), and maps those through the
receiver's own mapping (`core.sources.payloads`). So a change seen by a webhook and
by a pull maps to the same event with the same id (the changelog id, the comment id)
and is stored once, and there is one mapping of Jira to maintain, not two.

The fields at creation are read backwards from the changelog: the first status,
priority and assignee items' `fromString`, else the current values.
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

# The issue fields the puller asks for (the source's customer field is added).
ISSUE_FIELDS = ("summary", "status", "priority", "created", "updated", "reporter", "assignee", "organization")


def deliveries(
    issue: Mapping[str, Any], histories: Sequence[Mapping[str, Any]], comments: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The webhook bodies of an issue's history, oldest first."""
    key = issue["key"]
    fields = dict(issue.get("fields") or {})
    histories = sorted(histories, key=lambda h: (_when(h.get("created")), str(h.get("id"))))
    at_creation = dict(fields)
    for name in ("status", "priority", "assignee"):
        for h in histories:
            item = next((i for i in h.get("items") or [] if str(i.get("field") or "").lower() == name), None)
            if item is not None:
                before = item.get("fromString")
                at_creation[name] = (
                    {"name": before} if name != "assignee" else ({"displayName": before} if before else None)
                )
                break
    out: list[tuple[float, int, dict[str, Any]]] = [
        (
            _when(fields.get("created")),
            0,
            {
                "webhookEvent": "jira:issue_created",
                "timestamp": fields.get("created"),
                "issue": {"key": key, "fields": at_creation},
            },
        )
    ]
    for h in histories:
        out.append(
            (
                _when(h.get("created")),
                1,
                {
                    "webhookEvent": "jira:issue_updated",
                    "timestamp": h.get("created"),
                    "issue": {"key": key, "fields": fields},
                    "changelog": {"id": h.get("id"), "items": h.get("items") or []},
                },
            )
        )
    for c in comments:
        out.append(
            (
                _when(c.get("created")),
                2,
                {
                    "webhookEvent": "comment_created",
                    "timestamp": c.get("created"),
                    "issue": {"key": key, "fields": fields},
                    "comment": c,
                },
            )
        )
    out.sort(key=lambda x: (x[0], x[1]))
    return [doc for _, _, doc in out]


def map_issue(
    source: Source,
    issue: Mapping[str, Any],
    histories: Sequence[Mapping[str, Any]],
    comments: Sequence[Mapping[str, Any]],
    *,
    seq: int = 1,
) -> TicketBatch:
    """The issue's whole history as events (numbered from `seq`), or the reason it is set aside."""
    key = str(issue.get("key") or "?")
    ours = ticket_id(source.ticket_prefix, key)
    created = _when((issue.get("fields") or {}).get("created"))
    early = [str(x.get("id")) for x in (*histories, *comments) if _when(x.get("created")) < created]
    if early:
        return TicketBatch(
            key,
            ours,
            problem=f"Jira issue {key}: its history starts before its creation (changelog or comment {early[0]}); "
            "nothing of it is stored",
        )
    try:
        events = replay(source, ours, deliveries(issue, histories, comments), state=None, seq=seq)
    except (InputError, Refusal) as exc:
        return TicketBatch(key, ours, problem=f"Jira issue {key}: {exc}")
    return TicketBatch(key, ours, events)


def jql_since(cursor_ms: float, zone: dt.tzinfo) -> str:
    """A JQL date (minutes, in the account's zone) one minute before the cursor: JQL
    compares whole minutes, so the minute of the cursor is read again (its issues are
    already stored and skipped)."""
    t = dt.datetime.fromtimestamp(cursor_ms / 1000.0 - 60, zone)
    return t.strftime("%Y-%m-%d %H:%M")


def _when(value: object) -> float:
    if value in (None, ""):
        return 0.0
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
