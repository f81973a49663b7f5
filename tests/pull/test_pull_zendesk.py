"""Pulling Zendesk's incremental ticket event export from a local stand-in of its API.

The strongest check, webhooks then a pull of the same history stored once, is
test_pull_after_webhooks.py, for every provider alike.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_http import serving
from fake_zendesk import REQUESTER, T0, FakeZendesk, ZendeskDesk, zt
from pull_support import (
    ACME_TERMS_KEEP,
    ACTOR,
    Waits,
    brief_sleep,
    events_of,
    feed_desk,
    load_source,
    no_sleep,
    write_password,
    zendesk_text,
)
from support import agreements_db, give_roles

from sladesk_tui.core.eventfile import event_from_mapping
from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.core.sources.pull_config import PullConfig
from sladesk_tui.services.pull import PullError, pull
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.pulls import problems, read_cursor

TERMS = ACME_TERMS_KEEP


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    with feed_desk(tmp_path / "s.db", TERMS) as c:
        yield c


def configured(url: str, tmp_path: Path, **kw: Any) -> tuple[Source, PullConfig]:
    pw = write_password(tmp_path / "token", "zendesk-api-token")
    return load_source(zendesk_text(url, pw, **kw), "zd")


def life(desk: ZendeskDesk, ticket: int, start: dt.datetime) -> set[str]:
    """A ticket's life in Zendesk and, by hand, the ids of the events it must become."""

    def m(n: int) -> dt.datetime:
        return start + dt.timedelta(minutes=n)

    desk.create(ticket, start)
    note = desk.comment(ticket, m(5), public=False)
    reply = desk.comment(ticket, m(20), public=True)
    desk.change(ticket, m(30), "status", "open", "pending")
    desk.change(ticket, m(90), "status", "pending", "open")
    cust = desk.comment(ticket, m(100), public=True, by=REQUESTER)
    desk.change(ticket, m(105), "priority", "high", "normal")
    desk.change(ticket, m(120), "status", "open", "solved")

    def at(n: int) -> str:
        return zt(m(n))

    return {
        f"zd:{ticket}:created:{ticket}",
        f"zd:{ticket}:comment:{note}",
        f"zd:{ticket}:comment:{reply}",
        f"zd:{ticket}:status:pending@{at(30)}",
        f"zd:{ticket}:status:open@{at(90)}",
        f"zd:{ticket}:comment:{cust}",
        f"zd:{ticket}:priority:normal@{at(105)}",
        f"zd:{ticket}:resolved:solved@{at(120)}",
    }


def busy_desk(tickets: int) -> tuple[ZendeskDesk, set[str]]:
    desk = ZendeskDesk()
    want: set[str] = set()
    for n in range(tickets):
        want |= life(desk, 100 + n, T0 + dt.timedelta(minutes=7 * n))
    return desk, want


async def test_paging_budget_429_and_cut_pages_store_every_change_once(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    desk, want = busy_desk(12)  # 12 tickets x 8 audits = 96 audits
    srv = FakeZendesk(desk)
    srv.rate_limit = {2}
    srv.retry_after = "7"
    srv.cut = {1, 5, 9}
    waited = Waits()

    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path, per_page=7)
        stats = await pull(conn, source, cfg, actor=ACTOR, sleep=waited)
        again = await pull(conn, source, cfg, actor=ACTOR, sleep=waited)
    assert {i for i, _ in events_of(conn)} == want
    assert len(events_of(conn)) == len(want) and problems(conn) == []
    assert (stats.rate_limited, stats.retries, stats.inserted) == (1, 3, len(want))
    assert 7.0 in waited  # Retry-After honoured
    exports = [p for p in srv.log if p.startswith("/api/v2/incremental/")]
    assert len(exports) > 10
    assert any(w > 50 for w in waited), "the 11th export of a minute must wait for Zendesk's budget"
    last = max(a["timestamp"] for a in desk.audits)
    assert read_cursor(conn, "zd") == str(last)
    assert again.inserted == 0 and again.batches == 1  # the cursor's second, read again, is present


