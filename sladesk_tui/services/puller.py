"""`sladesk pull`: read a ticketing system's history through its API and store it (docs/pull.md).

The I/O half of pulling; the mapping is pure (`core.sources.rt`), the storing is the
importer's (`store.pulls`). Three rules make a pull safe to cut off anywhere:

- **Keyset paging.** Each request asks for what follows the cursor (RT: transactions
  with an id above it, in id order), never for "page 7": a page number shifts when
  the provider changes under us, a key does not.
- **The cursor commits with the events.** A batch's events, its tickets' problems and
  the new cursor are one transaction; a pull killed, or a provider gone, between two
  batches resumes from the last committed one: no gap. The events' ids make a batch
  fetched twice harmless: no duplicate.
- **Waiting is part of the job.** 429 waits for Retry-After; a 5xx, a refused or
  dropped connection and a body cut mid-page are retried with backoff for up to
  `retry_for_s`, then the pull stops with the cursor where it was.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.utils
import json
import os
import stat
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.sources import jira_history, rt
from sladesk_tui.core.sources.batch import TicketBatch
from sladesk_tui.core.sources.ids import ticket_id
from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.core.sources.pull_config import PullConfig
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.pulls import read_cursor, store_batch, stored_tickets

MAX_RETRY_AFTER_S = 600.0
# The role the pulling account must hold: it writes events in its own name (docs/roles.md).
FEED_ROLE = "feed"
_TICKETS_PER_LOOKUP = 50

Sleep = Callable[[float], Awaitable[None]]
Log = Callable[[str], None]


class PullError(Exception):
    """The pull cannot go on (credentials refused, a 4xx, retries exhausted): one line, exit 1."""


@dataclass
class PullStats:
    """Counts of one `run_once`, printed by the command and the benchmark."""

    batches: int = 0
    transactions: int = 0
    inserted: int = 0
    already_present: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    would_store: list[Any] = field(default_factory=list)  # dry run: the events

    def summary(self, source: str) -> str:
        return (
            f"pulled {source}: {self.transactions} transactions in {self.batches} batches, "
            f"{self.inserted} events stored ({self.already_present} already present), "
            f"{len(self.problems)} tickets set aside; {self.requests} requests, "
            f"{self.retries} retried, {self.rate_limited} rate-limited"
        )


def read_secret(path: str) -> str:
    """A credentials file's first line; refused when group or others may read it."""
    try:
        st = os.stat(path)
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InputError(f"{path}: credentials file is readable by others; chmod 600 it")
        with open(path, encoding="utf-8") as fh:
            value = fh.readline().strip()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    if not value:
        raise InputError(f"{path}: credentials file is empty")
    return value


def auth_header(cfg: PullConfig) -> str:
    """RT: `token T` or HTTP basic; the other providers' schemes are added with them."""
    if cfg.token_file is not None:
        token = read_secret(cfg.token_file)
        return f"token {token}" if cfg.provider == "rt" else f"Bearer {token}"
    assert cfg.user is not None and cfg.password_file is not None
    pair = f"{cfg.user}:{read_secret(cfg.password_file)}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def retry_after(value: str | None, now: float) -> float:
    """Seconds to wait for a Retry-After header (seconds or an HTTP date), within bounds."""
    if not value:
        return 1.0
    value = value.strip()
    try:
        secs = float(value)
    except ValueError:
        try:
            secs = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            secs = 1.0
    return min(max(secs, 0.0), MAX_RETRY_AFTER_S)


class _Transient(Exception):
    pass


