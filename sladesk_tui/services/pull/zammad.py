"""Pulls a Zammad source: tickets updated since the cursor, each read whole (docs/pull.md).
The mapping is pure (`core.sources.zammad_history`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sladesk_tui.core.sources import zammad_history
from sladesk_tui.core.sources.batch import TicketBatch
from sladesk_tui.services.pull.base import Puller
from sladesk_tui.services.pull.stats import PullStats


class ZammadPuller(Puller[str]):
    """Pulls one Zammad source: tickets updated since the cursor, each read whole (its
    history and articles) and replayed as the snapshots its webhooks would have sent.

    The ticket search (Elasticsearch behind Zammad) is asked again from the cursor's
    instant for each page (`updated_at >= cursor`, oldest first), leaving out the
    tickets this round already stored, as the Jira puller does: a page number is
    only used to step over one instant that holds more than a page of tickets.

    The search's ``>=`` returns the tickets stored at the cursor's instant again in
    the next round; ``>`` would lose a ticket updated later at that same instant (in
    the same millisecond, or indexed late). So the cursor stays inclusive, and the
    puller remembers (`memo`, from round to round of ``--follow``) each ticket stored
    at the cursor's instant with a digest of its search result: one that comes back
    unchanged is not read again, while a new ticket at that instant, or one whose
    fields changed, is read whole.
    """

    MAX_PER_PAGE = 100

    def start(self, stored: str | None, since: str | None) -> str:
        """The newest `updated_at` stored, as Zammad writes it."""
        if stored:
            return stored
        if since is not None:
            return since.replace(" ", "T") + "Z"
        return "1970-01-01T00:00:00Z"

    async def run_once(self) -> PullStats:
        processed: set[str] = set()
        seen: dict[str, str] = {}  # at the cursor's instant: ticket id -> digest of its search result
        if self.memo.get("cursor") == self.cursor:
            seen = dict(self.memo.get("at_cursor", {}))
        page = 1
        try:
            return await self._rounds(processed, seen, page)
        finally:
            if not self.dry_run:
                self.memo.update(cursor=self.cursor, at_cursor=seen)

    async def _rounds(self, processed: set[str], seen: dict[str, str], page: int) -> PullStats:
        while True:
            found = await self.http.request(
                "GET",
                "/api/v1/tickets/search",
                params={
                    "query": f"updated_at:>={self.cursor.replace(':', chr(92) + ':')}",
                    "sort_by": "updated_at",
                    "order_by": "asc",
                    "page": str(page),
                    "per_page": str(self.per_page),
                    "expand": "true",
                },
            )
            if isinstance(found, dict):
                found = found.get("tickets") or []
            tickets = [t for t in found if isinstance(t, dict)] if isinstance(found, list) else []
            fresh = [
                t
                for t in tickets
                if str(t.get("id")) not in processed and seen.get(str(t.get("id"))) != _digest(t)
            ]
            if not fresh:
                if len(tickets) < self.per_page:
                    return self.stats
                page += 1  # an instant with more than a page of tickets
                continue
            batches: list[TicketBatch] = []
            seq = 1
            newest = self.cursor
            for t in fresh:
                tid = str(t.get("id"))
                doc = await self.http.request("GET", f"/api/v1/ticket_history/{tid}")
                history = doc.get("history") or [] if isinstance(doc, dict) else []
                arts = await self.http.request(
                    "GET", f"/api/v1/ticket_articles/by_ticket/{tid}", params={"expand": "true"}
                )
                b = zammad_history.map_ticket(
                    self.source,
                    t,
                    [h for h in history if isinstance(h, dict)],
                    [a for a in arts if isinstance(a, dict)] if isinstance(arts, list) else [],
                    seq=seq,
                )
                seq += len(b.events)
                batches.append(b)
                updated = str(t.get("updated_at") or "")
                if _instant_order(updated) > _instant_order(newest):
                    newest = updated
            self.store_page(batches, len(fresh), newest)
            processed.update(str(t.get("id")) for t in fresh)
            if newest != self.cursor:
                page = 1
                seen.clear()  # a later instant: what was stored at the old one is behind the cursor
            self.cursor = newest
            seen.update(
                (str(t.get("id")), _digest(t))
                for t in fresh
                if _instant_order(str(t.get("updated_at") or "")) == _instant_order(newest)
            )
            if len(tickets) < self.per_page:
                return self.stats


def _digest(ticket: dict[str, Any]) -> str:
    """What a ticket's search result says, in a few bytes: a change to any field reads it again."""
    text = json.dumps(ticket, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _instant_order(text: str) -> float:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return float("-inf")
    return parsed.timestamp() if parsed.tzinfo is not None else float("-inf")
