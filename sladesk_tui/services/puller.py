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
import dataclasses
import datetime as dt
import email.utils
import json
import os
import sqlite3
import stat
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.sources import jira_history, rt, zammad_history, zendesk_history
from sladesk_tui.core.sources.batch import TicketBatch
from sladesk_tui.core.sources.ids import ticket_id
from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.core.sources.payloads import TicketState
from sladesk_tui.core.sources.pull_config import PullConfig
from sladesk_tui.store.pulls import read_cursor, store_batch, stored_tickets
from sladesk_tui.store.queries import load_ticket

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
    """A token file: RT `token T`, Zammad `Token token=T`, else `Bearer T` (Jira Data
    Center, a Zendesk OAuth token); or HTTP basic from user and password file (Zendesk:
    user `EMAIL/token` with the API token as the password). docs/pull.md per provider."""
    if cfg.token_file is not None:
        token = read_secret(cfg.token_file)
        if cfg.provider == "rt":
            return f"token {token}"
        return f"Token token={token}" if cfg.provider == "zammad" else f"Bearer {token}"
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
        budgets: dict[str, list[float]] | None = None,
    ) -> None:
        self.session, self.cfg, self.stats = session, cfg, stats
        self.headers = {"Authorization": authorization, "Accept": "application/json"}
        self.sleep, self.log = sleep, log
        # Send times within the last minute, per budget; `pull` keeps them across the
        # rounds of --follow, so a short interval cannot overrun a per-minute limit.
        self.budgets = budgets if budgets is not None else {}
        self._sent = self.budgets.setdefault("all", [])

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

    def with_budget(self, per_minute: int) -> Http:
        """A sibling over the same session and counters with its own request budget
        (Zendesk's incremental exports: 10 a minute, apart from the other endpoints)."""
        limit = min(per_minute, self.cfg.max_per_minute or per_minute)
        other = Http(
            self.session,
            dataclasses.replace(self.cfg, max_per_minute=limit),
            self.headers["Authorization"],
            self.stats,
            sleep=self.sleep,
            log=self.log,
            budgets=self.budgets,
        )
        other._sent = self.budgets.setdefault(f"{limit}/min", [])
        return other

    async def _budget(self) -> None:
        limit = self.cfg.max_per_minute
        if limit is None:
            return
        now = time.monotonic()
        self._sent[:] = [t for t in self._sent if now - t < 60.0]
        if len(self._sent) >= limit:
            wait = 60.0 - (now - self._sent[0])
            self.log(f"{self.cfg.source}: {limit} requests this minute; waiting {wait:.1f} s")
            await self.sleep(wait)
            del self._sent[0]
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
        conn: sqlite3.Connection,
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
        conn: sqlite3.Connection,
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


# ---- Zendesk ---------------------------------------------------------------------------------


def _since_epoch(since: str) -> float:
    """`--since` as the commands module spells it (UTC `YYYY-MM-DD HH:MM:SS`), in epoch seconds."""
    return dt.datetime.strptime(since, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC).timestamp()


def _store_or_show(puller: ZendeskPuller | ZammadPuller, batches: list[TicketBatch], cursor: str) -> None:
    """Store a page's tickets and move the cursor, or (dry run) collect what would be stored."""
    stats = puller.stats
    if puller.dry_run:
        for b in batches:
            if b.problem is None:
                # a page's overlap with the last one (the cursor's second) is shown once
                fresh = [e for e in b.events if e.id not in puller.shown]
                puller.shown.update(e.id for e in fresh)
                stats.would_store.extend(fresh)
            else:
                stats.problems.append((b.provider_ticket, b.problem))
        return
    stored = store_batch(
        puller.conn, puller.source.name, batches, cursor, actor=puller.actor, require=FEED_ROLE
    )
    stats.inserted += stored.inserted
    stats.already_present += stored.already_present
    stats.problems.extend(stored.problems)


