"""The lookups' tables (sladesk_tui.output) with long names: every line fits 80 columns,
a long name is cut with `…`, and a blank cell always separates it from the next column.

The history is fixed in November 2026 on a 24x7 agreement, written through the store's
own APIs; the lookups run through `main` as an operator would run them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support import agreements_db

from sladesk_tui.cli import main
from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.output import cells, rows_table
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.overrides import record_override, record_review

AGREEMENTS = """
[[agreement]]
id = "acme-gold"
name = "ACME Gold"
customer = "acme"
calendar = "24x7"
[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
"""
AGENT = "maximiliane.schwarzenberger-oyelaran"  # 36 cells: wider than any column
LEAD = "bartholomew.featherstonehaugh-lead"
TITLE = "Invoices fail to post after the ERP upgrade of the weekend, every branch office"
H = 3600.0


def ts(text: str) -> float:
    return dt.datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC).timestamp()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("output") / "desk.db"
    with agreements_db(path, AGREEMENTS, actor=LEAD) as conn:
        ingest(
            conn,
            [
                Event(
                    "1c",
                    "created",
                    ts("11-02 10:00"),
                    "T-1",
                    seq=1,
                    customer="acme",
                    priority="P1",
                    title=TITLE,
                    assignee=AGENT,
                ),
                Event("1r", "reply", ts("11-02 10:40"), "T-1", seq=2, author=AGENT),
                Event("1x", "resolved", ts("11-02 13:00"), "T-1", seq=3),
                Event(
                    "2c",
                    "created",
                    ts("11-03 09:00"),
                    "T-2",
                    seq=4,
                    customer="acme",
                    priority="P2",
                    title=TITLE,
                    assignee=AGENT,
                ),
            ],
            actor=AGENT,
            source="test",
        )
        oid = record_override(
            conn,
            Override(
                0,
                "T-2",
                "extend",
                ts("11-03 09:30"),
                AGENT,
                "third_party",
                "The supplier confirmed the delay in writing.",
                clock="resolution",
                by_s=2 * H,
            ),
            before={},
            after={},
            actor=AGENT,
        )
        record_review(
            conn,
            oid,
            "rejected",
            reviewer=LEAD,
            comment="No evidence of the supplier delay.",
            at=ts("11-03 10:00"),
        )
    return path


def lookup(capsys: pytest.CaptureFixture[str], desk: Path, *argv: str) -> list[str]:
    rc = main([*argv, "--db", str(desk)], operator=AGENT)
    out, err = capsys.readouterr()
    assert rc == 0 and err == "", err
    lines = out.splitlines()
    wide = [line for line in lines if cells(line) > 80]
    assert wide == [], argv
    return lines


def test_report_by_operator_cuts_a_long_name_and_keeps_a_blank(capsys, desk: Path) -> None:
    lines = lookup(capsys, desk, "report", "--month", "2026-11", "--by", "operator")
    rows = [ln for ln in lines if ln.startswith(AGENT[:3])]
    # T-1's response (40m of 15m: breached) and resolution (3h of 4h: met), under its assignee.
    assert len(rows) == 2, lines
    for row in rows:
        name, clock, *figures = row.split()
        assert name == AGENT[:7] + "…" and clock in ("response", "resolution"), row
        assert row[8] == " "  # the blank between the name and the clock column
    assert [r.split()[1:5] for r in rows] == [["response", "1", "0", "1"], ["resolution", "1", "1", "0"]]


def test_report_by_operator_widens_the_name_on_a_wide_terminal(desk: Path) -> None:
    from sladesk_tui.core.report import Period
    from sladesk_tui.output import Style, report_table
    from sladesk_tui.store.db import connect
    from sladesk_tui.store.reports import compliance_report

    conn = connect(desk, readonly=True)
    try:
        report = compliance_report(conn, Period.month("2026-11"), ts("11-30 12:00"), by="operator")
    finally:
        conn.close()
    lines = report_table(report, style=Style(False), width=120).splitlines()
    rows = [ln for ln in lines if ln.startswith(AGENT[:3])]
    assert rows and all(r.split()[0] == AGENT[:23] + "…" for r in rows), rows
    assert all(cells(ln) <= 120 for ln in lines)


@pytest.mark.parametrize(
    "argv",
    [
        ("queue", "--at", "2026-11-03T09:45:00Z"),
        ("ticket", "T-1"),
        ("ticket", "T-2", "--at", "2026-11-03T11:00:00Z"),
        ("report", "--month", "2026-11"),
        ("overrides",),
        ("overrides", "--stats"),
    ],
)
def test_every_table_fits_80_columns_with_long_names(capsys, desk: Path, argv: tuple[str, ...]) -> None:
    lookup(capsys, desk, *argv)


def test_the_override_log_cuts_the_operator_and_keeps_the_columns(capsys, desk: Path) -> None:
    header, row, *below = lookup(capsys, desk, "overrides")
    assert header.split() == ["id", "at", "ticket", "override", "by", "status"]
    words = row.split()
    assert words[0] == "1" and words[3] == "T-2" and words[-1] == "rejected", row
    assert words[-2].endswith("…") and AGENT.startswith(words[-2][:-1]), row
    assert below[-1].startswith(f"    rejected by {LEAD[:10]}")


def test_the_operator_figures_cut_the_name_not_the_figures(capsys, desk: Path) -> None:
    header, row, *_ = lookup(capsys, desk, "overrides", "--stats")
    assert header.split()[:3] == ["operator", "overrides", "pending"]
    assert row.split()[0].endswith("…") and row.split()[1:5] == ["1", "0", "0", "1"], row


def test_rows_table_leaves_a_table_that_fits_alone() -> None:
    rows = [{"id": 7, "by": "sam", "status": "pending"}]
    assert rows_table(rows) == "id  by   status\n7   sam  pending\n"
    long = [{"id": 123456, "by": "x" * 200, "status": "pending"}]
    header, row = rows_table(long).splitlines()
    assert cells(row) == 80 and row.split()[0] == "123456" and row.split()[-1] == "pending"


def test_the_ticket_wraps_a_long_operator_and_keeps_the_override_status(capsys, desk: Path) -> None:
    lines = lookup(capsys, desk, "ticket", "T-2", "--at", "2026-11-03T11:00:00Z")
    i = next(i for i, ln in enumerate(lines) if ln.startswith("#1 "))
    assert lines[i] == f"#1 extend resolution by {AGENT} at"
    assert lines[i + 1] == "  2026-11-03 09:30Z · third_party · REJECTED"  # the instant whole


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_availability_line_never_loses_its_figures(width: int) -> None:
    """A long service name and a missed budget at 80 columns read `budget left -8h 54m MISSED`,
    not `budget left ... MISSED`: the name is cut or the figures go on a line of their own."""
    from sladesk_tui.core.availability import Availability
    from sladesk_tui.core.report import AgreementSummary, Counts
    from sladesk_tui.output import Style, _summary_lines

    down = 45030.0  # 12h 30m 30s in a 30-day month against 99.5%: 3h 36m allowed
    summary = AgreementSummary(
        id="acme",
        name="ACME",
        customer="acme",
        version=1,
        counts=Counts(),
        penalty=None,
        availability_target=99.5,
        availability=(Availability("payments-gateway-eu-west", 2_592_000.0, down, 3, 99.5),),
        valid_until=None,
        days_left=None,
    )
    lines = _summary_lines(summary, Style(False), width)
    text = " ".join(lines)
    assert all(cells(line) <= width for line in lines), lines
    assert "98.263% (target 99.5%):" in text and "down 12h 30m, budget left -8h 54m MISSED" in text
    assert "…" not in text.split("(target")[1]
    if width >= 120:
        assert lines == [
            "availability payments-gateway-eu-west 98.263% (target 99.5%): down 12h 30m,"
            " budget left -8h 54m MISSED"
        ]


@pytest.mark.parametrize("width", [80, 120, 200])
def test_queue_clock_cells_are_not_cut_while_the_title_has_room(tmp_path: Path, width: int) -> None:
    """`paused 38h 50m` used to read `paused 38h 5…` at any width (the clock columns were
    13 cells); they widen to their content while the title keeps 12 cells."""
    from sladesk_tui.core.queue import QueueFilter, lookup_items
    from sladesk_tui.output import Style, queue_table
    from sladesk_tui.store.queries import evaluate_open_tickets

    terms = AGREEMENTS.replace('P2 = { response = "1h", resolution = "8h" }', 'P3 = { resolution = "40h" }')
    t0 = ts("11-02 10:00")
    with agreements_db(tmp_path / "q.db", terms, actor=LEAD) as conn:
        ingest(
            conn,
            [
                Event("c", "created", t0, "T-1", seq=1, customer="acme", priority="P3", title=TITLE),
                Event("w", "status", t0 + 70 * 60, "T-1", seq=2, status="waiting"),
            ],
            actor=LEAD,
            source="test",
        )
        now = t0 + 5 * H
        items = lookup_items(evaluate_open_tickets(conn, now), now, QueueFilter())
    lines = queue_table(items, now, style=Style(False), width=width).splitlines()
    assert all(cells(line) <= width for line in lines), lines
    assert "paused 38h 50m" in lines[1] and "paused 38h 5…" not in lines[1]
    assert lines[1].split("paused 38h 50m")[1].split()[0] == "acme"
    if width >= 120:
        assert TITLE[:40] in lines[1]


def test_instants_print_a_four_digit_year() -> None:
    """`as of 1-01-01` read like a day of month: the year is always four digits."""
    from sladesk_tui.output import instant

    assert instant(dt.datetime(1, 1, 1, tzinfo=dt.UTC).timestamp()) == "0001-01-01 00:00Z"
    assert instant(ts("11-02 10:00")) == "2026-11-02 10:00Z"
