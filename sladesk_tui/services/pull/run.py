"""One pull of a source, or one every `interval_s` with `--follow` (docs/pull.md)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
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
from sladesk_tui.store.failures import Failure, classify, reason

RECONNECT_MAX_S = 10.0  # the longest wait between two tries to reopen a lost connection

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
    reopen: Callable[[], Connection] | None = None,
) -> PullStats:
    """One pull (or, with `follow`, one every `interval_s` until cancelled).

    With `follow`, a round the database failed is not the end of the service when
    trying again can help (`store.failures`): busy, it is tried again at the next
    round; the connection lost, a new one is opened with `reopen` (at growing
    intervals, up to `RECONNECT_MAX_S`) first. The cursor only moves with a stored
    batch, so the next round resumes exactly there. A refusal, or any other
    failure, ends the pull as before.
    """
    kind = PULLERS.get(source.provider)
    if kind is None:
        raise InputError(f"source {source.name!r}: pulling {source.provider} is not supported yet")
    authorization = auth_header(cfg)
    connector = aiohttp.TCPConnector(limit=4)
    budgets: dict[str, list[float]] = {}
    memo: dict[str, Any] = {}  # the puller's own, from round to round
    opened: Connection | None = None  # a connection made here after one was lost
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            while True:
                stats = PullStats()
                http = Http(session, cfg, authorization, stats, sleep=sleep, log=log, budgets=budgets)
                try:
                    puller = kind(http, source, conn, actor=actor, since=since, dry_run=dry_run, memo=memo)
                    await puller.run_once()
                except (sqlite3.Error, InputError) as exc:
                    failure = classify(exc)
                    if not follow or failure not in (Failure.BUSY, Failure.LOST):
                        raise
                    if failure is Failure.BUSY:
                        log(f"database busy ({reason(exc)}); trying again in {cfg.interval_s:g} s")
                    elif reopen is None:
                        raise
                    else:
                        log(f"lost the database connection ({reason(exc)}); reconnecting")
                        conn = opened = await _reopen(opened, reopen, sleep)
                        log("reconnected")
                        continue
                else:
                    if on_round is not None:
                        on_round(stats)
                    if not follow:
                        return stats
                await sleep(cfg.interval_s)
    finally:
        if opened is not None:
            opened.close()


async def _reopen(opened: Connection | None, reopen: Callable[[], Connection], sleep: Sleep) -> Connection:
    """A new connection in place of the lost one (`opened`: closed first, when it was ours)."""
    if opened is not None:
        with contextlib.suppress(Exception):  # already broken; closing is best effort
            opened.close()
    pause = 0.5
    while True:
        try:
            return reopen()
        except (sqlite3.Error, InputError):  # the server may still be restarting
            await sleep(pause)
            pause = min(pause * 2, RECONNECT_MAX_S)
