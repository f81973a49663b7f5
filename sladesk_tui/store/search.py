"""Text search over the full-text index of migration 0005 (docs/storage.md, "Search index").

Agents look for a ticket by a word of its title or its customer; leads going
through a month of overrides look for a word of a justification, of a review
comment, or of the ticket's title or customer. The index is kept in step by
triggers inside every write transaction, so whatever is committed is found.

What people type is never FTS5 query syntax: `match_query` turns it into words,
each quoted (so `NOT`, `OR`, `*` or a stray quote are plain text) and matched as a
word prefix (typing `acm` already finds `acme`), all of which must match.

PostgreSQL has its own index (tsvector, docs/postgresql.md); the SQL of each
engine is in one `_Engine` value below, the functions serve both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sladesk_tui.core.errors import InputError
from sladesk_tui.store.backend import Connection, dialect
from sladesk_tui.store.db import snapshot

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class _Engine:
    """One engine's search SQL: `tickets` selects matching ticket ids (alias `t`),
    `overrides` matching override ids; both take the query as `:q`."""

    tickets: str
    overrides: str
    query: Callable[[list[str]], str]


# SQLite: the FTS5 tables of migration 0005. The override arms: its own justification,
# any review comment, its ticket's title or customer (ticket rowids to overrides).
_FTS5 = _Engine(
    tickets="SELECT t.id FROM tickets t"
    " WHERE t.rowid IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH :q)",
    overrides="SELECT rowid FROM overrides_fts WHERE overrides_fts MATCH :q"
    " UNION SELECT r.override_id FROM reviews r"
    "  WHERE r.id IN (SELECT rowid FROM reviews_fts WHERE reviews_fts MATCH :q)"
    " UNION SELECT o.id FROM overrides o JOIN tickets t ON t.id = o.ticket"
    "  WHERE t.rowid IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH :q)",
    # Every word quoted (`NOT`, `OR`, `*` are plain text) as a prefix; \w+ holds no quote.
    query=lambda words: " ".join(f'"{w}"*' for w in words),
)

# PostgreSQL: tsvector expression indexes (schema/postgresql/0001_initial.sql), the
# 'simple' configuration (no stemming, as unicode61), diacritics folded by
# sladesk_fold (unaccent), each word a prefix, all required.
_TSVECTOR = _Engine(
    tickets="SELECT t.id FROM tickets t WHERE to_tsvector('simple', sladesk_fold(t.title || ' ' || t.customer))"
    " @@ to_tsquery('simple', sladesk_fold(:q))",
    overrides="SELECT o.id FROM overrides o"
    "  WHERE to_tsvector('simple', sladesk_fold(o.justification)) @@ to_tsquery('simple', sladesk_fold(:q))"
    " UNION SELECT r.override_id FROM reviews r"
    "  WHERE to_tsvector('simple', sladesk_fold(coalesce(r.comment, '')))"
    "   @@ to_tsquery('simple', sladesk_fold(:q))"
    " UNION SELECT o.id FROM overrides o JOIN tickets t ON t.id = o.ticket"
    "  WHERE to_tsvector('simple', sladesk_fold(t.title || ' ' || t.customer))"
    "   @@ to_tsquery('simple', sladesk_fold(:q))",
    query=lambda words: " & ".join(f"'{w}':*" for w in words),
)

_ENGINES = {"sqlite": _FTS5, "postgresql": _TSVECTOR}


def _engine(conn: Connection) -> _Engine:
    return _ENGINES[dialect(conn).name]


def overrides_matching(conn: Connection) -> str:
    """SQL selecting the ids of the overrides that `:q` (a `match_query`) finds, for the
    override log's ``o.id IN (...)``."""
    return _engine(conn).overrides


def match_query(conn: Connection, text: str) -> str | None:
    """The engine's query for what a person typed: every word, as a prefix, all required.

    None when `text` holds no word (blank, punctuation only): there is nothing to
    search for, and the caller shows everything rather than nothing.
    """
    words = _WORD.findall(text)
    if not words:
        return None
    return _engine(conn).query(words)


def require_index(conn: Connection) -> None:
    """Refuse, in one line, a search on a database from before the index: read-only
    lookups never migrate, and any writing command adds the index. (A PostgreSQL
    schema has it from its first migration.)"""
    if dialect(conn).name == "sqlite" and not dialect(conn).has_table(conn, "overrides_fts"):
        raise InputError(
            "this database has no search index yet: any command that writes to it adds one"
            " (sladesk init, import, load, or the app)"
        )


def ticket_ids(conn: Connection, text: str, *, open_only: bool = False) -> frozenset[str] | None:
    """Ids of the tickets whose title or customer holds every word of `text` (as a
    prefix); `open_only` keeps the open ones (the queue). None: `text` has no word."""
    q = match_query(conn, text)
    if q is None:
        return None
    sql = _engine(conn).tickets
    if open_only:
        sql += " AND t.is_open = 1"
    require_index(conn)
    with snapshot(conn):
        return frozenset(r[0] for r in conn.execute(sql, {"q": q}))


def override_ids(conn: Connection, text: str) -> frozenset[int] | None:
    """Ids of the overrides that `text` finds: every word in its justification, in one
    of its review comments, or in its ticket's title or customer. None: no word."""
    q = match_query(conn, text)
    if q is None:
        return None
    require_index(conn)
    with snapshot(conn):
        return frozenset(r[0] for r in conn.execute(overrides_matching(conn), {"q": q}))
