"""Importing events: idempotent by id, atomic per file, the tickets projection by `at`."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import backends
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg_support import interleave_raw_row
from support import fresh_db, give_roles

from sladesk_tui.cli import main
from sladesk_tui.core.errors import InputError
from sladesk_tui.core.eventfile import FIELDS
from sladesk_tui.store.audit import verify
from sladesk_tui.store.db import connect, open_db
from sladesk_tui.store.imports import ImportRejected, import_file, ingest, read_input

AGREEMENTS = """\
[[agreement]]
id = "acme-gold"
name = "ACME Gold"
customer = "acme"
calendar = "24x7"
valid_from = "2026-01-01"
valid_until = "2026-12-31"

[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
"""

T0 = "2026-11-27T08:"


def ev(i: str, ticket: str | None, minute: int, etype: str, **fields: str) -> dict[str, str]:
    """One event as a mapping; `minute` past 08:00 on 2026-11-27 (UTC)."""
    d = {"id": i, "type": etype, "at": f"{T0}{minute:02d}:00Z"}
    if ticket is not None:
        d["ticket"] = ticket
    d.update(fields)
    return d


def created(
    i: str, ticket: str, minute: int = 0, *, customer: str = "acme", priority: str = "P2", **more: str
) -> dict[str, str]:
    more.setdefault("title", f"Ticket {ticket}")
    return ev(i, ticket, minute, "created", customer=customer, priority=priority, **more)


def write_jsonl(
    path: Path, events: list[dict[str, str]], *, extra_lines: dict[int, str] | None = None
) -> Path:
    """Write events one per line; `extra_lines` puts raw text at given 1-based lines."""
    lines = [json.dumps(e) for e in events]
    for n, text in sorted((extra_lines or {}).items()):
        lines.insert(n - 1, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_csv(path: Path, events: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(FIELDS))
        w.writeheader()
        for e in events:
            w.writerow(e)
    return path


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    return backends.dump(db)


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    return backends.rows(db, sql)


def ticket(db: Path, tid: str) -> dict[str, Any]:
    c = connect(db)
    try:
        row = c.execute("SELECT * FROM tickets WHERE id = ?", (tid,)).fetchone()
        return dict(row) if row else {}
    finally:
        c.close()


BASIC = [
    created("e1", "T-1", 5, service="erp"),
    ev("e2", "T-1", 40, "reply", author="sam"),
    ev("e3", "T-1", 50, "status", status="waiting"),
    ev("e4", "T-1", 55, "assign", assignee="kim"),
    created("e5", "T-2", 10, priority="P1"),
    ev("e6", "T-2", 20, "resolved"),
    ev("o1", None, 30, "outage_start", service="erp"),
]


# ---- the basics ------------------------------------------------------------------


@pytest.mark.both_backends
def test_import_writes_events_projection_and_one_audit_row(db_path: Path, tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "ev.jsonl", BASIC)
    report = import_file(db_path, f, actor="tester")
    assert (report.inserted, report.already_present, report.skipped_invalid) == (7, 0, ())
    assert report.summary() == f"imported 7 events (0 skipped as already present) from {f}"
    stored = rows(db_path, "SELECT seq, id, type, ticket, at, actor, source FROM events ORDER BY seq")
    assert [r[1] for r in stored] == ["e1", "e2", "e3", "e4", "e5", "e6", "o1"]
    assert stored[0] == (1, "e1", "created", "T-1", "2026-11-27T08:05:00.000000Z", "tester", f"import:{f}")
    assert stored[6][3] is None  # outages concern a service, not a ticket
    t1 = ticket(db_path, "T-1")
    assert (t1["status"], t1["assignee"], t1["is_open"], t1["service"], t1["priority"]) == (
        "waiting",
        "kim",
        1,
        "erp",
        "P2",
    )
    t2 = ticket(db_path, "T-2")
    assert (t2["status"], t2["is_open"], t2["ended_ts"]) == ("resolved", 0, t2["updated_ts"])
    audit = rows(db_path, "SELECT action, actor, covers FROM audit_log")
    assert len(audit) == 1 and audit[0][:2] == ("events.import", "tester")
    assert json.loads(audit[0][2])[0]["table"] == "events"
    assert json.loads(audit[0][2])[0]["count"] == 7


@pytest.mark.both_backends
def test_reimporting_the_same_file_adds_nothing(db_path: Path, tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "ev.jsonl", BASIC)
    import_file(db_path, f, actor="tester")
    before = dump(db_path)
    again = import_file(db_path, f, actor="tester")
    assert (again.inserted, again.already_present) == (0, 7)
    assert dump(db_path) == before  # not even an audit row: nothing was written


@pytest.mark.both_backends
def test_a_file_extending_a_stored_one_imports_only_the_new_events(db_path: Path, tmp_path: Path) -> None:
    import_file(db_path, write_jsonl(tmp_path / "a.jsonl", BASIC[:3]), actor="tester")
    report = import_file(db_path, write_jsonl(tmp_path / "b.jsonl", BASIC), actor="tester")
    assert (report.inserted, report.already_present) == (4, 3)
    assert rows(db_path, "SELECT COUNT(*), COUNT(DISTINCT id) FROM events") == [(7, 7)]
    assert verify(open_db(db_path)).ok


@pytest.mark.both_backends
def test_a_conflicting_id_is_refused_naming_file_and_line(db_path: Path, tmp_path: Path) -> None:
    import_file(db_path, write_jsonl(tmp_path / "a.jsonl", BASIC), actor="tester")
    before = dump(db_path)
    changed = [*BASIC[:2], ev("e3", "T-1", 50, "status", status="open")]
    f = write_jsonl(tmp_path / "b.jsonl", changed)
    with pytest.raises(ImportRejected) as info:
        import_file(db_path, f, actor="tester")
    assert str(info.value) == f"{f}:3: event 'e3' conflicts with the stored event of that id"
    assert dump(db_path) == before


@pytest.mark.both_backends
def test_a_repeated_id_within_one_file(db_path: Path, tmp_path: Path) -> None:
    same = write_jsonl(tmp_path / "same.jsonl", [*BASIC[:2], BASIC[1]])
    report = import_file(db_path, same, actor="tester")
    assert (report.inserted, report.already_present) == (2, 1)
    differ = write_jsonl(
        tmp_path / "differ.jsonl",
        [created("x1", "T-9"), ev("x2", "T-9", 1, "note"), ev("x2", "T-9", 2, "note")],
    )
    with pytest.raises(
        ImportRejected, match=r"differ.jsonl:3: event 'x2' conflicts with the event of that id on line 2"
    ):
        import_file(db_path, differ, actor="tester")


@pytest.mark.both_backends
def test_unknown_ticket_and_events_before_creation_are_refused(db_path: Path, tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "ev.jsonl",
        [
            ev("e0", "T-1", 1, "reply"),  # before its created line, and older than the creation
            created("e1", "T-1", 5),
            ev("e2", "T-1", 4, "note"),  # older than the creation
            ev("e3", "T-7", 6, "reply"),  # never created
            created("e4", "T-1", 7),  # created twice
        ],
    )
    with pytest.raises(ImportRejected) as info:
        import_file(db_path, f, actor="tester")
    lines = [str(e) for e in info.value.errors]
    assert lines == [
        f"{f}:1: the event (2026-11-27T08:01:00.000000Z) is older than the creation of ticket 'T-1' "
        "(2026-11-27T08:05:00.000000Z)",
        f"{f}:3: the event (2026-11-27T08:04:00.000000Z) is older than the creation of ticket 'T-1' "
        "(2026-11-27T08:05:00.000000Z)",
        f"{f}:4: unknown ticket 'T-7': no 'created' event for it in the database or on an earlier line",
        f"{f}:5: ticket 'T-1' already exists: a second 'created' event for it",
    ]
    assert info.value.count == 4
    assert rows(db_path, "SELECT COUNT(*) FROM events") == [(0,)]


@pytest.mark.both_backends
def test_status_events_cannot_end_a_ticket(db_path: Path, tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "ev.jsonl", [created("e1", "T-1"), ev("e2", "T-1", 1, "status", status="resolved")]
    )
    with pytest.raises(ImportRejected, match=r"ev.jsonl:2: status 'resolved' is set by a 'resolved' event"):
        import_file(db_path, f, actor="tester")


# ---- agreements and priorities ---------------------------------------------------------


@pytest.fixture
def sla_db(db_path: Path, tmp_path: Path) -> Path:
    return fresh_db(db_path, AGREEMENTS, actor="lee", toml=tmp_path / "sla.toml", source="local")


@pytest.mark.both_backends
def test_created_tickets_get_their_agreement_or_the_reason(sla_db: Path, tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "ev.jsonl", [created("e1", "T-1"), created("e2", "T-2", customer="initech")])
    import_file(sla_db, f, actor="tester")
    t1, t2 = ticket(sla_db, "T-1"), ticket(sla_db, "T-2")
    assert (t1["agreement_id"], t1["agreement_version"], t1["no_agreement_reason"]) == ("acme-gold", 1, None)
    assert t2["agreement_id"] is None
    assert t2["no_agreement_reason"] == "no agreement in force: unknown customer 'initech'"


@pytest.mark.both_backends
def test_priorities_must_be_the_agreements(sla_db: Path, tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "ev.jsonl",
        [
            created("e1", "T-1", priority="P9"),
            created("e2", "T-2"),
            ev("e3", "T-2", 1, "priority", priority="urgent"),
            created("e4", "T-3", customer="initech", priority="whatever"),  # no agreement: any token
            ev("e5", "T-3", 1, "priority", priority="high"),
        ],
    )
    with pytest.raises(ImportRejected) as info:
        import_file(sla_db, f, actor="tester")
    assert [str(e) for e in info.value.errors] == [
        f"{f}:1: priority 'P9' is not one of agreement 'acme-gold''s priorities (P1, P2)",
        f"{f}:3: priority 'urgent' is not one of agreement 'acme-gold''s priorities (P1, P2)",
    ]
    # A ticket stored earlier is checked against its own agreement version too.
    import_file(sla_db, write_jsonl(tmp_path / "ok.jsonl", [created("e2", "T-2")]), actor="tester")
    later = write_jsonl(tmp_path / "later.jsonl", [ev("e9", "T-2", 9, "priority", priority="P7")])
    with pytest.raises(ImportRejected, match="later.jsonl:1: priority 'P7'"):
        import_file(sla_db, later, actor="tester")


# ---- atomicity, --skip-invalid, formats ------------------------------------------------


@pytest.mark.both_backends
def test_a_bad_line_changes_nothing(db_path: Path, tmp_path: Path) -> None:
    import_file(db_path, write_jsonl(tmp_path / "a.jsonl", BASIC[:2]), actor="tester")
    before = dump(db_path)
    f = write_jsonl(tmp_path / "b.jsonl", BASIC, extra_lines={4: '{"id": "bad", "type": "reply"'})
    with pytest.raises(ImportRejected) as info:
        import_file(db_path, f, actor="tester")
    assert str(info.value).startswith(f"{f}:4: invalid JSON")
    assert dump(db_path) == before


@pytest.mark.both_backends
def test_cli_exit_2_with_one_line_per_bad_line(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    give_roles(db_path, "feed", "tester")
    f = write_jsonl(
        tmp_path / "ev.jsonl",
        BASIC,
        extra_lines={3: '{"id":"z","type":"reply","ticket":"T-1","at":"2026-11-27T08:00:00"}'},
    )
    before = dump(db_path)
    assert main(["--db", str(db_path), "import", str(f)], operator="tester") == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"sladesk: {f}:3: field 'at': instant '2026-11-27T08:00:00' has no UTC offset "
        "(add Z or an offset such as +01:00)\n"
    )
    assert dump(db_path) == before


@pytest.mark.both_backends
def test_cli_lists_every_bad_line_and_counts_them(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    give_roles(db_path, "feed", "tester")
    f = write_jsonl(tmp_path / "ev.jsonl", BASIC, extra_lines={2: "{", 5: "[]"})
    assert main(["--db", str(db_path), "import", str(f)], operator="tester") == 2
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[1] for line in err[:2]] == [f"{f}:2", f"{f}:5"]
    assert err[2] == "sladesk: 2 bad lines; nothing imported"


@pytest.mark.both_backends
def test_skip_invalid_imports_the_rest_and_lists_what_it_skipped(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    give_roles(db_path, "feed", "tester")
    events = [*BASIC, ev("e7", "T-404", 59, "reply"), ev("e8", "T-1", 59, "note")]
    f = write_jsonl(tmp_path / "ev.jsonl", events, extra_lines={2: "not json"})
    assert main(["--db", str(db_path), "import", "--skip-invalid", str(f)], operator="tester") == 3
    out, err = capsys.readouterr()
    assert out == f"imported 8 events (0 skipped as already present) from {f}\n"
    lines = err.splitlines()
    assert lines[0].startswith(f"sladesk: {f}:2: invalid JSON")
    assert (
        lines[1]
        == f"sladesk: {f}:9: unknown ticket 'T-404': no 'created' event for it in the database or on an earlier line"
    )
    assert lines[2] == "sladesk: skipped 2 bad lines"
    assert rows(db_path, "SELECT COUNT(*) FROM events") == [(8,)]


@pytest.mark.both_backends
def test_skip_invalid_cascades_to_the_events_of_a_refused_ticket(db_path: Path, tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "ev.jsonl",
        [created("e1", "T-1", title=""), ev("e2", "T-1", 1, "reply"), created("e3", "T-2")],
    )
    report = import_file(db_path, f, actor="tester", skip_invalid=True)
    assert report.inserted == 1
    assert [e.where for e in report.skipped_invalid] == [f"{f}:1", f"{f}:2"]


def test_csv_and_jsonl_store_identical_rows(tmp_path: Path) -> None:
    events = [*BASIC, ev("e7", "T-1", 59, "note", body='multi\nline, "quoted" body')]
    dbs = []
    for fmt, writer in (("jsonl", write_jsonl), ("csv", write_csv)):
        db = tmp_path / f"{fmt}.db"
        open_db(db, create=True).close()
        f = writer(tmp_path / f"events.{fmt}", events)
        report = import_file(db, f, actor="tester", source="import:events")
        assert report.inserted == len(events)
        dbs.append(db)
    cols = "seq, id, type, ticket, ts, at, customer, service, priority, title, status, assignee, author, agreement, body, digest"
    a, b = (rows(db, f"SELECT {cols} FROM events ORDER BY seq") for db in dbs)
    assert a == b and len(a) == len(events)
    ta, tb = (rows(db, "SELECT * FROM tickets ORDER BY id") for db in dbs)
    assert ta == tb


@pytest.mark.both_backends
def test_stdin(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    give_roles(db_path, "feed", "tester")
    data = "".join(json.dumps(e) + "\n" for e in BASIC).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    assert main(["--db", str(db_path), "import", "-"], operator="tester") == 0
    assert capsys.readouterr().out == "imported 7 events (0 skipped as already present) from <stdin>\n"
    assert rows(db_path, "SELECT DISTINCT source FROM events") == [("import:<stdin>",)]
    bad = b'{"id":"q"}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(bad), encoding="utf-8"))
    assert main(["--db", str(db_path), "import", "-"], operator="tester") == 2
    assert capsys.readouterr().err == "sladesk: <stdin>:1: missing field 'type'\n"


@pytest.mark.both_backends
def test_missing_and_empty_files(db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    give_roles(db_path, "feed", "tester")
    assert main(["--db", str(db_path), "import", str(tmp_path / "nope.jsonl")], operator="tester") == 2
    assert capsys.readouterr().err == f"sladesk: {tmp_path / 'nope.jsonl'}: no such file\n"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="no events"):
        read_input(empty)


# ---- the projection follows `at`, not arrival --------------------------------------------


@pytest.mark.both_backends
def test_out_of_order_events_within_a_file(db_path: Path, tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "ev.jsonl",
        [
            created("e1", "T-1", 0),
            ev("e2", "T-1", 30, "status", status="waiting"),
            ev("e3", "T-1", 10, "status", status="open"),  # older: waiting stays
            ev("e4", "T-1", 20, "priority", priority="P1"),
        ],
    )
    import_file(db_path, f, actor="tester")
    t = ticket(db_path, "T-1")
    assert (t["status"], t["priority"]) == ("waiting", "P1")
    assert t["updated_ts"] == rows(db_path, "SELECT ts FROM events WHERE id = 'e2'")[0][0]


@pytest.mark.both_backends
def test_a_late_event_in_a_later_import_replays_the_ticket(db_path: Path, tmp_path: Path) -> None:
    import_file(
        db_path,
        write_jsonl(
            tmp_path / "a.jsonl",
            [
                created("e1", "T-1", 0),
                ev("e2", "T-1", 25, "assign", assignee="sam"),
                ev("e3", "T-1", 30, "resolved"),
            ],
        ),
        actor="tester",
    )
    import_file(
        db_path,
        write_jsonl(
            tmp_path / "b.jsonl",
            [
                ev("e4", "T-1", 10, "status", status="waiting"),  # before the resolution: it stays resolved
                ev("e5", "T-1", 20, "assign", assignee="kim"),  # before sam's assignment: sam stays
                ev("e6", "T-1", 15, "priority", priority="P1"),  # the only priority change: it counts
            ],
        ),
        actor="tester",
    )
    t = ticket(db_path, "T-1")
    assert (t["status"], t["is_open"], t["assignee"], t["priority"]) == ("resolved", 0, "sam", "P1")
    import_file(db_path, write_jsonl(tmp_path / "c.jsonl", [ev("e7", "T-1", 40, "reopened")]), actor="tester")
    t = ticket(db_path, "T-1")
    assert (t["status"], t["is_open"], t["ended_ts"]) == ("open", 1, None)


STEPS = st.lists(
    st.tuples(
        st.integers(1, 50),
        st.sampled_from(
            [
                "status:open",
                "status:waiting",
                "status:on_hold",
                "priority:P1",
                "priority:P2",
                "assign:kim",
                "assign:sam",
                "resolved",
                "closed",
                "reopened",
                "reply",
            ]
        ),
    ),
    min_size=1,
    max_size=12,
)


def _model(steps: list[tuple[int, str]]) -> tuple[str, str, str | None, int]:
    """The expected projection, written independently: sort by (at, file order), fold."""
    status, priority, assignee, is_open = "new", "P2", None, 1
    for _, what in sorted(steps, key=lambda s: s[0]):
        kind, _, value = what.partition(":")
        if kind == "status" and is_open:
            status = value
        elif kind == "priority":
            priority = value
        elif kind == "assign":
            assignee = value
        elif kind in ("resolved", "closed"):
            status, is_open = kind, 0
        elif kind == "reopened":
            status, is_open = "open", 1
    return status, priority, assignee, is_open


def _step_event(i: int, minute: int, what: str) -> dict[str, str]:
    kind, _, value = what.partition(":")
    field = {"status": "status", "priority": "priority", "assign": "assignee"}.get(kind)
    return ev(f"s{i}", "T-1", minute, kind, **({field: value} if field else {}))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS, cuts=st.lists(st.integers(0, 12), max_size=3))
def test_projection_is_the_latest_state_by_at_however_the_events_arrive(
    tmp_path: Path, steps: list[tuple[int, str]], cuts: list[int]
) -> None:
    db = tmp_path / f"p{abs(hash((tuple(steps), tuple(cuts))))}.db"
    conn = open_db(db, create=True)
    try:
        events = [created("c", "T-1", 0)] + [_step_event(i, m, w) for i, (m, w) in enumerate(steps)]
        bounds = sorted({0, len(events), *(min(c + 1, len(events)) for c in cuts)})
        for n, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):  # arrival in several imports
            f = write_jsonl(tmp_path / f"part{n}.jsonl", events[a:b])
            import_file(conn, f, actor="tester")
        t = conn.execute("SELECT status, priority, assignee, is_open FROM tickets").fetchone()
        assert tuple(t) == _model(steps)
        assert verify(conn).ok
    finally:
        conn.close()
        db.unlink()


def test_ingest_directly_and_the_audit_chain_covers_the_events(conn: sqlite3.Connection) -> None:
    from sladesk_tui.core.eventfile import event_from_mapping

    events = [event_from_mapping(e, seq=n) for n, e in enumerate(BASIC, 1)]
    result = ingest(conn, events, actor="tester", source="test")
    assert (result.inserted, result.already_present, result.first_seq, result.last_seq) == (7, 0, 1, 7)
    assert verify(conn).ok
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET author = 'mallory' WHERE id = 'e2'")
    assert not verify(conn).ok


@pytest.mark.both_backends
def test_ingest_without_a_name_still_refuses_whole(conn: sqlite3.Connection) -> None:
    from sladesk_tui.core.eventfile import event_from_mapping

    bad = [event_from_mapping(ev("r1", "T-5", 1, "reply"), seq=1)]
    with pytest.raises(ImportRejected, match=r"^unknown ticket 'T-5'"):
        ingest(conn, bad, actor="tester", source="test")
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    assert not conn.in_transaction


@pytest.mark.both_backends
def test_two_importers_of_one_file_at_once_store_each_event_once(db_path: Path, tmp_path: Path) -> None:
    import threading

    events = [created("c", "T-1")] + [ev(f"r{i}", "T-1", i % 60, "note") for i in range(1, 400)]
    f = write_jsonl(tmp_path / "ev.jsonl", events)
    reports = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(import_file(db_path, f, actor="tester"))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted((r.inserted, r.already_present) for r in reports) == [(0, 400), (0, 400), (400, 0)]
    assert rows(db_path, "SELECT COUNT(*) FROM events") == [(400,)]


def test_an_event_another_session_inserts_meanwhile_stays_outside_the_imports_cover(
    tmp_path: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the events' sequence interleaves concurrent sessions: a raw event
    committed between two of an import's rows takes a seq inside the import's span.
    The import's audit row covers the seqs its rows were given (read back by id), so
    `audit verify` names the raw row; covering MAX(seq) back took it in as the import's
    (and named one of the import's own rows as uncovered instead)."""
    url = pg_server.fresh(pg_server.role("owner"))
    conn = open_db(url, create=True)
    try:
        raw = interleave_raw_row(
            monkeypatch,
            conn,
            url,
            "INSERT INTO events",
            "INSERT INTO events (id, type, ticket, ts, at, digest, actor, source, recorded_at)"
            " VALUES ('raw-1', 'outage_start', NULL, 0, '', 'd', 'mallory', 'raw', '') RETURNING seq",
        )
        f = write_jsonl(tmp_path / "ev.jsonl", BASIC)
        assert import_file(conn, f, actor="tester").inserted == 7
        monkeypatch.undo()
        seqs = [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]
        assert len(seqs) == 8 and seqs[1] == raw[0]  # the raw event inside the import's span
        result = verify(conn)
        assert not result.ok
        assert result.reason is not None and f"events row seq={raw[0]} is not recorded" in result.reason
    finally:
        conn.close()
