"""Pulling Jira Service Management history from a local stand-in of its REST API.

The strongest check, webhooks then a pull of the same history stored once, is
test_pull_after_webhooks.py, for every provider alike.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_http import serving
from fake_jira import T0, FakeJira, JiraDesk
from pull_support import ACME_TERMS, ACTOR, feed_desk, jira_text, load_source, write_password

from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.core.sources.pull_config import PullConfig
from sladesk_tui.services.pull import pull
from sladesk_tui.store.pulls import problems, read_cursor

TERMS = ACME_TERMS


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    with feed_desk(tmp_path / "s.db", TERMS) as c:
        yield c


def configured(url: str, tmp_path: Path, **kw: int) -> tuple[Source, PullConfig]:
    pw = write_password(tmp_path / "token", "api-token")
    return load_source(jira_text(url, pw, **kw), "jsm")


def busy_desk(issues: int, *, same_minute: bool = False) -> JiraDesk:
    desk = JiraDesk()
    for n in range(issues):
        key = f"SUP-{n + 1}"
        start = T0 + (dt.timedelta(seconds=n) if same_minute else dt.timedelta(minutes=3 * n))
        desk.issue(key, start, priority="Medium" if n % 2 else "High")
        if same_minute:
            continue
        desk.comment(key, start + dt.timedelta(minutes=5), public=False)
        desk.comment(key, start + dt.timedelta(minutes=7), public=True)
        desk.change(key, start + dt.timedelta(minutes=9), "status", "Open", "Waiting for customer")
        desk.comment(key, start + dt.timedelta(minutes=30), public=True, by="cust-9")
        desk.change(key, start + dt.timedelta(minutes=31), "status", "Waiting for customer", "In Progress")
        desk.change(key, start + dt.timedelta(minutes=40), "status", "In Progress", "Resolved")
    return desk


async def test_paging_429_and_cut_pages_store_every_issue_once(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    desk = busy_desk(23)
    srv = FakeJira(desk)
    srv.rate_limit = {2}
    srv.cut = {1, 5, 17}
    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path, per_page=5)

        async def sleep(_s: float) -> None:
            return None

        stats = await pull(conn, source, cfg, actor=ACTOR, sleep=sleep)
        again = await pull(conn, source, cfg, actor=ACTOR)
    assert (stats.rate_limited, stats.retries) == (1, 3)
    types = [r[0] for r in conn.execute("SELECT type FROM events WHERE ticket = 'SUP-7' ORDER BY ts, seq")]
    assert types == ["created", "note", "reply", "status", "customer_reply", "status", "resolved"]
    assert tuple(conn.execute("SELECT COUNT(DISTINCT ticket), COUNT(*) FROM events").fetchone()) == (
        23,
        23 * 7,
    )
    assert again.inserted == 0 and problems(conn) == []
    last = max(i["fields"]["updated"] for i in desk.issues.values())
    assert float(read_cursor(conn, "jsm") or 0) == dt.datetime.fromisoformat(last).timestamp() * 1000


async def test_a_minute_with_more_issues_than_a_page(conn: sqlite3.Connection, tmp_path: Path) -> None:
    srv = FakeJira(busy_desk(23, same_minute=True))
    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path, per_page=5)
        await pull(conn, source, cfg, actor=ACTOR)
    assert conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 23


async def test_bad_issues_are_set_aside_whole(conn: sqlite3.Connection, tmp_path: Path) -> None:
    desk = busy_desk(3)
    desk.change("SUP-2", T0 + dt.timedelta(hours=2), "status", "Resolved", "Limbo")  # not in the mapping
    desk.comment("SUP-3", T0 - dt.timedelta(days=1), public=True)  # older than the issue
    srv = FakeJira(desk)
    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path)
        await pull(conn, source, cfg, actor=ACTOR)
    reasons = {p.provider_ticket: p.reason for p in problems(conn, "jsm")}
    assert set(reasons) == {"SUP-2", "SUP-3"}
    assert "status 'Limbo' is not in its mapping" in reasons["SUP-2"]
    assert "starts before its creation" in reasons["SUP-3"]
    assert [r[0] for r in conn.execute("SELECT DISTINCT ticket FROM events")] == ["SUP-1"]
