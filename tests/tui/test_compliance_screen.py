"""The compliance screen (key `c`) on the hand-checked history of tests/lookup_fixture.py."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from lookup_fixture import END_OF_NOVEMBER, ts
from support import agreements_db
from textual.pilot import Pilot
from textual.widgets import Static

from sladesk_tui.core.events import Event
from sladesk_tui.tui.app import SladeskApp
from sladesk_tui.tui.screens.compliance import ComplianceScreen, bar
from sladesk_tui.tui.screens.queue import QueueScreen


@pytest.fixture
def db(lookup_db: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Path:
    """A private copy: the app's queue feed opens a writable connection. On PostgreSQL,
    the hand-checked history moved there by `migrate-db` (store.migrate_db), so the
    screen must show the same figures from the other engine."""
    if backend == "postgresql":
        from sladesk_tui.store.migrate_db import migrate_db

        target: str = request.getfixturevalue("db_target")
        migrate_db(str(request.getfixturevalue("lookup_files")[0]), target)
        return target  # type: ignore[return-value]  # a URL, taken as a path is
    dest = tmp_path / "copy.db"
    src, out = sqlite3.connect(lookup_db), sqlite3.connect(dest)
    try:
        src.backup(out)
    finally:
        src.close()
        out.close()
    return dest


def make_app(path: Path, now: float = END_OF_NOVEMBER) -> SladeskApp:
    return SladeskApp(path, "sam", clock=lambda: now, poll_interval=0.05, display_tz=dt.UTC)


async def until(pilot: Pilot, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    waited = 0.0
    while not predicate():
        assert waited < timeout, "condition not reached"
        await pilot.pause(0.02)
        waited += 0.02


async def opened(pilot: Pilot) -> ComplianceScreen:
    await pilot.press("c")
    await until(
        pilot, lambda: isinstance(pilot.app.screen, ComplianceScreen) and pilot.app.screen.report is not None
    )
    await pilot.pause()
    return pilot.app.screen


def text(screen: ComplianceScreen) -> str:
    return "\n".join(str(s.render()) for s in screen.query(Static))


def block(screen: ComplianceScreen, agreement: str) -> str:
    body = text(screen)
    start = body.index(f"{agreement} ·")
    nxt = body.find("\n", body.find("clocks stopped", start) + 1)
    end = min((i for i in (body.find(" clocks stopped", nxt),) if i > 0), default=len(body))
    return body[start:end]


def test_bars_show_any_breach_and_nothing_for_nothing() -> None:
    assert bar(0, 0) == ("", "")
    met, missed = bar(999, 1)
    assert (len(met), len(missed)) == (23, 1)
    assert bar(3, 1, width=8) == ("██████", "░░")


@pytest.mark.both_backends
async def test_key_c_shows_the_month_raw_beside_adjusted(db: Path) -> None:
    async with make_app(db).run_test(size=(80, 40)) as pilot:
        screen = await opened(pilot)
        shown = text(screen)
        assert "Compliance · November 2026 · 2026-11-01 to 2026-11-30" in shown
        assert "counts in the period in which its clock stopped" in shown
        gold = block(screen, "acme-gold")
        lines = gold.splitlines()
        resp = next(i for i, line in enumerate(lines) if line.startswith("response"))
        # T-1 met, T-2 breached, T-3 breached raw / exempt adjusted, T-4, T-6, T-7 met.
        assert lines[resp].split()[1] == "raw" and lines[resp].endswith("4 met · 2 breached")
        assert lines[resp + 1].split()[0] == "adj" and lines[resp + 1].endswith(
            "4 met · 1 breached · 1 exempt"
        )
        res = next(i for i, line in enumerate(lines) if line.startswith("resolution"))
        assert lines[res].endswith("4 met · 3 breached") and lines[res + 1].endswith("5 met · 2 breached")
        assert "penalty EUR 1,200 adjusted · 1,300 raw · cap 1,300/month" in gold
        assert "availability erp 99.861% of 99.9% · budget left -16m  MISSED" in gold
        assert "availability email 99.931% of 99.9% · budget left 13m  MET" in gold
        assert "EXPIRES SOON: last day 2026-12-15 (in 15 days)" in gold
        assert "beta-basic" in shown


@pytest.mark.both_backends
async def test_the_period_switcher_steps_through_months(db: Path) -> None:
    async with make_app(db).run_test(size=(80, 40)) as pilot:
        screen = await opened(pilot)
        november = screen.report
        await pilot.press("left_square_bracket")
        await until(
            pilot,
            lambda: (
                screen.report is not november
                and screen.report is not None
                and screen.report.period.label == "2026-10"
            ),
        )
        await pilot.pause()
        assert "October 2026" in text(screen)
        assert "acme-gold · ACME Gold · 1 clocks stopped" in text(screen)  # T-5's response
        await pilot.press("right", "right")
        await until(pilot, lambda: screen.report is not None and screen.report.period.label == "2026-12")
        await pilot.pause()
        assert "no clock stopped in this period" in text(screen)
        await pilot.press("t")
        await until(pilot, lambda: screen.report is not None and screen.report.period.label == "2026-11")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, QueueScreen))


async def test_untrusted_names_are_shown_literally(tmp_path: Path) -> None:
    from sladesk_tui.store.imports import ingest

    path = tmp_path / "x.db"
    hostile = (
        '[[agreement]]\nid = "x"\nname = "[@click=app.quit]Q[/] [b]bold[/b]"\ncustomer = "c"\ncalendar = "24x7"\n'
        'availability = 99.0\n[agreement.targets]\nP1 = { response = "1h" }\n'
    )
    with agreements_db(path, hostile, actor="lead", toml=tmp_path / "a.toml") as conn:
        ingest(
            conn,
            [
                Event(id="o1", type="outage_start", at=ts("11-02 10:00"), seq=1, service="[/]"),
                Event(id="o2", type="outage_end", at=ts("11-02 11:00"), seq=2, service="[/]"),
            ],
            actor="lead",
            source="test",
        )
    async with make_app(path).run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        shown = text(screen)
        assert "[@click=app.quit]Q[/] [b]bold[/b]" in shown
        assert "availability [/] 99.861% of 99% · budget left 6h 12m  MET" in shown
        await pilot.click("AgreementBlock")  # a click on the name runs nothing
        assert pilot.app.is_running


def test_snapshot_compliance_80x24(snap_compare, db: Path) -> None:
    async def run_before(pilot: Pilot) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, QueueScreen) and pilot.app.screen.ready)
        await opened(pilot)

    assert snap_compare(make_app(db), terminal_size=(80, 24), run_before=run_before)
