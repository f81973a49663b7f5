"""Pulls a Zendesk source: the incremental ticket event export from the cursor (docs/pull.md).
The mapping is pure (`core.sources.zendesk_history`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.sources import zendesk_history
from sladesk_tui.core.sources.batch import TicketBatch
from sladesk_tui.core.sources.ids import ticket_id
from sladesk_tui.core.sources.payloads import TicketState
from sladesk_tui.core.sources.replay import advance
from sladesk_tui.services.pull.base import Puller, since_epoch
from sladesk_tui.services.pull.stats import PullError, PullStats
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.queries import load_ticket


class ZendeskPuller(Puller[int]):
    """Pulls one Zendesk source: the incremental ticket event export from the cursor.

    The export is time-based: `start_time` asks for the audits from that second on,
    and each page says where the next starts (`end_time`) and whether it reached the
    present (`end_of_stream`). The cursor is `end_time`, committed with the page's
    events; the next page reads that second again (Zendesk's documented overlap), and
    its audits are skipped as present. Export requests keep to Zendesk's 10 a minute
    (fewer when `max_per_minute` says so); a 429 waits for its Retry-After.
    """

    EXPORT = "/api/v2/incremental/ticket_events.json"
    EXPORTS_PER_MINUTE = 10

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.export = self.http.with_budget(self.EXPORTS_PER_MINUTE)
        self._dry_states: dict[str, TicketState | None] = {}  # dry run: tickets this run would hold

    def start(self, stored: str | None, since: str | None) -> int:
        """The export's `start_time`: epoch seconds."""
        if stored and stored.isdigit():
            return int(stored)
        if since is not None:
            return int(since_epoch(since))
        return 0

    async def run_once(self) -> PullStats:
        while True:
            page = await self.export.request(
                "GET",
                self.EXPORT,
                params=self._params(),
            )
            if not isinstance(page, dict):
                raise PullError(f"{self.EXPORT}: the answer is not a JSON object")
            items = [i for i in page.get("ticket_events") or [] if isinstance(i, dict)]
            end_time = page.get("end_time")
            end = (
                int(end_time)
                if isinstance(end_time, (int, float)) and not isinstance(end_time, bool)
                else None
            )
            if end is None:
                raise PullError(f"{self.EXPORT}: the answer has no end_time")
            if items:
                batches = await self._map(items, end)
                self.store_page(batches, len(items), str(max(end, self.cursor)))
            if page.get("end_of_stream") is True or not items:
                self.cursor = max(end, self.cursor)
                return self.stats
            if end <= self.cursor:
                self.http.log(
                    f"more audits in the second {self.cursor} than a page holds: the rest of that second "
                    "is left for Zendesk's next export (raise per_page)"
                )
                self.cursor += 1
                continue
            self.cursor = end

    def _params(self) -> dict[str, str]:
        params = {"start_time": str(self.cursor), "include": "comment_events"}
        if "per_page" in (self.source.pull or {}):  # else Zendesk's own page (up to 1000)
            params["per_page"] = str(self.http.cfg.per_page)
        return params

    async def _map(self, items: list[dict[str, Any]], end: int) -> list[TicketBatch]:
        by_ticket: dict[str, list[zendesk_history.Audit]] = defaultdict(list)
        problems: dict[str, str] = {}
        for item in items:
            try:
                a = zendesk_history.parse_export_item(item)
            except InputError as exc:
                tid = str(item.get("ticket_id") or "?")
                problems[tid] = str(exc)
                continue
            by_ticket[a.ticket].append(a)
        ours = {t: ticket_id(self.source.ticket_prefix, t) for t in by_ticket}
        # Each ticket's state just before its first audit of this page: webhooks may
        # have stored later changes already, and replaying an older change against
        # the newest state would misread it (a past `pending` as a reopening).
        states: dict[str, TicketState | None] = {}
        for t, audits in by_ticket.items():
            first = min(a.when for a in audits)
            states[ours[t]] = self._dry_states.get(ours[t]) or state_before(self.conn, ours[t], first)
        # A ticket we do not hold whose creation is not in this page (a backfill with
        # --since, a ticket set aside before): its audits from the start, up to this page.
        for t, audits in by_ticket.items():
            if states.get(ours[t]) is None and not any(a.creates for a in audits):
                whole = [a for a in await self._audits(t) if a.when <= end]
                if whole:
                    by_ticket[t] = whole
        authors = await self._authors(
            sorted(
                {str(c.get("author_id")) for a in _all(by_ticket) for c in a.comments if c.get("author_id")}
            )
        )
        out: list[TicketBatch] = [
            TicketBatch(t, ticket_id(self.source.ticket_prefix, t), problem=p) for t, p in problems.items()
        ]
        seq = 1
        for t, audits in by_ticket.items():
            b = zendesk_history.map_ticket(
                self.source, t, audits, state=states.get(ours[t]), authors=authors, seq=seq
            )
            seq += len(b.events)
            out.append(b)
            if self.dry_run and b.problem is None:
                self._dry_states[b.ticket] = advance(states.get(ours[t]), b.events)
        return out

    async def _audits(self, ticket: str) -> list[zendesk_history.Audit]:
        """A ticket's audits, oldest first, every page (`next_page` until there is none)."""
        out: list[zendesk_history.Audit] = []
        url: str | None = f"/api/v2/tickets/{ticket}/audits.json"
        while url:
            doc = await self.http.request("GET", url)
            if not isinstance(doc, dict):
                break
            for item in doc.get("audits") or []:
                if isinstance(item, dict):
                    try:
                        out.append(zendesk_history.parse_ticket_audit({"ticket_id": ticket, **item}))
                    except InputError:
                        continue
            nxt = doc.get("next_page")
            url = nxt if isinstance(nxt, str) and nxt else None
        return out

    async def _authors(self, ids: Sequence[str]) -> dict[str, zendesk_history.Author]:
        """Comment authors' names and roles (the webhook's `author.name`, `is_staff`), 100 a request."""
        out: dict[str, zendesk_history.Author] = {}
        for i in range(0, len(ids), 100):
            part = ids[i : i + 100]
            doc = await self.http.request(
                "GET", "/api/v2/users/show_many.json", params={"ids": ",".join(part)}
            )
            for u in doc.get("users") or [] if isinstance(doc, dict) else []:
                if isinstance(u, dict) and u.get("id") is not None:
                    name = u.get("name")
                    out[str(u["id"])] = zendesk_history.Author(
                        str(name) if name else None, u.get("role") in ("agent", "admin")
                    )
        return out


def state_before(conn: Connection, ticket: str, at: float) -> TicketState | None:
    """The stored ticket as its events before `at` leave it (None: not created by then)."""
    record = load_ticket(conn, ticket, at=at - 0.001)
    if record is None:
        return None
    return TicketState(record.status, record.priority, record.assignee, record.is_open)


def _all(by_ticket: Mapping[str, list[zendesk_history.Audit]]) -> list[zendesk_history.Audit]:
    return [a for audits in by_ticket.values() for a in audits]
