"""Moving a desk from its SQLite file to PostgreSQL: the whole history, one transaction.

`sladesk migrate-db --to postgresql://...` (docs/postgresql.md, "Moving a desk")
copies every record of a SQLite database into an EMPTY PostgreSQL database:

- The target's schema is made first by the PostgreSQL migrations (committed on
  their own: a failed copy leaves an empty, migrated database, which a second
  attempt accepts). A target with any sladesk record in it is refused: merging two
  histories would break both audit chains.
- The copy is ONE transaction (`write_tx`: the writers' lock, so no other sladesk
  writes meanwhile; nothing is visible until it commits; any error rolls all of it
  back; its change hint tells open screens to re-read), read from one snapshot of
  the source, so a desk that is still in use is copied as it was at one instant.
- Every table keeps its rows as they are: ids, sequence numbers, times, and the
  audit log, whose chain the database's trigger checks row by row as it arrives.
  Identity columns then continue after the copied ids (`setval`).
- The names of the people on the records (events.actor, overrides.operator,
  reviews.reviewer...) are kept: on PostgreSQL those columns are filled from
  ``session_user`` and a trigger refuses any other name, except for the schema's
  owner. So the copy must run as the owner (the role that migrated the schema),
  which is also who alone may create the schema; anyone else is refused before
  anything is read. The application's own roles never own the schema, so this
  exception is not theirs to use.
- Derived tables are not copied but rebuilt as the records arrive: `outcome_days`
  by its trigger from `outcomes` (and then compared with the source's), the text
  search by PostgreSQL's own indexes (SQLite's FTS tables have no counterpart).
  `schema_migrations` is the target's own: it lists PostgreSQL's migrations.

At the end the copy is checked inside the transaction: row counts per table, and
the audit chain verified on the target (`store.audit.verify`); any difference is
an error and nothing is committed.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.text import safe_text
from sladesk_tui.store.backend import Connection, dialect, is_postgres, redacted

# Not copied: made by the target itself (module docstring).
DERIVED = frozenset({"outcome_days", "schema_migrations"})
_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Copied:
    """What `migrate_db` copied: rows per table (in copy order) and how long it took."""

    tables: tuple[tuple[str, int], ...]
    audit_rows: int
    seconds: float

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.tables)


def migrate_db(source: str, target: str) -> Copied:
    """Copy the SQLite database `source` into the empty PostgreSQL database `target`."""
    from sladesk_tui.store.db import connect, migrate, open_db

    if is_postgres(source):
        raise InputError(f"{redacted(source)}: migrate-db copies a SQLite database file; --db names one")
    if not is_postgres(target):
        raise InputError(f"--to {redacted(target)}: not a PostgreSQL URL (postgresql://...)")
    started = time.perf_counter()
    src = open_db(source)  # brought to this sladesk's schema, as any command would
    try:
        dst = connect(target)
        try:
            _refuse_unless_owner(dst)
            _refuse_unless_empty(dst, target)
            migrate(dst)
            tables, audit_rows = _copy(src, dst)
        finally:
            dst.close()
    finally:
        src.close()
    return Copied(tables, audit_rows, time.perf_counter() - started)


def _tables(conn: Connection) -> list[str]:
    """The target's tables in the order they were created: parents before the tables
    that refer to them (the migrations create them so)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r'"
        " AND c.relnamespace = current_schema()::regnamespace ORDER BY c.oid"
    ).fetchall()
    return [r[0] for r in rows]


def _refuse_unless_owner(dst: Connection) -> None:
    """Only the schema's owner may record other people's names (module docstring)."""
    row = dst.execute(
        "SELECT pg_get_userbyid(coalesce((SELECT relowner FROM pg_class WHERE oid = to_regclass('schema_migrations')),"
        " (SELECT nspowner FROM pg_namespace WHERE nspname = current_schema()),"
        " (SELECT datdba FROM pg_database WHERE datname = current_database()))),"
        " session_user"
    ).fetchone()
    owner, me = str(row[0]), str(row[1])
    if not dst.execute("SELECT pg_has_role(session_user, ?, 'USAGE')", (owner,)).fetchone()[0]:
        raise InputError(
            f"{dialect(dst).description(dst)}: migrate-db must connect as the schema's owner ({owner}), not {me}:"
            " only the owner may record the names of the people in the copied history (docs/postgresql.md)"
        )


