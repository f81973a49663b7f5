"""`sladesk notify` as a real process against a real database, with an injected clock,
delivering to a real SMTP server and a real webhook server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    return json.loads(out.stdout)  # type: ignore[no-any-return]  # a list of objects by contract


def test_mail_and_chat_alerts_arrive_once_with_their_shapes(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as smtp, webhook_server() as hooks:
        text = rules(
            smtp,
            '{ at = "50%", clock = "response" },'
            ' { at = "breach", clock = "response", notify = ["assignee", "slack", "mm", "teams", "pager"] }',
        ).replace("PAGER_OUT", str(tmp_path / "pager.jsonl"))
        db = tmp_path / "desk.db"
        with agreements_db(db, text, actor="lead"):
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
            import time

            time.sleep(1.0)
        assert len(smtp.mails) == 3 and len(hooks.posts) == 3
