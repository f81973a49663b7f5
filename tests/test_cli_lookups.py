"""`sladesk queue`, `ticket` and `report`: the shapes scripts rely on, as-of replays, exit codes,
read-only access and the 80-column tables."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from lookup_fixture import AVAILABILITY, EARLIER, NOVEMBER, PENALTY, build, ts

from sladesk_tui.cli import main
from sladesk_tui.output import Style, cells

CLOCK_KEYS = {"state", "target_s", "elapsed_s", "remaining_s", "due_at", "breached_at", "stopped_at"}
LATE_NOVEMBER = "2026-11-28T10:50:00Z"  # T-9 at risk (50m of 1h), T-8 breached long ago


def run(capsys: pytest.CaptureFixture[str], *argv: str, operator: str = "sam") -> tuple[int, str, str]:
    rc = main(list(argv), operator=operator)
    out, err = capsys.readouterr()
    return rc, out, err


def lookup(capsys: pytest.CaptureFixture[str], db: Path, *argv: str, operator: str = "sam") -> str:
    rc, out, err = run(capsys, *argv, "--db", str(db), operator=operator)
    assert rc == 0, err
    assert err == ""
    return out


def report_figures(rows: list[dict]) -> dict[tuple[str, str, str], tuple[object, ...]]:
    return {
        (r["agreement"], r["priority"], r["clock"]): (
            r["tickets"],
            r["raw"]["met"],
            r["raw"]["breached"],
            r["adjusted"]["met"],
            r["adjusted"]["breached"],
            r["adjusted"]["exempt"],
            r["penalty_raw"],
            r["penalty"],
        )
        for r in rows
    }


# ---- report -----------------------------------------------------------------------------


@pytest.mark.both_backends
def test_report_json_carries_the_spec_keys_and_the_hand_computed_figures(capsys, lookup_db: Path) -> None:
    doc = json.loads(lookup(capsys, lookup_db, "report", "--month", "2026-11", "--format", "json"))
    assert {"from", "to", "rows"} <= set(doc)
    assert (doc["from"], doc["to"]) == ("2026-11-01", "2026-11-30")
    assert "counts in the period in which its clock stopped" in doc["basis"]
    for row in doc["rows"]:
        assert {"agreement", "priority", "clock", "tickets", "raw", "adjusted", "penalty"} <= set(row)
        assert set(row["raw"]) == {"met", "breached", "rate"}
        assert set(row["adjusted"]) == {"met", "breached", "exempt", "rate"}
    assert report_figures(doc["rows"]) == NOVEMBER
    rates = {(r["priority"], r["clock"]): (r["raw"]["rate"], r["adjusted"]["rate"]) for r in doc["rows"]}
    assert rates[("P2", "response")] == (round(2 / 3, 6), 1.0)  # the exempt clock leaves the adjusted rate
    gold = next(a for a in doc["agreements"] if a["agreement"] == "acme-gold")
    p = gold["penalty"]
    assert (p["currency"], p["monthly_cap"]) == ("EUR", 1300.0)
    assert {k: p[k] for k in PENALTY} == PENALTY
    got = {a["service"]: a for a in gold["availability"]}
    assert set(got) == set(AVAILABILITY)
    for service, want in AVAILABILITY.items():
        assert {k: got[service][k] for k in want} == pytest.approx(want)


@pytest.mark.both_backends
def test_report_csv_parses_with_one_line_per_row(capsys, lookup_db: Path) -> None:
    text = lookup(capsys, lookup_db, "report", "--month", "2026-11", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {
        "agreement",
        "priority",
        "clock",
        "tickets",
        "raw_met",
        "raw_breached",
        "raw_rate",
        "met",
        "breached",
        "exempt",
        "rate",
        "penalty",
        "currency",
    } <= set(rows[0])
    got = {
        (r["agreement"], r["priority"], r["clock"]): (
            int(r["tickets"]),
            int(r["raw_met"]),
            int(r["raw_breached"]),
            int(r["met"]),
            int(r["breached"]),
            int(r["exempt"]),
        )
        for r in rows
    }
    assert got == {k: v[:6] for k, v in NOVEMBER.items()}


@pytest.mark.both_backends
def test_report_groupings(capsys, lookup_db: Path) -> None:
    by_agreement = json.loads(
        lookup(
            capsys,
            lookup_db,
            "report",
            "--month",
            "2026-11",
            "--by",
            "agreement",
            "--agreement",
            "acme-gold",
            "--format",
            "json",
        )
    )
    totals = {r["clock"]: r["tickets"] for r in by_agreement["rows"]}
    assert totals == {"response": 6, "update": 1, "resolution": 7}
    assert [a["agreement"] for a in by_agreement["agreements"]] == ["acme-gold"]
    by_operator = json.loads(
        lookup(capsys, lookup_db, "report", "--month", "2026-11", "--by", "operator", "--format", "json")
    )
    assert {r["operator"] for r in by_operator["rows"]} == {"sam"}


@pytest.mark.both_backends
def test_report_of_a_range_of_days(capsys, lookup_db: Path) -> None:
    doc = json.loads(
        lookup(capsys, lookup_db, "report", "--from", "2026-10-31", "--to", "2026-11-02", "--format", "json")
    )
    got = {(r["priority"], r["clock"]): r["tickets"] for r in doc["rows"]}
    # T-5's response (31 Oct) and resolution (1 Nov); T-1's three clocks (2 Nov).
    assert got == {("P1", "response"): 2, ("P1", "update"): 1, ("P1", "resolution"): 2}


# ---- queue and ticket ----------------------------------------------------------------------


@pytest.mark.both_backends
def test_queue_json_is_most_urgent_first_with_spec_clocks(capsys, lookup_db: Path) -> None:
    items = json.loads(lookup(capsys, lookup_db, "queue", "--at", LATE_NOVEMBER, "--format", "json"))
    assert [i["id"] for i in items] == ["T-8", "T-9"]
    assert [i["state"] for i in items] == ["breached", "at_risk"]
    for item in items:
        assert {"id", "title", "priority", "status", "agreement", "clocks"} <= set(item)
        for clock in item["clocks"].values():
            assert set(clock) == CLOCK_KEYS
    t9 = items[1]["clocks"]["response"]
    assert (t9["state"], t9["due_at"], t9["remaining_s"]) == ("at_risk", "2026-11-28T11:00:00Z", 600.0)


def test_queue_csv_and_filters(capsys, lookup_db: Path) -> None:
    rows = list(
        csv.DictReader(
            io.StringIO(lookup(capsys, lookup_db, "queue", "--at", LATE_NOVEMBER, "--format", "csv"))
        )
    )
    assert [(r["id"], r["state"], r["response_due_at"]) for r in rows] == [
        ("T-8", "breached", ""),
        ("T-9", "at_risk", "2026-11-28T11:00:00Z"),
    ]

    def ids(*flags: str, operator: str = "sam") -> list[str]:
        out = lookup(
            capsys, lookup_db, "queue", "--at", LATE_NOVEMBER, "--format", "json", *flags, operator=operator
        )
        return [i["id"] for i in json.loads(out)]

    assert ids("--breached") == ["T-8"]
    assert ids("--at-risk") == ["T-8", "T-9"]
    assert ids("--agreement", "acme-gold") == ["T-9"]
    assert ids("--priority", "P3") == ["T-8"]
    assert ids("--mine") == ["T-8", "T-9"]
    assert ids("--mine", operator="kim") == []


@pytest.mark.both_backends
@pytest.mark.parametrize(
    ("at", "fail_on", "rc"),
    [
        ("2026-11-28T10:30:00Z", "at-risk", 0),  # T-9 30m of 1h: ok
        ("2026-11-28T10:50:00Z", "at-risk", 1),  # 50m: at risk
        ("2026-11-28T10:50:00Z", "breached", 0),
        ("2026-11-28T11:30:00Z", "breached", 1),  # past the hour
        ("2026-11-28T11:30:00Z", "at-risk", 1),  # breached counts as at risk too
    ],
)
def test_fail_on_exit_codes(capsys, lookup_db: Path, at: str, fail_on: str, rc: int) -> None:
    got, _out, err = run(
        capsys, "queue", "--db", str(lookup_db), "--agreement", "acme-gold", "--at", at, "--fail-on", fail_on
    )
    assert (got, err) == (rc, "")


@pytest.mark.both_backends
def test_ticket_json_carries_raw_and_adjusted_clocks_overrides_and_history(capsys, lookup_db: Path) -> None:
    doc = json.loads(lookup(capsys, lookup_db, "ticket", "T-7", "--format", "json"))
    assert {
        "id",
        "title",
        "customer",
        "agreement",
        "priority",
        "status",
        "clocks",
        "raw_clocks",
        "overrides",
        "events",
    } <= set(doc)
    for view in ("clocks", "raw_clocks"):
        for clock in doc[view].values():
            assert CLOCK_KEYS <= set(clock)
    assert doc["raw_clocks"]["resolution"]["state"] == "breached"
    assert doc["clocks"]["resolution"]["state"] == "met"
    assert doc["clocks"]["resolution"]["elapsed_s"] == 3 * 3600.0
    assert doc["clocks"]["resolution"]["stopped_at"] == "2026-11-07T16:00:00Z"
    held = [s for s in doc["clocks"]["resolution"]["explanation"] if s["kind"] == "held"]
    assert held and held[0]["from"] == "2026-11-07T11:00:00Z"
    (o,) = doc["overrides"]
    assert (o["kind"], o["status"], o["until"]) == ("hold", "pending", "2026-11-07T14:00:00Z")
    assert [e["type"] for e in doc["events"]] == ["created", "reply", "resolved"]
    rejected = json.loads(lookup(capsys, lookup_db, "ticket", "T-4", "--format", "json"))
    assert rejected["overrides"][0]["status"] == "rejected"
    assert rejected["overrides"][0]["reviews"][0]["comment"] == "No evidence of the supplier delay."
    assert rejected["clocks"]["resolution"] == rejected["raw_clocks"]["resolution"]


@pytest.mark.both_backends
def test_ticket_csv_lists_both_views(capsys, lookup_db: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(lookup(capsys, lookup_db, "ticket", "T-3", "--format", "csv"))))
    states = {(r["view"], r["clock"]): r["state"] for r in rows}
    assert states[("adjusted", "response")] == "exempt" and states[("raw", "response")] == "breached"
    assert CLOCK_KEYS <= set(rows[0])


# ---- as of an instant -------------------------------------------------------------------------


@pytest.mark.both_backends
@pytest.mark.parametrize(
    "argv",
    [
        ("queue", "--format", "json"),
        ("queue", "--format", "table"),
        ("ticket", "T-4", "--format", "json"),
        ("ticket", "T-3", "--format", "table"),
        ("report", "--month", "2026-11", "--format", "json"),
        ("report", "--month", "2026-11", "--format", "table"),
    ],
)
def test_at_reproduces_the_state_at_that_instant(
    capsys, lookup_db: Path, lookup_db_earlier: Path, argv: tuple[str, ...]
) -> None:
    at = ("--at", "2026-11-05T17:00:00Z")
    assert ts("11-05 17:00") == EARLIER  # the cut of lookup_db_earlier
    later_history = lookup(capsys, lookup_db, *argv, *at)
    history_then = lookup(capsys, lookup_db_earlier, *argv, *at)
    assert later_history == history_then


@pytest.mark.both_backends
def test_at_ignores_later_reviews(capsys, lookup_db: Path) -> None:
    before = json.loads(
        lookup(capsys, lookup_db, "ticket", "T-4", "--at", "2026-11-05T16:00:00Z", "--format", "json")
    )
    assert before["overrides"][0]["status"] == "pending"
    assert before["clocks"]["resolution"]["target_s"] == 12 * 3600.0  # the extension counted, until rejected


# ---- safety ---------------------------------------------------------------------------------


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()
    }


def test_lookups_leave_the_database_unchanged(capsys, tmp_path: Path) -> None:
    """The database file is byte for byte the same. A WAL reader may leave the `-shm` index
    and an empty `-wal` beside it (SQLite's own sidecars, no content of ours)."""
    db = build(tmp_path / "untouched.db")
    before = _digest(tmp_path)
    for argv in (
        ("queue",),
        ("queue", "--format", "json", "--at", LATE_NOVEMBER),
        ("ticket", "T-7"),
        ("ticket", "T-7", "--format", "csv", "--at", "2026-11-07T12:00:00Z"),
        ("report", "--month", "2026-11"),
        ("report", "--month", "2026-11", "--at", "2026-11-20T00:00:00Z", "--format", "json"),
    ):
        lookup(capsys, db, *argv)
    after = _digest(tmp_path)
    assert after["untouched.db"] == before["untouched.db"]
    assert {k: v for k, v in after.items() if not k.endswith("-shm")} == before | (
        {"untouched.db-wal": hashlib.sha256(b"").hexdigest()} if "untouched.db-wal" in after else {}
    )


@pytest.mark.both_backends
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("report", "--month", "2026-13"), "--month"),
        (("report", "--from", "2026-11-01"), "--from and --to"),
        (("report", "--month", "2026-11", "--from", "2026-11-01", "--to", "2026-11-02"), "either --month"),
        (("report", "--agreement", "nope"), "no agreement 'nope'"),
        # A typo in a monitoring check's filter must not read as "nothing breached".
        (("queue", "--agreement", "premum", "--fail-on", "breached"), "known: acme-gold, beta-basic"),
        (("queue", "--priority", "p1", "--fail-on", "at-risk"), "no priority 'p1' (known: P1, P2, P3)"),
        (("queue", "--priority", "P9"), "no priority 'P9'"),
        (("ticket", "T-404"), "no ticket 'T-404'"),
        (("ticket", "T-9", "--at", "2026-11-01T00:00:00Z"), "no ticket 'T-9' as of"),
        (("queue", "--at", "yesterday"), "--at"),
        (("queue", "--at", "2026-11-01T00:00:00"), "no UTC offset"),
        (("queue", "--fail-on", "sometimes"), "--fail-on"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys, lookup_db: Path, argv: tuple[str, ...], needle: str
) -> None:
    rc, out, err = run(capsys, *argv, "--db", str(lookup_db))
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("sladesk: ") and needle in err


