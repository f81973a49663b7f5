"""A Zammad REST API stand-in on loopback: ticket search, ticket history, articles, with faults.

Shapes as Zammad documents and serves them with `expand=true`:
- `GET /api/v1/tickets/search?query=updated_at:>=T&sort_by=updated_at&order_by=asc&page=N&per_page=M&expand=true`:
  a list of tickets with `state`, `priority`, `owner`, `customer`, `organization` by name;
  the query is Elasticsearch's `query_string` (colons in the instant escaped `\\:`).
- `GET /api/v1/ticket_history/ID`: `{"history": [...], "assets": {}}`, entries with `id`,
  `o_id`, `object` (`Ticket`, `Ticket::Article`), `type` (`created`, `updated`),
  `attribute`, `value_from`, `value_to`, `created_at`.
- `GET /api/v1/ticket_articles/by_ticket/ID?expand=true`: a list of articles with
  `sender`, `internal`, `created_by` (login), `created_at`.
Token access as Zammad documents it (`Authorization: Token token=...`); faults as in fake_http (`rate_limit`, `cut`, `down`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from fake_http import FakeServer
from source_fixtures import zammad_article, zammad_snapshot

T0 = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
_QUERY = re.compile(r"^updated_at:>=(\S+)$")


def zt(t: dt.datetime) -> str:
    """Zammad's spelling: milliseconds and Z."""
    t = t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class ZammadDesk:
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    history: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    articles: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    next_id: int = 500

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _entry(self, tid: int, at: dt.datetime, **kw: Any) -> None:
        self.history.setdefault(tid, []).append(
            {
                "id": self._id(),
                "o_id": tid,
                "object": "Ticket",
                "type": "updated",
                "attribute": None,
                "value_from": None,
                "value_to": None,
                "created_at": zt(at),
                "created_by_id": 3,
                **kw,
            }
        )

    def create(
        self,
        tid: int,
        at: dt.datetime,
        *,
        state: str = "new",
        priority: str = "2 normal",
        customer: str = "lee@acme.example",
        title: str = "Mailbox over quota",
    ) -> None:
        self.tickets[tid] = {
            "id": tid,
            "number": f"3{tid:05d}",
            "title": title,
            "state": state,
            "priority": priority,
            "group": "Users",
            "owner": "-",
            "customer": customer,
            "organization": "ACME",
            "created_at": zt(at),
            "updated_at": zt(at),
        }
        self.articles[tid] = []
        self._entry(tid, at, type="created")

    def change(self, tid: int, at: dt.datetime, attribute: str, after: str) -> None:
        t = self.tickets[tid]
        self._entry(tid, at, attribute=attribute, value_from=t[attribute], value_to=after)
        t[attribute] = after
        t["updated_at"] = zt(at)

    def article(
        self, tid: int, at: dt.datetime, *, sender: str, internal: bool, aid: int | None = None
    ) -> int:
        n = aid if aid is not None else self._id()
        self.articles.setdefault(tid, []).append(
            {
                "id": n,
                "ticket_id": tid,
                "sender": sender,
                "internal": internal,
                "type": "note" if internal else "email",
                "from": "Lee Customer <lee@acme.example>" if sender == "Customer" else "Emma Agent",
                "body": "Please raise the quota to 50 GB.",
                "created_at": zt(at),
                "created_by": "lee@acme.example" if sender == "Customer" else "emma",
            }
        )
        self._entry(tid, at, object="Ticket::Article", type="created", o_id=n, related_o_id=tid)
        if tid in self.tickets:
            self.tickets[tid]["updated_at"] = zt(at)
        return n


class FakeZammad(FakeServer):
    authorization = "Token token=zammad-api-token"

    def __init__(self, desk: ZammadDesk) -> None:
        super().__init__()
        self.desk = desk

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/tickets/search", self._search)
        app.router.add_get("/api/v1/ticket_history/{id}", self._history)
        app.router.add_get("/api/v1/ticket_articles/by_ticket/{id}", self._articles)

    async def _search(self, request: web.Request) -> web.StreamResponse:
        refused = self.gate(request)
        if refused is not None:
            return refused
        q = request.query
        m = _QUERY.match(q["query"])
        assert m and q["sort_by"] == "updated_at" and q["order_by"] == "asc" and q["expand"] == "true", q
        since = _parse(m.group(1).replace("\\:", ":"))
        hits = [t for t in self.desk.tickets.values() if _parse(t["updated_at"]) >= since]
        hits.sort(key=lambda t: (_parse(t["updated_at"]), t["id"]))
        page, size = int(q.get("page", "1")), int(q.get("per_page", "50"))
        return await self.answer(request, hits[(page - 1) * size : page * size])

    async def _history(self, request: web.Request) -> web.StreamResponse:
        refused = self.gate(request)
        if refused is not None:
            return refused
        tid = int(request.match_info["id"])
        return await self.answer(request, {"history": self.desk.history.get(tid, []), "assets": {}})

    async def _articles(self, request: web.Request) -> web.StreamResponse:
        refused = self.gate(request)
        if refused is not None:
            return refused
        return await self.answer(request, self.desk.articles.get(int(request.match_info["id"]), []))


def ticket_81() -> ZammadDesk:
    """Ticket 81 as the REST API tells it: the life `ticket_81_hooks` tell by webhook,
    the history stamped a few milliseconds off the snapshots, as Zammad does."""
    desk = ZammadDesk()
    desk.create(81, T0)
    desk.article(81, T0, sender="Customer", internal=False, aid=104)
    desk.article(
        81, dt.datetime(2026, 11, 20, 10, 0, 0, 300_000, dt.UTC), sender="Agent", internal=False, aid=105
    )
    desk.change(81, dt.datetime(2026, 11, 20, 10, 0, 0, 412_000, dt.UTC), "state", "pending reminder")
    desk.change(81, dt.datetime(2026, 11, 20, 11, 0, 0, 190_000, dt.UTC), "priority", "3 high")
    desk.change(81, dt.datetime(2026, 11, 20, 11, 0, 0, 190_000, dt.UTC), "state", "closed")
    return desk


def ticket_81_hooks() -> list[dict[str, Any]]:
    """Ticket 81's webhooks (snapshots), as the receiver's fixtures spell them."""
    return [
        zammad_snapshot(
            81,
            state="new",
            updated_at="2026-11-20T09:30:00.000Z",
            article=zammad_article(104, sender="Customer", internal=False, at="2026-11-20T09:30:00.000Z"),
        ),
        zammad_snapshot(
            81,
            state="pending reminder",
            updated_at="2026-11-20T10:00:00.377Z",
            article=zammad_article(105, sender="Agent", internal=False, at="2026-11-20T10:00:00.300Z"),
        ),
        zammad_snapshot(81, state="closed", priority="3 high", updated_at="2026-11-20T11:00:00.250Z"),
    ]
