"""A real PostgreSQL server for the tests that run on both backends (docs/postgresql.md).

The server is reached with the admin URL in ``$SLADESK_TEST_PG_URL`` (a superuser
login over 127.0.0.1 with a password; `.ci/pg.sh up` creates it and prints the
``export`` line: ``eval "$(.ci/pg.sh up)"`` before ``uv run pytest``). Without it,
or when the server does not answer, the PostgreSQL tests skip saying so; with
``CI=true`` they fail instead, so CI can never pass without the server.

The server is shared (other test runs use it at the same time): every database and
role made here carries a random per-session prefix and is dropped at the end.
"""

from __future__ import annotations

import os
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import pytest

ADMIN_URL_ENV = "SLADESK_TEST_PG_URL"


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI: the PostgreSQL half of the suite must run there."""
    message = f'PostgreSQL tests: {reason} (run: eval "$(.ci/pg.sh up)", which sets ${ADMIN_URL_ENV})'
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@dataclass
class PgServer:
    """The admin login and what this session made on the server (dropped by `cleanup`)."""

    admin_url: str
    prefix: str = field(default_factory=lambda: f"sdt{secrets.token_hex(4)}")
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    databases: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    _count: int = 0
    _home: dict[str, str] = field(default_factory=dict)

    def admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True)

    def url(self, role: str, database: str) -> str:
        """A URL connecting as `role` to `database` over the admin URL's host and port, with a password."""
        parts = urllib.parse.urlsplit(self.admin_url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or 5432
        return f"postgresql://{role}:{self.password}@{host}:{port}/{database}"

    def role(self, name: str, *options: str) -> str:
        """A login role named `<prefix>_<name>` (made once), with the session's password."""
        full = f"{self.prefix}_{name}"
        if full not in self.roles:
            with self.admin() as conn:
                conn.execute(
                    f"CREATE ROLE \"{full}\" LOGIN PASSWORD '{self.password}' {' '.join(options)}".strip()
                )
            self.roles.append(full)
        return full

    def database(self, owner: str, *, template: str | None = None) -> str:
        """A fresh database owned by `owner` (empty, or a copy of `template`); returns its name."""
        self._count += 1
        name = f"{self.prefix}_db{self._count}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with self.admin() as conn:
            # The rules migration makes the database's group roles (docs/postgresql.md).
            conn.execute(f'ALTER ROLE "{owner}" CREATEROLE')
            conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"{copy}')
            conn.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
            conn.execute(f'GRANT CONNECT ON DATABASE "{name}" TO PUBLIC')
        self.databases.append(name)
        return name

    def fresh(self, owner: str, *, migrated: bool = False) -> str:
        """The URL of a new, empty sladesk database for one test, connecting as `owner`.

        Each is a schema of its own (first on the search path) in one database per
        owner and session: CREATE and DROP DATABASE each force a checkpoint, about two
        seconds on a busy shared server, a schema costs milliseconds. `migrated`: with
        the whole sladesk schema already in it.
        """
        if owner not in self._home:
            self._home[owner] = self.database(owner)
        self._count += 1
        schema = f"t{self._count}"
        import psycopg

        with psycopg.connect(self.url(owner, self._home[owner]), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = self.url(owner, self._home[owner]) + f"?options=-csearch_path%3D{schema}%2Cpublic"
        if migrated:
            from sladesk_tui.store.db import open_db

            open_db(url).close()
        return url

    def cleanup(self) -> None:
        with self.admin() as conn:
            for name in reversed(self.databases):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for role in reversed(self.roles):
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')
            # The group roles each database's migrations made, named after it.
            made = conn.execute(
                "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s) ORDER BY rolname DESC",
                (f"{self.prefix}_",),
            ).fetchall()
            for (role,) in made:
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def as_role(url: str, role: str, password: str) -> str:
    """`url` (same server, database and options) connecting as `role`."""
    parts = urllib.parse.urlsplit(url)
    netloc = f"{role}:{password}@{parts.hostname}:{parts.port or 5432}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def connect_server() -> PgServer | str:
    """The server, or why it cannot be used."""
    url = os.environ.get(ADMIN_URL_ENV)
    if not url:
        return f"${ADMIN_URL_ENV} is not set"
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"no server at ${ADMIN_URL_ENV}: {str(exc).strip().splitlines()[-1]}"
    return PgServer(url)


def interleave_raw_row(
    monkeypatch: pytest.MonkeyPatch, conn: Any, url: str, insert: str, raw_sql: str
) -> list[int]:
    """Make the first `conn.executemany` whose SQL starts with `insert` store its first
    row, then let another session commit `raw_sql` (an INSERT ... RETURNING its id),
    then store the rest: concurrent sessions drawing from one sequence, as a writer's
    rows and a person's raw row do. Returns (once the writer has run) that row's id."""
    import psycopg

    raw: list[int] = []
    executemany = conn.executemany

    def interleaved(sql: str, rows: Any) -> Any:
        if raw or not sql.startswith(insert):
            return executemany(sql, rows)
        rows = list(rows)
        executemany(sql, rows[:1])
        with psycopg.connect(url, autocommit=True) as other:
            got = other.execute(raw_sql).fetchone()
            assert got is not None
            raw.append(int(got[0]))
        return executemany(sql, rows[1:])

    monkeypatch.setattr(conn, "executemany", interleaved)
    return raw
