"""Pulling Zammad ticket history from a local stand-in of its REST API.

The strongest check, webhooks then a pull of the same history stored once, is
test_pull_after_webhooks.py, for every provider alike.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_http import serving
from fake_zammad import T0, FakeZammad, ZammadDesk, zt
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
    zammad_text,
)

from sladesk_tui.core.eventfile import event_from_mapping
from sladesk_tui.core.sources.ids import event_id, snapshot_key
from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.core.sources.pull_config import PullConfig
from sladesk_tui.services.pull import PullError, pull
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.pulls import problems, read_cursor

TERMS = ACME_TERMS_KEEP
MS = dt.timedelta(milliseconds=1)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    with feed_desk(tmp_path / "s.db", TERMS) as c:
        yield c


def configured(url: str, tmp_path: Path, **kw: Any) -> tuple[Source, PullConfig]:
    pw = write_password(tmp_path / "token", "zammad-api-token")
    text = zammad_text(url, pw, **kw)
    (tmp_path / "sources.toml").write_text(text, encoding="utf-8")
    return load_source(text, "zammad")


def zid(tid: int, kind: str, key: object) -> str:
    return event_id("zammad", str(tid), kind, str(key))


def second(t: dt.datetime) -> str:
    return t.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def life(desk: ZammadDesk, tid: int, start: dt.datetime) -> set[str]:
    """A ticket's life in Zammad and, by hand, the ids of the events it must become."""

    def m(n: int, ms: int = 0) -> dt.datetime:
        return start + dt.timedelta(minutes=n) + ms * MS

    desk.create(tid, start)
    first = desk.article(tid, start, sender="Customer", internal=False)
    note = desk.article(tid, m(5, 120), sender="Agent", internal=True)
    reply = desk.article(tid, m(12, 300), sender="Agent", internal=False)
    desk.change(tid, m(30, 412), "state", "pending reminder")
    desk.change(tid, m(90, 7), "state", "open")
    desk.change(tid, m(100, 999), "priority", "3 high")
    desk.change(tid, m(120, 250), "state", "closed")
    return {
        zid(tid, "created", tid),
        zid(tid, "comment", first),
        zid(tid, "comment", note),
        zid(tid, "comment", reply),
        # the note's snapshot says `new`, mapped to `open`; the ticket was `new` since
        # its creation: a status event, from the webhook and the pull alike
        zid(tid, "status", snapshot_key("new", second(m(5)))),
        zid(tid, "status", snapshot_key("pending reminder", second(m(30)))),
        zid(tid, "status", snapshot_key("open", second(m(90)))),
        zid(tid, "priority", snapshot_key("P1", second(m(100)))),
        zid(tid, "resolved", snapshot_key("closed", second(m(120)))),
    }


async def test_paging_429_and_cut_pages_store_every_ticket_once(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    desk = ZammadDesk()
    want: set[str] = set()
    for n in range(11):
        want |= life(desk, 200 + n, T0 + dt.timedelta(minutes=4 * n))
    for n in range(4):  # four tickets updated in the same instant: more than a page of 3
        want |= life(desk, 300 + n, T0 + dt.timedelta(days=1))
        desk.tickets[300 + n]["updated_at"] = zt(T0 + dt.timedelta(days=2))
    srv = FakeZammad(desk)
    srv.rate_limit = {2}
    srv.retry_after = "3"
    srv.cut = {1, 6, 13}
    waited = Waits()

    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path, per_page=3)
        stats = await pull(conn, source, cfg, actor=ACTOR, sleep=waited)
        again = await pull(conn, source, cfg, actor=ACTOR, sleep=waited)
    assert problems(conn) == []
    assert {i for i, _ in events_of(conn)} == want and len(events_of(conn)) == len(want)
    assert (stats.rate_limited, stats.retries, stats.inserted) == (1, 3, len(want))
    assert 3.0 in waited
    assert read_cursor(conn, "zammad") == zt(T0 + dt.timedelta(days=2))
    assert again.inserted == 0


