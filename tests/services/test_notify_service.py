"""`sladesk notify` as a real process against a real database, with an injected clock,
delivering to a real SMTP server and a real webhook server on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alert_support import (
    SMTP_PASSWORD,
    SmtpSink,
    WebhookSink,
    mail_keys,
    notify_service,
    smtp_server,
    webhook_server,
    write_secrets,
)
from support import agreements_db

from sladesk_tui.core.events import Event
from sladesk_tui.store import audit
from sladesk_tui.store.db import connect
from sladesk_tui.store.imports import ingest

M = 60.0
H = 3600.0
S = 1_796_032_800.0  # 2026-11-30T10:00:00Z, a Monday (11:00 in Berlin)


def rules(smtp: SmtpSink, levels: str, *, window: str = "0s", extra: str = "") -> str:
    return f"""
[[agreement]]
id = "gold"
customer = "acme"
calendar = "24x7"
[agreement.targets]
P1 = {{ response = "1h", resolution = "4h" }}

[alerts]
digest_window = "{window}"
people_via = "mail"
email_domain = "example.com"
on_call = "pager"
levels = [{levels}]

[alerts.channels.mail]
type = "smtp"
host = "127.0.0.1"
port = {smtp.port}
starttls = true
username = "sladesk"
password_secret = "smtp"
from = "sladesk <alerts@desk.example.com>"
cafile = "{smtp.cafile}"

[alerts.channels.slack]
type = "slack"
url_secret = "slack-url"

[alerts.channels.mm]
type = "mattermost"
url_secret = "mm-url"

[alerts.channels.teams]
type = "teams"
url_secret = "teams-url"

[alerts.channels.pager]
type = "command"
argv = ["{sys.executable}", "-c", "import sys; open(sys.argv[1], 'a').write(sys.stdin.read() + chr(10))", "PAGER_OUT"]
{extra}
"""


def secrets(tmp: Path, hooks: WebhookSink) -> Path:
    return write_secrets(
        tmp / "secrets.toml",
        {
            "smtp": SMTP_PASSWORD,
            "slack-url": hooks.url("/slack"),
            "mm-url": hooks.url("/mm"),
            "teams-url": hooks.url("/teams"),
        },
    )


def created(tid: str, at: float, assignee: str, priority: str = "P1") -> Event:
    return Event(
        id=f"{tid}-c",
        type="created",
        at=at,
        ticket=tid,
        customer="acme",
        priority=priority,
        title=f"Printer on fire <{tid}> & more",
        assignee=assignee,
    )


def desk_db(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Path:
    """The desk's database on the test's backend: a file, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return tmp_path / "desk.db"
    server = request.getfixturevalue("pg_server")
    return server.fresh(server.role("owner"))  # type: ignore[no-any-return]  # a URL on PostgreSQL


def put(db: Path, *events: Event) -> None:
    conn = connect(db)
    try:
        ingest(conn, list(events), actor="tester", source="test")
    finally:
        conn.close()


def alerts_json(db: Path, *args: str) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "sladesk_tui", "--db", str(db), "alerts", "--format", "json", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    rows: list[dict[str, object]] = json.loads(out.stdout)
    return rows


