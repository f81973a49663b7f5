"""The projections and the app's events hold against a raw `psql` session (docs/postgresql.md).

schema/postgresql/0003_projection_guards.sql: the report's rollup is kept by its
trigger only; a person changes a ticket's projection rows only along with its record;
the feeds' state is the feed's; a person's app event is of the app's types, by
themselves, dated now, with the server's recorded_at; an override's and a review's
time is now; a sladesk role goes to a person, never a group role. Each refusal is
tried as an agent and as a lead with the real `psql`; the same things through
sladesk, by the right people, succeed; `audit verify` passes at the end.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from pg_desk import Desk, extend, make_desk
from pg_support import PgServer
from test_raw_psql_rules import count, refused, sladesk

from sladesk_tui.core.events import Event
from sladesk_tui.core.sources.batch import TicketBatch
from sladesk_tui.store.deliveries import RefusalNote, record_refusals
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.overrides import place_override, review_override
from sladesk_tui.store.pulls import store_batch

PEOPLE = ("admin", "lead", "feed", "ann", "kim")
NOW = "extract(epoch FROM now())"


def app_id() -> str:
    """An id of the form the app gives its events (the rules refuse any other)."""
    return f"tui-{uuid.uuid4().hex}"


def reply(desk: Desk, who: str, ticket: str = "T-1") -> None:
    """A reply through sladesk, as the app records it."""
    ev = Event(id=app_id(), type="reply", at=time.time(), ticket=ticket, author=desk.role(who))
    with desk.connect(who) as conn:
        ingest(conn, [ev], actor=desk.role(who), source="tui")


@pytest.fixture(scope="module")
def desk(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    d = make_desk(pg_server, tmp_path_factory.mktemp("pgguard"), PEOPLE)
    # Through sladesk, by the right people: ann's reply stops T-1's response clock (an
    # outcome, and a row of the rollup), the lead replies on SHARED; ann's override
    # and the lead's review of it.
    reply(d, "ann")
    reply(d, "lead", "SHARED")
    with d.connect("ann") as conn:
        d.ann_override = place_override(conn, extend(d, "ann")).id  # type: ignore[attr-defined]  # test data
    with d.connect("lead") as conn:
        review_override(conn, d.ann_override, "approve", reviewer=d.role("lead"))  # type: ignore[attr-defined]  # test data
    assert count(d, "outcomes") >= 2 and count(d, "outcome_days") >= 1
    yield d


def snapshot(desk: Desk, table: str) -> list[tuple[object, ...]]:
    return sorted(desk.admin_rows(f"SELECT * FROM {table}"), key=repr)


@pytest.mark.parametrize("who", ["ann", "lead"])
def test_nobody_writes_the_reports_rollup(desk: Desk, who: str) -> None:
    before = snapshot(desk, "outcome_days")
    for sql in (
        "UPDATE outcome_days SET adj_met = adj_met + adj_breached, adj_breached = 0",
        "DELETE FROM outcome_days",
        "INSERT INTO outcome_days VALUES ('2026-11-02', 'gold', 1, 'P1', 'response', 'x', 1, 1, 0, 1, 0, 0)",
        "TRUNCATE outcome_days",
    ):
        refused(desk.psql(who, sql), "permission denied")
    assert snapshot(desk, "outcome_days") == before


@pytest.mark.parametrize("who", ["ann", "lead"])
def test_projections_change_only_with_the_tickets_record(desk: Desk, who: str) -> None:
    before = {t: snapshot(desk, t) for t in ("tickets", "outcomes", "outcome_days")}
    why = "changes only with its record"
    for sql in (
        "DELETE FROM outcomes WHERE ticket = 'T-1'",
        "UPDATE outcomes SET adj_state = 'met' WHERE ticket = 'T-1'",
        "INSERT INTO outcomes SELECT ticket, clock, cycle + 1, agreement_id, agreement_version, priority,"
        " operator, stopped_ts, day, raw_state, raw_elapsed_s, raw_target_s, 'met', adj_elapsed_s,"
        " adj_target_s FROM outcomes WHERE ticket = 'T-1'",
        "UPDATE tickets SET priority = 'P2', status = 'resolved' WHERE id = 'SHARED'",
        "DELETE FROM outcomes",
        "TRUNCATE tickets CASCADE",
    ):
        r = desk.psql(who, sql)
        assert r.returncode != 0, f"psql accepted {sql!r}"
        assert why in r.stderr or "permission denied" in r.stderr, r.stderr
    # A record row for one ticket does not open another's projection.
    r = desk.psql(
        who,
        "BEGIN; INSERT INTO events (id, type, ticket, ts, at, author, digest, source, recorded_at)"
        f" VALUES ('{app_id()}', 'reply', 'T-1', {NOW}, sladesk_recorded_at(), '{desk.role(who)}', 'd',"
        " 'tui', ''); DELETE FROM outcomes WHERE ticket = 'SHARED'; COMMIT",
    )
    refused(r, "outcomes: ticket SHARED changes only with its record")
    assert {t: snapshot(desk, t) for t in before} == before


@pytest.mark.parametrize("who", ["ann", "lead", "admin"])
def test_the_feeds_state_is_the_feeds(desk: Desk, who: str) -> None:
    before = {t: snapshot(desk, t) for t in ("pull_cursors", "pull_problems", "source_status")}
    for sql in (
        "INSERT INTO pull_cursors VALUES ('rt', 'x', 0, '')",
        "UPDATE pull_cursors SET cursor = 'x'",
        "DELETE FROM pull_problems",
        "INSERT INTO source_status (source) VALUES ('rt')",
        "UPDATE source_status SET refusals = 0",
    ):
        refused(desk.psql(who, sql), "permission denied")
    # Through sladesk too: the receiver's bookkeeping is refused to a person.
    with desk.connect(who) as conn, pytest.raises(sqlite3.DatabaseError, match="permission denied"):
        record_refusals(conn, [RefusalNote("rt", time.time(), 401, "bad signature")])
    assert {t: snapshot(desk, t) for t in before} == before


def test_the_feed_pulls_and_records_refusals(desk: Desk) -> None:
    feed = desk.role("feed")
    ev = Event(
        id="rt-7-created",
        type="created",
        at=time.time() - 60,
        ticket="RT-7",
        seq=1,
        customer="acme",
        priority="P2",
        title="Printer on fire",
    )
    with desk.connect("feed") as conn:
        stored = store_batch(
            conn,
            "rt",
            [TicketBatch("7", "RT-7", (ev,)), TicketBatch("8", "RT-8", (), "no")],
            "cursor-1",
            actor=feed,
            require="feed",
        )
        record_refusals(conn, [RefusalNote("hook", time.time(), 401, "bad signature")])
    assert stored.inserted == 1
    assert desk.admin_rows("SELECT cursor FROM pull_cursors WHERE source = 'rt'") == [("cursor-1",)]
    assert desk.admin_rows("SELECT provider_ticket FROM pull_problems") == [("8",)]
    assert desk.admin_rows("SELECT refusals FROM source_status WHERE source = 'hook'") == [(1,)]


def test_the_feed_receives_a_delivery(desk: Desk) -> None:
    """The receiver's write as the feed: events, a new ticket, the delivery, the source's status."""
    import hashlib
    import json

    from source_fixtures import SOURCES_TOML, zendesk_created

    from sladesk_tui.core.sources.mapping import parse_sources_text
    from sladesk_tui.core.sources.payloads import decode
    from sladesk_tui.store.deliveries import Pending
    from sladesk_tui.store.deliveries import store_batch as store_deliveries

    src = parse_sources_text(SOURCES_TOML, "sources.toml").get("zd")
    assert src is not None
    raw = json.dumps(zendesk_created(41)).encode()
    delivery = Pending(
        src, "zendesk:41", hashlib.sha256(raw).hexdigest(), decode(src, raw, "application/json"), time.time()
    )
    with desk.connect("feed") as conn:
        (out,) = store_deliveries(conn, [delivery], actor=desk.role("feed"), require="feed")
    assert out.status == 200, out.reason
    assert desk.admin_rows("SELECT deliveries FROM source_status WHERE source = 'zd'") == [(1,)]
    assert desk.admin_scalar("SELECT count(*) FROM tickets WHERE id = 'ZD-41'") == 1


def test_the_notifier_records_alerts_as_a_person(desk: Desk) -> None:
    """The notifier writes only the alert outbox (log tables): untouched by the guards."""
    from sladesk_tui.core.alerts import Crossing
    from sladesk_tui.store.alerts import NewAlert, record_crossings

    now = time.time()
    crossing = Crossing("SHARED", "resolution", 1, "warn", now - 60, now + 600, False, ("assignee",))
    with desk.connect("kim") as conn:
        assert (
            record_crossings(
                conn, [NewAlert(crossing, desk.role("lead"), None)], now=now, actor=desk.role("kim")
            )
            == 1
        )
    assert desk.admin_scalar("SELECT count(*) FROM alerts WHERE ticket = 'SHARED'") == 1


def _event(
    desk: Desk,
    who: str,
    *,
    etype: str = "reply",
    ts: str = NOW,
    author: str | None = None,
    eid: str | None = None,
) -> str:
    return (
        "INSERT INTO events (id, type, ticket, ts, at, author, digest, source, recorded_at)"
        f" VALUES ('{eid or app_id()}', '{etype}', 'T-1', {ts}, '1970-01-01T00:00:00.000000Z',"
        f" '{author or desk.role(who)}', 'd', 'tui', '1970-01-01T00:00:00.000000Z')"
    )


@pytest.mark.parametrize("who", ["ann", "lead"])
def test_a_persons_app_event_is_of_the_app_by_them_and_dated_now(desk: Desk, who: str) -> None:
    before = count(desk, "events")
    refused(desk.psql(who, _event(desk, who, ts=f"{NOW} - 3600")), "from the server's clock")
    refused(desk.psql(who, _event(desk, who, ts=f"{NOW} + 3600")), "from the server's clock")
    refused(desk.psql(who, _event(desk, who, etype="note")), "the app records no note event")
    refused(desk.psql(who, _event(desk, who, etype="created")), "the app records no created")
    ghost = _event(desk, who).replace("'T-1'", "'GHOST'")
    refused(desk.psql(who, ghost), "events: no ticket GHOST")
    other = desk.role("kim")
    refused(desk.psql(who, _event(desk, who, author=other)), f"app event by {other}")
    assert count(desk, "events") == before


def test_recorded_at_is_the_servers(desk: Desk) -> None:
    """A present reply is taken, its recorded_at the server's whatever was sent (rolled
    back: a raw row is not covered by the audit chain)."""
    with psycopg.connect(desk.url("ann")) as conn:
        stored, server = conn.execute(
            _event(desk, "ann") + " RETURNING recorded_at, sladesk_recorded_at()"
        ).fetchone()
        conn.rollback()
    assert stored == server and not stored.startswith("1970")


def test_overrides_reviews_and_agreements_are_dated_now(desk: Desk) -> None:
    tables = ("overrides", "reviews", "agreement_versions")
    before = [count(desk, t) for t in tables]
    override = (
        "INSERT INTO overrides (ticket, kind, clock, ts, at, until_ts, reason, justification,"
        " before_json, after_json) VALUES ('T-1', 'hold', 'resolution', {ts}, '', {ts} + 7200, 'third_party',"
        " 'vendor', '{{}}', '{{}}')"
    )
    refused(desk.psql("ann", override.format(ts=f"{NOW} - 86400")), "overrides.ts: ")
    anns = desk.admin_scalar(f"SELECT max(id) FROM overrides WHERE operator = '{desk.role('ann')}'")
    review = (
        "INSERT INTO reviews (override_id, decision, comment, ts, at)"
        f" VALUES ({anns}, 'rejected', 'no', {NOW} - 86400, '')"
    )
    refused(desk.psql("lead", review), "reviews.ts: ")
    # The version in force at an instant is the newest loaded by then: not backdated either.
    load = (
        "INSERT INTO agreement_versions (version, loaded_at, loaded_ts, source_name, source_sha256, source_text)"
        f" VALUES (99, '', {NOW} - 30 * 86400, 'sla.toml', 'x', '')"
    )
    refused(desk.psql("admin", load), "agreement_versions.loaded_ts: ")
    assert [count(desk, t) for t in tables] == before


def _grant(desk: Desk, user: str, role: str = "lead", by: str = "lead") -> str:
    return (
        'INSERT INTO role_grants ("user", role, action, ts, at)'
        f" VALUES ('{user}', '{role}', 'grant', {NOW}, sladesk_recorded_at())"
    )


def test_a_sladesk_role_goes_to_a_person_never_a_group(desk: Desk, pg_server: PgServer) -> None:
    before = count(desk, "role_grants")
    for group in ("agent", "lead", "owner"):
        refused(
            desk.psql("lead", _grant(desk, desk.group(group))), "is a group role of this desk, not a person"
        )
    refused(desk.psql("admin", _grant(desk, desk.group("agent"), "feed")), "is a group role of this desk")
    nologin = f"{pg_server.prefix}_team"
    with pg_server.admin() as conn:
        conn.execute(f'CREATE ROLE "{nologin}" NOLOGIN')
    pg_server.roles.append(nologin)
    refused(desk.psql("lead", _grant(desk, nologin)), "cannot log in (NOLOGIN)")
    # Through sladesk: one line, exit status 2, nothing written.
    r = sladesk(desk, "lead", "lead", "grant", desk.group("agent"))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "is a group role of this desk" in r.stderr and "Traceback" not in r.stderr
    assert count(desk, "role_grants") == before
    assert (
        desk.admin_scalar(f"SELECT pg_has_role('{desk.group('agent')}', '{desk.group('lead')}', 'MEMBER')")
        is False
    )


def test_the_audit_chain_still_verifies(desk: Desk) -> None:
    """Last in the module: everything sladesk wrote above is covered, and no refused
    attempt left a row."""
    r = sladesk(desk, "ann", "audit", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("audit chain ok:"), r.stdout


@pytest.mark.parametrize("who", ["ann", "lead"])
def test_a_ticket_keeps_its_agreement_even_along_with_its_record(desk: Desk, who: str) -> None:
    """Adding a reply opens the ticket's row (its clocks move), never its agreement: moving
    it to a laxer one and recomputing the outcomes to match would pass the outcome check."""
    before = {t: snapshot(desk, t) for t in ("tickets", "outcomes", "outcome_days")}
    own_reply = (
        "BEGIN; INSERT INTO events (id, type, ticket, ts, at, author, digest, source, recorded_at)"
        f" VALUES ('{app_id()}', 'reply', 'T-1', {NOW}, sladesk_recorded_at(),"
        f" '{desk.role(who)}', 'd', 'tui', ''); "
    )
    for sql, why in (
        ("UPDATE tickets SET agreement_id = NULL WHERE id = 'T-1'", "keeps its id and the agreement"),
        ("UPDATE tickets SET agreement_version = agreement_version + 1 WHERE id = 'T-1'", "keeps its id"),
        ("UPDATE tickets SET id = 'T-1b' WHERE id = 'T-1'", "keeps its id"),
        ("DELETE FROM outcomes WHERE ticket = 'T-1'; DELETE FROM tickets WHERE id = 'T-1'", "never deleted"),
    ):
        refused(desk.psql(who, own_reply + sql + "; COMMIT"), why)
    assert {t: snapshot(desk, t) for t in before} == before


def test_only_a_feed_creates_a_ticket(desk: Desk) -> None:
    refused(
        desk.psql("ann", "INSERT INTO tickets (id, customer, title, priority, status, is_open, created_ts,"
                  " updated_ts) VALUES ('T-made', 'acme', 'x', 'P1', 'new', 1, 0, 0)"),
        "only a feed creates a ticket",
    )  # fmt: skip
    assert count(desk, "tickets") == len(snapshot(desk, "tickets"))
    assert desk.admin_scalar("SELECT count(*) FROM tickets WHERE id = 'T-made'") == 0


@pytest.mark.parametrize("who", ["ann", "lead"])
def test_ids_are_drawn_from_their_sequences_never_given(desk: Desk, who: str) -> None:
    """An alert numbered near 2^63 would lift the notifier's floor above every later
    alert; an event's seq far ahead would hide later writes from the change marks."""
    before = {t: count(desk, t) for t in ("events", "overrides", "alerts")}
    big = 9_000_000_000_000_000_000
    ts = NOW
    for sql in (
        f"INSERT INTO events (seq, id, type, ticket, ts, at, author, digest, source, recorded_at) VALUES ({big},"
        f" '{app_id()}', 'reply', 'T-1', {ts}, sladesk_recorded_at(), '{desk.role(who)}', 'd', 'tui', '')",
        "INSERT INTO alerts (id, key, recipient, ticket, clock, cycle, level, threshold_ts, threshold_at, due_ts,"
        f" ts, at) VALUES ({big}, 'k', '{desk.role(who)}', 'T-1', 'response', 0, 'breach', 0, '', 0, {ts}, '')",
    ):
        refused(desk.psql(who, sql), "was given, not drawn from its sequence")
    # Even a value the sequence is about to give: the id is drawn, never written.
    nxt = "(SELECT last_value + 1 FROM events_seq_seq)"
    r = desk.psql(
        who,
        "INSERT INTO events (seq, id, type, ticket, ts, at, author, digest, source, recorded_at)"
        f" SELECT {nxt}, '{app_id()}', 'reply', 'T-1', {ts}, sladesk_recorded_at(), '{desk.role(who)}', 'd',"
        " 'tui', ''",
    )
    assert r.returncode != 0, r.stdout
    assert {t: count(desk, t) for t in before} == before
    reply(desk, who)  # the app's own write, ids drawn: accepted
    assert count(desk, "events") == before["events"] + 1


