"""A desk on the real PostgreSQL server, set up as docs/postgresql.md says, with people.

The administrator (`dba`: a login with CREATEROLE that owns the database, not a
superuser) applies the migrations and names the first admin and lead; every person
is a LOGIN role of their own, a member of the agent group, reached with a password
over 127.0.0.1 exactly as a remote user would be. Everything carries the session's
random prefix (tests/pg_support.py) and is dropped at the end.

`psql(...)` runs the real `psql` client as a person: the tests' claim is that the
rules hold against a raw session, not only against sladesk.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pg_support import PgServer

from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.store.agreements import load_agreements_file
from sladesk_tui.store.db import open_db
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.roles import grant_role, name_first

GROUPS = ("owner", "agent", "lead", "admin", "feed")
TIMEOUT_S = 60

AGREEMENTS = """
[[agreement]]
id = "gold"
customer = "acme"
calendar = "24x7"
[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
"""


@dataclass
class Desk:
    """One database with its administrator and people (role names by short name)."""

    server: PgServer
    name: str
    dba: str
    people: dict[str, str] = field(default_factory=dict)

    def url(self, who: str) -> str:
        """The URL of person `who` (a short name, or "dba")."""
        return self.server.url(self.dba if who == "dba" else self.people[who], self.name)

    def role(self, who: str) -> str:
        return self.dba if who == "dba" else self.people[who]

    def group(self, kind: str) -> str:
        return f"{self.name}_{kind}"

    def add_person(self, short: str) -> str:
        """A LOGIN role for a person, member of the agent group (docs/postgresql.md)."""
        full = self.server.role(short)  # made once per session, shared by the desks
        with self.server.admin() as conn:
            conn.execute(f'GRANT "{self.group("agent")}" TO "{full}"')
        self.people[short] = full
        return full

    @contextmanager
    def connect(self, who: str) -> Iterator[Any]:
        """A sladesk connection (migrated, writable) as `who`."""
        conn = open_db(self.url(who))
        try:
            yield conn
        finally:
            conn.close()

    def psql(self, who: str, sql: str) -> subprocess.CompletedProcess[str]:
        """`psql -c SQL` as `who`, password over 127.0.0.1; stops at the first error."""
        parts = urllib.parse.urlsplit(self.url(who))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGPASSWORD"] = urllib.parse.unquote(parts.password or "")
        return subprocess.run(
            [
                psql_binary(),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                parts.hostname or "127.0.0.1",
                "-p",
                str(parts.port or 5432),
                "-U",
                self.role(who),
                "-d",
                self.name,
                "-At",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            env=env,
            check=False,
        )

    def admin_rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows read by the server's superuser (the tests' own view, not a person's)."""
        parts = urllib.parse.urlsplit(self.server.admin_url)
        url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.name}"))
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]

    def admin_scalar(self, sql: str) -> Any:
        """One value read by the server's superuser."""
        rows = self.admin_rows(sql)
        return rows[0][0] if rows else None


def psql_binary() -> str:
    found = shutil.which("psql")
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
    if versions:
        return str(versions[-1])
    raise RuntimeError("no psql client (apt-get install postgresql-client)")


def make_desk(server: PgServer, tmp: Path, people: tuple[str, ...]) -> Desk:
    """A migrated desk: `admin` and `lead` named by the administrator, everyone in
    `people` a person role; the agreements loaded by the admin, tickets T-1 and
    SHARED imported by `feed` (granted by the admin)."""
    dba = server.role("dba", "CREATEROLE")
    name = server.database(dba)
    desk = Desk(server, name, dba)
    with desk.connect("dba"):
        pass  # applies every migration, the rules included, as the administrator
    # Cluster-wide group roles named after the database: dropped with the session's roles.
    server.roles[:0] = [desk.group(k) for k in GROUPS if desk.group(k) not in server.roles]
    for short in people:
        desk.add_person(short)
    with desk.connect("dba") as conn:
        name_first(conn, "admin", desk.role("admin"), actor=desk.dba)
        name_first(conn, "lead", desk.role("lead"), actor=desk.dba)
    with desk.connect("admin") as conn:
        grant_role(conn, "feed", desk.role("feed"), actor=desk.role("admin"))
        toml = tmp / "agreements.toml"
        toml.write_text(AGREEMENTS, encoding="utf-8")
        load_agreements_file(conn, toml, actor=desk.role("admin"))
    with desk.connect("feed") as conn:
        created = [
            Event(
                id=f"{ticket}-created",
                type="created",
                at=time.time() - ago,
                ticket=ticket,
                seq=1,
                customer="acme",
                priority=priority,
                title="Payroll export fails",
            )
            for ticket, ago, priority in (("T-1", 600, "P2"), ("SHARED", 7200, "P1"))
        ]
        ingest(conn, created, actor=desk.role("feed"), source="import:first.jsonl", name="first")
    return desk


def extend(desk: Desk, who: str, ticket: str = "T-1") -> Override:
    """An `extend` override of `ticket`'s resolution clock by `who`, for `place_override`."""
    return Override(
        id=0,
        ticket=ticket,
        kind="extend",
        at=0.0,
        operator=desk.role(who),
        reason="third_party",
        justification="the vendor's fix lands tomorrow",
        clock="resolution",
        by_s=600.0,
    )