def _refuse_unless_empty(dst: Connection, target: str) -> None:
    from sladesk_tui.store.db import schema_version

    if schema_version(dst) == 0:
        return
    for table in _tables(dst):
        if table in DERIVED:
            continue
        if dst.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone() is not None:
            raise InputError(
                f"{redacted(target)}: is not empty ({table} has rows); migrate-db copies into an empty database only"
            )


def _copy(src: Connection, dst: Connection) -> tuple[tuple[tuple[str, int], ...], int]:
    from sladesk_tui.store.audit import verify
    from sladesk_tui.store.db import read_tx, write_tx

    assert isinstance(src, sqlite3.Connection)
    target_tables = [t for t in _tables(dst) if t not in DERIVED]
    source_tables = _source_tables(src)
    missing = sorted(t for t in source_tables if t not in target_tables and _has_rows(src, t))
    if missing:
        raise InputError(f"the PostgreSQL schema has no table for {', '.join(missing)}; nothing was copied")
    copied: list[tuple[str, int]] = []
    with read_tx(src), write_tx(dst):
        for table in target_tables:
            if table not in source_tables:
                continue
            copied.append((table, _copy_table(src, dst, table)))
        _continue_identities(dst)
        _check(src, dst, [t for t, _ in copied])
        result = verify(dst)
        if not result.ok:
            raise InputError(f"the copied audit log does not verify ({result}); nothing was copied")
        audit_rows = int(dst.execute("SELECT count(*) FROM audit_log").fetchone()[0])
    return tuple(copied), audit_rows


def _source_tables(src: sqlite3.Connection) -> set[str]:
    rows = src.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name NOT LIKE '%\\_fts%' ESCAPE '\\'"
    ).fetchall()
    return {r[0] for r in rows} - DERIVED


def _has_rows(src: sqlite3.Connection, table: str) -> bool:
    return src.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone() is not None


def _copy_table(src: sqlite3.Connection, dst: Connection, table: str) -> int:
    """COPY the table's rows over, in key order (the audit chain's trigger needs seq order)."""
    from sladesk_tui.store.backend import SQLITE

    columns = dialect(dst).columns(dst, table)
    have = set(SQLITE.columns(src, table))
    extra = sorted(have - set(columns))
    if extra:
        raise InputError(
            f"{table}: the PostgreSQL schema has no column {', '.join(extra)}; nothing was copied"
        )
    listed = ", ".join(f'"{c}"' for c in columns if c in have)
    order = _order(src, table)
    cur = src.execute(f'SELECT {listed} FROM "{table}"{order}')
    cur.row_factory = None  # plain tuples
    batches = iter(lambda: cur.fetchmany(_BATCH), [])
    try:
        return int(dst.copy_rows(f'COPY "{table}" ({listed}) FROM STDIN', batches))  # type: ignore[attr-defined]  # store.pg.PgConnection
    except sqlite3.DatabaseError as exc:  # store.pg's errors are sqlite3's
        where = getattr(exc, "context", None)
        said = f" ({safe_text(where)})" if where else ""
        raise InputError(
            f"{table}: the PostgreSQL server refused a row: {safe_text(str(exc))}{said}; nothing was copied"
        ) from None


def _order(src: sqlite3.Connection, table: str) -> str:
    """ORDER BY the primary key (rowid for a table without one)."""
    pk = [
        r[1]
        for r in sorted((r for r in src.execute(f'PRAGMA table_info("{table}")') if r[5]), key=lambda r: r[5])
    ]
    if not pk:
        return " ORDER BY rowid"
    return " ORDER BY " + ", ".join(f'"{c}"' for c in pk)


def _continue_identities(dst: Connection) -> None:
    """Each identity column's next value follows the largest copied id."""
    rows = dst.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES'"
    ).fetchall()
    for table, column in rows:
        dst.execute(
            f'SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max("{column}"), 0) + 1, false)'
            f' FROM "{table}"',
            (f'"{table}"', column),
        )


def _check(src: sqlite3.Connection, dst: Connection, tables: list[str]) -> None:
    """Same row counts everywhere, outcome_days (rebuilt by the trigger) included."""
    for table in [*tables, "outcome_days"]:
        a = int(src.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        b = int(dst.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        if a != b:
            raise InputError(f"{table}: {a} rows in the SQLite database, {b} copied; nothing was copied")
