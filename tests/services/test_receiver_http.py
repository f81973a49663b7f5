"""`sladesk receive` over real HTTP, as a real process on a real database (docs/sources.md).

Every hostile or broken delivery gets its 4xx (or a timeout), a log line, and
leaves nothing stored, while the receiver goes on serving the next sender.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from receiver_support import ROOT, Receiver, counts, db_of, post, prepare, signed, start
from source_fixtures import (
    SECRETS,
    glpi_followup,
    glpi_ticket,
    jira_created,
    jira_updated,
    zammad_article,
    zammad_snapshot,
    zendesk_created,
)

from sladesk_tui.store import audit
from sladesk_tui.store.db import connect


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Receiver, Path]]:
    """A receiver serving a database on each backend in turn."""
    folder = tmp_path_factory.mktemp("receive")
    prepare(folder, db=_target(request))
    rcv = start(folder, "--body-timeout", "1")
    try:
        yield rcv, folder
    finally:
        rcv.stop()


def _target(request: pytest.FixtureRequest) -> str | None:
    """None (a file in the folder) on SQLite; a fresh database's URL on PostgreSQL."""
    backend = getattr(request, "param", None) or request.getfixturevalue("backend")
    if backend == "sqlite":
        return None
    server = request.getfixturevalue("pg_server")
    return str(server.fresh(server.role("owner"), migrated=True))


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sladesk_tui", "--db", str(db_of(folder)), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_a_delivery_is_stored_before_the_2xx_and_the_queue_shows_it(served: tuple[Receiver, Path]) -> None:
    rcv, folder = served
    body, headers = signed("zd", "zendesk", zendesk_created(100))
    started = time.monotonic()
    status, doc = post(rcv.port, "zd", body, headers)
    assert (status, doc["reason"]) == (200, "stored: 1 new events, 0 already present")
    # 2xx means committed: a reader sees it at once, well within the queue's one second.
    out = _cli(folder, "queue", "--format", "json")
    assert time.monotonic() - started < 5
    assert out.returncode == 0, out.stderr
    assert "ZD-100" in [t["id"] for t in json.loads(out.stdout)]


