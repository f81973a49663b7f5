"""The rules hold against a raw `psql` session, not only against sladesk (docs/postgresql.md).

A desk is set up as the page says (tests/postgresql/pg_desk.py); then people connect
with the real `psql` client, each as their own role with a password over 127.0.0.1,
and try what sladesk would never do: change or empty a log table, record an
override under someone else's name, review their own override or review without
being a lead, grant roles they may not grant, import events without the feed role.
Each is refused and changes nothing; the same operations through sladesk, by the
right person, succeed; and `sladesk audit verify` still passes at the end.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_desk import Desk, extend, make_desk
from pg_support import PgServer

from sladesk_tui.store.audit import COVERED_TABLES
from sladesk_tui.store.overrides import place_override, review_override
from sladesk_tui.store.roles import has_role

LOG_TABLES = sorted([*COVERED_TABLES, "audit_log"])
PEOPLE = ("admin", "lead", "feed", "ann", "kim")


@pytest.fixture(scope="module")
def desk(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    d = make_desk(pg_server, tmp_path_factory.mktemp("pgdesk"), PEOPLE)
    # Through sladesk, by the right people: ann's override, the lead's own, and the
    # lead's review of ann's.
    with d.connect("ann") as conn:
        d.ann_override = place_override(conn, extend(d, "ann")).id  # type: ignore[attr-defined]  # test data
    with d.connect("lead") as conn:
        d.lead_override = place_override(conn, extend(d, "lead")).id  # type: ignore[attr-defined]  # test data
        review_override(conn, d.ann_override, "approve", reviewer=d.role("lead"))  # type: ignore[attr-defined]  # test data
    yield d


def count(desk: Desk, table: str) -> int:
    return int(desk.admin_scalar(f"SELECT count(*) FROM {table}"))


def first_column(desk: Desk, table: str) -> str:
    return str(
        desk.admin_scalar(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            f" AND table_name = '{table}' ORDER BY ordinal_position LIMIT 1"
        )
    )


def refused(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode != 0, f"psql accepted it: {r.stdout}"
    assert "ERROR" in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


@pytest.mark.parametrize("who", ["ann", "lead"])
@pytest.mark.parametrize("table", LOG_TABLES)
def test_people_cannot_update_delete_or_truncate_a_log_table(desk: Desk, table: str, who: str) -> None:
    before = count(desk, table)
    col = first_column(desk, table)
    for sql in (f"UPDATE {table} SET {col} = {col}", f"DELETE FROM {table}", f"TRUNCATE {table} CASCADE"):
        refused(desk.psql(who, sql), "permission denied")
    assert count(desk, table) == before


@pytest.mark.parametrize("table", ["events", "overrides", "reviews", "role_grants", "audit_log"])
def test_even_the_administrator_is_stopped_by_the_triggers(desk: Desk, table: str) -> None:
    """The owner has the privileges; the triggers still refuse (it could drop them: hence
    nobody works as the owner)."""
    before = count(desk, table)
    assert before > 0
    col = first_column(desk, table)
    for sql in (f"UPDATE {table} SET {col} = {col}", f"DELETE FROM {table}", f"TRUNCATE {table} CASCADE"):
        refused(desk.psql("dba", sql), "append-only")
    assert count(desk, table) == before


def test_an_override_under_another_name_is_refused(desk: Desk) -> None:
    before = count(desk, "overrides")
    r = desk.psql(
        "ann",
        "INSERT INTO overrides (ticket, kind, clock, ts, at, by_s, reason, justification, operator,"
        " before_json, after_json) VALUES ('T-1', 'extend', 'resolution', extract(epoch FROM now()), sladesk_recorded_at(),"
        f" 60, 'other', 'slipped in', '{desk.role('lead')}', '{{}}', '{{}}')",
    )
    refused(r, f"overrides.operator: {desk.role('ann')} may not record the name {desk.role('lead')}")
    assert count(desk, "overrides") == before


def _review_sql(desk: Desk, override_id: int, reviewer: str) -> str:
    return (
        "INSERT INTO reviews (override_id, decision, reviewer, comment, ts, at)"
        f" VALUES ({override_id}, 'approved', '{desk.role(reviewer)}', NULL, extract(epoch FROM now()), sladesk_recorded_at())"
    )


def test_self_review_is_refused(desk: Desk) -> None:
    before = count(desk, "reviews")
    own = desk.lead_override  # type: ignore[attr-defined]  # test data
    refused(desk.psql("lead", _review_sql(desk, own, "lead")), "may not review their own override")
    assert count(desk, "reviews") == before


def test_a_review_by_a_non_lead_is_refused(desk: Desk) -> None:
    before = count(desk, "reviews")
    theirs = desk.lead_override  # type: ignore[attr-defined]  # test data
    refused(desk.psql("ann", _review_sql(desk, theirs, "ann")), "permission denied")
    # Under the lead's name it is refused too: the name must be ann's own.
    refused(desk.psql("ann", _review_sql(desk, theirs, "lead")), "permission denied")
    assert count(desk, "reviews") == before


def _grant_sql(desk: Desk, role: str, user: str, by: str, action: str = "grant") -> str:
    return (
        'INSERT INTO role_grants ("user", role, action, by_user, ts, at)'
        f" VALUES ('{desk.role(user)}', '{role}', '{action}', '{desk.role(by)}', extract(epoch FROM now()), sladesk_recorded_at())"
    )


def test_roles_are_granted_only_by_their_granting_role(desk: Desk) -> None:
    before = count(desk, "role_grants")
    # An agent: no insert privilege at all.
    refused(desk.psql("ann", _grant_sql(desk, "lead", "ann", "ann")), "permission denied")
    # An admin is not a lead: lead is granted by a lead only.
    refused(
        desk.psql("admin", _grant_sql(desk, "lead", "ann", "admin")), "only a lead may grant the lead role"
    )
    # A lead is not an admin: admin and feed are granted by an admin only.
    refused(
        desk.psql("lead", _grant_sql(desk, "admin", "ann", "lead")), "only an admin may grant the admin role"
    )
    refused(
        desk.psql("lead", _grant_sql(desk, "feed", "lead", "lead")), "only an admin may grant the feed role"
    )
    # Granted by a lead under someone else's name.
    refused(
        desk.psql("lead", _grant_sql(desk, "lead", "ann", "admin")),
        "role_grants.by_user",
        "may not record the name",
    )
    # The last lead cannot be revoked, not even by themselves.
    refused(desk.psql("lead", _grant_sql(desk, "lead", "lead", "lead", "revoke")), "is the last lead")
    assert count(desk, "role_grants") == before


def sladesk(desk: Desk, who: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `sladesk` command, connected as `who`."""
    return subprocess.run(
        [sys.executable, "-m", "sladesk_tui", *args, "--db", desk.url(who)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_sladesk_lead_grant_joins_the_lead_group_and_revoke_leaves_it(desk: Desk) -> None:
    kim, group = desk.role("kim"), desk.group("lead")
    member = f"SELECT pg_has_role('{kim}', '{group}', 'MEMBER')"
    assert desk.admin_scalar(member) is False
    # Not by an admin: lead is granted by a lead (the program says so before the database).
    refused_by_admin = sladesk(desk, "admin", "lead", "grant", kim)
    assert refused_by_admin.returncode == 2, refused_by_admin.stderr
    assert desk.admin_scalar(member) is False
    r = sladesk(desk, "lead", "lead", "grant", kim)
    assert r.returncode == 0, r.stderr
    assert desk.admin_scalar(member) is True
    with desk.connect("kim") as conn:
        assert has_role(conn, kim, "lead")
        # Now kim reviews an override that is not theirs (through sladesk: a raw row
        # would be one the audit chain does not cover, and `audit verify` would name it).
        before = count(desk, "reviews")
        review_override(conn, desk.lead_override, "approve", reviewer=kim)  # type: ignore[attr-defined]  # test data
        assert count(desk, "reviews") == before + 1
    r = sladesk(desk, "lead", "lead", "revoke", kim)
    assert r.returncode == 0, r.stderr
    assert desk.admin_scalar(member) is False
    refused(desk.psql("kim", _review_sql(desk, desk.lead_override, "kim")), "permission denied")  # type: ignore[attr-defined]  # test data


def test_only_a_feed_imports_events(desk: Desk) -> None:
    before = count(desk, "events")
    sql = (
        "INSERT INTO events (id, type, ticket, ts, at, body, digest, actor, source, recorded_at)"
        f" VALUES ('raw-1', 'note', 'T-1', extract(epoch FROM now()), sladesk_recorded_at(), 'x', 'd', '{desk.role('ann')}',"
        " 'import:raw.jsonl', '1970-01-01T00:00:00Z')"
    )
    refused(desk.psql("ann", sql), "only a feed account imports events")
    assert count(desk, "events") == before


def test_local_actions_off_hold_against_a_raw_session(desk: Desk) -> None:
    def reply() -> str:
        return (
            "INSERT INTO events (id, type, ticket, ts, at, author, body, digest, source, recorded_at)"
            f" VALUES ('tui-{uuid.uuid4().hex}', 'reply', 'T-1', extract(epoch FROM now()), sladesk_recorded_at(), '{desk.role('ann')}', 'x', 'd',"
            " 'tui', '1970-01-01T00:00:00Z')"
        )

    before = count(desk, "events")
    r = sladesk(desk, "admin", "setting", "set", "local-actions", "off")
    assert r.returncode == 0, r.stderr
    try:
        refused(desk.psql("ann", reply()), "local actions are off on this desk")
        assert count(desk, "events") == before
    finally:
        r = sladesk(desk, "admin", "setting", "set", "local-actions", "on")
        assert r.returncode == 0, r.stderr


def test_people_cannot_drop_the_rules_or_shadow_our_tables(desk: Desk) -> None:
    refused(desk.psql("ann", "ALTER TABLE overrides DISABLE TRIGGER ALL"), "must be owner")
    refused(desk.psql("ann", "DROP TRIGGER overrides_operator ON overrides"), "must be owner")
    refused(desk.psql("ann", "CREATE TABLE mine (x int)"), "permission denied")
    # A temporary `audit_log` would come first in the session's search_path.
    refused(desk.psql("ann", "CREATE TEMP TABLE audit_log (seq bigint)"), "permission denied")


def test_everything_belongs_to_the_owner_role_and_triggers_fix_their_search_path(desk: Desk) -> None:
    owner = desk.group("owner")
    stray = desk.admin_rows(
        "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
        f" AND relkind IN ('r', 'S') AND pg_get_userbyid(relowner) <> '{owner}'"
    )
    assert stray == []
    loose = desk.admin_rows(
        "SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace"
        f" AND proname LIKE 'sladesk%' AND (pg_get_userbyid(proowner) <> '{owner}'"
        " OR ((prosecdef OR prorettype = 'trigger'::regtype)"
        "     AND NOT coalesce(proconfig, '{}') @> ARRAY['search_path=' || current_schema() || ', pg_temp']))"
    )
    assert loose == []
    chain = desk.admin_scalar("SELECT proconfig FROM pg_proc WHERE proname = 'sladesk_audit_chain'")
    assert chain == ["search_path=public, pg_temp"]


def test_the_audit_chain_still_verifies(desk: Desk) -> None:
    """Run last in this module (pytest keeps file order): the chain over everything
    sladesk wrote above, with every refused attempt leaving no trace."""
    r = subprocess.run(
        [sys.executable, "-m", "sladesk_tui", "audit", "verify", "--db", desk.url("ann")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("audit chain ok:"), r.stdout