class ZendeskPuller:
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

    def __init__(
        self,
        http: Http,
        source: Source,
        conn: sqlite3.Connection,
        *,
        actor: str,
        since: str | None = None,
        dry_run: bool = False,
    ) -> None:
        self.http, self.source, self.conn = http, source, conn
        self.actor, self.dry_run = actor, dry_run
        self.stats = http.stats
        self.export = http.with_budget(self.EXPORTS_PER_MINUTE)
        raw = read_cursor(conn, source.name)
        if raw and raw.isdigit():
            self.cursor = int(raw)
        elif since is not None:
            self.cursor = int(_since_epoch(since))
        else:
            self.cursor = 0
        self._dry_states: dict[str, TicketState | None] = {}  # dry run: tickets this run would hold
        self.shown: set[str] = set()  # dry run: event ids printed

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
                self.stats.batches += 1
                self.stats.transactions += len(items)
                _store_or_show(self, batches, str(max(end, self.cursor)))
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
                self._dry_states[b.ticket] = jira_history.advance(states.get(ours[t]), b.events)
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


# ---- Zammad ----------------------------------------------------------------------------------


class ZammadPuller:
    """Pulls one Zammad source: tickets updated since the cursor, each read whole (its
    history and articles) and replayed as the snapshots its webhooks would have sent.

    The ticket search (Elasticsearch behind Zammad) is asked again from the cursor's
    instant for each page (`updated_at >= cursor`, oldest first), leaving out the
    tickets this round already stored, as the Jira puller does: a page number is
    only used to step over one instant that holds more than a page of tickets.
    """

    def __init__(
        self,
        http: Http,
        source: Source,
        conn: sqlite3.Connection,
        *,
        actor: str,
        since: str | None = None,
        dry_run: bool = False,
    ) -> None:
        self.http, self.source, self.conn = http, source, conn
        self.actor, self.dry_run = actor, dry_run
        self.stats = http.stats
        self.per_page = min(http.cfg.per_page, 100)
        self.shown: set[str] = set()  # dry run: event ids printed
        raw = read_cursor(conn, source.name)
        if raw:
            self.cursor = raw
        elif since is not None:
            self.cursor = since.replace(" ", "T") + "Z"
        else:
            self.cursor = "1970-01-01T00:00:00Z"

    async def run_once(self) -> PullStats:
        processed: set[str] = set()
        page = 1
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
            fresh = [t for t in tickets if str(t.get("id")) not in processed]
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
            self.stats.batches += 1
            self.stats.transactions += len(fresh)
            _store_or_show(self, batches, newest)
            processed.update(str(t.get("id")) for t in fresh)
            if newest != self.cursor:
                page = 1
            self.cursor = newest
            if len(tickets) < self.per_page:
                return self.stats


def state_before(conn: sqlite3.Connection, ticket: str, at: float) -> TicketState | None:
    """The stored ticket as its events before `at` leave it (None: not created by then)."""
    record = load_ticket(conn, ticket, at=at - 0.001)
    if record is None:
        return None
    return TicketState(record.status, record.priority, record.assignee, record.is_open)


def _all(by_ticket: Mapping[str, list[zendesk_history.Audit]]) -> list[zendesk_history.Audit]:
    return [a for audits in by_ticket.values() for a in audits]


def _instant_order(text: str) -> float:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return float("-inf")
    return parsed.timestamp() if parsed.tzinfo is not None else float("-inf")


# ---- running --------------------------------------------------------------------------------


PULLERS: dict[str, Any] = {
    "rt": RtPuller,
    "jira": JiraPuller,
    "zendesk": ZendeskPuller,
    "zammad": ZammadPuller,
}


async def pull(
    conn: sqlite3.Connection,
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
    budgets: dict[str, list[float]] = {}
    async with aiohttp.ClientSession(connector=connector) as session:
        while True:
            stats = PullStats()
            http = Http(session, cfg, authorization, stats, sleep=sleep, log=log, budgets=budgets)
            puller = kind(http, source, conn, actor=actor, since=since, dry_run=dry_run)
            await puller.run_once()
            if on_round is not None:
                on_round(stats)
            if not follow:
                return stats
            await sleep(cfg.interval_s)
