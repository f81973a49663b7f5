"""Big imports: parsed in a second process, loaded with SQLite's per-row work done set-wise.

The pipelined path (store.bulk_import) and the bulk settings (store.bulk_sqlite) must
store exactly what the in-process, per-row import stores, refuse the same input with
the same words, and leave nothing behind when anything goes wrong (docs/bulk_import.md).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import fresh_db, give_roles

from sladesk_tui.cli import main
from sladesk_tui.core.errors import InputError
from sladesk_tui.store import audit, bulk_import, bulk_sqlite
from sladesk_tui.store.audit import verify
from sladesk_tui.store.db import open_db
from sladesk_tui.store.imports import ImportRejected, import_file

AGREEMENTS = """\
[[calendar]]
id = "berlin"
tz = "Europe/Berlin"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-16:00"] }

[[agreement]]
id = "acme-gold"
name = "ACME Gold"
customer = "acme"
calendar = "berlin"
valid_from = "2026-01-01"

[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
"""
START = 1_767_600_000  # 2026-01-05T08:00:00Z
STEPS: tuple[tuple[str, dict[str, str]], ...] = (
    ("reply", {"author": "sam"}),
    ("status", {"status": "waiting"}),
    ("customer_reply", {}),
    ("status", {"status": "open"}),
    ("resolved", {}),
)


def _iso(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def events(tickets: int, *, first: int = 0, prefix: str = "T") -> Iterator[dict[str, str]]:
    """Tickets of six events each, interleaved in time as a real export's are (a
    ticket's history, then the next ticket's, which was created earlier)."""
    for n in range(first, first + tickets):
        t, tid = START + n * 37, f"{prefix}-{n:06d}"
        yield {
            "id": f"{tid}-0",
            "type": "created",
            "ticket": tid,
            "at": _iso(t),
            "customer": ("acme", "globex")[n % 2],
            "priority": ("P1", "P2")[n % 2],
            "title": f"Printer {n} on fire",
        }
        for k, (etype, extra) in enumerate(STEPS, 1):
            yield {"id": f"{tid}-{k}", "type": etype, "ticket": tid, "at": _iso(t + k * 900), **extra}


def write(path: Path, evs: Iterator[dict[str, str]], *, tail: str = "") -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for e in evs:
            fh.write(json.dumps(e) + "\n")
        fh.write(tail)
    return path


def snapshot(db: Path) -> dict[str, Any]:
    """What an import leaves behind, arrival order (seq) and clock times left out."""
    c = sqlite3.connect(db)
    try:
        c.execute("INSERT INTO tickets_fts (tickets_fts) VALUES ('integrity-check')")
        return {
            "events": sorted(
                c.execute(
                    "SELECT id, type, ticket, ts, at, customer, service, priority, title, status,"
                    " assignee, author, agreement, body, digest, actor, source FROM events"
                )
            ),
            "history": [r[0] for r in c.execute("SELECT id FROM events ORDER BY ticket, ts, seq")],
            "tickets": sorted(c.execute("SELECT * FROM tickets")),
            "outcomes": sorted(c.execute("SELECT * FROM outcomes")),
            "rollup": sorted(c.execute("SELECT * FROM outcome_days")),
            "found": sorted(
                c.execute(
                    "SELECT t.id FROM tickets_fts JOIN tickets t ON t.rowid = tickets_fts.rowid"
                    " WHERE tickets_fts MATCH 'printer'"
                )
            ),
            "schema": sorted(c.execute("SELECT type, name, sql FROM sqlite_master")),
            "audit": [r[0] for r in c.execute("SELECT action FROM audit_log ORDER BY seq")],
        }
    finally:
        c.close()


def dump(db: Path) -> list[str]:
    c = sqlite3.connect(db)
    try:
        return list(c.iterdump())
    finally:
        c.close()


@pytest.fixture
def chunks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Small files take the pipelined path; returns the sizes of the chunks it stored."""
    monkeypatch.setattr(bulk_import, "PIPELINE_MIN_BYTES", 0)
    monkeypatch.setattr(bulk_import, "CHUNK", 20_000)
    seen: list[int] = []
    real = bulk_import._add

    def add(batch: Any, evs: list[Any], *computed: Any) -> None:
        seen.append(len(evs))
        real(batch, evs, *computed)

    monkeypatch.setattr(bulk_import, "_add", add)
    return seen