def test_a_missing_database_is_not_created(capsys, tmp_path: Path) -> None:
    rc, _out, err = run(capsys, "queue", "--db", str(tmp_path / "none.db"))
    assert rc == 2 and "no such database" in err
    assert not (tmp_path / "none.db").exists()


def test_hostile_text_never_reaches_the_terminal_or_a_spreadsheet(capsys, tmp_path: Path) -> None:
    from sladesk_tui.core.events import Event
    from sladesk_tui.store.db import open_db
    from sladesk_tui.store.imports import ingest

    title = '=HYPERLINK("x")\x1b]52;c;b3duZWQ=\x07\u202eevil\x9b31m'
    db = tmp_path / "h.db"
    conn = open_db(db, create=True)
    try:
        ingest(
            conn,
            [
                Event(
                    id="c",
                    type="created",
                    at=1.8e9,
                    ticket="T-1",
                    seq=1,
                    customer="@acme",
                    priority="P1",
                    title=title,
                )
            ],
            actor="sam",
            source="test",
        )
    finally:
        conn.close()
    for argv in (
        ("queue",),
        ("ticket", "T-1"),
        ("queue", "--format", "csv"),
        ("ticket", "T-1", "--format", "csv"),
    ):
        out = lookup(capsys, db, *argv)
        assert not any(ch in out for ch in "\x1b\x07\u202e\x9b"), argv
    rows = list(csv.DictReader(io.StringIO(lookup(capsys, db, "queue", "--format", "csv"))))
    assert rows[0]["title"].startswith("'=HYPERLINK") and rows[0]["customer"] == "'@acme"
    raw = lookup(capsys, db, "ticket", "T-1", "--format", "json")
    assert not any(ch in raw for ch in "\x1b\x07\u202e\x9b")  # escaped in the JSON text...
    assert json.loads(raw)["title"] == title  # ...and exactly the original once parsed


