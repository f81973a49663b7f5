"""`sladesk pull rt` against a real Request Tracker 5, installed and started by `.ci/rt.sh`.

The tickets are made through RT's own REST2 API; the expected clocks are computed here
by hand from the timestamps RT gave its transactions (the agreement runs 24x7, so a
clock is a sum of differences). Locally the module skips when RT is not reachable;
under CI=true it fails instead: CI must prove this against the real thing.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pull_support import AGREEMENT, events_of, sources_text, write_password
from support import fresh_db, give_roles

from sladesk_tui.store.identity import login_user

ENV = ("SLADESK_TEST_RT_URL", "SLADESK_TEST_RT_USER", "SLADESK_TEST_RT_PASSWORD")


class Rt:
    """Just enough of RT's REST2 to make tickets happen, with urllib (not the code under test)."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.url = url.rstrip("/")
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}/REST/2.0{path}",
            data=data,
            method=method,
            headers={"Authorization": self.auth, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def queue(self) -> str:
        name = f"sladesk-{uuid.uuid4().hex[:10]}"
        self.call("POST", "/queue", {"Name": name})
        return name

    def ticket(self, queue: str, subject: str, priority: int) -> int:
        doc = self.call(
            "POST",
            "/ticket",
            {
                "Queue": queue,
                "Subject": subject,
                "Priority": priority,
                "Requestor": "customer@acme.example",
                "Content": "It broke.",
                "ContentType": "text/plain",
            },
        )
        return int(doc["id"])

    def correspond(self, tid: int) -> None:
        self.call(
            "POST", f"/ticket/{tid}/correspond", {"Content": "Looking into it.", "ContentType": "text/plain"}
        )

    def comment(self, tid: int) -> None:
        self.call(
            "POST",
            f"/ticket/{tid}/comment",
            {"Content": "Internal: check the logs.", "ContentType": "text/plain"},
        )

    def update(self, tid: int, **fields: object) -> None:
        self.call("PUT", f"/ticket/{tid}", fields)

    def history(self, tid: int) -> list[dict[str, Any]]:
        doc = self.call(
            "GET", f"/ticket/{tid}/history?fields=Type,Field,OldValue,NewValue,Created&per_page=100"
        )
        return sorted(doc["items"], key=lambda t: int(t["id"]))


def _ts(rt_time: str) -> float:
    return dt.datetime.strptime(rt_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


@pytest.fixture(scope="module")
def rt() -> Rt:
    missing = [v for v in ENV if not os.environ.get(v)]
    why = None
    if missing:
        why = f'Request Tracker not configured ({", ".join(missing)} unset): run `eval "$(.ci/rt.sh up)"` as root'
    else:
        client = Rt(os.environ[ENV[0]], os.environ[ENV[1]], os.environ[ENV[2]])
        try:
            client.call("GET", "/rt")
        except (OSError, urllib.error.URLError) as exc:
            why = f"Request Tracker at {client.url} not reachable ({exc}): start it with `.ci/rt.sh start`"
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(why + " -- CI must run the pull tests against a real RT", pytrace=False)
        pytest.skip(why)
    return client


@pytest.fixture
def setup(tmp_path: Path, rt: Rt) -> Iterator[tuple[Path, Path]]:
    db = fresh_db(tmp_path / "s.db", AGREEMENT, actor="admin")
    give_roles(db, "feed", login_user())  # pull writes events as the account running it
    yield db, tmp_path / "sources.toml"


def write_sources(path: Path, rt: Rt, queue: str, **kw: Any) -> Path:
    pw = write_password(path.parent / "rt-password", os.environ["SLADESK_TEST_RT_PASSWORD"])
    text = sources_text(rt.url, pw, queues=[queue], **kw).replace(
        'user = "root"', f'user = "{os.environ["SLADESK_TEST_RT_USER"]}"'
    )
    path.write_text(text, encoding="utf-8")
    return path


def sladesk(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, "-m", "sladesk_tui", *args], capture_output=True, text=True, timeout=300
    )
    if check:
        assert out.returncode == 0, out.stderr
    return out


def rt_now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_pulled_history_gives_the_clocks_computed_by_hand(rt: Rt, setup: tuple[Path, Path]) -> None:
    db, sources = setup
    queue = rt.queue()
    write_sources(sources, rt, queue, per_page=4)
    since = rt_now()
    a = rt.ticket(queue, "Mail server down", 60)  # P2
    b = rt.ticket(queue, "Printer jams", 30)  # P3, left waiting for a first reply
    time.sleep(1.1)
    rt.comment(a)  # an internal note is not a response
    time.sleep(1.1)
    rt.correspond(a)  # the response; RT also moves new -> open (no change for our clocks)
    time.sleep(1.1)
    rt.update(a, Status="stalled")  # waiting: the resolution clock pauses
    time.sleep(2.1)
    rt.update(a, Status="open")
    time.sleep(1.1)
    rt.update(a, Priority=85)  # P1
    rt.update(a, Priority=90)  # still P1: no event, no surprise for `restart` agreements
    time.sleep(1.1)
    rt.update(a, Status="resolved")
    time.sleep(1.1)
    rt.update(a, Status="open")  # reopened
    time.sleep(1.1)
    rt.update(a, Status="resolved")

    out = sladesk("--db", str(db), "pull", "rt", "--sources", str(sources), "--since", since)
    assert "0 tickets set aside" in out.stdout, out.stdout + out.stderr

    # By hand, from RT's own stamps.
    h = rt.history(a)
    t_create = _ts(next(x["Created"] for x in h if x["Type"] == "Create"))
    t_reply = _ts(next(x["Created"] for x in h if x["Type"] == "Correspond"))
    status = [(x["OldValue"], x["NewValue"], _ts(x["Created"])) for x in h if x["Type"] == "Status"]
    t_stall = next(t for o, n, t in status if n == "stalled")
    t_unstall = next(t for o, n, t in status if o == "stalled")
    t_resolve1, t_resolve2 = [t for o, n, t in status if n == "resolved"]
    t_reopen = next(t for o, n, t in status if o == "resolved")
    response = t_reply - t_create
    resolution = (t_stall - t_create) + (t_resolve1 - t_unstall) + (t_resolve2 - t_reopen)
    assert resolution >= 5  # the sleeps made the spans real

    doc = json.loads(sladesk("--db", str(db), "ticket", f"RT-{a}", "--format", "json").stdout)
    assert (doc["priority"], doc["status"], doc["customer"], doc["agreement"]) == (
        "P1",
        "resolved",
        "acme.example",
        "acme",
    )
    assert doc["title"] == "Mail server down"
    clocks = doc["clocks"]
    assert (clocks["response"]["state"], clocks["response"]["elapsed_s"]) == ("met", response)
    assert (clocks["resolution"]["state"], clocks["resolution"]["elapsed_s"]) == ("met", resolution)
    assert clocks["resolution"]["target_s"] == 4 * 3600  # P1's, after the change (keep)
    with sqlite3.connect(db) as conn:
        types = [
            r[0]
            for r in conn.execute("SELECT type FROM events WHERE ticket = ? ORDER BY ts, seq", (f"RT-{a}",))
        ]
    assert types == [
        "created",
        "note",
        "reply",
        "status",
        "status",
        "priority",
        "resolved",
        "reopened",
        "resolved",
    ]

    # Ticket b, seen 5 s after its creation: its response clock has run 5 s.
    hb = rt.history(b)
    tb = _ts(next(x["Created"] for x in hb if x["Type"] == "Create"))
    at = dt.datetime.fromtimestamp(tb + 5, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    docb = json.loads(sladesk("--db", str(db), "ticket", f"RT-{b}", "--format", "json", "--at", at).stdout)
    assert (
        docb["priority"],
        docb["clocks"]["response"]["state"],
        docb["clocks"]["response"]["elapsed_s"],
    ) == ("P3", "ok", 5.0)

    # A second pull stores nothing new, and writes no audit row.
    with sqlite3.connect(db) as conn:
        before = (events_of(conn), conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])
    again = sladesk("--db", str(db), "pull", "rt", "--sources", str(sources), "--since", since)
    assert " 0 events stored" in again.stdout
    with sqlite3.connect(db) as conn:
        assert (events_of(conn), conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]) == before
    assert "audit chain ok" in sladesk("--db", str(db), "audit", "verify").stdout