def in_process_per_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ordinary path: parsed in-process, every trigger row by row."""
    monkeypatch.setattr(bulk_import, "PIPELINE_MIN_BYTES", 1 << 62)
    monkeypatch.setattr(bulk_sqlite, "BULK_MIN_ROWS", 1 << 62)


def test_pipelined_bulk_import_stores_what_the_per_row_import_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[int]
) -> None:
    first = write(tmp_path / "first.jsonl", events(6_000))
    more = write(tmp_path / "more.jsonl", events(4_000, first=6_000))
    overlap = write(tmp_path / "overlap.jsonl", events(2_000, first=9_000))
    got = fresh_db(tmp_path / "got.db", AGREEMENTS, actor="lead")
    read_back: list[str] = []  # ranges whose audit digest was read back from the table
    real_digest = audit._digest

    def digest(conn: Any, table: str, *args: Any) -> tuple[int, str]:
        read_back.append(table)
        return real_digest(conn, table, *args)

    monkeypatch.setattr(audit, "_digest", digest)
    # A big first load (rollup rebuilt), then a load into a fuller store (rollup by trigger).
    assert import_file(got, first, actor="feed", source="rt").inserted == 36_000
    assert import_file(got, more, actor="feed", source="rt").inserted == 24_000
    assert len(chunks) >= 4  # both went through the pipeline
    assert read_back == []  # the parsing process computed both digests
    again = import_file(got, first, actor="feed", source="rt")
    assert (again.inserted, again.already_present) == (0, 36_000)
    # Half already there: not the rows the parser assumed, so they are read back.
    partly = import_file(got, overlap, actor="feed", source="rt")
    assert (partly.inserted, partly.already_present) == (6_000, 6_000)
    assert read_back == ["events"]

    in_process_per_row(monkeypatch)
    want = fresh_db(tmp_path / "want.db", AGREEMENTS, actor="lead")
    import_file(want, first, actor="feed", source="rt")
    import_file(want, more, actor="feed", source="rt")
    import_file(want, first, actor="feed", source="rt")
    import_file(want, overlap, actor="feed", source="rt")
    mine, theirs = snapshot(got), snapshot(want)
    assert mine["outcomes"] and mine["rollup"] and len(mine["found"]) == 11_000
    for key in theirs:
        assert mine[key] == theirs[key], key
    conn = open_db(got)
    try:
        assert verify(conn).ok
    finally:
        conn.close()


def test_a_bad_line_at_the_end_of_a_100k_line_file_leaves_nothing_written(
    tmp_path: Path, chunks: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    db = fresh_db(tmp_path / "desk.db", AGREEMENTS, actor="lead")
    give_roles(db, "feed", "feeder")
    f = write(tmp_path / "big.jsonl", events(100_000 // 6), tail='{"id": "x", "type": "reply",\n')
    before = dump(db)
    assert main(["--db", str(db), "import", str(f)], operator="feeder") == 2
    out, err = capsys.readouterr()
    assert (out, err) == (
        "",
        f"sladesk: {f}:99997: invalid JSON: Expecting property name enclosed in double quotes (column 29)\n",
    )
    assert sum(chunks) >= 80_000  # stored in the transaction, then rolled back
    assert dump(db) == before


def test_a_refused_event_is_worded_as_the_ordinary_path_words_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[int]
) -> None:
    tail = json.dumps({"id": "late", "type": "reply", "ticket": "T-999999", "at": _iso(START)}) + "\n"
    f = write(tmp_path / "ev.jsonl", events(5_000), tail=tail)
    db = fresh_db(tmp_path / "desk.db", AGREEMENTS, actor="lead")
    before = dump(db)
    with pytest.raises(ImportRejected) as piped:
        import_file(db, f, actor="feed")
    assert sum(chunks) == 30_001  # all of it, the refused event included
    assert dump(db) == before
    in_process_per_row(monkeypatch)
    with pytest.raises(ImportRejected) as ordinary:
        import_file(db, f, actor="feed")
    assert (
        str(piped.value)
        == str(ordinary.value)
        == (
            f"{f}:30001: unknown ticket 'T-999999': no 'created' event for it in the database or on an earlier line"
        )
    )
    assert dump(db) == before


# The real child, made to die after sending its third message.
_DYING = """\
import os, signal, sys
from sladesk_tui.store import bulk_import as b
real, sent = b._send, []
def send(out, message):
    real(out, message)
    out.flush()
    sent.append(message)
    if len(sent) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
