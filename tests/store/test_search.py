"""The full-text index (migration 0005) in a real SQLite file: kept in step by the
write transactions, searched word by word, and never reached by query syntax.

NOW is Friday 2027-01-15 08:00 UTC; the agreement is 24x7 (P1 15m/4h, P2 1h/8h).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from support import GOLD_24X7, load_text

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.store.backend import dialect
from sladesk_tui.store.db import connect, migrate, schema_dir
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.overrides import load_log, place_override, review_override
from sladesk_tui.store.roles import name_first_lead
from sladesk_tui.store.search import match_query, override_ids, ticket_ids

H = 3600.0
NOW = 1_800_000_000.0

CUSTOMERS = {"T-1": "acme", "T-2": "Müller GmbH", "T-3": "acme", "T-4": "globex"}
TITLES = {
    "T-1": "Printer on floor 3 jams",
    "T-2": "VPN drops every hour",
    "T-3": "Printer toner empty",
    "T-4": "Mail server down",
}
AGREEMENTS = GOLD_24X7 + "".join(
    f'\n[[agreement]]\nid = "a{i}"\ncustomer = "{c}"\ncalendar = "24x7"\n'
    '[agreement.targets]\nP2 = { response = "1h", resolution = "8h" }\n'
    for i, c in enumerate(("Müller GmbH", "globex"))
)


def created(tid: str, ago: float) -> Event:
    return Event(
        id=f"{tid}-c",
        type="created",
        at=NOW - ago,
        ticket=tid,
        customer=CUSTOMERS[tid],
        priority="P2",
        title=TITLES[tid],
    )


def tickets(conn: sqlite3.Connection, tids: tuple[str, ...] = tuple(TITLES)) -> None:
    events = [created(t, (i + 1) * H) for i, t in enumerate(tids)]
    if "T-4" in tids:
        events.append(Event(id="T-4-x", type="resolved", at=NOW - 0.5 * H, ticket="T-4"))
    ingest(conn, events, actor="importer", source="test")


@pytest.fixture
def desk(conn: sqlite3.Connection, tmp_path: Path) -> sqlite3.Connection:
    load_text(conn, tmp_path / "a.toml", AGREEMENTS, actor="lee")
    tickets(conn)
    name_first_lead(conn, "lee", actor="lee")
    return conn


def hold(ticket: str, justification: str) -> Override:
    return Override(
        id=0,
        ticket=ticket,
        kind="hold",
        at=0.0,
        operator="sam",
        reason="customer_unreachable",
        justification=justification,
        until=NOW + H,
    )


def indexed(conn: sqlite3.Connection, table: str) -> int:
    """Documents in an index itself (its docsize shadow table), not in its content table."""
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}_fts_docsize").fetchone()[0])


# ---- what people type ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("acme", '"acme"*'),
        ("  printer   jams ", '"printer"* "jams"*'),
        ('NOT "acme" OR *', '"NOT"* "acme"* "OR"*'),
        ("T-1", '"T"* "1"*'),
        ("", None),
        (' -*" ()', None),
    ],
)
def test_typed_text_becomes_quoted_word_prefixes(text: str, query: str | None) -> None:
    assert match_query(sqlite3.connect(":memory:"), text) == query


# ---- tickets -----------------------------------------------------------------------------


@pytest.mark.both_backends
def test_tickets_are_found_by_title_and_customer_words(desk: sqlite3.Connection) -> None:
    assert ticket_ids(desk, "printer") == {"T-1", "T-3"}
    assert ticket_ids(desk, "print") == {"T-1", "T-3"}  # a prefix, as it is typed
    assert ticket_ids(desk, "printer acme toner") == {"T-3"}  # every word, title or customer
    assert ticket_ids(desk, "ACME") == {"T-1", "T-3"}  # case folded
    assert ticket_ids(desk, "muller") == {"T-2"}  # diacritics folded
    assert ticket_ids(desk, "mail") == {"T-4"}
    assert ticket_ids(desk, "mail", open_only=True) == frozenset()  # T-4 is resolved
    assert ticket_ids(desk, "nothing-like-it") == frozenset()
    assert ticket_ids(desk, "  ") is None


@pytest.mark.parametrize(
    "text", ['"', 'acme"', "NOT", "OR acme", "a*b", "(", "NEAR(x y)", "^acme", "title:x"]
)
@pytest.mark.both_backends
def test_query_syntax_in_typed_text_is_plain_text(desk: sqlite3.Connection, text: str) -> None:
    found = ticket_ids(desk, text)
    assert found is None or isinstance(found, frozenset)


@pytest.mark.both_backends
def test_a_title_changed_in_place_is_found_by_its_new_words_only(desk: sqlite3.Connection) -> None:
    desk.execute("UPDATE tickets SET title = 'Scanner offline' WHERE id = 'T-1'")
    assert ticket_ids(desk, "scanner") == {"T-1"}
    assert ticket_ids(desk, "jams") == frozenset()
    if dialect(desk).name == "sqlite":  # FTS5's own check; an expression index cannot drift
        desk.execute(
            "INSERT INTO tickets_fts (tickets_fts) VALUES ('integrity-check')"
        )  # raises if out of step


def test_an_import_rolled_back_leaves_no_index_row(conn: sqlite3.Connection, tmp_path: Path) -> None:
    load_text(conn, tmp_path / "a.toml", AGREEMENTS, actor="lee")
    tickets(conn, ("T-1",))
    before = indexed(conn, "tickets")
    assert before == 1
    # The audit row is the last write of the import's transaction: refusing it aborts
    # the whole import after its tickets (and so their index rows) were written.
    conn.execute(
        "CREATE TEMP TRIGGER refuse_audit BEFORE INSERT ON main.audit_log"
        " BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="refused for the test"):
        tickets(conn, ("T-2", "T-3"))
    assert not conn.in_transaction
    assert conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 1
    assert indexed(conn, "tickets") == before
    assert ticket_ids(conn, "printer toner") == frozenset()
    assert ticket_ids(conn, "vpn") == frozenset()
    conn.execute("DROP TRIGGER temp.refuse_audit")
    tickets(conn, ("T-2", "T-3"))
    assert ticket_ids(conn, "printer toner") == {"T-3"}
    assert indexed(conn, "tickets") == 3


def test_a_database_from_before_the_index_is_indexed_when_migrated(tmp_path: Path) -> None:
    old = tmp_path / "schema"
    old.mkdir()
    for f in sorted(schema_dir().glob("000[1-4]_*.sql")):
        shutil.copy(f, old / f.name)
    conn = connect(tmp_path / "old.db", create=True)  # configured, not migrated
    assert migrate(conn, old) == 4
    load_text(conn, tmp_path / "a.toml", AGREEMENTS, actor="lee")
    tickets(conn)
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'tickets_fts'").fetchone()[0] == 0
    with pytest.raises(InputError, match="no search index yet"):
        ticket_ids(conn, "printer")
    with pytest.raises(InputError, match="no search index yet"):
        load_log(conn, search="printer")
    migrate(conn)
    assert ticket_ids(conn, "printer") == {"T-1", "T-3"}
    conn.close()


# ---- overrides ---------------------------------------------------------------------------


@pytest.mark.both_backends
def test_overrides_are_found_by_justification_review_comment_and_ticket(desk: sqlite3.Connection) -> None:
    a = place_override(desk, hold("T-1", "Customer's phone is off until the afternoon"), now=NOW).id
    b = place_override(desk, hold("T-2", "Waiting for the carrier to replace the router"), now=NOW).id
    c = place_override(desk, hold("T-3", "Customer asked us to wait for their technician"), now=NOW).id
    review_override(
        desk, b, "reject", reviewer="lee", comment="Escalate to the carrier's NOC instead", now=NOW
    )
    review_override(desk, c, "approve", reviewer="lee", now=NOW)
    assert override_ids(desk, "afternoon") == {a}  # its justification
    assert override_ids(desk, "escalate noc") == {b}  # a review comment, every word
    assert override_ids(desk, "toner") == {c}  # the ticket's title
    assert override_ids(desk, "muller") == {b}  # the ticket's customer
    assert override_ids(desk, "customer") == {a, c}
    assert override_ids(desk, "carrier") == {b}  # justification and comment: once
    assert override_ids(desk, "") is None
    assert [e.override.id for e in load_log(desk, search="customer")] == [a, c]
    assert [e.override.id for e in load_log(desk, search="escalate")] == [b]
    assert [e.override.id for e in load_log(desk, search="  ")] == [a, b, c]  # no word: no filter
    if dialect(desk).name == "sqlite":  # PostgreSQL's expression indexes hold no rows of their own
        assert (
            indexed(desk, "overrides") == 3 and indexed(desk, "reviews") == 1
        )  # the comment-less review: none
