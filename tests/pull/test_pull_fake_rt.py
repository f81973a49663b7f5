"""The puller against an RT REST2 stand-in on loopback: paging, 429, cut pages, outages, bad data."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_http import serving
from fake_rt import T0, Desk, FakeRt, generated_desk, iso
from pull_support import (
    ACTOR,
    AGREEMENT,
    Waits,
    events_of,
    load_source,
    no_sleep,
    sources_text,
    write_password,
)
from support import agreements_db, give_roles

from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.core.sources.pull_config import PullConfig
from sladesk_tui.services.pull import PullError, PullStats, pull
from sladesk_tui.store.audit import verify
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.pulls import problems, read_cursor


@pytest.fixture
def conn(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[sqlite3.Connection]:
    """The desk, on the test's backend (a file, or a fresh PostgreSQL database)."""
    target = tmp_path / "s.db"
    if backend == "postgresql":
        server = request.getfixturevalue("pg_server")
        target = server.fresh(server.role("owner"))
    with agreements_db(target, AGREEMENT, actor="admin", toml=tmp_path / "a.toml") as c:
        give_roles(target, "feed", ACTOR, named=True)  # pull writes events as a feed account
        yield c


@pytest.fixture
async def server() -> AsyncIterator[FakeRt]:
    async with serving(FakeRt(generated_desk(30))) as srv:
        yield srv


def config(srv: FakeRt, tmp_path: Path, **kw: Any) -> tuple[Source, PullConfig]:
    pw = write_password(tmp_path / "pw", "secret")
    return load_source(sources_text(srv.url, pw, **kw))


def expected_ids(desk: Desk) -> set[str]:
    """By hand from the generated histories: which transactions become which events."""

    def bucket(p: int) -> int:
        return 1 if p >= 80 else 2 if p >= 50 else 3 if p >= 20 else 4

    out: set[str] = set()
    for tx in desk.transactions:
        t, n, kind = tx["ObjectId"], tx["id"], tx["Type"]
        if kind == "Create":
            out.add(f"rt:{t}:created:{n}")
        elif kind in ("Correspond", "Comment"):
            out.add(f"rt:{t}:comment:{n}")
        elif kind == "Status" and tx["NewValue"] == "resolved":
            out.add(f"rt:{t}:resolved:{n}")
        elif (
            kind == "Status" and tx["NewValue"] != "open" or kind == "Status" and tx["OldValue"] == "stalled"
        ):
            out.add(f"rt:{t}:status:{n}")
        elif kind == "Set" and bucket(int(tx["OldValue"])) != bucket(int(tx["NewValue"])):
            out.add(f"rt:{t}:priority:{n}")
    return out


