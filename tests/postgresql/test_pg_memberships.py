"""Group memberships follow sladesk's role log (docs/postgresql.md, "Adding a person").

A grant to somebody without a PostgreSQL role is refused, naming the `CREATE ROLE`
line; a log that names people before their roles exist (a restored or migrated
desk) is brought in step once with `SELECT sladesk_sync_memberships()`.
"""

from __future__ import annotations

import sqlite3

import pytest
from pg_desk import Desk, make_desk
from pg_support import PgServer

from sladesk_tui.store.roles import grant_role


@pytest.fixture(scope="module")
def desk(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Desk:
    return make_desk(pg_server, tmp_path_factory.mktemp("members"), ("admin", "lead", "feed"))


def test_a_grant_to_somebody_without_a_role_is_refused(desk: Desk) -> None:
    late = f"{desk.server.prefix}_late"
    before = desk.admin_scalar("SELECT count(*) FROM role_grants")
    with desk.connect("lead") as conn, pytest.raises(sqlite3.DatabaseError) as caught:
        grant_role(conn, "lead", late, actor=desk.role("lead"))
    assert f"{late} has no PostgreSQL role" in str(caught.value)
    assert f"CREATE ROLE {late} LOGIN IN ROLE {desk.group('agent')}" in str(caught.value)
    assert desk.admin_scalar("SELECT count(*) FROM role_grants") == before


def test_memberships_are_brought_in_step_after_the_roles_are_made(desk: Desk) -> None:
    # As `sladesk migrate-db` copies history: the administrator records a grant for
    # somebody who has no role on this server yet (nothing to join).
    late = f"{desk.server.prefix}_late2"
    r = desk.psql(
        "dba",
        'INSERT INTO role_grants ("user", role, action, by_user, ts, at)'
        f" VALUES ('{late}', 'admin', 'grant', '{desk.dba}', 0, '1970-01-01T00:00:00Z')",
    )
    assert r.returncode == 0, r.stderr
    desk.add_person("late2")
    member = f"SELECT pg_has_role('{late}', '{desk.group('admin')}', 'MEMBER')"
    assert desk.admin_scalar(member) is False
    # Only the administrator may run it.
    refused = desk.psql("lead", "SELECT sladesk_sync_memberships()")
    assert refused.returncode != 0 and "permission denied" in refused.stderr
    done = desk.psql("dba", "SELECT sladesk_sync_memberships()")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
    assert desk.admin_scalar(member) is True
    again = desk.psql("dba", "SELECT sladesk_sync_memberships()")
    assert again.stdout.strip() == "0"
