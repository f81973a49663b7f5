"""Pulling Jira Service Management history from a local stand-in of its REST API.

The strongest check is the first: the webhooks of an issue's life are stored the
way the receiver stores them, then a pull of the same history stores nothing new
and sets nothing aside: the same change seen by webhook and by pull is one event.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_http import serving
from fake_jira import FakeJira, JiraDesk
from pull_support import ACME_TERMS, ACTOR, events_of, feed_desk, load_source, receive, write_password
from source_fixtures import jira_comment, jira_created, jira_updated

from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.core.sources.pull_config import PullConfig
from sladesk_tui.services.pull import pull
from sladesk_tui.store.pulls import problems, read_cursor

TERMS = ACME_TERMS
T0 = dt.datetime(2026, 11, 19, 8, 0, tzinfo=dt.UTC)


def source_text(url: str, pw: Path, per_page: int = 50) -> str:
    return f"""
[[source]]
name = "jsm"
provider = "jira"
secret_file = "jsm.secret"
ticket_prefix = ""
statuses = {{ "Open" = "open", "In Progress" = "open", "Waiting for customer" = "waiting", "Resolved" = "resolved", "Closed" = "closed" }}
priorities = {{ Highest = "P1", High = "P1", Medium = "P2", Low = "P2" }}
customer = {{ from = "field", field = "customfield_10500", default = "acme" }}
[source.pull]
url = "{url}"
user = "sladesk@acme.example"
password_file = "{pw}"
per_page = {per_page}
retry_for_s = 30
"""


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    with feed_desk(tmp_path / "s.db", TERMS) as c:
        yield c


def configured(url: str, tmp_path: Path, **kw: int) -> tuple[Source, PullConfig]:
    pw = write_password(tmp_path / "token", "api-token")
    return load_source(source_text(url, pw, **kw), "jsm")


def ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


async def test_a_pull_after_the_webhooks_stores_nothing_twice(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    t = [T0 + dt.timedelta(minutes=m) for m in (0, 10, 20, 30, 45, 50, 70, 90)]
    # The life of SUP-12 as Jira's webhooks tell it (the receiver's fixtures) ...
    comment_at = dt.datetime(2026, 11, 19, 9, 0, tzinfo=dt.UTC)  # the fixture's comment time
    hooks = [
        jira_created("SUP-12"),
        jira_updated(
            "SUP-12",
            changelog_id="100",
            ts_ms=ms(t[1]),
            items=[{"field": "status", "fromString": "Open", "toString": "In Progress"}],
        ),
        jira_comment("SUP-12", comment_id="200", public=True, by="agent-1", ts_ms=ms(comment_at)),
        jira_updated(
            "SUP-12",
            changelog_id="101",
            ts_ms=ms(t[6]),
            items=[{"field": "status", "fromString": "In Progress", "toString": "Waiting for customer"}],
        ),
        jira_updated(
            "SUP-12",
            changelog_id="102",
            ts_ms=ms(t[7]),
            items=[{"field": "priority", "fromString": "High", "toString": "Medium"}],
        ),
        jira_updated(
            "SUP-12",
            changelog_id="103",
            ts_ms=ms(t[7] + dt.timedelta(minutes=5)),
            items=[{"field": "status", "fromString": "Waiting for customer", "toString": "Resolved"}],
        ),
    ]
    # ... and the same life as its REST API tells it afterwards.
    desk = JiraDesk()
    desk.issue("SUP-12", T0, summary="VPN drops every ten minutes")
    desk.change("SUP-12", t[1], "status", "Open", "In Progress", cid="100")
    desk.comment("SUP-12", comment_at, public=True, cid="200")
    desk.change("SUP-12", t[6], "status", "In Progress", "Waiting for customer", cid="101")
    desk.change("SUP-12", t[7], "priority", "High", "Medium", cid="102")
    desk.change(
        "SUP-12", t[7] + dt.timedelta(minutes=5), "status", "Waiting for customer", "Resolved", cid="103"
    )
    srv = FakeJira(desk)
    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path)
        receive(conn, source, hooks, "hook:jsm")
        by_hooks = events_of(conn)
        assert len(by_hooks) == 6  # created, In Progress (new -> open), reply, waiting, priority, resolved
        stats = await pull(conn, source, cfg, actor=ACTOR)
    assert problems(conn) == []
    assert (stats.inserted, stats.already_present) == (0, len(by_hooks))
    assert events_of(conn) == by_hooks


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
