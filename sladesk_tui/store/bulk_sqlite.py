"""SQLite-only settings for a bulk load, inside the loading write transaction.

A first import (or first pull) of a big desk writes a million events in ONE transaction
(docs/storage.md, "A write is whole or absent"). Two things SQLite does per row cost
more than the row itself there (benchmarks/import_bench.py, docs/bulk_import.md):

- A page cache of 2 MB (SQLite's default): the event indexes outgrow it at once and
  their pages are spilled to the WAL and read back again and again before the commit.
  While a bulk load runs, the connection's cache may grow to `CACHE_KIB`; it is set
  back afterwards.
- The `events_no_replace` trigger (schema/0003_refuse_replace.sql) looks every new
  event's id up before the UNIQUE index looks it up again, through a trigger
  sub-program per row. It exists against `INSERT OR REPLACE` from *other* clients;
  the importer never replaces (a repeated id is compared by digest first, and the
  UNIQUE index still refuses a duplicate). So it is dropped and created again from
  its own stored text inside the same transaction: no other connection can write
  meanwhile (the write lock is ours), readers keep seeing it in their snapshot, and
  a rollback restores it with everything else.

Nothing here changes what is stored. It lives in one place so that other backends
need none of it: `bulk_load` is a no-op for small batches.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress

# Below this many rows the per-row costs are too small to be worth a schema change.
BULK_MIN_ROWS = 20_000
# The page cache allowed during a bulk load (KiB): about the events and their
# indexes for a million rows.
CACHE_KIB = 512 * 1024
# Triggers that only guard against other clients' writes, set aside during a bulk load.
_SET_ASIDE = ("events_no_replace",)


@contextmanager
def bulk_load(conn: sqlite3.Connection, rows: int) -> Iterator[None]:
    """Run the body of a write transaction that inserts about `rows` events faster.

    Must be entered inside the caller's write transaction. The triggers set aside are
    created again on the way out, whatever happens (a caller that rolls back undoes
    the drop and the re-creation together).
    """
    if rows < BULK_MIN_ROWS or not conn.in_transaction:
        yield
        return
    cache = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    kept: list[str] = []
    try:
        for name in _SET_ASIDE:
            row = conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
            ).fetchone()
            if row is not None and row[0]:
                conn.execute(f'DROP TRIGGER "{name}"')
                kept.append(str(row[0]))
        yield
    except BaseException:
        with suppress(sqlite3.Error):  # the caller rolls back; its error is the one to see
            _restore(conn, kept, cache)
        raise
    _restore(conn, kept, cache)


def _restore(conn: sqlite3.Connection, kept: list[str], cache: int) -> None:
    try:
        for sql in kept:
            conn.execute(sql)
    finally:
        conn.execute(f"PRAGMA cache_size = {cache}")