def test_zammad_and_glpi_snapshots_and_our_own_lines_over_http(served: tuple[Receiver, Path]) -> None:
    rcv, folder = served
    art = zammad_article(104, sender="Customer", internal=False, at="2026-11-20T09:30:00.000Z")
    body, headers = signed("zammad", "zammad", zammad_snapshot(81, article=art))
    status, doc = post(
        rcv.port, "zammad", body, {**headers, "X-Zammad-Delivery": "zd-1", "X-Zammad-Trigger": "sladesk"}
    )
    assert (status, doc["reason"]) == (200, "stored: 2 new events, 0 already present")
    body, headers = signed("glpi", "glpi", glpi_ticket(310))
    assert post(rcv.port, "glpi", body, headers)[0] == 200
    body, headers = signed("glpi", "glpi", glpi_followup(310, 77, private=False, date="2026-11-23 10:20:00"))
    assert post(rcv.port, "glpi", body, headers)[0] == 200
    lines = b"\n".join(
        json.dumps(e).encode()
        for e in (
            {
                "id": "own-1",
                "ticket": "OWN-1",
                "at": "2026-11-27T08:05:00Z",
                "type": "created",
                "customer": "acme",
                "priority": "P1",
                "title": "From a cron job",
            },
            {
                "id": "own-2",
                "ticket": "OWN-1",
                "at": "2026-11-27T08:15:00Z",
                "type": "reply",
                "author": "sam",
            },
        )
    )
    body, headers = signed("feed", "sladesk", None, raw=lines)
    assert post(rcv.port, "feed", body, headers, content_type="application/x-ndjson")[0] == 200
    out = _cli(folder, "ticket", "GLPI-310", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert [e["type"] for e in json.loads(out.stdout)["events"]] == ["created", "reply"]
    out = _cli(folder, "ticket", "ZM-81", "--format", "json")
    assert [e["type"] for e in json.loads(out.stdout)["events"]] == ["created", "customer_reply"]


def _refused(
    rcv: Receiver, source: str, body: bytes, headers: dict[str, str], expect: int, reason: str, **kw
) -> None:
    before = counts(rcv.db)
    status, doc = post(rcv.port, source, body, headers, **kw)
    assert status == expect, doc
    assert reason in doc["reason"]
    assert counts(rcv.db) == before  # nothing stored
    time.sleep(0.05)
    assert f"status={expect}" in rcv.log()


def test_signatures_wrong_missing_and_stale(served: tuple[Receiver, Path]) -> None:
    rcv, _ = served
    body, headers = signed("zd", "zendesk", zendesk_created(101))
    _refused(rcv, "zd", body + b" ", headers, 401, "signature does not match")
    _refused(rcv, "zd", body, {}, 401, "missing header")
    forged = {**headers, "X-Zendesk-Webhook-Signature": headers["X-Zendesk-Webhook-Signature"][::-1]}
    _refused(rcv, "zd", body, forged, 401, "does not match")
    stale = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    body, headers = signed("zd", "zendesk", zendesk_created(101), ts=stale)
    _refused(rcv, "zd", body, headers, 401, "outside the replay window")
    body, headers = signed("jsm", "jira", jira_created("SUP-501"))
    _refused(
        rcv,
        "jsm",
        body,
        {"X-Hub-Signature": headers["X-Hub-Signature"].replace("sha256=", "sha1=")},
        401,
        "sha256=",
    )


def test_a_replayed_delivery_stores_nothing_twice(served: tuple[Receiver, Path]) -> None:
    rcv, _ = served
    body, headers = signed("jsm", "jira", jira_created("SUP-7"))
    headers["X-Atlassian-Webhook-Identifier"] = "hook-7"
    assert post(rcv.port, "jsm", body, headers)[0] == 200
    before = counts(rcv.db)
    status, doc = post(rcv.port, "jsm", body, headers)
    assert (status, doc["reason"].split(":")[0]) == (
        200,
        "duplicate",
    )  # a lost 2xx's retry: answered, not re-stored
    other, other_headers = signed("jsm", "jira", jira_created("SUP-8"))
    _refused(
        rcv, "jsm", other, {**other_headers, "X-Atlassian-Webhook-Identifier": "hook-7"}, 409, "another body"
    )
    assert counts(rcv.db) == before


def test_body_size_content_type_json_and_event_refusals(served: tuple[Receiver, Path]) -> None:
    rcv, _ = served
    big = b'{"pad":"' + b"x" * (1 << 20) + b'"}'
    body, headers = signed("zd", "zendesk", None, raw=big)
    _refused(rcv, "zd", body, headers, 413, "over")
    body, headers = signed("zd", "zendesk", None, raw=b'{"type": "zen:event-type:ticket.created", ')
    _refused(rcv, "zd", body, headers, 400, "invalid JSON")
    body, headers = signed("zd", "zendesk", zendesk_created(102))
    _refused(rcv, "zd", body, headers, 415, "content type", content_type="text/plain")
    doc = zendesk_created(103)
    doc["type"] = "zen:event-type:ticket.levitated"
    body, headers = signed("zd", "zendesk", doc)
    _refused(rcv, "zd", body, headers, 422, "levitated")
    body, headers = signed("zd", "zendesk", zendesk_created(104, status="ESCALATED"))
    _refused(rcv, "zd", body, headers, 422, "status 'ESCALATED' is not in its mapping")
    upd = jira_updated(
        "SUP-7",
        changelog_id="9",
        items=[{"field": "status", "toString": "Triage"}],
        ts_ms=int(time.time() * 1000),
    )
    body, headers = signed("jsm", "jira", upd)
    _refused(rcv, "jsm", body, headers, 422, "status 'Triage'")
    _refused(rcv, "nosuch", b"{}", {}, 404, "no webhook source")


def test_half_a_body_then_silence_times_out_while_others_are_served(served: tuple[Receiver, Path]) -> None:
    rcv, _ = served
    before = counts(rcv.db)
    sock = socket.create_connection(("127.0.0.1", rcv.port), timeout=10)
    try:
        sock.sendall(
            b"POST /hooks/zd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000\r\n\r\n" + b'{"type": "zen:event-type:ticket.cre'
        )
        # Meanwhile another sender is served normally.
        body, headers = signed("zd", "zendesk", zendesk_created(105))
        assert post(rcv.port, "zd", body, headers)[0] == 200
        started = time.monotonic()
        answer = sock.recv(4096)
        assert time.monotonic() - started < 5
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    finally:
        sock.close()
    assert counts(rcv.db)[1] == before[1] + 1  # only the other sender's delivery
    assert "status=408" in rcv.log()


def test_the_log_has_no_bodies_or_secrets_and_sources_shows_the_last_refusal(
    served: tuple[Receiver, Path],
) -> None:
    rcv, folder = served
    body, headers = signed("zd", "zendesk", zendesk_created(106, status="ESCALATED"))
    post(rcv.port, "zd", body, headers)
    time.sleep(0.3)  # the refusal note rides on the writer's next round
    log = rcv.log()
    for secret in SECRETS.values():
        assert secret.decode() not in log
    assert "Printer on floor 3" not in log and "signature=" not in log.lower()
    out = _cli(folder, "sources", "--sources", str(folder / "sources.toml"), "--format", "json")
    assert out.returncode == 0, out.stderr
    zd = next(r for r in json.loads(out.stdout) if r["source"] == "zd")
    assert zd["deliveries"] >= 2 and zd["last_refusal_status"] == 422
    assert "ESCALATED" in zd["last_refusal_reason"]
    conn = connect(db_of(folder), readonly=True)
    try:
        assert audit.verify(conn).ok
    finally:
        conn.close()


def test_a_secret_file_others_can_read_is_refused(tmp_path: Path) -> None:
    prepare(tmp_path)
    (tmp_path / "zd.secret").chmod(0o640)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sladesk_tui",
            "--db",
            str(db_of(tmp_path)),
            "receive",
            "--sources",
            str(tmp_path / "sources.toml"),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 2
    assert "zd.secret: secret file: mode 0640 lets group or others read it" in out.stderr
    assert SECRETS["zd"].decode() not in out.stderr + out.stdout


@pytest.mark.both_backends
def test_sigkill_during_a_burst_then_retries_store_each_delivery_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    prepare(tmp_path, db=_target(request))
    rcv = start(tmp_path)
    total = 300
    docs = []
    for i in range(total):
        ev = {
            "id": f"burst-{i}",
            "ticket": f"B-{i}",
            "at": "2026-11-27T08:05:00Z",
            "type": "created",
            "customer": "acme",
            "priority": "P2",
            "title": f"burst ticket {i}",
        }
        docs.append((f"delivery-{i}", json.dumps(ev).encode()))
    acked: set[str] = set()
    lock = threading.Lock()

    def send(batch: list[tuple[str, bytes]], port: int) -> None:
        for did, raw in batch:
            _, headers = signed("feed", "sladesk", None, raw=raw)
            try:
                status, _ = post(port, "feed", raw, {**headers, "X-Sladesk-Delivery": did}, timeout=10)
            except OSError:
                continue  # the receiver died under us: no 2xx, the sender will retry
            if status == 200:
                with lock:
                    acked.add(did)

    threads = [threading.Thread(target=send, args=(docs[k::6], rcv.port)) for k in range(6)]
    for t in threads:
        t.start()
    while True:
        with lock:
            if len(acked) >= total // 4:
                break
        time.sleep(0.005)
    rcv.kill()
    for t in threads:
        t.join()
    assert 0 < len(acked) < total
    stored_before = counts(db_of(tmp_path))
    assert stored_before[1] >= len(acked)  # every 2xx was committed before it was sent
    # The sender retries what got no 2xx, against a fresh receiver.
    rcv = start(tmp_path)
    try:
        missing = [d for d in docs if d[0] not in acked]
        send(missing, rcv.port)
    finally:
        rcv.stop()
    assert len(acked) == total
    conn = connect(db_of(tmp_path), readonly=True)
    try:
        rows = conn.execute("SELECT delivery_id, COUNT(*) FROM deliveries GROUP BY delivery_id").fetchall()
        assert sorted(r[0] for r in rows) == sorted(f"sladesk:{d}" for d, _ in docs)
        assert {r[1] for r in rows} == {1}
        ev = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT id) FROM events WHERE id LIKE 'burst-%'"
        ).fetchone()
        assert tuple(ev) == (total, total)
        assert audit.verify(conn).ok
    finally:
        conn.close()


