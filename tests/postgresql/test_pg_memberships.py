"""Group memberships follow sladesk's role log (docs/postgresql.md, "Adding a person").

A grant to somebody without a PostgreSQL role is refused, naming the `CREATE ROLE`
line; a log that names people before their roles exist (a restored or migrated
desk) is brought in step once with `SELECT sladesk_sync_memberships()`.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pg_desk import Desk, make_desk
from pg_support import PgServer

from sladesk_tui.core.errors import Refused
from sladesk_tui.store.roles import grant_role


@pytest.fixture(scope="module")
def desk(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Desk:
    return make_desk(pg_server, tmp_path_factory.mktemp("members"), ("admin", "lead", "feed"))


def test_a_grant_to_somebody_without_a_role_is_refused(desk: Desk) -> None:
    late = f"{desk.server.prefix}_late"
    before = desk.admin_scalar("SELECT count(*) FROM role_grants")
    # The database's refusal, told as the user's mistake (exit status 2 at the command line).
    with desk.connect("lead") as conn, pytest.raises(Refused) as caught:
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


def test_two_leads_revoking_each_other_at_once_leave_one(desk: Desk) -> None:
    """Raw sessions, no sladesk: the rule trigger takes the writers' advisory lock, so
    the second revoke waits for the first and then sees it."""
    import psycopg

    second = desk.add_person("lead2")
    with desk.connect("lead") as conn:
        grant_role(conn, "lead", second, actor=desk.role("lead"))
    revoke = (
        'INSERT INTO role_grants ("user", role, action, ts, at)'
        " VALUES (%s, 'lead', 'revoke', 0, '1970-01-01T00:00:00Z')"
    )
    first_conn = psycopg.connect(desk.url("lead"))
    second_conn = psycopg.connect(desk.url("lead2"))
    outcome: list[BaseException | None] = []
    try:
        first_conn.execute(revoke, (second,))  # holds the lock until commit
        waiter = threading.Thread(
            target=lambda: outcome.append(_attempt(second_conn, revoke, desk.role("lead")))
        )
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive(), "the second revoke did not wait for the first"
        first_conn.commit()
        waiter.join(30)
    finally:
        first_conn.close()
        second_conn.close()
    assert len(outcome) == 1 and outcome[0] is not None
    # After the first revoke, the second lead is no lead any more (without the lock,
    # each would have seen the other still holding the role, and both would pass).
    assert f"only a lead may revoke the lead role, and {second} is not a lead" in str(outcome[0])
    holders = desk.admin_rows(
        "SELECT g.\"user\" FROM role_grants g WHERE g.role = 'lead' AND g.id = (SELECT max(h.id)"
        " FROM role_grants h WHERE h.\"user\" = g.\"user\" AND h.role = 'lead') AND g.action = 'grant'"
    )
    assert holders == [(desk.role("lead"),)]


def _attempt(conn: Any, sql: str, user: str) -> BaseException | None:
    try:
        conn.execute(sql, (user,))
        conn.commit()
    except Exception as exc:  # the refusal is the expected outcome, examined by the test
        conn.rollback()
        return exc
    return None