async def test_an_outage_stops_on_the_last_stored_page_and_the_next_pull_completes(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    desk, want = busy_desk(6)
    srv = FakeZendesk(desk)
    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path, per_page=5, retry_for_s=0.2)
        srv.down_after = 6

        with pytest.raises(PullError, match="gave up"):
            await pull(conn, source, cfg, actor=ACTOR, sleep=brief_sleep)
        cursor = int(read_cursor(conn, "zd") or 0)
        got = {i for i, _ in events_of(conn)}
        assert 0 < cursor < max(a["timestamp"] for a in desk.audits) and 0 < len(got) < len(want)
        srv.down_after = None
        srv.down = False
        await pull(conn, source, cfg, actor=ACTOR, sleep=no_sleep)
    assert {i for i, _ in events_of(conn)} == want and len(events_of(conn)) == len(want)


async def test_bad_tickets_are_set_aside_whole_the_rest_stored(
    conn: sqlite3.Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = ZendeskDesk()
    want = life(desk, 1, T0)
    life(desk, 2, T0)
    desk.change(2, T0 + dt.timedelta(hours=3), "status", "solved", "escalated")  # not in the mapping
    desk.change(3, T0 + dt.timedelta(hours=1), "status", "open", "pending")  # no creation anywhere
    cid = desk.comment(4, T0 + dt.timedelta(minutes=1), public=True)
    desk.create(4, T0)
    desk.audits.sort(key=lambda a: a["timestamp"])
    srv = FakeZendesk(desk)
    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path)
        # Ticket 4's comment was stored earlier with other content under the id pull derives.
        pre = [
            event_from_mapping(
                {
                    "id": "zd:4:created:4",
                    "type": "created",
                    "ticket": "ZD-4",
                    "at": zt(T0),
                    "customer": "acme",
                    "priority": "P1",
                    "title": "Ticket 4",
                },
                seq=1,
            ),
            event_from_mapping(
                {
                    "id": f"zd:4:comment:{cid}",
                    "type": "note",
                    "ticket": "ZD-4",
                    "at": zt(T0 + dt.timedelta(minutes=1)),
                },
                seq=2,
            ),
        ]
        ingest(conn, pre, actor="webhook", source="hook:zd")
        await pull(conn, source, cfg, actor=ACTOR)
    reasons = {p.provider_ticket: p.reason for p in problems(conn, "zd")}
    assert set(reasons) == {"2", "3", "4"}
    # what `sladesk sources` lists for the source
    from sladesk_tui.cli import main

    (tmp_path / "sources.toml").write_text(zendesk_text(srv.url, tmp_path / "token"), encoding="utf-8")
    capsys.readouterr()
    args = ["--db", str(tmp_path / "s.db"), "sources", "--sources", str(tmp_path / "sources.toml")]
    assert main([*args, "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert {p["ticket"]: p["reason"] for p in row["set_aside"]} == reasons
    assert "status 'escalated' is not in its mapping" in reasons["2"]
    assert "not with its creation" in reasons["3"]
    assert "conflicts with the stored event" in reasons["4"]
    stored = {i for i, _ in events_of(conn)}
    assert {i for i in stored if i.startswith("zd:1:")} == want
    assert not any(i.startswith(("zd:2:", "zd:3:")) for i in stored)  # nothing half-written
    assert {i for i in stored if i.startswith("zd:4:")} == {"zd:4:created:4", f"zd:4:comment:{cid}"}


async def test_since_brings_older_tickets_whole_and_dry_run_writes_nothing(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    desk = ZendeskDesk()
    old = life(desk, 1, T0)  # created at T0, changed until T0 + 2 h
    life(desk, 2, T0 - dt.timedelta(days=2))  # done before --since
    new = life(desk, 3, T0 + dt.timedelta(hours=1))
    desk.audits.sort(key=lambda a: a["timestamp"])
    since = (T0 + dt.timedelta(minutes=60)).strftime("%Y-%m-%d %H:%M:%S")
    srv = FakeZendesk(desk)
    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path, per_page=4)
        dry = await pull(conn, source, cfg, actor=ACTOR, since=since, dry_run=True)
        assert events_of(conn) == [] and read_cursor(conn, "zd") is None
        assert {e.id for e in dry.would_store} == old | new
        assert len(dry.would_store) == len(old | new)  # pages overlap by a second: shown once
        await pull(conn, source, cfg, actor=ACTOR, since=since)
    assert {i for i, _ in events_of(conn)} == old | new
    assert any("/api/v2/tickets/1/audits.json" in p for p in srv.log)  # ticket 1 read whole


async def test_clocks_match_the_hand_computed_ones(
    conn: sqlite3.Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sladesk_tui.cli import main

    desk = ZendeskDesk()

    def m(n: int) -> dt.datetime:
        return T0 + dt.timedelta(minutes=n)

    desk.create(7, T0)  # P1: response 15 min, resolution 4 h, round the clock
    desk.comment(7, m(5), public=False)  # a note is no response
    desk.comment(7, m(12), public=True)  # the response: 12 min
    desk.change(7, m(30), "status", "open", "pending")  # waiting: the resolution clock pauses
    desk.change(7, m(90), "status", "pending", "open")  # runs again
    desk.comment(7, m(95), public=True, by=REQUESTER)
    desk.change(7, m(150), "status", "open", "solved")
    srv = FakeZendesk(desk)
    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path)
        await pull(conn, source, cfg, actor=ACTOR)
    capsys.readouterr()
    assert main(["--db", str(tmp_path / "s.db"), "ticket", "ZD-7", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    clocks = doc["clocks"]
    assert (clocks["response"]["state"], clocks["response"]["elapsed_s"]) == ("met", 12 * 60.0)
    # 08:00-08:30 running, 08:30-09:30 paused, 09:30-10:30 running: 90 min
    assert (clocks["resolution"]["state"], clocks["resolution"]["elapsed_s"]) == ("met", 90 * 60.0)


def test_the_command_dry_run_then_pull_then_nothing_new(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sladesk pull zd` end to end: --since and --dry-run print events and write
    nothing; the pull stores them; a second pull stores nothing new."""
    from fake_http import served_in_thread

    from sladesk_tui.cli import main
    from sladesk_tui.store.identity import login_user

    db = tmp_path / "s.db"
    with agreements_db(db, TERMS, actor="admin"):
        pass
    give_roles(db, "feed", login_user())
    desk = ZendeskDesk()
    life(desk, 1, T0 - dt.timedelta(days=3))  # before --since: not pulled
    want = life(desk, 2, T0)
    srv = FakeZendesk(desk)
    with served_in_thread(srv) as url:
        pw = write_password(tmp_path / "token", "zendesk-api-token")
        sources = tmp_path / "sources.toml"
        sources.write_text(zendesk_text(url, pw), encoding="utf-8")
        base = ["--db", str(db), "pull", "zd", "--sources", str(sources), "--since", T0.strftime("%Y-%m-%d")]
        capsys.readouterr()
        assert main([*base, "--dry-run"]) == 0
        lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        assert {x["id"] for x in lines} == want
        assert events_of(db) == []
        assert main(base) == 0
        assert f"{len(want)} events stored" in capsys.readouterr().out
        assert main(base) == 0
        assert " 0 events stored" in capsys.readouterr().out
    assert {i for i, _ in events_of(db)} == want


async def test_follow_keeps_the_export_budget_across_rounds(conn: sqlite3.Connection, tmp_path: Path) -> None:
    """Round 1 uses 8 export requests; round 2, started a second later, may send only
    2 more in the same minute: its third waits for Zendesk's budget."""
    desk, _ = busy_desk(4)  # 32 audits: pages of 5 overlapping by one (the cursor's second): 8 pages
    srv = FakeZendesk(desk)
    waits: list[float] = []
    rounds: list[int] = []

    async def sleep(s: float) -> None:
        if s == 1.0:  # the interval between rounds
            rounds.append(len(waits))
            if len(rounds) == 1:
                life(desk, 900, T0 + dt.timedelta(days=1))  # 16 new audits: 4 or 5 more pages
                life(desk, 901, T0 + dt.timedelta(days=1, minutes=1))
            else:
                raise asyncio.CancelledError
        else:
            waits.append(s)

    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path, per_page=5)
        cfg = dataclasses.replace(cfg, interval_s=1.0)
        with pytest.raises(asyncio.CancelledError):
            await pull(conn, source, cfg, actor=ACTOR, follow=True, sleep=sleep)
    exports = [p for p in srv.log if p.startswith("/api/v2/incremental/")]
    assert len(exports) > 10
    assert len(exports) >= 12
    assert rounds[0] == 0 and any(w > 50 for w in waits)  # no wait in round 1; one in round 2
    assert conn.execute("SELECT COUNT(DISTINCT ticket) FROM events").fetchone()[0] == 6
