"""The notifier on PostgreSQL sleeps on the database's change hints, not on a poll.

Asleep until a far-off instant, it must wake when another process commits, and
after its listener's connection is killed it must plan everything again.
"""

from __future__ import annotations

import asyncio
import io
import sys
import threading
import time
from pathlib import Path

import pytest

from sladesk_tui.services.notifier import Notifier, ServiceClock
from sladesk_tui.store.changes import listen
from sladesk_tui.store.db import open_db

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from test_changes import write_in_another_process  # noqa: E402 - the store tests' writer process

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


def asleep(n: Notifier, seconds: float) -> float:
    """Run the notifier's sleep until `seconds` from now; how long it really slept."""
    t0 = time.monotonic()
    asyncio.run(n._sleep_until(n.clock.now() + seconds, asyncio.Event()))
    return time.monotonic() - t0


def test_a_commit_elsewhere_wakes_the_sleeping_notifier(db_target: str, pg_server: object) -> None:
    open_db(db_target).close()
    n = Notifier(db_target, secrets={}, clock=ServiceClock(), actor="notify", log=io.StringIO())
    n._listener = listen(db_target)
    try:
        assert asleep(n, 0.6) >= 0.5 and n._heard == 0  # nothing committed: slept it out
        writer = threading.Timer(0.5, write_in_another_process, (db_target, "T-1"))
        writer.start()
        assert asleep(n, 60) < 30  # woken by the hint, long before its instant
        writer.join()
        assert n._heard == 1 and n._data_version() == 1

        n._version = n._data_version()  # as after a refresh
        with pg_server.admin() as admin:  # type: ignore[attr-defined]  # pg_support.PgServer
            admin.execute("SELECT pg_terminate_backend(%s)", (n._listener.backend_pid,))  # type: ignore[union-attr]  # a PgListener
        assert asleep(n, 60) < 30
        assert n._version is None  # the next refresh reloads everything
    finally:
        n._listener.close()
