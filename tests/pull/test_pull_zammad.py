"""Pulling Zammad ticket history from a local stand-in of its REST API.

The first test is the strongest: a ticket's webhooks (snapshots) are stored the way
the receiver stores them, then its history is pulled: nothing is stored twice and
nothing set aside, though Zammad stamps the webhook's `updated_at` and the history
entry of the same change a few milliseconds apart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_zammad import T0, FakeZammad, ZammadDesk, zt
from pull_support import events_of, write_password
from source_fixtures import zammad_article, zammad_snapshot
from support import agreements_db, give_roles

from sladesk_tui.core.eventfile import event_from_mapping
from sladesk_tui.core.sources.ids import event_id, snapshot_key
from sladesk_tui.core.sources.mapping import Source, parse_sources_text
from sladesk_tui.core.sources.payloads import decode, to_events
from sladesk_tui.core.sources.pull_config import PullConfig, pull_config
from sladesk_tui.services.puller import PullError, pull
from sladesk_tui.store.deliveries import ticket_states
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.pulls import problems, read_cursor

TERMS = """
[[agreement]]
id = "acme"
customer = "acme"
calendar = "24x7"
on_priority_change = "keep"
[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
"""
ACTOR = "feeder"
MS = dt.timedelta(milliseconds=1)


def source_text(url: str, pw: Path, per_page: int = 50, retry_for_s: float = 30) -> str:
    return f"""
[[source]]
name = "zammad"
provider = "zammad"
secret_file = "zammad.secret"
ticket_prefix = "ZM-"
statuses = {{ new = "open", open = "open", "pending reminder" = "waiting", closed = "resolved", merged = "closed" }}
priorities = {{ "1 low" = "P2", "2 normal" = "P2", "3 high" = "P1" }}
customer = {{ from = "requester_domain" }}
customers = {{ "acme.example" = "acme" }}
[source.pull]
url = "{url}"
token_file = "{pw}"
per_page = {per_page}
retry_for_s = {retry_for_s}
"""


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    with agreements_db(tmp_path / "s.db", TERMS, actor="admin") as c:
        give_roles(tmp_path / "s.db", "feed", ACTOR)  # pull writes events as a feed account
        yield c


def configured(
    url: str, tmp_path: Path, per_page: int = 50, retry_for_s: float = 30
) -> tuple[Source, PullConfig]:
    pw = write_password(tmp_path / "token", "zammad-api-token")
    text = source_text(url, pw, per_page, retry_for_s)
    (tmp_path / "sources.toml").write_text(text, encoding="utf-8")
    source = parse_sources_text(text, "sources.toml").get("zammad")
    assert source is not None
    return source, pull_config(source)


async def no_sleep(_s: float) -> None:
    await asyncio.sleep(0)


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


async def test_a_pull_after_the_webhooks_stores_nothing_twice(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    # Ticket 81 as Zammad's webhooks tell it (the receiver's fixtures) ...
    hooks = [
        zammad_snapshot(
            81,
            state="new",
            updated_at="2026-11-20T09:30:00.000Z",
            article=zammad_article(104, sender="Customer", internal=False, at="2026-11-20T09:30:00.000Z"),
        ),
        zammad_snapshot(
            81,
            state="pending reminder",
            updated_at="2026-11-20T10:00:00.377Z",
            article=zammad_article(105, sender="Agent", internal=False, at="2026-11-20T10:00:00.300Z"),
        ),
        zammad_snapshot(81, state="closed", priority="3 high", updated_at="2026-11-20T11:00:00.250Z"),
    ]
    # ... and as its REST API tells it afterwards (the history a few ms off the snapshots).
    desk = ZammadDesk()
    desk.create(81, T0)
    desk.article(81, T0, sender="Customer", internal=False, aid=104)
    desk.article(
        81, dt.datetime(2026, 11, 20, 10, 0, 0, 300_000, dt.UTC), sender="Agent", internal=False, aid=105
    )
    desk.change(81, dt.datetime(2026, 11, 20, 10, 0, 0, 412_000, dt.UTC), "state", "pending reminder")
    desk.change(81, dt.datetime(2026, 11, 20, 11, 0, 0, 190_000, dt.UTC), "priority", "3 high")
    desk.change(81, dt.datetime(2026, 11, 20, 11, 0, 0, 190_000, dt.UTC), "state", "closed")
    srv = FakeZammad(desk)
    await srv.start()
    try:
        source, cfg = configured(srv.url, tmp_path)
        for doc in hooks:  # as the receiver stores them: state from the store, then ingest
            decoded = decode(source, json.dumps(doc).encode(), "application/json")
            ingest(
                conn,
                to_events(source, decoded, ticket_states(conn, decoded.tickets)),
                actor="hook",
                source="hook:zammad",
            )
        by_hooks = events_of(conn)
        assert len(by_hooks) == 6  # created, customer reply, reply, waiting, priority, resolved
        stats = await pull(conn, source, cfg, actor=ACTOR)
    finally:
        await srv.stop()
    assert [p.reason for p in problems(conn)] == []
    assert set(events_of(conn)) - set(by_hooks) == set()
    assert (stats.inserted, stats.already_present) == (0, len(by_hooks))


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
    await srv.start()
    waited: list[float] = []

    async def sleep(s: float) -> None:
        waited.append(s)

    try:
        source, cfg = configured(srv.url, tmp_path, per_page=3)
        stats = await pull(conn, source, cfg, actor=ACTOR, sleep=sleep)
        again = await pull(conn, source, cfg, actor=ACTOR, sleep=sleep)
    finally:
        await srv.stop()
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
    await srv.start()
    try:
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
    finally:
        await srv.stop()
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
    await srv.start()
    try:
        source, cfg = configured(srv.url, tmp_path)
        dry = await pull(conn, source, cfg, actor=ACTOR, since=since, dry_run=True)
        assert events_of(conn) == [] and read_cursor(conn, "zammad") is None
        assert {e.id for e in dry.would_store} == after
        await pull(conn, source, cfg, actor=ACTOR, since=since)
    finally:
        await srv.stop()
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
    await srv.start()
    try:
        source, cfg = configured(srv.url, tmp_path)
        await pull(conn, source, cfg, actor=ACTOR)
    finally:
        await srv.stop()
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
    await srv.start()
    try:
        source, cfg = configured(srv.url, tmp_path, per_page=2, retry_for_s=0.2)
        orig = srv.gate

        def gate(request):  # type: ignore[no-untyped-def]  # a fault injected into the stand-in
            if srv.requests >= 8:  # two pages of two tickets (1 + 2 x 2 requests each), then gone
                srv.down = True
            return orig(request)

        srv.gate = gate  # type: ignore[method-assign]  # a fault injected into the stand-in

        async def sleep(_s: float) -> None:
            await asyncio.sleep(0.05)

        with pytest.raises(PullError, match="gave up"):
            await pull(conn, source, cfg, actor=ACTOR, sleep=sleep)
        stored = {i for i, _ in events_of(conn)}
        cursor = read_cursor(conn, "zammad")
        assert cursor is not None and 0 < len(stored) < len(want)
        # exactly the tickets up to the cursor, whole
        done = {t for (t,) in conn.execute("SELECT id FROM tickets")}
        assert done == {f"ZM-{t}" for t, tk in desk.tickets.items() if tk["updated_at"] <= cursor}
        srv.gate = orig  # type: ignore[method-assign]  # the fault removed
        srv.down = False
        await pull(conn, source, cfg, actor=ACTOR, sleep=no_sleep)
    finally:
        await srv.stop()
    assert {i for i, _ in events_of(conn)} == want and len(events_of(conn)) == len(want)
