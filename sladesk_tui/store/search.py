"""Text search over the full-text index of migration 0005 (docs/storage.md, "Search index").

Agents look for a ticket by a word of its title or its customer; leads going
through a month of overrides look for a word of a justification, of a review
comment, or of the ticket's title or customer. The index is kept in step by
triggers inside every write transaction, so whatever is committed is found.

What people type is never FTS5 query syntax: `match_query` turns it into words,
each quoted (so `NOT`, `OR`, `*` or a stray quote are plain text) and matched as a
word prefix (typing `acm` already finds `acme`), all of which must match.
"""

from __future__ import annotations

import re

from sladesk_tui.core.errors import InputError
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import snapshot

_WORD = re.compile(r"\w+")

# The ids of the overrides whose own justification, any review comment, or ticket title
# or customer matches `:q` (a `match_query`). Each arm uses its index; the last maps
# ticket rowids to their overrides. The override log filters with `o.id IN (...)`.
OVERRIDES_MATCHING = (
    "SELECT rowid FROM overrides_fts WHERE overrides_fts MATCH :q"
    " UNION SELECT r.override_id FROM reviews r"
    "  WHERE r.id IN (SELECT rowid FROM reviews_fts WHERE reviews_fts MATCH :q)"
    " UNION SELECT o.id FROM overrides o JOIN tickets t ON t.id = o.ticket"
    "  WHERE t.rowid IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH :q)"
)


def match_query(text: str) -> str | None:
    """The FTS5 query for what a person typed: every word, as a quoted prefix.

    None when `text` holds no word (blank, punctuation only): there is nothing to
    search for, and the caller shows everything rather than nothing.
    """
    words = _WORD.findall(text)
    if not words:
        return None
    return " ".join(f'"{w}"*' for w in words)  # \\w+ holds no quote to escape


def require_index(conn: Connection) -> None:
    """Refuse, in one line, a search on a database from before the index: read-only
    lookups never migrate, and any writing command adds the index."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'overrides_fts'").fetchone() is None:
        raise InputError(
            "this database has no search index yet: any command that writes to it adds one"
            " (sladesk init, import, load, or the app)"
        )


def ticket_ids(conn: Connection, text: str, *, open_only: bool = False) -> frozenset[str] | None:
    """Ids of the tickets whose title or customer holds every word of `text` (as a
    prefix); `open_only` keeps the open ones (the queue). None: `text` has no word."""
    q = match_query(text)
    if q is None:
        return None
    sql = "SELECT t.id FROM tickets t WHERE t.rowid IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH :q)"
    if open_only:
        sql += " AND t.is_open = 1"
    require_index(conn)
    with snapshot(conn):
        return frozenset(r[0] for r in conn.execute(sql, {"q": q}))


def override_ids(conn: Connection, text: str) -> frozenset[int] | None:
    """Ids of the overrides that `text` finds: every word in its justification, in one
    of its review comments, or in its ticket's title or customer. None: no word."""
    q = match_query(text)
    if q is None:
        return None
    require_index(conn)
    with snapshot(conn):
        return frozenset(r[0] for r in conn.execute(OVERRIDES_MATCHING, {"q": q}))