b._send = send
b.child_main(sys.argv[1], sys.argv[2], sys.stdout.buffer)
"""


def test_the_parsing_process_dying_is_one_line_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bulk_import, "CHUNK", 5_000)
    monkeypatch.setattr(bulk_import, "WORKER", [sys.executable, "-c", _DYING])
    db = fresh_db(tmp_path / "desk.db", AGREEMENTS, actor="lead")
    give_roles(db, "feed", "feeder")
    f = write(tmp_path / "ev.jsonl", events(5_000))
    before = dump(db)
    assert main(["--db", str(db), "import", str(f)], operator="feeder") == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"sladesk: {f}: the parsing process stopped before the end of the file"
        " (killed by signal 9); nothing was imported\n"
    )
    assert chunks  # it had stored some
    assert dump(db) == before


def test_a_garbled_stream_from_the_parsing_process_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[int]
) -> None:
    garble = "import sys; sys.stderr.write('boom\\n'); sys.stdout.buffer.write(b'\\x00\\x00\\x00\\x05hello')"
    monkeypatch.setattr(bulk_import, "WORKER", [sys.executable, "-c", garble])
    db = fresh_db(tmp_path / "desk.db", AGREEMENTS, actor="lead")
    f = write(tmp_path / "ev.jsonl", events(100))
    before = dump(db)
    with pytest.raises(InputError) as info:
        import_file(db, f, actor="feed")
    assert str(info.value) == (
        f"{f}: the parsing process stopped before the end of the file (exit status 0: boom); nothing was imported"
    )
    assert dump(db) == before


def test_small_files_and_skip_invalid_stay_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_import, "WORKER", [sys.executable, "-c", "raise SystemExit(7)"])
    db = fresh_db(tmp_path / "desk.db", AGREEMENTS, actor="lead")
    f = write(tmp_path / "ev.jsonl", events(10))
    assert import_file(db, f, actor="feed").inserted == 60  # below PIPELINE_MIN_BYTES
    monkeypatch.setattr(bulk_import, "PIPELINE_MIN_BYTES", 0)
    g = write(tmp_path / "more.jsonl", events(10, first=10))
    assert import_file(db, g, actor="feed", skip_invalid=True).inserted == 60


def test_bulk_load_puts_every_trigger_back_when_the_body_fails(tmp_path: Path) -> None:
    db = fresh_db(tmp_path / "desk.db", AGREEMENTS, actor="lead")
    conn = open_db(db)
    try:
        schema = sorted(tuple(r) for r in conn.execute("SELECT name, sql FROM sqlite_master"))
        conn.execute("BEGIN IMMEDIATE")
        with pytest.raises(RuntimeError), bulk_sqlite.bulk_load(conn, 10**6):
            assert "tickets_ai" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            raise RuntimeError("stop")
        assert sorted(tuple(r) for r in conn.execute("SELECT name, sql FROM sqlite_master")) == schema
        conn.execute("ROLLBACK")
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -2000
    finally:
        conn.close()


def test_events_rebuilt_from_the_pipe_equal_the_dataclass_built_ones() -> None:
    from sladesk_tui.core.eventfile import _event_of
    from sladesk_tui.core.events import Event, event_digest
    from sladesk_tui.store.imports import event_row

    full = Event(
        "e1", "created", 1.5, "T-1", 7, "acme", "erp", "P1", "Title", "open", "kim", "sam", "gold", "body"
    )
    sparse = Event("e2", "reply", 2.0, "T-1", 8)
    for built in (full, sparse):
        row = event_row(built, "at", event_digest(built))
        fields = {k: v for k, v in zip(("id", "type", "ticket"), row, strict=False)} | {
            f: getattr(built, f)
            for f in (
                "customer",
                "service",
                "priority",
                "title",
                "status",
                "assignee",
                "author",
                "agreement",
                "body",
            )
            if getattr(built, f) is not None
        }
        for made in (bulk_import.make_event(row, built.seq), _event_of(fields, built.at, built.seq)):
            assert made == built and hash(made) == hash(built)
            assert (made.recorded_by, made.source) == (None, None)
            with pytest.raises(AttributeError):  # still frozen
                made.id = "x"  # type: ignore[misc]  # the point: assigning must fail


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The ticket ids of each outcome refresh the pipelined import makes, in order."""
    calls: list[set[str]] = []
    from sladesk_tui.store.outcomes import refresh_outcomes as real

    def refresh(conn: Any, ids: Any, now: float, *, known: Any = None) -> int:
        calls.append(set(ids))
        return real(conn, ids, now, known=known)

    monkeypatch.setattr(bulk_import, "refresh_outcomes", refresh)
    return calls