@pytest.mark.both_backends
async def test_pull_pages_through_everything_then_stores_nothing_new(
    server: FakeRt, conn: sqlite3.Connection, tmp_path: Path
) -> None:
    source, cfg = config(server, tmp_path, per_page=7)
    stats = await pull(conn, source, cfg, actor=ACTOR)
    want = expected_ids(server.desk)
    assert {i for i, _ in events_of(conn)} == want
    assert stats.inserted == len(want) and stats.transactions == len(server.desk.transactions)
    assert stats.batches == -(-len(server.desk.transactions) // 7)
    assert read_cursor(conn, "rt") == server.desk.transactions[-1]["id"]
    # a stalled ticket is waiting, a resolved one ended
    row = conn.execute("SELECT status, is_open, priority FROM tickets WHERE id = 'RT-1'").fetchone()
    assert (row[0], row[1]) == ("resolved", 0)
    again = await pull(conn, source, cfg, actor=ACTOR)
    assert (again.inserted, again.transactions, again.requests) == (0, 0, 1)
    assert verify(conn).ok


@pytest.mark.both_backends
async def test_429_waits_for_retry_after(server: FakeRt, conn: sqlite3.Connection, tmp_path: Path) -> None:
    source, cfg = config(server, tmp_path, per_page=50)
    server.rate_limit = {1, 4}
    server.retry_after = "7"
    waited = Waits()

    stats = await pull(conn, source, cfg, actor=ACTOR, sleep=waited)
    assert stats.rate_limited == 2 and waited == [7.0, 7.0]
    assert {i for i, _ in events_of(conn)} == expected_ids(server.desk)


@pytest.mark.both_backends
async def test_a_page_cut_mid_body_is_fetched_again_without_gap_or_duplicate(
    server: FakeRt, conn: sqlite3.Connection, tmp_path: Path
) -> None:
    source, cfg = config(server, tmp_path, per_page=9)
    server.cut = {1, 2, 6, 11, 12}  # pages of transactions and ticket look-ups alike
    stats = await pull(conn, source, cfg, actor=ACTOR, sleep=no_sleep)
    assert stats.retries == 5
    assert {i for i, _ in events_of(conn)} == expected_ids(server.desk)
    assert len(events_of(conn)) == len(expected_ids(server.desk))


@pytest.mark.both_backends
async def test_an_outage_longer_than_retry_for_stops_with_the_cursor_on_the_last_stored_batch(
    server: FakeRt, conn: sqlite3.Connection, tmp_path: Path
) -> None:
    source, cfg = config(server, tmp_path, per_page=10)
    cfg = dataclasses.replace(cfg, retry_for_s=0.3)
    calls = 0

    async def sleep(s: float) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)

    # The provider goes away after 5 requests (two batches stored), for good.
    server.down_after = 5
    with pytest.raises(PullError, match="gave up"):
        await pull(conn, source, cfg, actor=ACTOR, sleep=sleep)
    cursor = int(read_cursor(conn, "rt") or 0)
    stored = {i for i, _ in events_of(conn)}
    assert 0 < cursor < int(server.desk.transactions[-1]["id"])
    # exactly the events of the transactions up to the cursor: no gap inside, nothing past it
    upto = Desk(server.desk.tickets, [t for t in server.desk.transactions if int(t["id"]) <= cursor])
    assert stored == expected_ids(upto)
    # back again: the next pull completes the history
    server.down_after = None
    server.down = False
    await pull(conn, source, cfg, actor=ACTOR)
    assert {i for i, _ in events_of(conn)} == expected_ids(server.desk)


@pytest.mark.both_backends
async def test_follow_pulls_again_after_the_interval(
    server: FakeRt, conn: sqlite3.Connection, tmp_path: Path
) -> None:
    source, cfg = config(server, tmp_path)
    rounds: list[PullStats] = []
    sleeps = 0

    async def sleep(s: float) -> None:
        nonlocal sleeps
        sleeps += 1
        if sleeps == 1:  # between round 1 and 2 a reply arrives in RT
            server.desk.tx(3, "Correspond", "2026-11-03T09:00:00Z")
        if sleeps == 2:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await pull(conn, source, cfg, actor=ACTOR, follow=True, sleep=sleep, on_round=rounds.append)
    assert [r.inserted for r in rounds][1] == 1
    assert sleeps == 2


@pytest.mark.both_backends
async def test_dry_run_writes_nothing(server: FakeRt, conn: sqlite3.Connection, tmp_path: Path) -> None:
    source, cfg = config(server, tmp_path, per_page=13)
    stats = await pull(conn, source, cfg, actor=ACTOR, dry_run=True)
    assert {e.id for e in stats.would_store} == expected_ids(server.desk)
    assert events_of(conn) == [] and read_cursor(conn, "rt") is None


