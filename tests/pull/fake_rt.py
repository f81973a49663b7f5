"""A small Request Tracker REST2 stand-in on loopback: RT's response shapes, with faults on demand.

Serves what the puller asks of a real RT 5 (`POST /REST/2.0/transactions` with a
JSON query, `GET /REST/2.0/tickets?query=id = 1 OR ...`, `GET /ticket/N/history`),
shaped like RT 5.0.3's answers (ids as strings, `Creator` as a user object, `Created`
in UTC with Z). Faults as every stand-in (fake_http): `rate_limit`, `cut`, `down`,
`down_after`. The real RT is tested in test_pull_rt_real.py; this one
makes the rare paths happen on purpose, and serves the 100k-transaction benchmark.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from fake_http import FakeServer

T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Desk:
    """Tickets and their transactions, in id order, as RT would hold them."""

    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    transactions: list[dict[str, Any]] = field(default_factory=list)
    next_tx: int = 100

    @property
    def by_ticket(self) -> dict[str, list[dict[str, Any]]]:
        """Transactions per ticket (rebuilt when the list changed length)."""
        if getattr(self, "_index_len", -1) != len(self.transactions):
            index: dict[str, list[dict[str, Any]]] = {}
            for t in self.transactions:
                index.setdefault(t["ObjectId"], []).append(t)
            self._index, self._index_len = index, len(self.transactions)
        return self._index

    def add_ticket(
        self, tid: int, *, queue: str, requestor: str, priority: int, subject: str, at: dt.datetime
    ) -> None:
        self.tickets[tid] = {
            "id": str(tid),
            "Queue": {"id": "1", "Name": queue, "type": "queue"},
            "Requestor": [{"id": requestor, "EmailAddress": requestor, "type": "user"}],
            "Priority": str(priority),
            "Subject": subject,
            "Status": "new",
            "Created": iso(at),
        }
        self.tx(tid, "Create", at)
        self.tx(tid, "EmailRecord", at, creator="RT_System")

    def tx(
        self,
        tid: int,
        kind: str,
        at: dt.datetime | str,
        *,
        field: str = "",
        old: str = "",
        new: str = "",
        creator: str = "root",
    ) -> int:
        self.next_tx += 1
        self.transactions.append(
            {
                "id": str(self.next_tx),
                "type": "transaction",
                "Type": kind,
                "Field": field,
                "OldValue": old,
                "NewValue": new,
                "Created": at if isinstance(at, str) else iso(at),
                "Creator": {"id": creator, "type": "user"},
                "ObjectId": str(tid),
                "ObjectType": "RT::Ticket",
            }
        )
        if kind == "Set" and field == "Priority":
            self.tickets[tid]["Priority"] = new
        if kind == "Status":
            self.tickets[tid]["Status"] = new
        return self.next_tx


def generated_desk(tickets: int, *, seed: int = 7, queue: str = "General") -> Desk:
    """`tickets` tickets of 11 transactions each (two EmailRecord noise), interleaved in time."""
    rnd = random.Random(seed)
    plan: list[tuple[dt.datetime, int, int]] = []
    for t in range(1, tickets + 1):
        start = T0 + dt.timedelta(seconds=t * 37)
        for k in range(10):
            plan.append((start + dt.timedelta(minutes=k * rnd.randint(1, 9)), t, k))
    plan.sort()
    desk = Desk()
    for at, t, k in plan:
        if k == 0:
            desk.add_ticket(
                t,
                queue=queue,
                requestor=f"user{t}@acme.example",
                priority=rnd.choice([10, 30, 60, 90]),
                subject=f"Ticket {t}",
                at=at,
            )
        elif k == 1:
            desk.tx(t, "Comment", at)
        elif k == 2:
            desk.tx(t, "Correspond", at)
        elif k == 3:
            desk.tx(t, "Status", at, field="Status", old="new", new="open", creator="RT_System")
        elif k == 4:
            desk.tx(t, "EmailRecord", at, creator="RT_System")
        elif k == 5:
            desk.tx(t, "Status", at, field="Status", old="open", new="stalled")
        elif k == 6:
            desk.tx(t, "Status", at, field="Status", old="stalled", new="open")
        elif k == 7:
            old = desk.tickets[t]["Priority"]
            desk.tx(t, "Set", at, field="Priority", old=old, new=str(min(99, int(old) + 25)))
        elif k == 8:
            desk.tx(t, "Correspond", at)
        else:
            desk.tx(t, "Status", at, field="Status", old="open", new="resolved")
    return desk


class FakeRt(FakeServer):
    """The server. `requests` counts every request; faults key on that count (1-based)."""

    def __init__(self, desk: Desk) -> None:
        super().__init__()
        self.desk = desk

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/REST/2.0/transactions", self._transactions)
        app.router.add_get("/REST/2.0/tickets", self._tickets)
        app.router.add_get("/REST/2.0/ticket/{id}/history", self._history)

    @staticmethod
    def _page(items: list[dict[str, Any]], request: web.Request) -> dict[str, Any]:
        per_page = int(request.query.get("per_page", "20"))
        page = int(request.query.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        pages = (len(items) + per_page - 1) // per_page
        return {
            "count": len(chunk),
            "page": page,
            "per_page": per_page,
            "pages": pages,
            "total": len(items),
            "items": chunk,
        }

    async def _transactions(self, request: web.Request) -> web.StreamResponse:
        refused = self.gate(request)
        if refused is not None:
            return refused
        query = await request.json()
        per_page = int(request.query.get("per_page", "20"))
        page = int(request.query.get("page", "1"))
        txs = self.desk.transactions  # in id order
        start = 0
        by_ticket = [c for c in query if c["field"] == "ObjectId" and c.get("operator") == "IN"]
        if by_ticket:  # what RT's index on ObjectId does: only those tickets' transactions
            wanted = {str(x) for x in by_ticket[0]["value"]}
            txs = [t for tid in sorted(wanted, key=int) for t in self.desk.by_ticket.get(tid, ())]
            txs.sort(key=lambda t: int(t["id"]))
        tests = []
        for cond in query:
            f, op, v = cond["field"], cond.get("operator", "="), cond["value"]
            if f == "id" and op == ">":
                start = max(start, bisect.bisect_right(txs, int(v), key=lambda t: int(t["id"])))
            elif f == "Created" and op == ">=":
                tests.append(lambda t, v=v: t["Created"].replace("T", " ").rstrip("Z") >= v)
            elif op == "IN":
                tests.append(lambda t, f=f, w=frozenset(str(x) for x in v): str(t[f]) in w)
            elif op == "=":
                tests.append(lambda t, f=f, v=str(v): str(t[f]) == v)
            else:
                raise web.HTTPBadRequest(text=f"unsupported condition {cond}")
        matching = (t for t in itertools.islice(txs, start, None) if all(test(t) for test in tests))
        # enough for the page asked and one more (RT reports totals; the puller does not read them)
        items = list(itertools.islice(matching, page * per_page + 1))
        return await self.answer(request, self._page(items, request))

    async def _tickets(self, request: web.Request) -> web.StreamResponse:
        refused = self.gate(request)
        if refused is not None:
            return refused
        ids = [int(p.split("=")[1]) for p in request.query["query"].split(" OR ")]
        items = [self.desk.tickets[i] for i in ids if i in self.desk.tickets]
        return await self.answer(request, self._page(items, request))

    async def _history(self, request: web.Request) -> web.StreamResponse:
        refused = self.gate(request)
        if refused is not None:
            return refused
        tid = request.match_info["id"]
        items = list(self.desk.by_ticket.get(tid, ()))
        return await self.answer(request, self._page(items, request))