def test_outcomes_computed_early_are_computed_again_when_a_later_chunk_adds_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[int], computed: list[set[str]]
) -> None:
    monkeypatch.setattr(bulk_import, "CHUNK", 5_000)
    every = list(events(1_000, prefix="A"))
    begun = [e for e in every if int(e["id"].rsplit("-", 1)[1]) < 4]  # created .. customer_reply
    ended = [e for e in every if int(e["id"].rsplit("-", 1)[1]) >= 4]  # status open, resolved
    # A's tickets begin, then 1,000 other tickets, then A's tickets end: A is taken as
    # complete after the second chunk, its response outcome stored, then it gets more.
    f = write(tmp_path / "ev.jsonl", iter([*begun, *events(1_000, prefix="B"), *ended]))
    got = fresh_db(tmp_path / "got.db", AGREEMENTS, actor="lead")
    assert import_file(got, f, actor="feed", source="rt").inserted == 12_000
    assert len(chunks) >= 3
    assert sum("A-000000" in ids for ids in computed) == 2  # early, then once again at the end
    assert "B-000999" not in computed[0]

    in_process_per_row(monkeypatch)
    want = fresh_db(tmp_path / "want.db", AGREEMENTS, actor="lead")
    import_file(want, f, actor="feed", source="rt")
    mine, theirs = snapshot(got), snapshot(want)
    assert any(r[0] == "A-000000" and r[1] == "resolution" for r in mine["outcomes"])
    for key in theirs:
        assert mine[key] == theirs[key], key


def test_a_file_sorted_by_event_type_stores_what_the_per_row_import_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[int], computed: list[set[str]]
) -> None:
    monkeypatch.setattr(bulk_import, "CHUNK", 5_000)
    every = list(events(10_000))
    # Every created event, then every reply, ...: each ticket comes back in each part,
    # after chunks that did not touch it.
    by_type = sorted(every, key=lambda e: int(e["id"].rsplit("-", 1)[1]))
    f = write(tmp_path / "ev.jsonl", iter(by_type))
    got = fresh_db(tmp_path / "got.db", AGREEMENTS, actor="lead")
    assert import_file(got, f, actor="feed", source="rt").inserted == 60_000
    assert len(chunks) >= 10
    assert sum("T-000000" in ids for ids in computed) == 2  # early once, then at the end
    in_process_per_row(monkeypatch)
    want = fresh_db(tmp_path / "want.db", AGREEMENTS, actor="lead")
    import_file(want, f, actor="feed", source="rt")
    mine, theirs = snapshot(got), snapshot(want)
    assert mine["outcomes"]
    for key in theirs:
        assert mine[key] == theirs[key], key


def test_without_the_importers_line_the_parser_computes_no_digest_and_the_rows_are_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[int]
) -> None:
    deaf = (
        "import io, sys; from sladesk_tui.store import bulk_import as b;"
        " sys.exit(b.child_main(sys.argv[1], sys.argv[2], sys.stdout.buffer, io.BytesIO(b'not json')))"
    )
    monkeypatch.setattr(bulk_import, "WORKER", [sys.executable, "-c", deaf])
    read_back: list[str] = []
    real_digest = audit._digest

    def digest(conn: Any, table: str, *args: Any) -> tuple[int, str]:
        read_back.append(table)
        return real_digest(conn, table, *args)

    monkeypatch.setattr(audit, "_digest", digest)
    db = fresh_db(tmp_path / "desk.db", AGREEMENTS, actor="lead")
    f = write(tmp_path / "ev.jsonl", events(2_000))
    read_back.clear()  # the agreements loaded above
    assert import_file(db, f, actor="feed").inserted == 12_000
    assert chunks and read_back == ["events"]
    conn = open_db(db)
    try:
        assert verify(conn).ok
    finally:
        conn.close()


