"""PostgreSQL's base schema (schema/postgresql/0001_initial.sql): append-only tables,
the operator columns filled by the server, the audit chain, migrations applied once
and only by the owner (docs/postgresql.md). The roles and privileges of a real
deployment come on top of this."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from pg_support import PgServer, as_role

from sladesk_tui.core.errors import InputError
from sladesk_tui.store.audit import append_audit, verify
from sladesk_tui.store.db import connect, migrations, open_db, schema_dir, schema_version, write_tx
from sladesk_tui.store.identity import operator
from sladesk_tui.store.pg import WRITE_LOCK_KEY
from sladesk_tui.store.queries import data_version
from sladesk_tui.store.roles import name_first

APPEND_ONLY = (
    "agreement_versions",
    "agreements",
    "events",
    "overrides",
    "reviews",
    "role_grants",
    "desk_settings",
    "audit_log",
    "holiday_dates",
    "deliveries",
    "alerts",
    "alert_messages",
    "alert_items",
    "alert_attempts",
)


@pytest.fixture
def owner_url(pg_server: PgServer) -> str:
    return pg_server.fresh(pg_server.role("owner"), migrated=True)


@pytest.fixture
def agent_url(pg_server: PgServer, owner_url: str) -> str:
    """A role that is not the owner, allowed to read and insert (as a deployment's agents are)."""
    agent = pg_server.role("agent")
    conn = connect(owner_url)
    try:
        schema, db = conn.execute("SELECT current_schema(), current_database()").fetchone()
        # A person of a deployment: a member of the database's agent group (the rules
        # migration closes the database to everyone else, docs/postgresql.md).
        conn.execute(f'GRANT "{db}_agent" TO "{agent}"')
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{agent}"')
        conn.execute(f'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA "{schema}" TO "{agent}"')
        conn.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{agent}"')
    finally:
        conn.close()
    return as_role(owner_url, agent, pg_server.password)


def test_the_write_lock_key_in_the_chain_trigger_is_the_programs() -> None:
    sql = migrations(schema_dir("postgresql"))[0].sql
    assert f"pg_advisory_xact_lock({WRITE_LOCK_KEY})" in sql


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_append_only_tables_refuse_update_delete_and_truncate(owner_url: str, table: str) -> None:
    """Even for the owner: the triggers are in the schema (the privileges come on top)."""
    conn = open_db(owner_url)
    try:
        name_first(conn, "admin", "ada", actor="ada")  # a role_grants row and an audit row
        key = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum = 1", (table,)
        ).fetchone()[0]
        filled = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] > 0
        assert filled == (table in ("role_grants", "audit_log"))
        for sql in (f"UPDATE {table} SET {key} = {key}", f"DELETE FROM {table}"):
            if filled:
                with pytest.raises(sqlite3.IntegrityError, match=f"{table} is append-only"):
                    conn.execute(sql)
            else:
                conn.execute(sql)  # no row: a row trigger has nothing to refuse
        with pytest.raises(sqlite3.IntegrityError, match=f"{table} is append-only"):
            conn.execute(f"TRUNCATE {table} CASCADE")  # a statement trigger: with or without rows
        assert verify(conn).ok
    finally:
        conn.close()


def test_the_operator_is_the_connected_role_and_no_other_name(owner_url: str, agent_url: str) -> None:
    owner = connect(owner_url)
    try:  # a ticket for the app's event (a feed's import makes one; the owner here)
        owner.execute(
            "INSERT INTO tickets (id, customer, title, priority, status, created_ts, updated_ts)"
            " VALUES ('T-1', 'acme', 'Printer', 'P1', 'open', 0, 0)"
        )
    finally:
        owner.close()
    conn = connect(agent_url)
    try:
        me = operator(conn, "someone-else")  # what the client claims is ignored
        assert me == conn.execute("SELECT session_user").fetchone()[0] and me.endswith("_agent")
        with pytest.raises(sqlite3.IntegrityError, match="may not record the name ada"), write_tx(conn):
            append_audit(conn, actor="ada", action="test", subject="s")
        with write_tx(conn):
            append_audit(conn, actor=me, action="test", subject="s")
        with write_tx(conn):  # left out, the server fills it in (an event of the app: any agent's,
            # of the app's types, of a ticket, dated now, by its author: docs/postgresql.md)
            conn.execute(
                "INSERT INTO events (id, type, ticket, ts, at, author, digest, source, recorded_at)"
                " VALUES ('tui-00112233445566778899aabbccddeeff', 'reply', 'T-1', extract(epoch FROM now()), '', ?, 'd', 'tui', '')",
                (me,),
            )
        assert conn.execute("SELECT actor FROM events").fetchone()[0] == me
    finally:
        conn.close()


def test_the_chain_trigger_refuses_a_row_off_the_head(owner_url: str) -> None:
    conn = open_db(owner_url)
    try:
        with write_tx(conn):
            append_audit(conn, actor="ada", action="test", subject="s")
        for seq, prev in ((1, "0" * 64), (2, "f" * 64), (3, "0" * 64)):
            with pytest.raises(sqlite3.IntegrityError, match="not the current head"), write_tx(conn):
                conn.execute(
                    "INSERT INTO audit_log (seq, at, actor, action, subject, app_version, prev_hash, row_hash)"
                    " VALUES (?, 'x', 'ada', 'a', 's', 'v', ?, 'h')",
                    (seq, prev),
                )
    finally:
        conn.close()


def test_two_first_openers_apply_each_migration_once(pg_server: PgServer) -> None:
    url = pg_server.fresh(pg_server.role("owner"))
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def opener() -> None:
        try:
            start.wait()
            open_db(url).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    conn = connect(url)
    try:
        assert schema_version(conn) == len(migrations(schema_dir("postgresql")))
        assert conn.execute(
            "SELECT version, COUNT(*) FROM schema_migrations GROUP BY version ORDER BY version"
        ).fetchall() == [(v, 1) for v in range(1, schema_version(conn) + 1)]
    finally:
        conn.close()


def test_only_the_owner_creates_the_schema(pg_server: PgServer) -> None:
    url = pg_server.fresh(pg_server.role("owner"))
    stranger = as_role(url, pg_server.role("stranger"), pg_server.password)
    with pg_server.admin() as admin:  # a migrated desk opens the database to its agents only
        db = url.split("/")[-1].split("?")[0]
        admin.execute(f'GRANT CONNECT ON DATABASE "{db}" TO "{pg_server.role("stranger")}"')
    with pytest.raises(
        InputError, match=r"has no sladesk schema yet.*only its owner \(sdt\w+_owner\)"
    ) as err:
        open_db(stranger)
    assert pg_server.password not in str(err.value) and ":***@" in str(err.value)
    with pytest.raises(InputError, match="not a sladesk database"):
        connect(stranger, readonly=True)


def test_data_version_moves_when_another_connection_commits(owner_url: str) -> None:
    reader, writer = connect(owner_url), open_db(owner_url)
    try:
        before = data_version(reader)
        assert data_version(reader) == before
        name_first(writer, "admin", "ada", actor="ada")
        assert data_version(reader) != before
    finally:
        reader.close()
        writer.close()