def test_the_receiving_account_needs_the_feed_role(tmp_path: Path) -> None:
    prepare(tmp_path)
    from sladesk_tui.store.db import open_db
    from sladesk_tui.store.identity import login_user
    from sladesk_tui.store.roles import revoke_role

    conn = open_db(db_of(tmp_path))
    try:
        revoke_role(conn, "feed", login_user(), actor=login_user())  # the test account is an admin too
    finally:
        conn.close()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sladesk_tui",
            "--db",
            str(db_of(tmp_path)),
            "receive",
            "--sources",
            str(tmp_path / "sources.toml"),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 2
    assert "feed" in out.stderr and "listening" not in out.stdout


def test_a_hostile_path_cannot_forge_a_log_line(served: tuple[Receiver, Path]) -> None:
    rcv, _ = served
    status, _ = post(rcv.port, "x%0Aforged%20status=200", b"{}", {})
    assert status == 404
    time.sleep(0.05)
    assert not any(line.startswith("forged") for line in rcv.log().splitlines())


def test_a_broken_sources_file_stops_receive_with_file_and_line(tmp_path: Path) -> None:
    prepare(tmp_path)
    text = (tmp_path / "sources.toml").read_text()
    (tmp_path / "sources.toml").write_text(text.replace('pending = "waiting"', 'pending = "Waiting"', 1))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sladesk_tui",
            "--db",
            str(db_of(tmp_path)),
            "receive",
            "--sources",
            str(tmp_path / "sources.toml"),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 2
    assert "sources.toml:2: source 'zd': statuses: 'pending' = 'Waiting' is not a status" in out.stderr
    table = _cli(tmp_path, "sources", "--sources", str(tmp_path / "sources.toml"))
    assert table.returncode == 2 and "sources.toml:2" in table.stderr
    (tmp_path / "sources.toml").write_text(text)
    table = _cli(tmp_path, "sources", "--sources", str(tmp_path / "sources.toml"))
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "source",
        "provider",
        "delivered",
        "last",
        "delivery",
        "refused",
        "last",
        "refusal",
    ]
    assert [ln.split()[0] for ln in lines[1:]] == ["zd", "jsm", "zammad", "glpi", "feed"]
    csv_out = _cli(tmp_path, "sources", "--sources", str(tmp_path / "sources.toml"), "--format", "csv")
    assert csv_out.stdout.splitlines()[0].startswith("source,provider,path,deliveries")