@pytest.mark.both_backends
def test_mail_and_chat_alerts_arrive_once_with_their_shapes(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    with smtp_server(tmp_path) as smtp, webhook_server() as hooks:
        text = rules(
            smtp,
            '{ at = "50%", clock = "response" },'
            ' { at = "breach", clock = "response", notify = ["assignee", "slack", "mm", "teams", "pager"] }',
        ).replace("PAGER_OUT", str(tmp_path / "pager.jsonl"))
        db = desk_db(tmp_path, backend, request)
        with agreements_db(db, text, actor="lead", toml=tmp_path / "a.toml"):
            pass
        # A: 50% of its 1h response target 2 s after the service starts.
        # B: already past 50% at start (sent at once), breaches 3 s after the start.
        put(db, created("A-1", S - 30 * M + 2, "alice"), created("B-1", S - H + 3, "bob"))
        with notify_service(db, secrets(tmp_path, hooks), start=S) as svc:
            mails = smtp.wait(3)
            posts = hooks.wait(3)
            svc.wait_for(lambda line: "via pager" in line)
        assert sorted(m.rcpt_tos[0] for m in mails) == [
            "alice@example.com",
            "bob@example.com",
            "bob@example.com",
        ]
        assert smtp.logins == ["sladesk"] * 3  # logged in after STARTTLS each time
        subjects = sorted(str(m.message["Subject"]).strip() for m in mails)
        assert subjects[0].startswith("[sladesk] A-1 response 50% of target used")
        assert any(s.startswith("[sladesk] B-1 response BREACHED") for s in subjects)
        keys = mail_keys(mails)
        assert len(set(keys)) == 3 and all(k.endswith("@desk.example.com>") for k in keys)
        for m in mails:
            assert m.message["X-Sladesk-Idempotency-Key"] in m.message["Message-ID"]
            assert "Printer on fire" in m.message.get_content()

        by_path = {p.path: p for p in posts}
        assert set(by_path) == {"/slack", "/mm", "/teams"}
        for path in ("/slack", "/mm"):
            body = by_path[path].body
            assert set(body) == {"text"} and isinstance(body["text"], str)
            assert "B-1" in body["text"] and "BREACHED" in body["text"]
            assert "&lt;B-1&gt; &amp; more" in body["text"]  # Slack's escaping of & < >
            assert by_path[path].headers["Idempotency-Key"]
        teams = by_path["/teams"].body
        assert teams["type"] == "message"
        (att,) = teams["attachments"]
        assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = att["content"]
        assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
        assert card["body"][0]["type"] == "TextBlock"
        facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
        assert facts["Clock"] == "response: BREACHED" and facts["Assignee"] == "bob"

        (paged,) = [json.loads(x) for x in (tmp_path / "pager.jsonl").read_text().splitlines() if x]
        assert paged["recipient"] == "channel:pager"
        assert paged["alerts"][0]["ticket"] == "B-1" and paged["alerts"][0]["level"] == "breach"
        assert paged["idempotency_key"]

        rows = alerts_json(db)
        assert {(r["ticket"], r["level"], r["recipient"]) for r in rows} == {
            ("A-1", "50%", "person:alice"),
            ("B-1", "50%", "person:bob"),
            ("B-1", "breach", "person:bob"),
            ("B-1", "breach", "channel:slack"),
            ("B-1", "breach", "channel:mm"),
            ("B-1", "breach", "channel:teams"),
            ("B-1", "breach", "channel:pager"),
        }
        assert all(r["state"] == "sent" for r in rows)
        a50 = next(r for r in rows if r["ticket"] == "A-1")
        assert a50["threshold_at"] == "2026-11-30T10:00:02Z"
        conn = connect(db, readonly=True)
        try:
            assert audit.verify(conn).ok
            actions = [
                r[0] for r in conn.execute("SELECT action FROM audit_log WHERE action LIKE 'alerts.%'")
            ]
        finally:
            conn.close()
        assert actions.count("alerts.sent") == 7 and "alerts.due" in actions

        # A restart sends nothing again: every key is on the record.
        with notify_service(db, secrets(tmp_path, hooks), start=S + 10) as svc:
            svc.wait_for(lambda line: "watching" in line)
            time.sleep(1.0)
        assert len(smtp.mails) == 3 and len(hooks.posts) == 3


def _service_time(svc_start: float, real0: float, speed: float = 1.0) -> float:
    return svc_start + (time.monotonic() - real0) * speed


@pytest.mark.both_backends
def test_a_thousand_breaches_in_one_minute_give_one_digest_per_recipient(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    with smtp_server(tmp_path) as smtp, webhook_server() as hooks:
        text = rules(smtp, '{ at = "breach", notify = ["assignee", "slack"] }', window="1m")
        text = text.replace("PAGER_OUT", str(tmp_path / "pager.jsonl"))
        db = desk_db(tmp_path, backend, request)
        with agreements_db(db, text, actor="lead", toml=tmp_path / "a.toml"):
            pass
        people = ("alice", "bob", "carol")
        # Response breaches spread over 50 s, from 2 s after the start.
        put(db, *(created(f"T-{i:04d}", S - H + 2 + i * 0.05, people[i % 3]) for i in range(1000)))
        with notify_service(db, secrets(tmp_path, hooks), start=S, speed=10.0):
            # everything folded: 1000 alerts to the channel, 1000 to the three people
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                rows = alerts_json(db)
                if len(rows) == 2000 and all(r["state"] == "sent" for r in rows):
                    break
                time.sleep(0.3)
        rows = alerts_json(db)
        assert len(rows) == 2000 and all(r["state"] == "sent" for r in rows)
        by_recipient: dict[str, dict[str, list[str]]] = {}
        for r in rows:
            by_recipient.setdefault(str(r["recipient"]), {}).setdefault(str(r["idempotency_key"]), []).append(
                str(r["ticket"])
            )
        assert set(by_recipient) == {"person:alice", "person:bob", "person:carol", "channel:slack"}
        for recipient, messages in by_recipient.items():
            sizes = sorted(len(v) for v in messages.values())
            # at most the first alert on its own (on time), then one digest of the rest
            assert len(sizes) <= 2 and sizes[-1] > 1, (recipient, sizes)
            tickets = [t for v in messages.values() for t in v]
            assert len(tickets) == len(set(tickets))
        assert len(smtp.mails) == sum(len(by_recipient[f"person:{p}"]) for p in people) <= 6
        assert len(hooks.posts) == len(by_recipient["channel:slack"]) <= 2
        digest = max(smtp.mails, key=lambda m: len(m.message.get_content()))
        body = digest.message.get_content()
        assert body.split()[1:3] == ["SLA", "alerts:"]
        assert body.count("BREACHED") == int(body.split()[0]) > 100  # every folded alert listed
        assert "alerts (" in str(digest.message["Subject"])


@pytest.mark.both_backends
def test_sigkill_between_send_and_record_resends_that_message_only_with_the_same_key(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    with smtp_server(tmp_path) as smtp, webhook_server() as hooks:
        text = rules(smtp, '{ at = "50%", clock = "response" }').replace("PAGER_OUT", "x")
        db = desk_db(tmp_path, backend, request)
        with agreements_db(db, text, actor="lead", toml=tmp_path / "a.toml"):
            pass
        put(db, created("K-1", S - 30 * M - 5, "alice"), created("K-2", S - 30 * M + 4, "bob"))
        sec = secrets(tmp_path, hooks)
        with notify_service(db, sec, start=S, extra_env={"SLADESK_TEST_HOLD_AFTER_SEND": "1"}) as svc:
            svc.wait_for(lambda line: "sent-unrecorded" in line)
            assert len(smtp.wait(1)) == 1
            svc.kill()
        first = smtp.mails[0]
        # Restarted 2 s later (service time): K-1's message again, then K-2's once.
        with notify_service(db, sec, start=S + 2) as svc:
            mails = smtp.wait(3)
            svc.wait_for(lambda line: "K-2" in line and "alert" in line)
        keys = mail_keys(mails)
        assert len(mails) == 3
        assert keys.count(str(first.message["Message-ID"])) == 2  # the same key: the receiver can drop it
        assert sorted(m.rcpt_tos[0] for m in mails) == [
            "alice@example.com",
            "alice@example.com",
            "bob@example.com",
        ]
        rows = alerts_json(db)
        assert [(r["ticket"], r["state"], r["attempts"]) for r in rows] == [
            ("K-1", "sent", 1),
            ("K-2", "sent", 1),
        ]
        conn = connect(db, readonly=True)
        try:
            assert audit.verify(conn).ok
        finally:
            conn.close()


@pytest.mark.both_backends
def test_a_clock_paused_or_stopped_one_second_before_its_threshold_sends_nothing(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    with smtp_server(tmp_path) as smtp, webhook_server() as hooks:
        text = rules(smtp, '{ at = "50%", clock = "response" }, { at = "breach" }').replace("PAGER_OUT", "x")
        text = text.replace('P1 = { response = "1h", resolution = "4h" }', 'P1 = { response = "1h" }')
        db = desk_db(tmp_path, backend, request)
        with agreements_db(db, text, actor="lead", toml=tmp_path / "a.toml"):
            pass
        c0 = S - 30 * M + 3  # 50% of the response target at S + 3
        put(
            db,
            created("P-1", c0, "alice"),
            Event(id="P-1-w", type="status", at=S + 2, ticket="P-1", status="waiting"),
            created("R-1", c0, "alice"),
            Event(id="R-1-r", type="reply", at=S + 2, ticket="R-1", author="alice"),
            created("C-1", c0, "carol"),
        )
        with notify_service(db, secrets(tmp_path, hooks), start=S) as svc:
            svc.wait_for(lambda line: "sent message" in line)
            time.sleep(1.5)
        assert [m.rcpt_tos[0] for m in smtp.mails] == ["carol@example.com"]
        assert {r["ticket"] for r in alerts_json(db)} == {"C-1"}


@pytest.mark.both_backends
def test_a_hold_moves_the_threshold_live_and_a_rejection_moves_it_back(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    from sladesk_tui.core.overrides import Override
    from sladesk_tui.store.overrides import place_override, review_override
    from sladesk_tui.store.roles import name_first_lead

    with smtp_server(tmp_path) as smtp, webhook_server() as hooks:
        text = rules(smtp, '{ at = "50%", clock = "response" }').replace("PAGER_OUT", "x")
        db = desk_db(tmp_path, backend, request)
        with agreements_db(db, text, actor="lead", toml=tmp_path / "a.toml") as conn:
            name_first_lead(conn, "lena", actor="lena")
        put(db, created("H-1", S - 30 * M + 4, "alice"), created("J-1", S - 30 * M + 4, "bob"))
        conn = connect(db)
        try:
            # J-1 is held (pending review) from before the start: no threshold while held.
            j_hold = place_override(
                conn,
                Override(
                    0, "J-1", "hold", 0, "dana", "third_party", "Vendor is on it, case 4711.", until=S + H
                ),
                now=S - 60,
            ).id
            with notify_service(db, secrets(tmp_path, hooks), start=S) as svc:
                real0 = time.monotonic()
                # H-1 held from S + 1 until S + 6: its 50% moves from S + 4 to S + 9 (plus the slack
                # of "now" at the hold).
                while _service_time(S, real0) < S + 1:
                    time.sleep(0.01)
                h0 = _service_time(S, real0)
                place_override(
                    conn,
                    Override(
                        0,
                        "H-1",
                        "hold",
                        0,
                        "dana",
                        "customer_unreachable",
                        "Customer away until later.",
                        until=S + 6,
                    ),
                    now=h0,
                )
                while _service_time(S, real0) < S + 5:
                    time.sleep(0.05)
                assert smtp.mails == []  # neither H-1 (held) nor J-1 (held) at S + 4
                review_override(
                    conn, j_hold, "reject", reviewer="lena", comment="No vendor case.", now=S + 5.2
                )
                mails = smtp.wait(2, timeout=15)
                svc.wait_for(lambda line: "H-1" in line and "alert" in line)
        finally:
            conn.close()
        rows = {r["ticket"]: r for r in alerts_json(db)}
        assert set(rows) == {"H-1", "J-1"} and len(mails) == 2
        import datetime as dt

        def ts(text: object) -> float:
            return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()

        assert abs(ts(rows["H-1"]["threshold_at"]) - (S + 4 + (S + 6 - h0))) < 0.01
        # the rejected hold no longer counts: J-1 crossed at S + 4, found on the rejection
        assert ts(rows["J-1"]["raised_at"]) >= S + 5


@pytest.mark.both_backends
def test_a_berlin_business_hours_clock_never_alerts_at_night(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")

    def b(day: int, hour: int, minute: int = 0) -> float:
        return dt.datetime(2026, 11, day, hour, minute, tzinfo=berlin).timestamp()

    with smtp_server(tmp_path) as smtp, webhook_server() as hooks:
        text = rules(smtp, '{ at = "50%" }, { at = "1h left" }, { at = "breach" }')
        text = text.replace("PAGER_OUT", str(tmp_path / "pager.jsonl"))
        text = text.replace('P1 = { response = "1h", resolution = "4h" }', 'P1 = { resolution = "12h" }')
        # gold (24x7) alerts on breach only: its own levels replace the desk-wide ones
        text = text.replace(
            'calendar = "24x7"\n', 'calendar = "24x7"\nalerts = { levels = [{ at = "breach" }] }\n'
        )
        text += """
[[calendar]]
id = "desk"
tz = "Europe/Berlin"
hours = { mon = ["07:00-20:00"], tue = ["07:00-20:00"], wed = ["07:00-20:00"], thu = ["07:00-20:00"], fri = ["07:00-20:00"] }

[[calendar]]
id = "berlin"
tz = "Europe/Berlin"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-17:00"] }

[[agreement]]
id = "biz"
customer = "bizco"
calendar = "berlin"
[agreement.targets]
P2 = { resolution = "4h" }
"""
        db = desk_db(tmp_path, backend, request)
        with agreements_db(db, text, actor="lead", toml=tmp_path / "a.toml"):
            pass
        put(
            db,
            Event(
                id="BIZ-1-c",
                type="created",
                at=b(30, 16),
                ticket="BIZ-1",
                customer="bizco",
                priority="P2",
                title="VPN down",
                assignee="alice",
            ),
            created("G-1", b(30, 15), "bob"),  # 24x7, 12h: breaches Tuesday 03:00 Berlin
        )
        start = b(30, 16, 30)
        speed = 7200.0
        with notify_service(db, secrets(tmp_path, hooks), start=start, speed=speed) as svc:
            svc.wait_for(lambda line: "BIZ-1|resolution" in line and "breach" in line, timeout=40)
            smtp.wait(3, timeout=10)
            svc.wait_for(lambda line: "via pager" in line, timeout=10)
        rows = alerts_json(db)
        biz_rows = sorted((r for r in rows if r["ticket"] == "BIZ-1"), key=lambda r: str(r["threshold_at"]))

        def local(text: object) -> dt.datetime:
            return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(berlin)

        assert [(r["level"], local(r["threshold_at"]).strftime("%a %H:%M")) for r in biz_rows] == [
            ("50%", "Tue 10:00"),
            ("1h left", "Tue 11:00"),
            ("breach", "Tue 12:00"),
        ]
        for r in biz_rows:
            assert 9 <= local(r["sent_at"]).hour < 17, r  # sent in business hours, never overnight
        (g,) = [r for r in rows if r["ticket"] == "G-1"]
        assert g["recipient"] == "channel:pager" and g["off_shift"] is True  # not bob's inbox
        assert local(g["threshold_at"]).strftime("%a %H:%M") == "Tue 03:00"
        assert all(m.rcpt_tos == ["alice@example.com"] for m in smtp.mails)
        assert all(not (0 <= local(r["sent_at"]).hour < 7) for r in rows if r["recipient"] != "channel:pager")


@pytest.mark.both_backends
def test_failures_are_retried_with_backoff_then_given_up_and_listed(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    with smtp_server(tmp_path) as smtp, webhook_server() as hooks:
        hooks.script["/slack"] = [500, 503, 200]
        hooks.script["/teams"] = [404]
        text = rules(smtp, '{ at = "breach", notify = ["slack", "teams"] }').replace("PAGER_OUT", "x")
        db = desk_db(tmp_path, backend, request)
        with agreements_db(db, text, actor="lead", toml=tmp_path / "a.toml"):
            pass
        put(db, created("F-1", S - H - 5, "alice"))
        with notify_service(db, secrets(tmp_path, hooks), start=S, args=("--retry-base", "0.3")) as svc:
            svc.wait_for(lambda line: "sent message" in line and "slack" in line)
        slack = [p for p in hooks.posts if p.path == "/slack"]
        assert len(slack) == 3 and len({p.headers["Idempotency-Key"] for p in slack}) == 1
        assert len([p for p in hooks.posts if p.path == "/teams"]) == 1  # a 404 is not retried
        rows = {r["recipient"]: r for r in alerts_json(db)}
        assert rows["channel:slack"]["state"] == "sent" and rows["channel:slack"]["attempts"] == 3
        assert rows["channel:teams"]["state"] == "failed" and "HTTP 404" in str(
            rows["channel:teams"]["error"]
        )
        failed = alerts_json(db, "--failed")
        assert [r["recipient"] for r in failed] == ["channel:teams"]
        table = subprocess.run(
            [sys.executable, "-m", "sladesk_tui", "--db", str(db), "alerts", "--ticket", "F-1"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "failed" in table and "error: teams webhook: HTTP 404" in table
        csv_out = subprocess.run(
            [sys.executable, "-m", "sladesk_tui", "--db", str(db), "alerts", "--format", "csv"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert csv_out.splitlines()[0].startswith("id,ticket,clock,cycle,level,recipient")
        assert smtp.mails == []


def test_the_secrets_file_must_be_private(tmp_path: Path) -> None:
    secrets_file = write_secrets(tmp_path / "secrets.toml", {"smtp": "x"})
    secrets_file.chmod(0o640)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sladesk_tui",
            "--db",
            str(tmp_path / "d.db"),
            "notify",
            "--secrets",
            str(secrets_file),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "secrets.toml: the secrets file is open to group or others (mode 640): chmod 600 it" in out.stderr


@pytest.mark.both_backends
def test_once_sends_what_is_due_then_exits(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    with smtp_server(tmp_path) as smtp, webhook_server() as hooks:
        text = rules(smtp, '{ at = "breach", notify = ["pager"] }').replace(
            "PAGER_OUT", str(tmp_path / "p.jsonl")
        )
        db = desk_db(tmp_path, backend, request)
        with agreements_db(db, text, actor="lead", toml=tmp_path / "a.toml"):
            pass
        put(db, created("O-1", S - 2 * H, "alice"), created("O-2", S - 10 * M, "bob"))
        env = {**os.environ, "SLADESK_TEST_CLOCK": repr(S)}
        argv = [
            sys.executable,
            "-m",
            "sladesk_tui",
            "--db",
            str(db),
            "notify",
            "--once",
            "--secrets",
            str(secrets(tmp_path, hooks)),
        ]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        lines = (tmp_path / "p.jsonl").read_text().splitlines()
        assert [json.loads(x)["alerts"][0]["ticket"] for x in lines if x] == ["O-1"]  # O-2 is not due yet
        assert [r["ticket"] for r in alerts_json(db, "--since", "2026-11-30")] == ["O-1"]
        assert alerts_json(db, "--ticket", "O-2") == []
        again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and len((tmp_path / "p.jsonl").read_text().splitlines()) == 1


@pytest.mark.both_backends
def test_a_webhook_that_cannot_be_reached_is_retried_and_its_url_never_recorded(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    from alert_support import free_port

    with smtp_server(tmp_path) as smtp:
        text = rules(smtp, '{ at = "breach", notify = ["slack"] }').replace("PAGER_OUT", "x")
        db = desk_db(tmp_path, backend, request)
        with agreements_db(db, text, actor="lead", toml=tmp_path / "a.toml"):
            pass
        put(db, created("U-1", S - 2 * H, "alice"))
        token = "T000-B000-SECRETTOKEN"
        for i, url in enumerate((f"http://127.0.0.1:{free_port()}/services/{token}", f"http://[bad/{token}")):
            sec = write_secrets(tmp_path / "secrets.toml", {"smtp": "x", "slack-url": url})
            env = {**os.environ, "SLADESK_TEST_CLOCK": repr(S + 60 * i)}  # the retry (30 s) is due
            argv = [
                sys.executable,
                "-m",
                "sladesk_tui",
                "--db",
                str(db),
                "notify",
                "--once",
                "--secrets",
                str(sec),
            ]
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0 and token not in done.stderr, done.stderr
        (row,) = alerts_json(db)
        assert row["state"] == "retrying" and row["attempts"] == 2
        assert "slack webhook" in str(row["error"]) and token not in str(row["error"])
        conn = connect(db, readonly=True)
        try:
            assert not any(token in str(r[0]) for r in conn.execute("SELECT after_json FROM audit_log"))
        finally:
            conn.close()


@pytest.mark.both_backends
def test_a_second_notifier_on_the_same_database_is_refused(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    with smtp_server(tmp_path) as smtp, webhook_server() as hooks:
        db = desk_db(tmp_path, backend, request)
        with agreements_db(
            db,
            rules(smtp, '{ at = "breach" }').replace("PAGER_OUT", "x"),
            actor="lead",
            toml=tmp_path / "a.toml",
        ):
            pass
        sec = secrets(tmp_path, hooks)
        with notify_service(db, sec, start=S):
            argv = [
                sys.executable,
                "-m",
                "sladesk_tui",
                "--db",
                str(db),
                "notify",
                "--once",
                "--secrets",
                str(sec),
            ]
            second = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert "another sladesk notify is running on it" in second.stderr
