"""SQLite-only settings for a bulk load, inside the loading write transaction.

A first import (or first pull) of a big desk writes a million events in ONE transaction
(docs/storage.md, "A write is whole or absent"). Some of what SQLite does per row costs
more than the row itself there (measured in docs/bulk_import.md); `bulk_load` does
that work once, set-wise, in the same transaction instead:

- The page cache: SQLite's default 2 MB is outgrown at once, and index pages are
  spilled to the WAL and read back again and again before the commit. During a bulk
  load the connection's cache may grow to `CACHE_KIB`; it is set back afterwards.
- `events_no_replace` (schema/0003_refuse_replace.sql) looks every new event's id up
  before the UNIQUE index looks it up again, through a trigger sub-program per row.
  It guards against `INSERT OR REPLACE` from *other* clients; the importer never
  replaces (a repeated id is compared by digest first, and the UNIQUE index still
  refuses a duplicate). It is dropped and created again from its own stored text.
- `tickets_ai` (schema/0005_search.sql) indexes each new ticket for search as it is
  inserted; instead the tickets inserted during the load (rowids above the largest
  before it: tickets are never deleted) are indexed by one statement at the end.
  The update trigger stays: the importer never changes a ticket's title or customer
  (only its `created` event sets them, and a ticket has one).
- `outcomes_rollup_insert` (schema/0002_outcomes.sql) updates the daily rollup once
  per outcome row. When the load is at least as big as what is stored already, the
  rollup is rebuilt from `outcomes` by one GROUP BY at the end instead (the same sums
  the triggers keep); otherwise the trigger stays, as a rebuild would cost more.

Everything set aside is created again from its stored text before the transaction
ends: no other connection can write meanwhile (the write lock is ours), readers keep
seeing the old schema in their snapshot, and a rollback undoes the drop and the
re-creation together. What is committed is exactly what the per-row triggers would
have written (tests/store/test_bulk_import.py compares the two). It lives in this one
module so that other backends need none of it: small batches do not use it at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import chain

from sladesk_tui.store.backend import Connection

# Below this many rows the per-row costs are too small to be worth a schema change.
BULK_MIN_ROWS = 20_000
# The page cache allowed during a bulk load (KiB): the events of a million-event load
# and their indexes.
CACHE_KIB = 512 * 1024

# Rows per INSERT statement in `insert_rows` (50 x 18 host parameters: under SQLite's
# oldest limit of 999).
ROWS_PER_STATEMENT = 50

_INDEX_NEW_TICKETS = "INSERT INTO tickets_fts (rowid, title, customer) SELECT rowid, title, customer FROM tickets WHERE rowid > ?"
_KEY = "day, agreement_id, agreement_version, priority, clock, operator"
_REBUILD_ROLLUP = (
    f"INSERT INTO outcome_days ({_KEY}, n, raw_met, raw_breached, adj_met, adj_breached, adj_exempt)"
    f" SELECT {_KEY}, COUNT(*), SUM(raw_state IS 'met'), SUM(raw_state IS 'breached'),"
    " SUM(adj_state = 'met'), SUM(adj_state = 'breached'), SUM(adj_state = 'exempt')"
    f" FROM outcomes GROUP BY {_KEY}"
)


@contextmanager
def bulk_load(conn: Connection, rows: int) -> Iterator[None]:
    """Run the body of a write transaction that inserts about `rows` events faster.

    Must be entered inside the caller's write transaction; a no-op on other engines. On the way out everything
    set aside is done set-wise and its trigger created again; when the body raises,
    the triggers are created again all the same and the caller rolls back.
    """
    if rows < BULK_MIN_ROWS or not isinstance(conn, sqlite3.Connection) or not conn.in_transaction:
        yield
        return
    cache = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    stored = int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
    last_ticket = int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM tickets").fetchone()[0])
    kept: dict[str, str] = {}
    try:
        _set_aside(conn, "events_no_replace", kept)
        _set_aside(conn, "tickets_ai", kept)
        if stored <= rows:
            _set_aside(conn, "outcomes_rollup_insert", kept)
        yield
    except BaseException:
        with suppress(sqlite3.Error):  # the caller rolls back; its error is the one to see
            _restore(conn, kept, cache)
        raise
    if "tickets_ai" in kept:
        conn.execute(_INDEX_NEW_TICKETS, (last_ticket,))
    if "outcomes_rollup_insert" in kept:
        conn.execute("DELETE FROM outcome_days")
        conn.execute(_REBUILD_ROLLUP)
    _restore(conn, kept, cache)


def _set_aside(conn: sqlite3.Connection, name: str, kept: dict[str, str]) -> None:
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
    ).fetchone()
    if row is not None and row[0]:
        conn.execute(f'DROP TRIGGER "{name}"')
        kept[name] = str(row[0])


def _restore(conn: sqlite3.Connection, kept: dict[str, str], cache: int) -> None:
    try:
        for sql in kept.values():
            conn.execute(sql)
    finally:
        conn.execute(f"PRAGMA cache_size = {cache}")


def insert_rows(conn: Connection, insert: str, rows: Sequence[Sequence[object]]) -> None:
    """`conn.executemany(insert, rows)`, several rows per statement on SQLite.

    `insert` ends with one ``VALUES (?, ...)`` group. SQLite binds the same values
    either way, but resets and steps the statement (and updates the AUTOINCREMENT
    counter) once per statement instead of once per row: about 1 us a row less for
    the events of a bulk load (docs/bulk_import.md). The rows go in in their order,
    so their rowids follow it as with `executemany`. Other engines: `executemany`.
    """
    n = ROWS_PER_STATEMENT
    if not isinstance(conn, sqlite3.Connection) or len(rows) < n:
        conn.executemany(insert, rows)
        return
    head, _, group = insert.rpartition("VALUES")
    many = f"{head}VALUES {', '.join([group.strip()] * n)}"
    whole = len(rows) // n * n
    conn.executemany(many, [list(chain.from_iterable(rows[i : i + n])) for i in range(0, whole, n)])
    if whole < len(rows):
        conn.executemany(insert, rows[whole:])