async def test_bad_tickets_are_set_aside_whole_and_listed_by_sources(
    conn: sqlite3.Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sladesk_tui.cli import main

    desk = ZammadDesk()
    want = life(desk, 1, T0)
    life(desk, 2, T0)
    desk.change(2, T0 + dt.timedelta(hours=3), "state", "escalated")  # not in the mapping
    life(desk, 3, T0)
    desk.history[3] = desk.history[3][1:]  # its `created` entry missing
    life(desk, 4, T0)
    desk.article(4, T0 - dt.timedelta(days=1), sender="Agent", internal=False)  # before its creation
    life(desk, 5, T0)
    first5 = desk.articles[5][0]["id"]
    srv = FakeZammad(desk)
    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path)
        # Ticket 5's first article was stored earlier under the id pull derives, with other content.
        pre = [
            event_from_mapping(
                {
                    "id": zid(5, "created", 5),
                    "type": "created",
                    "ticket": "ZM-5",
                    "at": zt(T0),
                    "customer": "acme",
                    "priority": "P2",
                    "title": "Mailbox over quota",
                },
                seq=1,
            ),
            event_from_mapping(
                {"id": zid(5, "comment", first5), "type": "note", "ticket": "ZM-5", "at": zt(T0)}, seq=2
            ),
        ]
        ingest(conn, pre, actor="webhook", source="hook:zammad")
        await pull(conn, source, cfg, actor=ACTOR)
    reasons = {p.provider_ticket: p.reason for p in problems(conn, "zammad")}
    assert set(reasons) == {"2", "3", "4", "5"}
    assert "status 'escalated' is not in its mapping" in reasons["2"]
    assert "not with its creation" in reasons["3"]
    assert "starts before its creation" in reasons["4"]
    assert "conflicts with the stored event" in reasons["5"]
    stored: dict[str, set[str]] = {}
    for eid, ticket in conn.execute("SELECT id, ticket FROM events"):
        stored.setdefault(ticket, set()).add(eid)
    assert stored["ZM-1"] == want  # whole
    assert not {"ZM-2", "ZM-3", "ZM-4"} & set(stored)  # nothing half-written
    assert stored["ZM-5"] == {zid(5, "created", 5), zid(5, "comment", first5)}  # what the webhook had
    capsys.readouterr()
    args = ["--db", str(tmp_path / "s.db"), "sources", "--sources", str(tmp_path / "sources.toml")]
    assert main([*args, "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert sorted(p["ticket"] for p in row["set_aside"]) == ["2", "3", "4", "5"]


async def test_since_and_dry_run(conn: sqlite3.Connection, tmp_path: Path) -> None:
    desk = ZammadDesk()
    before = life(desk, 1, T0 - dt.timedelta(days=3))  # last changed two days before --since
    after = life(desk, 2, T0 - dt.timedelta(days=3))
    desk.change(2, T0 + dt.timedelta(hours=1), "state", "open")  # reopened after --since: read whole
    after |= {
        zid(2, "reopened", snapshot_key("open", second(T0 + dt.timedelta(hours=1)))),
    }
    since = T0.strftime("%Y-%m-%d %H:%M:%S")
    srv = FakeZammad(desk)
    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path)
        dry = await pull(conn, source, cfg, actor=ACTOR, since=since, dry_run=True)
        assert events_of(conn) == [] and read_cursor(conn, "zammad") is None
        assert {e.id for e in dry.would_store} == after
        await pull(conn, source, cfg, actor=ACTOR, since=since)
    assert {i for i, _ in events_of(conn)} == after
    assert not before & {i for i, _ in events_of(conn)}


async def test_clocks_match_the_hand_computed_ones(
    conn: sqlite3.Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sladesk_tui.cli import main

    desk = ZammadDesk()

    def m(n: int) -> dt.datetime:
        return T0 + dt.timedelta(minutes=n)

    desk.create(9, T0, priority="3 high")  # P1: response 15 min, resolution 4 h, round the clock
    desk.article(9, T0, sender="Customer", internal=False)
    desk.article(9, m(4), sender="Agent", internal=True)  # a note is no response
    desk.article(9, m(9), sender="Agent", internal=False)  # the response: 9 min
    desk.change(9, m(20), "state", "pending reminder")  # waiting: the resolution clock pauses
    desk.change(9, m(80), "state", "open")
    desk.change(9, m(140), "state", "closed")
    srv = FakeZammad(desk)
    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path)
        await pull(conn, source, cfg, actor=ACTOR)
    capsys.readouterr()
    assert main(["--db", str(tmp_path / "s.db"), "ticket", "ZM-9", "--format", "json"]) == 0
    clocks = json.loads(capsys.readouterr().out)["clocks"]
    assert (clocks["response"]["state"], clocks["response"]["elapsed_s"]) == ("met", 9 * 60.0)
    # 09:30-09:50 running, 09:50-10:50 paused, 10:50-11:50 running: 80 min
    assert (clocks["resolution"]["state"], clocks["resolution"]["elapsed_s"]) == ("met", 80 * 60.0)


async def test_an_outage_stops_on_the_last_stored_page_and_the_next_pull_completes(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    desk = ZammadDesk()
    want: set[str] = set()
    for n in range(7):
        want |= life(desk, 400 + n, T0 + dt.timedelta(minutes=3 * n))
    srv = FakeZammad(desk)
    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path, per_page=2, retry_for_s=0.2)
        srv.down_after = 8  # two pages of two tickets (1 + 2 x 2 requests each), then gone

        with pytest.raises(PullError, match="gave up"):
            await pull(conn, source, cfg, actor=ACTOR, sleep=brief_sleep)
        stored = {i for i, _ in events_of(conn)}
        cursor = read_cursor(conn, "zammad")
        assert cursor is not None and 0 < len(stored) < len(want)
        # exactly the tickets up to the cursor, whole
        done = {t for (t,) in conn.execute("SELECT id FROM tickets")}
        assert done == {f"ZM-{t}" for t, tk in desk.tickets.items() if tk["updated_at"] <= cursor}
        srv.down_after = None
        srv.down = False
        await pull(conn, source, cfg, actor=ACTOR, sleep=no_sleep)
    assert {i for i, _ in events_of(conn)} == want and len(events_of(conn)) == len(want)


async def test_follow_reads_nothing_again_at_the_cursors_instant_but_keeps_its_ties(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    """Zammad's search is asked `updated_at >= cursor`: the tickets stored at the cursor's
    instant come back every round. Unchanged, they are not read again (no history or
    article request); a ticket updated later in that same instant (indexed after the
    round read it), or one of them updated again within the same second, is read and stored."""
    import asyncio

    from sladesk_tui.services.pull import PullStats

    tie = T0 + dt.timedelta(hours=1)
    desk = ZammadDesk()
    desk.create(601, T0)
    desk.article(601, T0, sender="Customer", internal=False)
    for tid in (602, 603):
        desk.create(tid, tie)
        desk.article(tid, tie, sender="Customer", internal=False)
    srv = FakeZammad(desk)
    rounds: list[PullStats] = []
    per_ticket: list[list[str]] = []
    mark = 0

    async def between_rounds(_s: float) -> None:
        nonlocal mark
        per_ticket.append([p for p in srv.log[mark:] if "/tickets/search" not in p])
        mark = len(srv.log)
        n = len(rounds)
        if n == 2:  # a ticket updated in the same millisecond, indexed after round 2 read
            desk.create(604, tie)
            desk.article(604, tie, sender="Customer", internal=False)
        elif n == 3:  # a stored one changed again within the same second
            desk.change(603, tie + 600 * MS, "state", "pending reminder")
        elif n == 5:
            raise asyncio.CancelledError

    async with serving(srv):
        source, cfg = configured(srv.url, tmp_path, per_page=50)
        with pytest.raises(asyncio.CancelledError):
            await pull(
                conn, source, cfg, actor=ACTOR, follow=True, sleep=between_rounds, on_round=rounds.append
            )
    assert read_cursor(conn, "zammad") == zt(tie + 600 * MS)
    assert len(per_ticket[0]) == 6  # round 1: three tickets, each its history and articles
    assert per_ticket[1] == []  # nothing new: the search alone
    assert [r.requests for r in rounds[1:]] == [1, 3, 3, 1]
    assert sorted(per_ticket[2]) == [
        "/api/v1/ticket_articles/by_ticket/604?expand=true",
        "/api/v1/ticket_history/604",
    ]
    assert sorted(per_ticket[3]) == [
        "/api/v1/ticket_articles/by_ticket/603?expand=true",
        "/api/v1/ticket_history/603",
    ]
    assert per_ticket[4] == []
    stored = {i for i, _ in events_of(conn)}
    assert zid(604, "created", 604) in stored
    assert rounds[3].inserted >= 1  # 603's new state
    assert zid(603, "status", snapshot_key("pending reminder", second(tie))) in stored
    assert problems(conn) == []
