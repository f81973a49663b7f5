"""JSON over HTTP with the pull's waiting rules (docs/pull.md).

429 waits for Retry-After; a 5xx, a refused or dropped connection and a body cut
mid-page are retried with backoff. 429s and retries alike count against
`retry_for_s`; once it is spent (or a Retry-After would go past it) the pull stops
with the cursor where it was. Text the server sends (an error body, a link) reaches
a message only through `core.text.safe_text`. A per-minute budget keeps under a provider's rate limit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from sladesk_tui.core.sources.pull_config import PullConfig
from sladesk_tui.core.text import safe_text
from sladesk_tui.services.pull.stats import PullError, PullStats

MAX_RETRY_AFTER_S = 600.0

Sleep = Callable[[float], Awaitable[None]]
Log = Callable[[str], None]


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

    def _own(self, path: str) -> str:
        """The URL to ask: a path under the configured URL, or an absolute URL the
        provider handed back (a next page) only when it names the same scheme, host and
        port: the token goes to the configured server and nowhere else (docs/pull.md)."""
        if not path.startswith(("http://", "https://")):
            return f"{self.cfg.url}{path}"
        if _origin(path) != _origin(self.cfg.url):
            raise PullError(
                f"{self.cfg.source}: the server sent a link to {safe_text(_origin(path))}, not to"
                f" {safe_text(_origin(self.cfg.url))}; not followed (the token is only sent to the configured URL)"
            )
        return path

    async def request(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Any = None
    ) -> Any:
        url = self._own(path)
        shown = safe_text(url)  # a next-page link is the server's text
        timeout = aiohttp.ClientTimeout(total=self.cfg.timeout_s)
        # The retry budget: real time since the first failure, or the waits asked for
        # when those are longer (a test's `sleep` does not pass the time).
        started: float | None = None
        waited = 0.0
        delay = 0.25
        while True:
            await self._budget()
            self.stats.requests += 1
            try:
                async with self.session.request(
                    method, url, params=params, json=body, headers=self.headers, timeout=timeout
                ) as resp:
                    if resp.status == 429:
                        # Counted against retry_for_s like any failure: a server that
                        # answers 429 forever must not stall the pull.
                        wait = retry_after(resp.headers.get("Retry-After"), time.time())
                        self.stats.rate_limited += 1
                        started = time.monotonic() if started is None else started
                        spent = max(time.monotonic() - started, waited)
                        if spent + wait > self.cfg.retry_for_s:
                            raise PullError(
                                f"{method} {shown}: gave up after {spent:g} s of HTTP 429 (rate-limited;"
                                f" the server asks to wait {wait:g} s more, past retry_for_s"
                                f" = {self.cfg.retry_for_s:g} s)"
                            )
                        self.log(f"rate-limited by {self.cfg.source}: waiting {wait:g} s")
                        await self.sleep(wait)
                        waited += wait
                        continue
                    if resp.status >= 500:
                        raise _Transient(f"HTTP {resp.status}")
                    raw = await resp.read()
                    if resp.status >= 400:
                        text = safe_text(raw[:200].decode("utf-8", "replace").strip())
                        raise PullError(f"{method} {shown}: HTTP {resp.status}: {text}")
                    return json.loads(raw)
            except (TimeoutError, aiohttp.ClientError, ValueError, _Transient) as exc:
                now = time.monotonic()
                started = now if started is None else started
                spent = max(now - started, waited)
                if spent >= self.cfg.retry_for_s:
                    raise PullError(
                        f"{method} {shown}: gave up after {self.cfg.retry_for_s:g} s: {_describe(exc)}"
                    ) from None
                self.stats.retries += 1
                self.log(f"{method} {shown}: {_describe(exc)}; retrying in {delay:g} s")
                await self.sleep(delay)
                waited += delay
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
    """The failure in one line; its text may quote the server, so made safe to print."""
    text = safe_text(str(exc)) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


def _origin(url: str) -> str:
    """``scheme://host:port`` of a URL, lower case, the port spelled out."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"
