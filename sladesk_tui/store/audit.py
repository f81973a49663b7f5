"""The hash-chained audit log: every write of the program appends one row here.

Contract for every writer (importer, overrides, reviews, role grants, loads):

    with write_tx(conn):
        ... INSERT the rows (events seq 101..250, say) ...
        append_audit(conn, actor=operator, action="events.import", subject="import:events.jsonl",
                     after={...}, covers=[RowRange("events", 101, 250)])

- ``row_hash = sha256(canonical_json({every column but row_hash}))``; ``prev_hash`` is
  the previous row's hash (`GENESIS_HASH` for seq 1). The database's guard trigger
  refuses a row that is not exactly head+1 / head hash.
- ``covers`` names the rows of append-only tables the same transaction inserted, as
  inclusive key ranges (`COVERED_TABLES` gives each table's key). For each range the
  audit row records ``{"table", "first", "last", "count", "columns", "digest"}``,
  the digest being sha256 of the canonical JSON array of those rows (each row the
  array of the listed columns' values, in key order). `verify` recomputes them
  from the current rows, so an event edited, deleted or inserted with the
  triggers dropped is found, and it checks that every
  row of those tables is covered by some audit row (a row slipped in by hand is
  found too). Every insert into a covered table must therefore be covered.
- A hash chain cannot see its own tail cut off: anchor `head()` elsewhere and pass
  it to `verify` (``sladesk audit head`` / ``sladesk audit verify --head SEQ:HASH``).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sladesk_tui import __version__
from sladesk_tui.core.canonical import canonical_json, sha256_hex
from sladesk_tui.core.errors import InputError
from sladesk_tui.store.backend import Connection, dialect
from sladesk_tui.store.db import snapshot
from sladesk_tui.store.instants import iso_utc, now_ts

GENESIS_HASH = "0" * 64

# Append-only table -> (range key column, ORDER BY columns of its rows in a digest).
COVERED_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "events": ("seq", ("seq",)),
    "overrides": ("id", ("id",)),
    "reviews": ("id", ("id",)),
    "role_grants": ("id", ("id",)),
    "agreement_versions": ("version", ("version",)),
    "agreements": ("version", ("version", "id")),
    "holiday_dates": ("version", ("version", "country", "subdiv", "year")),  # since schema 0004
    "desk_settings": ("id", ("id",)),  # since schema 0007
    "deliveries": ("id", ("id",)),  # since schema 0008 (webhook receiver)
    # The alert outbox (schema 0009, docs/alerts.md).
    "alerts": ("id", ("id",)),
    "alert_messages": ("id", ("id",)),
    "alert_items": ("message_id", ("message_id", "alert_id")),
    "alert_attempts": ("id", ("id",)),
}

# The hashed columns, in table order; row_hash is computed over these.
_HASHED = (
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "before_json",
    "after_json",
    "covers",
    "source",
    "app_version",
    "prev_hash",
)
_HEAD_TEXT = re.compile(r"^(\d+):([0-9a-f]{64})$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
# canonical_json's spelling (rows are lists, so key order does not arise).
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class RowRange:
    """Rows ``first..last`` (inclusive) of `table`'s key column, written by one transaction.

    `rows`, when given, is the range's digest as its writer fed it the rows it inserted
    (a bulk import: reading a million rows back costs seconds); it is used only when
    it names the table's columns as they are and counts every key of the range, on
    SQLite, else the rows are read back as usual. `verify` reads them back either way."""

    table: str
    first: int
    last: int
    rows: RangeDigest | None = field(default=None, compare=False)


def row_ranges(table: str, ids: Iterable[int]) -> list[RowRange]:
    """The ranges covering exactly `ids` of `table`: one per run of consecutive ids.

    A writer covers the ids its inserts were given, not MIN..MAX: on PostgreSQL a
    sequence hands ids to concurrent transactions interleaved, and a range spanning
    another transaction's row would cover a row this one never wrote (and no longer
    match it once that row commits)."""
    out: list[RowRange] = []
    for i in sorted(set(ids)):
        if out and out[-1].last == i - 1:
            out[-1] = RowRange(table, out[-1].first, i)
        else:
            out.append(RowRange(table, i, i))
    return out


class RangeDigest:
    """The digest `_digest` computes for a key range, fed the rows in key order as they
    are inserted, each as the values of `columns` (the table's columns, in table order)."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.count = 0
        self._h = hashlib.sha256(b"[")
        self._final: str | None = None

    def add(self, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        if self.count:
            self._h.update(b",")
        self._h.update(_encode(rows)[1:-1].encode("utf-8"))
        self.count += len(rows)

    @classmethod
    def computed(cls, columns: Sequence[str], count: int, hexdigest: str) -> RangeDigest:
        """The finished digest of `count` rows that another process fed (the parser of
        a pipelined import, docs/bulk_import.md); its writer has checked that they are
        the rows it inserted."""
        done = cls(columns)
        done.count, done._final = count, hexdigest
        return done

    def hexdigest(self) -> str:
        if self._final is not None:
            return self._final
        h = self._h.copy()
        h.update(b"]")
        return h.hexdigest()


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    rows: int  # audit rows checked
    head: tuple[int, str]  # the newest row (seq, row_hash) as found
    bad_seq: int | None = None  # first audit row that fails, when one does
    reason: str | None = None


def head(conn: Connection) -> tuple[int, str]:
    """(seq, row_hash) of the newest audit row; (0, GENESIS_HASH) when the log is empty."""
    row = conn.execute("SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))


def format_head(h: tuple[int, str]) -> str:
    return f"{h[0]}:{h[1]}"


def parse_head(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` as printed by `sladesk audit head`."""
    m = _HEAD_TEXT.match(text.strip().lower())
    if not m:
        raise InputError(f"--head: expected SEQ:HASH (a number, a colon, 64 hex digits), got {text!r}")
    return int(m.group(1)), m.group(2)


def append_audit(
    conn: Connection,
    *,
    actor: str,
    action: str,
    subject: str,
    before: Any = None,
    after: Any = None,
    source: str | None = None,
    covers: Iterable[RowRange] = (),
) -> tuple[int, str]:
    """Append one audit row inside the caller's write transaction; return its (seq, row_hash).

    `before`/`after` are JSON values (stored as canonical JSON, or NULL when None).
    `source` defaults to `identity.client_source()` (the SSH client, else "local").
    """
    if not conn.in_transaction:
        raise RuntimeError("append_audit must run inside the caller's write transaction (write_tx)")
    if source is None:
        from sladesk_tui.store.identity import client_source

        source = client_source()
    records = [_cover_record(conn, r) for r in covers]
    seq, prev_hash = head(conn)
    row: dict[str, Any] = {
        "seq": seq + 1,
        "at": iso_utc(now_ts()),
        "actor": actor,
        "action": action,
        "subject": subject,
        "before_json": None if before is None else canonical_json(before),
        "after_json": None if after is None else canonical_json(after),
        "covers": canonical_json(records) if records else None,
        "source": source,
        "app_version": __version__,
        "prev_hash": prev_hash,
    }
    row_hash = _row_hash(row)
    conn.execute(
        f"INSERT INTO audit_log ({', '.join(_HASHED)}, row_hash) VALUES ({', '.join('?' * (len(_HASHED) + 1))})",
        (*(row[c] for c in _HASHED), row_hash),
    )
    return row["seq"], row_hash


def verify(conn: Connection, anchor: tuple[int, str] | None = None) -> VerifyResult:
    """Check the whole log in one snapshot, streaming; stop at the first failure.

    Checks, in order of the rows: seq has no gap, prev_hash links, row_hash matches
    the content, covered rows still digest to what was recorded; then the anchored
    head (if given) is still in the log with its hash; then every row of the
    covered tables belongs to some recorded range. Inside the caller's transaction
    when one is open (a copy checks what it is about to commit, store.migrate_db).
    """
    with snapshot(conn):
        return _verify(conn, anchor)


def _verify(conn: Connection, anchor: tuple[int, str] | None) -> VerifyResult:
    prev_seq, prev_hash = 0, GENESIS_HASH
    anchor_hash_found: str | None = None
    ranges: dict[str, list[tuple[int, int]]] = {t: [] for t in COVERED_TABLES}
    counted: dict[str, int] = dict.fromkeys(COVERED_TABLES, 0)

    def bad(seq: int | None, reason: str) -> VerifyResult:
        return VerifyResult(False, prev_seq, (prev_seq, prev_hash), seq, reason)

    cur = dialect(conn).streaming_cursor(conn)
    cur.row_factory = None
    cur.execute(f"SELECT {', '.join(_HASHED)}, row_hash FROM audit_log ORDER BY seq")
    for values in cur:
        row = dict(zip(_HASHED, values, strict=False))
        seq, stored = row["seq"], values[-1]
        if seq != prev_seq + 1:
            return bad(prev_seq + 1, f"row {prev_seq + 1} is missing (the next row is {seq})")
        if row["prev_hash"] != prev_hash:
            return bad(seq, f"row {seq}: prev_hash does not link to row {prev_seq}")
        if _row_hash(row) != stored:
            return bad(seq, f"row {seq}: content does not match its row_hash (edited)")
        if row["covers"] is not None:
            problem = _check_covers(conn, row["covers"], ranges, counted)
            if problem:
                return bad(seq, f"row {seq}: {problem}")
        prev_seq, prev_hash = seq, stored
        if anchor is not None and seq == anchor[0]:
            anchor_hash_found = stored

    if anchor is not None:
        aseq, ahash = anchor
        if aseq > prev_seq:
            return bad(aseq, f"anchored head {aseq} is missing: the log ends at {prev_seq} (truncated)")
        if aseq > 0 and anchor_hash_found != ahash:
            return bad(aseq, f"row {aseq}: hash differs from the anchored head (the log was rewritten)")

    for table, (key, _order) in COVERED_TABLES.items():
        if key not in _columns(conn, table):
            continue  # a database not yet migrated to where the table is audited
        total = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        if total != counted[table]:
            return bad(None, _uncovered(conn, table, key, ranges[table], total - counted[table]))
    return VerifyResult(True, prev_seq, (prev_seq, prev_hash))


# ---- internals --------------------------------------------------------------------


def _row_hash(row: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(row))


def _columns(conn: Connection, table: str) -> list[str]:
    return dialect(conn).columns(conn, table)


def _quoted(columns: Sequence[str]) -> str:
    """Column names quoted: role_grants has a column "user", a reserved word on PostgreSQL."""
    return ", ".join('"' + c + '"' for c in columns)


def _digest(conn: Connection, table: str, columns: Sequence[str], first: int, last: int) -> tuple[int, str]:
    """(row count, digest) of a key range: sha256 of the canonical JSON array of its rows,
    each row the array of `columns`' values, rows in key order.

    Streamed in chunks (a chunk's JSON minus its brackets is its rows joined by ","):
    one encoder call per chunk instead of per row, ~1M rows in 2.5 s.
    """
    key, order = COVERED_TABLES[table]
    cur = dialect(conn).streaming_cursor(conn)
    cur.row_factory = None
    cur.execute(
        f"SELECT {_quoted(columns)} FROM {table} WHERE {key} BETWEEN ? AND ? ORDER BY {', '.join(order)}",
        (first, last),
    )
    h = hashlib.sha256(b"[")
    n = 0
    while chunk := cur.fetchmany(_CHUNK):
        if n:
            h.update(b",")
        h.update(_encode(chunk)[1:-1].encode("utf-8"))
        n += len(chunk)
    h.update(b"]")
    return n, h.hexdigest()


def _cover_record(conn: Connection, r: RowRange) -> dict[str, Any]:
    if r.table not in COVERED_TABLES:
        raise ValueError(f"{r.table} is not an audited append-only table")
    if r.first > r.last:
        raise ValueError(f"empty range {r.first}..{r.last} of {r.table}")
    columns = _columns(conn, r.table)
    fed = r.rows
    if (
        fed is not None
        and isinstance(conn, sqlite3.Connection)  # what SQLite reads back is what was inserted
        and list(fed.columns) == columns
        and fed.count == r.last - r.first + 1
    ):
        count, digest = fed.count, fed.hexdigest()
    else:
        count, digest = _digest(conn, r.table, columns, r.first, r.last)
    if count == 0:
        raise ValueError(f"no {r.table} rows in {r.first}..{r.last}")
    return {
        "table": r.table,
        "first": r.first,
        "last": r.last,
        "count": count,
        "columns": columns,
        "digest": digest,
    }


def _check_covers(
    conn: Connection,
    covers_json: str,
    ranges: dict[str, list[tuple[int, int]]],
    counted: dict[str, int],
) -> str | None:
    try:
        records = json.loads(covers_json)
        for rec in records:
            table, first, last = rec["table"], int(rec["first"]), int(rec["last"])
            if table not in COVERED_TABLES:
                return f"covers an unknown table {table!r}"
            if not all(isinstance(c, str) and _IDENT.match(c) for c in rec["columns"]):
                return f"covers record of {table} names a bad column"
            count, digest = _digest(conn, table, rec["columns"], first, last)
            if count != rec["count"] or digest != rec["digest"]:
                key = COVERED_TABLES[table][0]
                what = "edited" if count == rec["count"] else f"{rec['count']} recorded, {count} found"
                return f"{table} rows {key} {first}..{last} differ from what was recorded ({what})"
            ranges[table].append((first, last))
            counted[table] += count
    except (ValueError, KeyError, TypeError, sqlite3.DatabaseError) as exc:
        return f"unreadable covers record ({exc})"
    return None


def _uncovered(conn: Connection, table: str, key: str, ranges: list[tuple[int, int]], diff: int) -> str:
    """Name the first row of `table` outside every recorded range (or say rows went missing)."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    i = 0
    cur = conn.cursor()
    cur.row_factory = None
    for (k,) in cur.execute(f"SELECT {key} FROM {table} ORDER BY {key}"):
        while i < len(merged) and merged[i][1] < k:
            i += 1
        if i == len(merged) or k < merged[i][0]:
            return f"{table} row {key}={k} is not recorded in the audit log ({diff} such rows)"
    return f"{table}: {-diff} recorded rows are missing or counted twice"