def test_rows_inserted_several_per_statement_are_the_rows_executemany_inserts(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "t.db")
    try:
        for table in ("one", "many"):
            conn.execute(
                f"CREATE TABLE {table} (seq INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT, b REAL, c TEXT)"
            )
        for n in (0, 1, 49, 50, 51, 137):
            rows = [(f"r{n}-{i}", i / 3, None if i % 2 else "x'y") for i in range(n)]
            conn.executemany("INSERT INTO one (a, b, c) VALUES (?, ?, ?)", rows)
            bulk_sqlite.insert_rows(conn, "INSERT INTO many (a, b, c) VALUES (?, ?, ?)", rows)
        got = list(conn.execute("SELECT * FROM many ORDER BY seq"))
        assert got == list(conn.execute("SELECT * FROM one ORDER BY seq"))
        assert len(got) == 288 and got[-1][0] == 288
    finally:
        conn.close()


def test_a_first_load_still_finds_an_id_it_stored_in_an_earlier_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[int]
) -> None:
    monkeypatch.setattr(bulk_import, "CHUNK", 5_000)
    evs = list(events(1_000))
    again = write(tmp_path / "again.jsonl", iter([*evs, evs[1]]))  # line 6001 repeats line 2
    db = fresh_db(tmp_path / "desk.db", AGREEMENTS, actor="lead")
    from sladesk_tui.store import imports

    read_input = imports.read_input

    def not_here(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the pipelined import stepped aside")

    monkeypatch.setattr(imports, "read_input", not_here)
    report = import_file(db, again, actor="feed")
    monkeypatch.setattr(imports, "read_input", read_input)
    assert (report.inserted, report.already_present) == (6_000, 1)
    assert chunks[0] == 5_000 and sum(chunks) == 6_001  # the repeat came in a later chunk
    in_process_per_row(monkeypatch)
    want = fresh_db(tmp_path / "want.db", AGREEMENTS, actor="lead")
    ordinary = import_file(want, again, actor="feed")
    assert (ordinary.inserted, ordinary.already_present) == (6_000, 1)


def test_the_parser_digests_the_same_rows_when_the_importers_line_comes_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc
    import io
    import marshal
    import os

    f = write(tmp_path / "ev.jsonl", events(2_000))  # 12,000 events: three batches
    line = json.dumps([7, "feed", "import:x", "2026-12-07T00:00:00.000000Z"]).encode() + b"\n"

    def end_mark(inp: Any) -> Any:
        out = io.BytesIO()
        try:
            assert bulk_import.child_main(str(f), "auto", out, inp) == 0
        finally:
            gc.enable()
        data, pos, last = out.getvalue(), 0, None
        while pos < len(data):
            (size,) = bulk_import._HEADER.unpack_from(data, pos)
            last = marshal.loads(data[pos + 4 : pos + 4 + size])
            pos += 4 + size
        return last

    at_once = end_mark(io.BytesIO(line))
    assert at_once[0] == "end" and at_once[1] == 12_000 and at_once[2]
    # The line arrives only once the second batch is out: the first waited for it.
    r, w = os.pipe()
    sent: list[object] = []
    send = bulk_import._send

    def send_then_answer(out: Any, message: Any) -> None:
        send(out, message)
        sent.append(message[0])
        if sent == ["events", "events"]:
            os.write(w, line)
            os.close(w)

    monkeypatch.setattr(bulk_import, "_send", send_then_answer)
    with os.fdopen(r, "rb") as late:
        assert end_mark(late) == at_once
    # No line at all (the importer closed its end): no digest, it reads back.
    r, w = os.pipe()
    os.close(w)
    sent.clear()
    monkeypatch.setattr(bulk_import, "_send", send)
    with os.fdopen(r, "rb") as never:
        assert end_mark(never) == ("end", 0, None)