@pytest.mark.parametrize("who", ["ann", "lead"])
def test_a_person_reads_the_sequences_and_never_draws_from_them(desk: Desk, who: str) -> None:
    """Numbers drawn between a writer's rows would split its audit row's cover into a
    range per row (0007_sequences_select_only.sql); the app's own writes draw through
    the identity default and read their id back (lastval) all the same."""
    for seq in ("events_seq_seq", "alerts_id_seq"):
        refused(desk.psql(who, f"SELECT nextval('{seq}')"), "permission denied for sequence")
        refused(desk.psql(who, f"SELECT setval('{seq}', 1)"), "permission denied for sequence")
        r = desk.psql(who, f"SELECT last_value FROM {seq}")
        assert r.returncode == 0, r.stderr
    before = count(desk, "events")
    reply(desk, who)  # the app's own write: its seq drawn by the default, read back
    assert count(desk, "events") == before + 1


def test_an_app_events_id_is_the_apps(desk: Desk) -> None:
    before = count(desk, "events")
    for eid in ("zd:4711:resolved:99", "tui-not-hex", "tui-" + "A" * 32):
        refused(desk.psql("ann", _event(desk, "ann", eid=eid)), "an app event's id is tui- and 32 hex digits")
    assert count(desk, "events") == before


def test_an_overrides_numbers_are_finite_and_in_bounds(desk: Desk) -> None:
    before = count(desk, "overrides")
    base = (
        "INSERT INTO overrides (ticket, kind, clock, ts, at, until_ts, by_s, reason, justification, operator,"
        " before_json, after_json) VALUES ('SHARED', '{kind}', 'resolution', {ts}, '', {until}, {by},"
        " 'third_party', 'the vendor''s fix lands tomorrow', '{me}', '{{}}', '{{}}')"
    )
    for kind, until, by in (
        ("extend", "NULL", "'Infinity'"),
        ("extend", "NULL", "'NaN'"),
        ("extend", "NULL", "-600"),
        ("extend", "NULL", "36000001"),
        ("hold", "'NaN'", "NULL"),
        ("hold", "'Infinity'", "NULL"),
    ):
        sql = base.format(kind=kind, ts=NOW, until=until, by=by, me=desk.role("ann"))
        refused(desk.psql("ann", sql), "overrides_finite")
    assert count(desk, "overrides") == before
