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


def test_a_lost_database_connection_is_reopened_not_retried_for_ever(
    db_target: str, pg_server: object
) -> None:
    """The notifier's own connection killed (a server restart, an administrator): one
    line, a new connection, and the service goes on; never "database error; retrying"
    on a connection that is gone."""
    open_db(db_target).close()
    log = io.StringIO()
    n = Notifier(db_target, secrets={}, clock=ServiceClock(), actor="notify", log=log)
    n.open()
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            loop.run_until_complete(n.run(stop=stop))
        except BaseException as exc:  # surfaced below
            failure.append(exc)

    def said(text: str) -> bool:
        deadline = time.monotonic() + 30
        while text not in log.getvalue():
            if time.monotonic() > deadline or failure:
                return False
            time.sleep(0.05)
        return True

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        old = n.conn
        killed = old.raw.info.backend_pid  # type: ignore[attr-defined]  # a store.pg.PgConnection
        with pg_server.admin() as admin:  # type: ignore[attr-defined]  # pg_support.PgServer
            assert admin.execute("SELECT pg_terminate_backend(%s)", (killed,)).fetchone()[0] is True
        write_in_another_process(db_target, "T-1")  # the hint makes it read, on the dead connection
        assert said("reconnected"), (log.getvalue(), failure)
        assert n.conn is not old
        lines = log.getvalue().splitlines()
        assert sum("lost the database connection" in line for line in lines) == 1, lines
        assert not any("retrying" in line or "database error" in line for line in lines), lines
        write_in_another_process(db_target, "T-2")
        time.sleep(1.0)
        assert thread.is_alive() and not failure
        assert log.getvalue().count("lost the database connection") == 1
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
        n.close()
