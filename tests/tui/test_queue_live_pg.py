"""The live queue on PostgreSQL: refreshed by the database's hint, not by a poll.

The app polls nothing on PostgreSQL (store.changes): its poll interval is set far
beyond the test's patience here, so only the NOTIFY of the other process's import
can bring the new ticket on screen; killing the app's listening connection must
not stop that (it reconnects and re-reads everything).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from queue_data import NOW
from support import fresh_db
from test_queue_screen import started, until
from tui_store import AGREEMENTS

from sladesk_tui.store.instants import iso_utc
from sladesk_tui.tui.app import SladeskApp

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

IMPORTER = """
import sys
from sladesk_tui.store.db import open_db
from sladesk_tui.store.imports import import_file

conn = open_db(sys.argv[1])
try:
    import_file(conn, sys.argv[2], actor="importer")
finally:
    conn.close()
"""


def import_in_another_process(target: str, tmp_path: Path, *tickets: tuple[str, float, str]) -> None:
    lines = [
        json.dumps(
            {
                "id": f"{tid}-c",
                "type": "created",
                "ticket": tid,
                "at": iso_utc(at),
                "customer": "acme",
                "priority": "P1",
                "title": title,
            }
        )
        for tid, at, title in tickets
    ]
    f = tmp_path / f"import-{tickets[0][0]}.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", IMPORTER, target, str(f)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]


async def test_the_queue_refreshes_after_an_import_in_another_process(
    db_target: str, tmp_path: Path, pg_server: object
) -> None:
    fresh_db(db_target, AGREEMENTS, actor="lead", toml=tmp_path / "agreements.toml")  # type: ignore[arg-type]  # a URL
    import_in_another_process(db_target, tmp_path, ("T-1", NOW - 600, "Already there"))
    app = SladeskApp(db_target, "sam", clock=lambda: NOW, poll_interval=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await started(pilot)
        await until(pilot, lambda: [r.id for r in view.rows] == ["T-1"], timeout=20)
        import_in_another_process(db_target, tmp_path, ("T-new", NOW - 7200, "Appeared by itself"))
        await until(pilot, lambda: any(r.id == "T-new" for r in view.rows), timeout=20)
        assert view.rows[0].id == "T-new"  # P1 created 2h ago: breached, so first

        # The listener's connection dies: it comes back, re-reads, and hears again.
        with pg_server.admin() as admin:  # type: ignore[attr-defined]  # pg_support.PgServer
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE usename = %s AND query LIKE 'LISTEN %%'",
                (db_target.split("://", 1)[1].split(":", 1)[0],),
            ).fetchone()[0]
        assert killed == 1
        import_in_another_process(db_target, tmp_path, ("T-late", NOW - 7300, "After the reconnect"))
        await until(pilot, lambda: any(r.id == "T-late" for r in view.rows), timeout=20)