@pytest.mark.both_backends
def test_tables_fit_80_columns(capsys, lookup_db: Path) -> None:
    for argv in (
        ("queue", "--at", LATE_NOVEMBER),
        ("ticket", "T-7"),
        ("ticket", "T-1"),
        ("report", "--month", "2026-11"),
        ("report", "--month", "2026-11", "--by", "operator"),
    ):
        out = lookup(capsys, lookup_db, *argv)
        wide = [line for line in out.splitlines() if cells(line) > 80]
        assert wide == [], argv
    report = lookup(capsys, lookup_db, "report", "--month", "2026-11")
    assert "counts in the period in which its clock stopped" in report.replace("\n", " ")
    assert "EXPIRES SOON" in report or "EXPIRED" in report


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert Style.for_stream(_Tty())("BREACHED", "breached") == "\x1b[1;31mBREACHED\x1b[0m"
    assert Style.for_stream(io.StringIO())("BREACHED", "breached") == "BREACHED"
    monkeypatch.setenv("NO_COLOR", "1")
    assert Style.for_stream(_Tty())("BREACHED", "breached") == "BREACHED"


@pytest.mark.both_backends
@pytest.mark.parametrize("argv", [("queue",), ("ticket", "T-7"), ("report", "--month", "2026-11")])
def test_lookups_never_import_textual(lookup_db: Path, argv: tuple[str, ...]) -> None:
    code = (
        "import sys\n"
        "from sladesk_tui.cli import main\n"
        f"rc = main({list(argv) + ['--db', str(lookup_db)]!r})\n"
        "assert rc == 0, rc\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'holidays'))\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
