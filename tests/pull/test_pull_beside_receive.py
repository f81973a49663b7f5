"""`sladesk receive` and `sladesk pull` as real processes on one database.

Webhooks for a Zendesk and a Zammad ticket are posted to a running receiver; then
`sladesk pull` reads the same tickets' history from the local API stand-ins: it
stores nothing new and sets nothing aside. A change seen both ways is stored once.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from fake_http import served_in_thread
from fake_zammad import FakeZammad, ZammadDesk
from fake_zendesk import AGENT, FakeZendesk, ZendeskDesk
from pull_support import events_of
from services.receiver_support import ROOT, post, prepare, signed, start
from source_fixtures import (
    SOURCES_TOML,
    zammad_article,
    zammad_snapshot,
    zendesk_comment,
    zendesk_created,
    zendesk_status,
)

UTC = dt.UTC


def with_pull_tables(zendesk_url: str, zammad_url: str, folder: Path) -> str:
    """The receiver tests' sources file, with a `pull` table for `zd` and `zammad`."""
    for name, value in (("zd.token", "zendesk-api-token"), ("zammad.token", "zammad-api-token")):
        (folder / name).write_text(value + "\n", encoding="utf-8")
        os.chmod(folder / name, 0o600)
    zd = f'[source.pull]\nurl = "{zendesk_url}"\nuser = "sladesk@acme.example/token"\npassword_file = "zd.token"\n'
    zm = f'[source.pull]\nurl = "{zammad_url}"\ntoken_file = "zammad.token"\n'
    text = SOURCES_TOML.replace(
        'customers = { "9001" = "acme" }\n', 'customers = { "9001" = "acme" }\n' + zd, 1
    )
    text = text.replace(
        'customers = { "acme.example" = "acme" }\n', 'customers = { "acme.example" = "acme" }\n' + zm, 1
    )
    assert text.count("[source.pull]") == 2
    return text


def zendesk_history() -> ZendeskDesk:
    """Ticket 4711 as the export shows it: the life the webhooks below tell."""
    desk = ZendeskDesk()
    desk.create(
        4711,
        dt.datetime(2026, 11, 27, 8, 5, tzinfo=UTC),
        status="open",
        subject="Printer on floor 3 prints only blank pages",
    )
    desk.audit(
        4711,
        dt.datetime(2026, 11, 27, 8, 30, tzinfo=UTC),
        [
            {
                "id": 901,
                "event_type": "Comment",
                "public": True,
                "author_id": AGENT,
                "body": "Swapped the toner cartridge, please try again.",
            }
        ],
    )
    desk.change(4711, dt.datetime(2026, 11, 27, 9, 0, tzinfo=UTC), "status", "open", "pending")
    desk.change(4711, dt.datetime(2026, 11, 27, 10, 0, tzinfo=UTC), "status", "pending", "solved")
    return desk


def zammad_history() -> ZammadDesk:
    desk = ZammadDesk()
    desk.create(81, dt.datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    desk.article(81, dt.datetime(2026, 11, 20, 9, 30, tzinfo=UTC), sender="Customer", internal=False, aid=104)
    desk.article(
        81, dt.datetime(2026, 11, 20, 10, 0, 0, 300_000, UTC), sender="Agent", internal=False, aid=105
    )
    desk.change(81, dt.datetime(2026, 11, 20, 10, 0, 0, 412_000, UTC), "state", "pending reminder")
    desk.change(81, dt.datetime(2026, 11, 20, 11, 0, 0, 190_000, UTC), "priority", "3 high")
    desk.change(81, dt.datetime(2026, 11, 20, 11, 0, 0, 190_000, UTC), "state", "closed")
    return desk


def test_webhooks_then_pull_store_each_change_once(tmp_path: Path) -> None:
    folder = tmp_path / "desk"
    folder.mkdir()
    with (
        served_in_thread(FakeZendesk(zendesk_history())) as zd_url,
        served_in_thread(FakeZammad(zammad_history())) as zm_url,
    ):
        db = prepare(folder, sources_toml=with_pull_tables(zd_url, zm_url, folder))
        rcv = start(folder)
        try:
            for doc in (
                zendesk_created(4711, status="OPEN", priority="HIGH"),
                zendesk_comment(4711, comment_id=901, public=True, staff=True, time="2026-11-27T08:30:00Z"),
                zendesk_status(4711, "PENDING", "OPEN", eid="01ZDS1", time="2026-11-27T09:00:00.350Z"),
                zendesk_status(4711, "SOLVED", "PENDING", eid="01ZDS2", time="2026-11-27T10:00:00Z"),
            ):
                body, headers = signed("zd", "zendesk", doc)
                assert post(rcv.port, "zd", body, headers)[0] == 200
            for n, doc in enumerate(
                (
                    zammad_snapshot(
                        81,
                        state="new",
                        updated_at="2026-11-20T09:30:00.000Z",
                        article=zammad_article(
                            104, sender="Customer", internal=False, at="2026-11-20T09:30:00.000Z"
                        ),
                    ),
                    zammad_snapshot(
                        81,
                        state="pending reminder",
                        updated_at="2026-11-20T10:00:00.377Z",
                        article=zammad_article(
                            105, sender="Agent", internal=False, at="2026-11-20T10:00:00.300Z"
                        ),
                    ),
                    zammad_snapshot(
                        81, state="closed", priority="3 high", updated_at="2026-11-20T11:00:00.250Z"
                    ),
                )
            ):
                body, headers = signed("zammad", "zammad", doc)
                headers = {**headers, "X-Zammad-Delivery": f"d-{n}", "X-Zammad-Trigger": "sladesk"}
                assert post(rcv.port, "zammad", body, headers)[0] == 200
        finally:
            rcv.stop()
        by_hooks = events_of(db)
        assert len(by_hooks) == 4 + 6
        for source in ("zd", "zammad"):
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "sladesk_tui",
                    "--db",
                    str(db),
                    "pull",
                    source,
                    "--sources",
                    str(folder / "sources.toml"),
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=120,
            )
            assert out.returncode == 0, out.stderr
            assert " 0 events stored" in out.stdout and " 0 tickets set aside" in out.stdout, out.stdout
    assert events_of(db) == by_hooks
