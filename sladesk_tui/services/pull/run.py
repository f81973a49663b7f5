"""One pull of a source, or one every `interval_s` with `--follow` (docs/pull.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.core.sources.pull_config import PullConfig
from sladesk_tui.services.pull.base import Puller
from sladesk_tui.services.pull.credentials import auth_header
from sladesk_tui.services.pull.http import Http, Log, Sleep
from sladesk_tui.services.pull.jira import JiraPuller
from sladesk_tui.services.pull.rt import RtPuller
from sladesk_tui.services.pull.stats import PullStats
from sladesk_tui.services.pull.zammad import ZammadPuller
from sladesk_tui.services.pull.zendesk import ZendeskPuller
from sladesk_tui.store.backend import Connection

PULLERS: dict[str, type[Puller[Any]]] = {
    "rt": RtPuller,
    "jira": JiraPuller,
    "zendesk": ZendeskPuller,
    "zammad": ZammadPuller,
}


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
    budgets: dict[str, list[float]] = {}
    memo: dict[str, Any] = {}  # the puller's own, from round to round
    async with aiohttp.ClientSession(connector=connector) as session:
        while True:
            stats = PullStats()
            http = Http(session, cfg, authorization, stats, sleep=sleep, log=log, budgets=budgets)
            puller = kind(http, source, conn, actor=actor, since=since, dry_run=dry_run, memo=memo)
            await puller.run_once()
            if on_round is not None:
                on_round(stats)
            if not follow:
                return stats
            await sleep(cfg.interval_s)