def test_a_feed_role_revoked_while_receiving_stops_the_next_delivery(tmp_path: Path) -> None:
    from sladesk_tui.store.db import open_db
    from sladesk_tui.store.identity import login_user
    from sladesk_tui.store.roles import revoke_role

    prepare(tmp_path)
    rcv = start(tmp_path)
    try:
        body, headers = signed("zd", "zendesk", zendesk_created(700))
        assert post(rcv.port, "zd", body, headers)[0] == 200
        conn = open_db(db_of(tmp_path))
        try:
            revoke_role(conn, "feed", login_user(), actor=login_user())
        finally:
            conn.close()
        before = counts(rcv.db)
        body, headers = signed("zd", "zendesk", zendesk_created(701))
        status, doc = post(rcv.port, "zd", body, headers)
        assert status == 403 and "feed" in doc["reason"]
        assert counts(rcv.db) == before
    finally:
        rcv.stop()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_lost_database_connection_is_reopened_and_the_sender_retry_is_stored(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, pg_server: object
) -> None:
    """The server ends the receiver's sessions (a restart, an administrator): the
    delivery that meets the dead connection gets a 503, and the sender's retry is
    stored on a new connection, once; never 503 for ever."""
    prepare(tmp_path, db=_target(request))
    rcv = start(tmp_path)
    try:
        body, headers = signed("zd", "zendesk", zendesk_created(800))
        assert post(rcv.port, "zd", body, headers)[0] == 200
        with pg_server.admin() as admin:  # type: ignore[attr-defined]  # pg_support.PgServer
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                (f"sladesk pid {rcv.proc.pid}",),
            ).fetchone()[0]
        assert ended >= 1
        body, headers = signed("zd", "zendesk", zendesk_created(801))
        statuses = []
        for _ in range(20):  # a sender retrying
            status, _doc = post(rcv.port, "zd", body, headers)
            statuses.append(status)
            if status == 200:
                break
            time.sleep(0.5)
        assert statuses[-1] == 200 and set(statuses[:-1]) <= {503}, statuses
        assert len(statuses) <= 3, statuses  # reopened at once, not after a long wait
        rows = connect(rcv.db).execute("SELECT count(*) FROM events WHERE ticket = 'ZD-801'").fetchone()
        assert rows[0] == 1
    finally:
        rcv.stop()
    log = rcv.log()
    assert "lost the database connection" in log and "reconnected" in log, log