@pytest.mark.both_backends
async def test_since_brings_older_tickets_whole(
    server: FakeRt, conn: sqlite3.Connection, tmp_path: Path
) -> None:
    source, cfg = config(server, tmp_path, per_page=20)
    cut = server.desk.transactions[len(server.desk.transactions) // 2]["Created"]
    since = cut.replace("T", " ").rstrip("Z")
    await pull(conn, source, cfg, actor=ACTOR, since=since)
    touched = {t["ObjectId"] for t in server.desk.transactions if t["Created"] >= cut}
    want = {i for i in expected_ids(server.desk) if i.split(":")[1] in touched}
    assert {i for i, _ in events_of(conn)} == want


# ---- bad data: per-ticket reasons, the rest stored, nothing half-written -----------------------


@pytest.mark.both_backends
async def test_bad_tickets_are_set_aside_whole_with_their_reason(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    desk = Desk()
    at = T0
    for t in range(1, 8):
        desk.add_ticket(
            t, queue="Support", requestor=f"c{t}@acme.example", priority=60, subject=f"T{t}", at=at
        )
        desk.tx(t, "Correspond", at)
    desk.tickets[2]["Queue"]["Name"] = "Sales"  # a queue the source does not pull
    desk.tx(3, "Status", at, field="Status", old="open", new="limbo")  # a status the mapping does not name
    desk.tx(4, "Comment", "2026-11-02 08:00:00")  # a timestamp without a zone
    # ticket 5: its history starts with a reply, its creation is missing
    desk.transactions = [t for t in desk.transactions if not (t["ObjectId"] == "5" and t["Type"] == "Create")]
    # ticket 6: a reply stored earlier (by a webhook) under the id the pull derives, with other content
    reply6 = next(t for t in desk.transactions if t["ObjectId"] == "6" and t["Type"] == "Correspond")
    desk.tx(7, "Correspond", at)
    srv = FakeRt(desk)
    async with serving(srv):
        source, cfg = config(srv, tmp_path, queues=["Support"])
        from sladesk_tui.core.eventfile import event_from_mapping

        pre = [
            event_from_mapping(
                {
                    "id": "rt:6:created:" + next(t["id"] for t in desk.transactions if t["ObjectId"] == "6"),
                    "type": "created",
                    "ticket": "RT-6",
                    "at": iso(at),
                    "customer": "acme.example",
                    "priority": "P2",
                    "title": "T6",
                    "author": "root",
                },
                seq=1,
            ),
            event_from_mapping(
                {"id": f"rt:6:comment:{reply6['id']}", "type": "note", "ticket": "RT-6", "at": iso(at)}, seq=2
            ),
        ]
        ingest(conn, pre, actor="webhook", source="hook:rt")
        before = conn.execute("SELECT COUNT(*) FROM events WHERE ticket = 'RT-6'").fetchone()[0]
        await pull(conn, source, cfg, actor=ACTOR)
    reasons = {p.provider_ticket: p.reason for p in problems(conn, "rt")}
    assert set(reasons) == {"2", "3", "4", "5", "6"}
    assert "queue 'Sales' is not one of the source's pull.queues" in reasons["2"]
    assert "status 'limbo' is not in its mapping" in reasons["3"]
    assert "has no UTC offset" in reasons["4"]
    assert "history starts with transaction" in reasons["5"] and "not with its creation" in reasons["5"]
    assert "conflicts with the stored event" in reasons["6"]
    stored = dict(conn.execute("SELECT ticket, COUNT(*) FROM events GROUP BY ticket").fetchall())
    # good tickets whole; refused ones not at all (6 keeps only what the webhook had stored)
    assert stored == {"RT-1": 2, "RT-7": 3, "RT-6": before}
    # the per-ticket reasons are what `sladesk sources` shows; fixing the mapping and
    # pulling again (the ticket is touched in RT) stores the ticket and clears its reason
    assert json.dumps(reasons)  # plain text


@pytest.mark.both_backends
async def test_a_set_aside_ticket_is_stored_once_it_maps(conn: sqlite3.Connection, tmp_path: Path) -> None:
    desk = Desk()
    desk.add_ticket(1, queue="Support", requestor="c@acme.example", priority=60, subject="T", at=T0)
    desk.tx(1, "Status", T0, field="Status", old="new", new="limbo")
    srv = FakeRt(desk)
    async with serving(srv):
        source, cfg = config(srv, tmp_path)
        await pull(conn, source, cfg, actor=ACTOR)
        assert [p.provider_ticket for p in problems(conn)] == ["1"]
        fixed = dataclasses.replace(source, statuses={**source.statuses, "limbo": "waiting"})
        desk.tx(1, "Correspond", T0)  # RT moves on; the next batch brings the ticket whole
        await pull(conn, fixed, cfg, actor=ACTOR)
    assert problems(conn) == []
    types = [r[0] for r in conn.execute("SELECT type FROM events WHERE ticket = 'RT-1' ORDER BY seq")]
    assert types == ["created", "status", "reply"]


async def test_sladesk_sources_lists_the_set_aside_tickets(
    conn: sqlite3.Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sladesk_tui.cli import main

    desk = Desk()
    desk.add_ticket(1, queue="Support", requestor="c@acme.example", priority=60, subject="fine", at=T0)
    desk.add_ticket(2, queue="Support", requestor="c@acme.example", priority=60, subject="odd", at=T0)
    desk.tx(2, "Status", T0, field="Status", old="new", new="limbo")
    srv = FakeRt(desk)
    async with serving(srv):
        source, cfg = config(srv, tmp_path)
        await pull(conn, source, cfg, actor=ACTOR)
        (tmp_path / "sources.toml").write_text(sources_text(srv.url, tmp_path / "pw"), encoding="utf-8")
    capsys.readouterr()
    args = ["--db", str(tmp_path / "s.db"), "sources", "--sources", str(tmp_path / "sources.toml")]
    assert main([*args, "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["pull_cursor"] == desk.transactions[-1]["id"]
    assert [(p["ticket"], p["our_ticket"]) for p in row["set_aside"]] == [("2", "RT-2")]
    assert "status 'limbo' is not in its mapping" in row["set_aside"][0]["reason"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "set aside ticket 2: RT ticket 2, transaction" in table


@pytest.mark.parametrize("stop_signal", ["SIGTERM", "SIGINT"])
async def test_pull_follow_stops_cleanly_on_a_service_managers_signal(
    server: FakeRt, conn: sqlite3.Connection, tmp_path: Path, stop_signal: str
) -> None:
    """`pull --follow` as a service: SIGTERM (or SIGINT, even when a background shell
    left it ignored) ends it between two requests with exit 0 and its rounds stored."""
    import signal
    import sys

    from sladesk_tui.store.identity import login_user

    give_roles(tmp_path / "s.db", "feed", login_user())
    (tmp_path / "sources.toml").write_text(
        sources_text(server.url, write_password(tmp_path / "pw", "secret")), encoding="utf-8"
    )

    def as_a_background_job() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "sladesk_tui", "--db", str(tmp_path / "s.db"), "pull", "rt"),
        *("--sources", str(tmp_path / "sources.toml"), "--follow", "--interval", "0.2"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=as_a_background_job,  # noqa: PLW1509 - the child runs no thread of ours
    )
    try:
        assert proc.stdout is not None
        first = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert first.decode().startswith("pulled rt: 330 transactions"), first
        second = await asyncio.wait_for(proc.stdout.readline(), 30)  # a second round: it follows
        assert second.decode().startswith("pulled rt: 0 transactions"), second
    finally:
        proc.send_signal(getattr(signal, stop_signal))
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        except TimeoutError:
            proc.kill()  # a puller that ignored the signal must not outlive the test
            await proc.wait()
            raise
    assert proc.returncode == 0, err.decode()
    assert err.decode().strip().endswith("pull rt: stopped")
    assert {i for i, _ in events_of(tmp_path / "s.db")} == expected_ids(server.desk)


async def test_a_link_to_another_server_is_not_followed_with_the_token(tmp_path: Path) -> None:
    """A next-page link the provider hands back is followed only on the configured
    server: a hostile or rewritten answer must not collect the token."""
    import aiohttp

    from sladesk_tui.services.pull.http import Http

    _, cfg = load_source(sources_text("https://rt.example.com", write_password(tmp_path / "pw", "secret")))
    async with aiohttp.ClientSession() as session:
        http = Http(session, cfg, "Basic c2VjcmV0", PullStats(), sleep=no_sleep)
        for foreign in ("https://evil.example/REST/2.0/x", "http://rt.example.com/REST/2.0/x"):
            with pytest.raises(PullError, match="not followed"):
                await http.request("GET", foreign)
        assert http.stats.requests == 0
        assert http._own("https://RT.example.com:443/REST/2.0/y") == "https://RT.example.com:443/REST/2.0/y"


async def test_a_server_answering_429_forever_stops_the_pull_once_retry_for_is_spent(
    server: FakeRt, conn: sqlite3.Connection, tmp_path: Path
) -> None:
    source, cfg = config(server, tmp_path, per_page=10)
    cfg = dataclasses.replace(cfg, retry_for_s=30)
    server.rate_limit = set(range(1, 10_000))
    server.retry_after = "7"
    waited = Waits()
    with pytest.raises(PullError) as caught:
        await pull(conn, source, cfg, actor=ACTOR, sleep=waited)
    assert waited == [7.0, 7.0, 7.0, 7.0]  # 28 s; a fifth wait would pass the 30 s budget
    message = str(caught.value)
    assert "429" in message and "retry_for_s" in message and "\n" not in message
    assert server.requests == 5
    assert read_cursor(conn, "rt") is None and events_of(conn) == []


async def test_text_from_the_server_is_made_safe_before_it_is_shown(
    server: FakeRt, conn: sqlite3.Connection, tmp_path: Path
) -> None:
    source, cfg = config(server, tmp_path)
    server.authorization = "Basic nope"  # every request refused, with the body below
    server.unauthorized = "denied\x1b[2J\x07\r\nX-Injected: 1\u202e"
    with pytest.raises(PullError) as caught:
        await pull(conn, source, cfg, actor=ACTOR, sleep=no_sleep)
    message = str(caught.value)
    assert "HTTP 401" in message and "denied" in message
    assert message.isprintable(), repr(message)
    assert "\u241b[2J" in message  # the ESC shown as its picture, not obeyed


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_follow_reopens_a_lost_database_connection_and_goes_on(
    backend: str, server: FakeRt, conn: sqlite3.Connection, tmp_path: Path, pg_server: object
) -> None:
    from sladesk_tui.store.db import open_db

    source, cfg = config(server, tmp_path)
    rounds: list[PullStats] = []
    said: list[str] = []
    sleeps = 0

    async def sleep(s: float) -> None:
        nonlocal sleeps
        sleeps += 1
        if sleeps == 1:  # between round 1 and 2: a reply in RT, and the server ends our session
            server.desk.tx(3, "Correspond", "2026-11-03T09:00:00Z")
            with pg_server.admin() as admin:  # type: ignore[attr-defined]  # pg_support.PgServer
                pid = conn.raw.info.backend_pid  # type: ignore[attr-defined]  # a store.pg.PgConnection
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        if sleeps == 2:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await pull(
            conn,
            source,
            cfg,
            actor=ACTOR,
            follow=True,
            sleep=sleep,
            on_round=rounds.append,
            log=said.append,
            reopen=lambda: open_db(conn.url),  # type: ignore[attr-defined]  # a store.pg.PgConnection
        )
    assert [r.inserted for r in rounds][1:] == [1]
    assert [m for m in said if "connection" in m or "reconnected" in m] == [said[0], "reconnected"]
    assert said[0].startswith("lost the database connection (") and said[0].endswith("); reconnecting")
    check = open_db(conn.url)  # type: ignore[attr-defined]  # a store.pg.PgConnection
    try:
        assert {i for i, _ in events_of(check)} == expected_ids(server.desk)
        assert verify(check).ok
    finally:
        check.close()
