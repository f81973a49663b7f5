"""A Zendesk Support API stand-in on loopback: the incremental ticket event export,
a ticket's audits and `show_many`, in the shapes Zendesk documents, with faults.

- `GET /api/v2/incremental/ticket_events.json?start_time=T&include=comment_events`:
  `ticket_events` (audits from the second T on, oldest first, `per_page` of them),
  `end_time` (the last one's second), `end_of_stream`, `next_page`, `count`. Each
  audit: `id`, `ticket_id`, `timestamp`, `created_at`, `updater_id`, `event_type:
  "Audit"`, `child_events`: `Create` and `Change` with the field as a key (and
  `previous_value`), `Comment` with `id`, `public`, `author_id`, `body`, `audit_id`.
- `GET /api/v2/tickets/ID/audits.json`: `audits` with `events` in the audit
  spelling (`type`, `field_name`, `value`, `previous_value`), `next_page`.
- `GET /api/v2/users/show_many.json?ids=1,2`: `users` with `name` and `role`.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from fake_http import FakeServer
from source_fixtures import zendesk_comment, zendesk_created, zendesk_status

T0 = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
AGENT = 77
REQUESTER = 555
USERS = {
    AGENT: {"id": AGENT, "name": "Sam Agent", "role": "agent"},
    REQUESTER: {"id": REQUESTER, "name": "Pat Customer", "role": "end-user"},
}


def zt(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ZendeskDesk:
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    audits: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 9000

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def audit(self, ticket: int, at: dt.datetime, children: list[dict[str, Any]], by: int = AGENT) -> int:
        aid = self._id()
        for c in children:
            c.setdefault("id", self._id())
            c.setdefault("via", "Web form")
            if c["event_type"] == "Comment":
                c["audit_id"] = aid
        self.audits.append(
            {
                "id": aid,
                "ticket_id": ticket,
                "timestamp": int(at.timestamp()),
                "created_at": zt(at),
                "updater_id": by,
                "via": "Web form",
                "system": {},
                "metadata": {},
                "event_type": "Audit",
                "merged_ticket_ids": [],
                "child_events": children,
            }
        )
        return aid

    def create(
        self,
        ticket: int,
        at: dt.datetime,
        *,
        status: str = "new",
        priority: str = "high",
        org: int = 9001,
        subject: str | None = None,
    ) -> None:
        self.tickets[ticket] = {"id": ticket, "requester_id": REQUESTER, "organization_id": org}
        fields = {
            "subject": subject or f"Ticket {ticket}",
            "status": status,
            "priority": priority,
            "organization_id": org,
            "requester_id": REQUESTER,
        }
        children: list[dict[str, Any]] = [{"event_type": "Create", k: v} for k, v in fields.items()]
        children.append(
            {"event_type": "Comment", "public": True, "author_id": REQUESTER, "body": "It is broken."}
        )
        self.audit(ticket, at, children, by=REQUESTER)

    def change(self, ticket: int, at: dt.datetime, name: str, before: str, after: str) -> None:
        self.audit(ticket, at, [{"event_type": "Change", name: after, "previous_value": before}])

    def comment(
        self, ticket: int, at: dt.datetime, *, public: bool, by: int = AGENT, cid: int | None = None
    ) -> int:
        c: dict[str, Any] = {
            "event_type": "Comment",
            "public": public,
            "author_id": by,
            "body": "Working on it.",
        }
        if cid is not None:
            c["id"] = cid
        self.audit(ticket, at, [c], by=by)
        return int(c["id"])


class FakeZendesk(FakeServer):
    # API token authentication: basic auth as `EMAIL/token:TOKEN`
    authorization = "Basic " + base64.b64encode(b"sladesk@acme.example/token:zendesk-api-token").decode()
    unauthorized = '{"error": "Couldn\'t authenticate you"}'

    def __init__(self, desk: ZendeskDesk, *, audits_per_page: int = 2) -> None:
        super().__init__()
        self.desk = desk
        self.audits_per_page = audits_per_page

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v2/incremental/ticket_events.json", self._export)
        app.router.add_get("/api/v2/users/show_many.json", self._users)
        app.router.add_get("/api/v2/tickets/{id}/audits.json", self._audits)

    async def _export(self, request: web.Request) -> web.StreamResponse:
        refused = self.gate(request)
        if refused is not None:
            return refused
        assert request.query.get("include") == "comment_events"
        start = int(request.query["start_time"])
        size = int(request.query.get("per_page", "1000"))
        hits = sorted(
            (a for a in self.desk.audits if a["timestamp"] >= start), key=lambda a: (a["timestamp"], a["id"])
        )
        chunk = hits[:size]
        end = chunk[-1]["timestamp"] if chunk else start
        return await self.answer(
            request,
            {
                "ticket_events": chunk,
                "count": len(chunk),
                "end_time": end,
                "end_of_stream": len(hits) <= size,
                "next_page": f"{self.url}/api/v2/incremental/ticket_events.json?start_time={end}",
            },
        )

    async def _audits(self, request: web.Request) -> web.StreamResponse:
        refused = self.gate(request)
        if refused is not None:
            return refused
        tid = int(request.match_info["id"])
        mine = [a for a in self.desk.audits if a["ticket_id"] == tid]
        page = int(request.query.get("page", "1"))
        size = self.audits_per_page
        chunk = mine[(page - 1) * size : page * size]
        audits = [
            {
                "id": a["id"],
                "ticket_id": tid,
                "created_at": a["created_at"],
                "author_id": a["updater_id"],
                "via": {"channel": "web"},
                "metadata": {},
                "events": [_audit_spelling(c) for c in a["child_events"]],
            }
            for a in chunk
        ]
        more = page * size < len(mine)
        return await self.answer(
            request,
            {
                "audits": audits,
                "count": len(mine),
                "next_page": f"{self.url}/api/v2/tickets/{tid}/audits.json?page={page + 1}" if more else None,
                "previous_page": None,
            },
        )

    async def _users(self, request: web.Request) -> web.StreamResponse:
        refused = self.gate(request)
        if refused is not None:
            return refused
        ids = [int(i) for i in request.query["ids"].split(",")]
        return await self.answer(request, {"users": [USERS[i] for i in ids if i in USERS]})


def _audit_spelling(child: dict[str, Any]) -> dict[str, Any]:
    """An export child event as the audits endpoint spells it."""
    kind = child["event_type"]
    if kind == "Comment":
        return {k: v for k, v in child.items() if k not in ("event_type", "audit_id", "via")} | {
            "type": "Comment"
        }
    name = next(k for k in child if k not in ("id", "event_type", "previous_value", "via"))
    out = {"id": child["id"], "type": kind, "field_name": name, "value": child[name]}
    if "previous_value" in child:
        out["previous_value"] = child["previous_value"]
    return out


def ticket_4711() -> ZendeskDesk:
    """Ticket 4711 as the export shows it: the life the receiver's fixtures tell by
    webhook (created, a public reply, pending, solved)."""
    desk = ZendeskDesk()
    desk.create(
        4711,
        dt.datetime(2026, 11, 27, 8, 5, tzinfo=dt.UTC),
        status="open",
        subject="Printer on floor 3 prints only blank pages",
    )
    desk.audit(
        4711,
        dt.datetime(2026, 11, 27, 8, 30, tzinfo=dt.UTC),
        [
            {
                "id": 901,
                "event_type": "Comment",
                "public": True,
                "author_id": AGENT,
                "body": "Swapped the toner cartridge, please try again.",
            }
        ],
    )
    desk.change(4711, dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC), "status", "open", "pending")
    desk.change(4711, dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC), "status", "pending", "solved")
    return desk


def ticket_4711_hooks() -> list[dict[str, Any]]:
    """Ticket 4711's webhooks, as the receiver's fixtures spell them."""
    return [
        zendesk_created(4711, status="OPEN", priority="HIGH"),
        zendesk_comment(4711, comment_id=901, public=True, staff=True, time="2026-11-27T08:30:00Z"),
        zendesk_status(4711, "PENDING", "OPEN", eid="01ZDS1", time="2026-11-27T09:00:00Z"),
        zendesk_status(4711, "SOLVED", "PENDING", eid="01ZDS2", time="2026-11-27T10:00:00Z"),
    ]
