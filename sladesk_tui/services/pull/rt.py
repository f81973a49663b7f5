"""Pulls a Request Tracker source through REST2: the transactions after the cursor,
a page at a time (docs/pull.md). The mapping is pure (`core.sources.rt`).

Keyset paging: each request asks for the transactions with an id above the cursor,
in id order, never for "page 7": a page number shifts when RT changes under us, a
key does not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sladesk_tui.core.sources import rt
from sladesk_tui.core.sources.batch import TicketBatch
from sladesk_tui.core.sources.ids import ticket_id
from sladesk_tui.services.pull.base import Puller
from sladesk_tui.services.pull.stats import PullStats
from sladesk_tui.store.pulls import stored_tickets

_TICKETS_PER_LOOKUP = 50


class RtPuller(Puller[int]):
    """Pulls one RT source: the transactions after the cursor, a batch per page."""

    def start(self, stored: str | None, since: str | None) -> int:
        # `--since` filters by creation instead (`batch`): RT's cursor is a transaction id.
        return int(stored) if stored and stored.isdigit() else 0

    async def run_once(self) -> PullStats:
        while True:
            if not await self.batch():
                return self.stats

    async def batch(self) -> bool:
        """One page of transactions after the cursor, stored. False when caught up."""
        cursor = self.cursor
        query: list[dict[str, Any]] = [
            {"field": "ObjectType", "value": "RT::Ticket"},
            {"field": "id", "operator": ">", "value": cursor},
        ]
        if self.since is not None:
            query.append({"field": "Created", "operator": ">=", "value": self.since})
        page = await self.http.request(
            "POST",
            "/REST/2.0/transactions",
            params={
                "fields": rt.TRANSACTION_FIELDS,
                "fields[Creator]": "Name",
                "per_page": str(self.per_page),
                "page": "1",
                "orderby": "id",
                "order": "ASC",
            },
            body=query,
        )
        items = page.get("items") or [] if isinstance(page, dict) else []
        if not items:
            return False
        txs = [rt.parse_transaction(i) for i in items]
        txs.sort(key=lambda t: t.id)
        last = txs[-1].id
        by_ticket: dict[int, list[rt.RtTransaction]] = defaultdict(list)
        for tx in txs:
            by_ticket[tx.ticket].append(tx)
        batches = await self._map(by_ticket, last)
        self.store_page(batches, len(txs), str(last))
        self.cursor = last
        return len(items) >= self.per_page

    async def _map(self, by_ticket: Mapping[int, list[rt.RtTransaction]], last: int) -> list[TicketBatch]:
        relevant = {t: txs for t, txs in by_ticket.items() if not all(rt.is_noise(x) for x in txs)}
        if not relevant:
            return []
        ours = {t: ticket_id(self.source.ticket_prefix, t) for t in relevant}
        stored = stored_tickets(self.conn, ours.values()) | (self.mapped & set(ours.values()))
        # A ticket we do not hold whose creation is before this batch (a backfill with
        # --since, a ticket set aside before): its whole history up to this batch.
        histories: dict[int, list[rt.RtTransaction]] = {}
        for t, txs in relevant.items():
            if ours[t] not in stored and txs[0].type != "Create":
                histories[t] = [x for x in await self._history(t) if x.id <= last]
        tickets = await self._tickets(
            list(relevant), need_first_priority=[t for t in relevant if ours[t] not in stored]
        )
        out: list[TicketBatch] = []
        seq = 1
        for t, txs in relevant.items():
            chosen = histories.get(t, txs)
            if not chosen:
                chosen = txs
            b = rt.map_ticket(self.source, tickets.get(t), chosen, stored=ours[t] in stored, seq=seq)
            seq += len(b.events)
            out.append(b)
        return out

    async def _history(self, ticket: int) -> list[rt.RtTransaction]:
        """A ticket's history in id order. Page numbers are safe here: a history only grows at its end."""
        out: list[rt.RtTransaction] = []
        page = 1
        while True:
            doc = await self.http.request(
                "GET",
                f"/REST/2.0/ticket/{ticket}/history",
                params={
                    "fields": rt.TRANSACTION_FIELDS,
                    "fields[Creator]": "Name",
                    "per_page": str(self.per_page),
                    "page": str(page),
                },
            )
            items = doc.get("items") or [] if isinstance(doc, dict) else []
            out.extend(rt.parse_transaction({"ObjectId": ticket, **i}) for i in items)
            if len(items) < self.per_page:
                break
            page += 1
        out.sort(key=lambda x: x.id)
        return out

    async def _tickets(
        self, ids: Sequence[int], *, need_first_priority: Sequence[int]
    ) -> dict[int, rt.RtTicket]:
        """The tickets' queue, subject, requestors and priority at creation, a few requests for all."""
        first_old: dict[int, str] = {}
        for i in range(0, len(need_first_priority), _TICKETS_PER_LOOKUP):
            part = need_first_priority[i : i + _TICKETS_PER_LOOKUP]
            items = await self._all(
                "POST",
                "/REST/2.0/transactions",
                {"fields": "ObjectId,OldValue", "orderby": "id", "order": "ASC"},
                [
                    {"field": "ObjectType", "value": "RT::Ticket"},
                    {"field": "Type", "value": "Set"},
                    {"field": "Field", "value": "Priority"},
                    {"field": "ObjectId", "operator": "IN", "value": list(part)},
                ],
            )
            for it in items:
                first_old.setdefault(int(str(it.get("ObjectId"))), str(it.get("OldValue") or ""))
        out: dict[int, rt.RtTicket] = {}
        for i in range(0, len(ids), _TICKETS_PER_LOOKUP):
            part = ids[i : i + _TICKETS_PER_LOOKUP]
            items = await self._all(
                "GET",
                "/REST/2.0/tickets",
                {
                    "query": " OR ".join(f"id = {t}" for t in part),
                    "fields": rt.TICKET_FIELDS,
                    "fields[Queue]": "Name",
                    "fields[Requestor]": "EmailAddress",
                },
                None,
            )
            for it in items:
                tk = rt.parse_ticket(it, first_old.get(int(str(it["id"]))))
                out[tk.id] = tk
        return out

    async def _all(self, method: str, path: str, params: dict[str, str], body: Any) -> list[dict[str, Any]]:
        """Every page of a small search (bounded by the ids asked for)."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            doc = await self.http.request(
                method, path, params={**params, "per_page": "100", "page": str(page)}, body=body
            )
            items = doc.get("items") or [] if isinstance(doc, dict) else []
            out.extend(i for i in items if isinstance(i, dict))
            if len(items) < 100:
                return out
            page += 1
