"""`sladesk receive` and `sladesk pull` as real processes on one database.

Webhooks for a Zendesk and a Zammad ticket are posted to a running receiver; then
`sladesk pull` reads the same tickets' history from the local API stand-ins: it
stores nothing new and sets nothing aside. A change seen both ways is stored once.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from fake_http import served_in_thread
from fake_zammad import FakeZammad, ticket_81, ticket_81_hooks
from fake_zendesk import FakeZendesk, ticket_4711
from pull_support import events_of, write_password
from services.receiver_support import ROOT, post, prepare, signed, start
from source_fixtures import (
    SOURCES_TOML,
    zendesk_comment,
    zendesk_created,
    zendesk_status,
)

UTC = dt.UTC


def with_pull_tables(zendesk_url: str, zammad_url: str, folder: Path) -> str:
    """The receiver tests' sources file, with a `pull` table for `zd` and `zammad`."""
    for name, value in (("zd.token", "zendesk-api-token"), ("zammad.token", "zammad-api-token")):
        write_password(folder / name, value)
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


def test_webhooks_then_pull_store_each_change_once(tmp_path: Path) -> None:
    folder = tmp_path / "desk"
    folder.mkdir()
    with (
        served_in_thread(FakeZendesk(ticket_4711())) as zd_url,
        served_in_thread(FakeZammad(ticket_81())) as zm_url,
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
            for n, doc in enumerate(ticket_81_hooks()):
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
