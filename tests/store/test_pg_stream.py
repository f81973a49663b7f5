"""`audit verify` on PostgreSQL reads covered rows through a server-side cursor
(`store.backend.Dialect.streaming_cursor`), in chunks, as SQLite's cursor steps."""

from __future__ import annotations

import pytest
from pg_support import PgServer

from sladesk_tui.store.audit import RowRange, append_audit, verify
from sladesk_tui.store.backend import dialect
from sladesk_tui.store.db import open_db, write_tx


@pytest.fixture
def owner_url(pg_server: PgServer) -> str:
    return pg_server.fresh(pg_server.role("owner"), migrated=True)


def test_verify_reads_a_range_larger_than_a_chunk_through_a_server_side_cursor(owner_url: str) -> None:
    """A covered range of 5,000 rows is digested in chunks of 2,000 by a server-side cursor
    (DECLARE/FETCH), found intact, then found edited."""
    conn = open_db(owner_url)
    try:
        with write_tx(conn):
            conn.executemany(
                "INSERT INTO events (id, type, ticket, ts, at, digest, actor, source, recorded_at)"
                " VALUES (?, 'note', 'T-1', ?, 'x', 'd', 'u', 's', 'x')",
                [(f"e{i}", float(i)) for i in range(5000)],
            )
            append_audit(
                conn, actor="ada", action="events.import", subject="s", covers=[RowRange("events", 1, 5000)]
            )
        with write_tx(conn):
            cur = dialect(conn).streaming_cursor(conn)
            cur.execute("SELECT seq FROM events ORDER BY seq")
            assert len(cur.fetchmany(2000)) == 2000
            assert conn.execute("SELECT COUNT(*) FROM pg_cursors").fetchone()[0] == 1  # held by the server
        assert verify(conn).ok
        conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
        conn.execute("UPDATE events SET ts = -1 WHERE seq = 4321")
        result = verify(conn)
        assert not result.ok and "events rows seq 1..5000" in (result.reason or "")
    finally:
        conn.close()