def test_stopping_rt_mid_pull_loses_nothing(rt: Rt, setup: tuple[Path, Path], tmp_path: Path) -> None:
    ctl = os.environ.get("SLADESK_TEST_RT_CTL")
    if not ctl or os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("SLADESK_TEST_RT_CTL unset or not root: CI must stop and start RT", pytrace=False)
        pytest.skip("stopping RT needs SLADESK_TEST_RT_CTL (.ci/rt.sh) and root")
    db, sources = setup
    queue = rt.queue()
    write_sources(sources, rt, queue, per_page=1, retry_for_s=180)
    since = rt_now()
    for i in range(6):
        t = rt.ticket(queue, f"Outage ticket {i}", 20 + i * 15)
        rt.comment(t)
        rt.correspond(t)
        rt.update(t, Status="stalled", Priority=95)
        rt.update(t, Status="resolved")

    args = [
        sys.executable,
        "-m",
        "sladesk_tui",
        "--db",
        str(db),
        "pull",
        "rt",
        "--sources",
        str(sources),
        "--since",
        since,
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped = False
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            with sqlite3.connect(db) as conn:
                if conn.execute("SELECT 1 FROM pull_cursors").fetchone():
                    break
            time.sleep(0.02)
        assert proc.poll() is None, "the pull ended before RT could be stopped: make it longer"
        subprocess.run([ctl, "stop"], check=True, timeout=60)
        stopped = True
        time.sleep(2)
        subprocess.run([ctl, "start"], check=True, timeout=240)
        stopped = False
        out, err = proc.communicate(timeout=300)
    finally:
        if stopped:
            subprocess.run([ctl, "start"], timeout=240)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "retrying" in err, "RT was not stopped while the pull was running"

    # The same history pulled without interruption into a second database.
    db2 = fresh_db(tmp_path / "s2.db", AGREEMENT, actor="admin", toml=tmp_path / "ag2.toml")
    give_roles(db2, "feed", login_user())
    sladesk("--db", str(db2), "pull", "rt", "--sources", str(sources), "--since", since)
    assert events_of(db) == events_of(db2)
    # created, note, reply, status waiting, resolved; and a priority event where 95 is a new bucket (4 of 6)
    assert len(events_of(db)) == 6 * 5 + 4
    again = sladesk("--db", str(db), "pull", "rt", "--sources", str(sources), "--since", since)
    assert " 0 events stored" in again.stdout
