"""A real streaming replica answers the lookups (docs/postgresql.md, "Read replicas").

The page's steps on this machine: `pg_basebackup -X stream -R` of the test server
into a throwaway data directory, started as a hot standby on a free port on
127.0.0.1. A write on the primary reaches it; the lookups the page lists answer on
it, as a person with their own password; a write there is refused and nothing is
written. Needs root (the server runs as the `postgres` account), as CI has.
"""

from __future__ import annotations

import shutil
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_cluster import (
    as_postgres,
    data_directory,
    free_port,
    pg_bin,
    problem,
    skip_or_fail,
    sladesk,
    start,
    stop,
    write_owned,
)
from pg_desk import Desk, extend, make_desk
from pg_support import PgServer

from sladesk_tui.store.overrides import place_override

LOOKUPS = [
    ("queue",),
    ("ticket", "T-1", "--format", "json"),
    ("overrides", "--stats"),
    ("audit", "verify"),
    ("role", "list"),
]


def _problem() -> str | None:
    return problem("replica", ("pg_basebackup", "pg_ctl", "postgres"))


class Replica:
    def __init__(self, desk: Desk, port: int, data: Path) -> None:
        self.desk, self.port, self.data = desk, port, data

    def why_behind(self) -> str:
        """What the standby says about its stream, for a failure's message."""
        receiver = self.scalar("SELECT row_to_json(r)::text FROM pg_stat_wal_receiver r")
        log = self.data / "log"
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        return f"wal receiver: {receiver}; standby log: {tail}"

    def url(self, who: str) -> str:
        parts = urllib.parse.urlsplit(self.desk.url(who))
        return urllib.parse.urlunsplit(
            parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{self.port}")
        )

    def scalar(self, sql: str) -> object:
        import psycopg

        with psycopg.connect(self.url("ann"), autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(sql).fetchone()
        return None if row is None else row[0]


@pytest.fixture(scope="module")
def replica(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    why = _problem()
    if why:
        skip_or_fail(why)
    desk = make_desk(pg_server, tmp_path_factory.mktemp("replica"), ("admin", "lead", "feed", "ann"))
    with desk.connect("ann") as conn:
        place_override(conn, extend(desk, "ann"))
    data = data_directory(f"{pg_server.prefix}_standby")
    port = free_port()
    admin = urllib.parse.urlsplit(pg_server.admin_url)
    env = {"PATH": "/usr/bin:/bin", "PGPASSWORD": urllib.parse.unquote(admin.password or "")}
    started = False
    try:
        # -c fast: a spread checkpoint could take minutes; -R: the standby's primary_conninfo.
        as_postgres(
            str(pg_bin("pg_basebackup")), "-h", admin.hostname or "127.0.0.1", "-p", str(admin.port or 5432),
            "-U", urllib.parse.unquote(admin.username or ""), "-D", str(data), "-X", "stream", "-R", "-c", "fast",
            env=env,
        )  # fmt: skip
        # Debian keeps a cluster's configuration in /etc: the copy gets its own.
        write_owned(
            data / "postgresql.conf",
            f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{data}'\n"
            # A standby needs max_connections (and the like) >= the primary's: defaults.
            "hot_standby = on\n",
        )
        write_owned(data / "pg_hba.conf", "host all all 127.0.0.1/32 scram-sha-256\n")
        write_owned(data / "pg_ident.conf", "")
        start(data)
        started = True
        yield Replica(desk, port, data)
    finally:
        if started:
            stop(data)
        shutil.rmtree(data, ignore_errors=True)


def test_the_replica_is_a_standby_and_follows_the_primary(replica: Replica) -> None:
    assert replica.scalar("SELECT pg_is_in_recovery()") is True
    with replica.desk.connect("ann") as conn:
        placed = place_override(conn, extend(replica.desk, "ann"))
    deadline = time.monotonic() + 120  # a shared, loaded server can lag; say why if it never comes
    while replica.scalar(f"SELECT count(*) FROM overrides WHERE id = {placed.id}") != 1:
        assert time.monotonic() < deadline, f"the override never reached the replica: {replica.why_behind()}"
        time.sleep(0.2)


@pytest.mark.parametrize("args", LOOKUPS, ids=" ".join)
def test_a_lookup_answers_on_the_replica(replica: Replica, args: tuple[str, ...]) -> None:
    on_replica = sladesk(replica.url("ann"), *args)
    assert on_replica.returncode == 0, on_replica.stderr
    assert on_replica.stdout.strip()


def test_a_write_on_the_replica_is_refused_and_writes_nothing(replica: Replica) -> None:
    before = replica.scalar("SELECT count(*) FROM overrides")
    r = sladesk(
        replica.url("ann"),
        "override", "T-1", "extend", "--clock", "resolution", "--by", "10m",
        "--reason", "third_party", "--justification", "the vendor's fix lands tomorrow",
    )  # fmt: skip
    assert r.returncode != 0
    assert "nothing was written" in r.stderr, r.stderr
    assert replica.scalar("SELECT count(*) FROM overrides") == before
    assert replica.desk.admin_scalar("SELECT count(*) FROM overrides") == before