class Http:
    """JSON over HTTP with the pull's waiting rules; one per pull, over one aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        cfg: PullConfig,
        authorization: str,
        stats: PullStats,
        *,
        sleep: Sleep = asyncio.sleep,
        log: Log = lambda _m: None,
    ) -> None:
        self.session, self.cfg, self.stats = session, cfg, stats
        self.headers = {"Authorization": authorization, "Accept": "application/json"}
        self.sleep, self.log = sleep, log
        self._sent: list[float] = []  # send times within the last minute (max_per_minute)

    async def request(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Any = None
    ) -> Any:
        url = path if path.startswith("http") else f"{self.cfg.url}{path}"
        timeout = aiohttp.ClientTimeout(total=self.cfg.timeout_s)
        started: float | None = None
        delay = 0.25
        while True:
            await self._budget()
            self.stats.requests += 1
            try:
                async with self.session.request(
                    method, url, params=params, json=body, headers=self.headers, timeout=timeout
                ) as resp:
                    if resp.status == 429:
                        wait = retry_after(resp.headers.get("Retry-After"), time.time())
                        self.stats.rate_limited += 1
                        self.log(f"rate-limited by {self.cfg.source}: waiting {wait:g} s")
                        await self.sleep(wait)
                        continue
                    if resp.status >= 500:
                        raise _Transient(f"HTTP {resp.status}")
                    raw = await resp.read()
                    if resp.status >= 400:
                        text = raw[:200].decode("utf-8", "replace").strip()
                        raise PullError(f"{method} {url}: HTTP {resp.status}: {text}")
                    return json.loads(raw)
            except (TimeoutError, aiohttp.ClientError, ValueError, _Transient) as exc:
                now = time.monotonic()
                started = now if started is None else started
                if now - started >= self.cfg.retry_for_s:
                    raise PullError(
                        f"{method} {url}: gave up after {self.cfg.retry_for_s:g} s: {_describe(exc)}"
                    ) from None
                self.stats.retries += 1
                self.log(f"{method} {url}: {_describe(exc)}; retrying in {delay:g} s")
                await self.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _budget(self) -> None:
        limit = self.cfg.max_per_minute
        if limit is None:
            return
        now = time.monotonic()
        self._sent = [t for t in self._sent if now - t < 60.0]
        if len(self._sent) >= limit:
            wait = 60.0 - (now - self._sent[0])
            self.log(f"{self.cfg.source}: {limit} requests this minute; waiting {wait:.1f} s")
            await self.sleep(wait)
            self._sent = self._sent[1:]
        self._sent.append(time.monotonic())


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


# ---- Request Tracker ---------------------------------------------------------------------


class RtPuller:
    """Pulls one RT source: the transactions after the cursor, a batch per page."""

    def __init__(
        self,
        http: Http,
        source: Source,
        conn: Connection,
        *,
        actor: str,
        since: str | None = None,
        dry_run: bool = False,
    ) -> None:
        self.http, self.source, self.conn = http, source, conn
        self.actor, self.since, self.dry_run = actor, since, dry_run
        self.stats = http.stats
        self.per_page = http.cfg.per_page
        self._cursor: int | None = None
        self._mapped: set[str] = set()  # dry run: tickets this run would have created

    async def run_once(self) -> PullStats:
        """Pull until the provider has nothing after the cursor."""
        while True:
            if not await self.batch():
                return self.stats

    async def batch(self) -> bool:
        """One page of transactions after the cursor, stored. False when caught up."""
        cursor = self.cursor()
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
        self.stats.batches += 1
        self.stats.transactions += len(txs)
        if self.dry_run:
            for b in batches:
                if b.problem is None:
                    self._mapped.add(b.ticket)
                    self.stats.would_store.extend(b.events)
                else:
                    self.stats.problems.append((b.provider_ticket, b.problem))
        else:
            stored = store_batch(
                self.conn, self.source.name, batches, str(last), actor=self.actor, require=FEED_ROLE
            )
            self.stats.inserted += stored.inserted
            self.stats.already_present += stored.already_present
            self.stats.problems.extend(stored.problems)
        self._cursor = last
        return len(items) >= self.per_page

    def cursor(self) -> int:
        if self._cursor is None:
            raw = read_cursor(self.conn, self.source.name)
            self._cursor = int(raw) if raw and raw.isdigit() else 0
        return self._cursor

    async def _map(self, by_ticket: Mapping[int, list[rt.RtTransaction]], last: int) -> list[TicketBatch]:
        relevant = {t: txs for t, txs in by_ticket.items() if not all(rt.is_noise(x) for x in txs)}
        if not relevant:
            return []
        ours = {t: ticket_id(self.source.ticket_prefix, t) for t in relevant}
        stored = stored_tickets(self.conn, ours.values()) | (self._mapped & set(ours.values()))
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


# ---- Jira ------------------------------------------------------------------------------------


class JiraPuller:
    """Pulls one Jira (Service Management) source: issues updated since the cursor, each
    with its whole changelog and comments, mapped as the webhooks would have been.

    JQL compares whole minutes, and page offsets shift when issues change during a
    scan, so each page asks again from the cursor's minute (`updated >= ...`, oldest
    first) and leaves out the issues this round already stored: no offset is trusted
    except to step over one minute that holds more than a page of issues.
    """

    def __init__(
        self,
        http: Http,
        source: Source,
        conn: Connection,
        *,
        actor: str,
        since: str | None = None,
        dry_run: bool = False,
    ) -> None:
        self.http, self.source, self.conn = http, source, conn
        self.actor, self.dry_run = actor, dry_run
        self.stats = http.stats
        self.per_page = min(http.cfg.per_page, 100)
        raw = read_cursor(conn, source.name)
        if raw:
            self.cursor_ms = float(raw)
        elif since is not None:
            t = dt.datetime.strptime(since, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
            self.cursor_ms = t.timestamp() * 1000 + 60_000  # jql_since steps a minute back
        else:
            self.cursor_ms = 60_000.0
        self.zone = zoneinfo.ZoneInfo(source.timezone)
        projects = (source.pull or {}).get("projects")
        self.project_clause = (
            "project in (" + ", ".join(json.dumps(str(p)) for p in projects) + ") AND " if projects else ""
        )

    async def run_once(self) -> PullStats:
        processed: set[str] = set()
        start_at = 0
        while True:
            jql = (
                f'{self.project_clause}updated >= "{jira_history.jql_since(self.cursor_ms, self.zone)}"'
                " ORDER BY updated ASC, key ASC"
            )
            page = await self.http.request(
                "GET",
                "/rest/api/2/search",
                params={
                    "jql": jql,
                    "startAt": str(start_at),
                    "maxResults": str(self.per_page),
                    "fields": "*all",
                },
            )
            issues = (
                [i for i in (page.get("issues") or []) if isinstance(i, dict)]
                if isinstance(page, dict)
                else []
            )
            fresh = [i for i in issues if i.get("key") not in processed]
            if not fresh:
                if len(issues) < self.per_page:
                    return self.stats
                start_at += len(issues)  # a minute with more than a page of issues
                continue
            batches: list[TicketBatch] = []
            seq = 1
            newest = self.cursor_ms
            for issue in fresh:
                key = str(issue["key"])
                histories = await self._all(f"/rest/api/2/issue/{key}/changelog", "values")
                comments = await self._all(f"/rest/api/2/issue/{key}/comment", "comments", orderBy="created")
                b = jira_history.map_issue(self.source, issue, histories, comments, seq=seq)
                seq += len(b.events)
                batches.append(b)
                updated = jira_history._when((issue.get("fields") or {}).get("updated")) * 1000
                newest = max(newest, updated)
            self.stats.batches += 1
            self.stats.transactions += len(fresh)
            self._store(batches, newest)
            processed.update(str(i["key"]) for i in fresh)
            if int(newest // 60_000) != int(self.cursor_ms // 60_000):
                start_at = 0
            self.cursor_ms = newest
            if len(issues) < self.per_page:
                return self.stats

    def _store(self, batches: list[TicketBatch], cursor_ms: float) -> None:
        if self.dry_run:
            for b in batches:
                if b.problem is None:
                    self.stats.would_store.extend(b.events)
                else:
                    self.stats.problems.append((b.provider_ticket, b.problem))
            return
        stored = store_batch(
            self.conn, self.source.name, batches, f"{cursor_ms:.0f}", actor=self.actor, require=FEED_ROLE
        )
        self.stats.inserted += stored.inserted
        self.stats.already_present += stored.already_present
        self.stats.problems.extend(stored.problems)

    async def _all(self, path: str, items_key: str, **extra: str) -> list[dict[str, Any]]:
        """Every page of an issue's changelog or comments: both only grow at their end."""
        out: list[dict[str, Any]] = []
        while True:
            doc = await self.http.request(
                "GET", path, params={"startAt": str(len(out)), "maxResults": "100", **extra}
            )
            items = doc.get(items_key) or [] if isinstance(doc, dict) else []
            out.extend(i for i in items if isinstance(i, dict))
            total = doc.get("total") if isinstance(doc, dict) else None
            last = doc.get("isLast") if isinstance(doc, dict) else None
            if not items or last is True or (isinstance(total, int) and len(out) >= total):
                return out


# ---- running --------------------------------------------------------------------------------


PULLERS: dict[str, Any] = {"rt": RtPuller, "jira": JiraPuller}


async def pull(
    conn: Connection,
    source: Source,
    cfg: PullConfig,
    *,
    actor: str,
    since: str | None = None,
    dry_run: bool = False,
    follow: bool = False,
    log: Log = lambda _m: None,
    on_round: Callable[[PullStats], None] | None = None,
    sleep: Sleep = asyncio.sleep,
) -> PullStats:
    """One pull (or, with `follow`, one every `interval_s` until cancelled)."""
    kind = PULLERS.get(source.provider)
    if kind is None:
        raise InputError(f"source {source.name!r}: pulling {source.provider} is not supported yet")
    authorization = auth_header(cfg)
    connector = aiohttp.TCPConnector(limit=4)
    async with aiohttp.ClientSession(connector=connector) as session:
        while True:
            stats = PullStats()
            http = Http(session, cfg, authorization, stats, sleep=sleep, log=log)
            puller = kind(http, source, conn, actor=actor, since=since, dry_run=dry_run)
            await puller.run_once()
            if on_round is not None:
                on_round(stats)
            if not follow:
                return stats
            await sleep(cfg.interval_s)
