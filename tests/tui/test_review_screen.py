"""The leads' review screen on a real SQLite file: order, detail, filters, figures, decisions.

override_world.seed_log places three overrides at NOW minus a few minutes: 1 a hold
on T-1 by sam (pending), 2 a back-dated response on T-3 by kim (pending; it turns
the breached response into a met one), 3 an extension on T-5 by sam (approved by lee).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from override_world import LEAD, build, connected, override, place, seed_log
from queue_data import NOW
from test_queue_screen import started, until
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static
from tui_store import Ingest

from sladesk_tui.tui.app import SladeskApp
from sladesk_tui.tui.screens.review import CommentDialog, LeadsDialog, ReviewScreen

H = 3600.0


@pytest.fixture
def desk(store: tuple[Path, Ingest]) -> tuple[Path, dict[str, int]]:
    path = build(store)
    return path, seed_log(path)


def app_on(path: Path, operator: str = LEAD) -> SladeskApp:
    return SladeskApp(path, operator, clock=lambda: NOW, poll_interval=0.05, display_tz=dt.UTC)


async def opened(pilot: Pilot) -> ReviewScreen:
    await started(pilot)
    await pilot.press("L")
    await until(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen) and pilot.app.screen.ready)
    await pilot.pause()
    return pilot.app.screen


def listed(screen: ReviewScreen) -> list[tuple[int, str]]:
    assert screen.view is not None
    return [(e.override.id, e.status) for e in screen.view.entries]


def detail(screen: ReviewScreen) -> str:
    return str(screen.query_one("#detail", Static).render())


def said(dialog: object) -> str:
    """What the leads dialog's hint line says (its answer replaces the key hint)."""
    assert isinstance(dialog, LeadsDialog)
    return str(dialog.query_one("#leads-hint", Static).render())


def reviews(path: Path) -> list[tuple]:
    with connected(path) as conn:
        rows = conn.execute("SELECT override_id, decision, reviewer, comment FROM reviews ORDER BY id")
        return [tuple(r) for r in rows]


async def reloaded(pilot: Pilot, screen: ReviewScreen, asked: int) -> None:
    """Wait until a load asked for after `asked` (a `generation`) is on screen."""
    await until(pilot, lambda: screen.shown > asked)
    await pilot.pause()


@pytest.mark.both_backends
async def test_pending_first_with_the_detail_of_the_highlighted_one(
    desk: tuple[Path, dict[str, int]],
) -> None:
    path, ids = desk
    async with app_on(path).run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        assert listed(screen) == [
            (ids["hold"], "pending"),
            (ids["responded"], "pending"),
            (ids["extend"], "approved"),
        ]
        await pilot.press("down")
        await until(pilot, lambda: "Ticket timeline" in detail(screen))
        text = detail(screen)
        assert (
            "Phoned at 05:20 [@click=app.quit]quit[/]" in text and "\x1b" not in text
        )  # literal, neutralised
        lines = text.splitlines()
        response = next(line for line in lines if line.startswith("response"))
        assert response.split()[1:] == ["breached,", "1h", "56m", "over", "met", "(changed)"]
        assert "created  P2 · acme · Password reset loop" in text
        assert "by kim at Fri 15 Jan 07:56 UTC" in text


async def test_a_lead_approves(desk: tuple[Path, dict[str, int]]) -> None:
    path, ids = desk
    async with app_on(path).run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        asked = screen.generation
        await pilot.press("a")
        await reloaded(pilot, screen, asked)
        assert dict(listed(screen))[ids["hold"]] == "approved"
    assert reviews(path)[-1] == (ids["hold"], "approved", LEAD, None)


async def test_a_rejection_needs_a_comment_and_restores_the_raw_clock(
    desk: tuple[Path, dict[str, int]],
) -> None:
    path, ids = desk
    async with app_on(path).run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        await pilot.press("down", "x")
        await until(pilot, lambda: isinstance(pilot.app.screen, CommentDialog))
        await pilot.press("enter")  # blank: refused, the dialog stays
        assert isinstance(pilot.app.screen, CommentDialog)
        assert "needs a comment" in str(pilot.app.screen.query_one("#comment-hint", Static).render())
        asked = screen.generation
        await pilot.press(*"no call in the phone log", "enter")
        await reloaded(pilot, screen, asked)
        assert dict(listed(screen))[ids["responded"]] == "rejected"
    assert reviews(path)[-1] == (ids["responded"], "rejected", LEAD, "no call in the phone log")
    from sladesk_tui.core.evaluate import evaluate
    from sladesk_tui.store.queries import agreements_for_versions, load_ticket

    with connected(path) as conn:
        record = load_ticket(conn, "T-3")
        assert record is not None
        tc = evaluate(record, agreements_for_versions(conn, [record.agreement_version]), NOW)
    assert tc.adjusted["response"] == tc.raw["response"] and tc.adjusted["response"].state == "breached"


async def test_escape_in_the_comment_dialog_writes_nothing(desk: tuple[Path, dict[str, int]]) -> None:
    path, _ = desk
    before = reviews(path)
    async with app_on(path).run_test(size=(100, 40)) as pilot:
        await opened(pilot)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, CommentDialog))
        await pilot.press(*"changed my mind", "escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen))
    assert reviews(path) == before


@pytest.mark.parametrize(
    ("operator", "press", "reason"),
    [
        ("kim", ["a"], "only a team lead reviews overrides, and kim is not a lead"),
        ("kim", ["x"], "only a team lead reviews overrides, and kim is not a lead"),
        (LEAD, ["down", "down", "a"], "nobody reviews their own override"),  # pending: 1, 2, then lee's
    ],
)
async def test_the_rules_refuse_on_screen_and_nothing_is_written(
    desk: tuple[Path, dict[str, int]], operator: str, press: list[str], reason: str
) -> None:
    path, _ = desk
    place(path, override("T-1", "extend", operator=LEAD, clock="resolution", by_s=H), NOW - 30)  # lee's own
    before = reviews(path)
    async with app_on(path, operator).run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        assert ("read only" in str(screen.query_one("#review-head", Static).render())) == (operator != LEAD)
        await pilot.press(*press)
        await pilot.pause(0.2)
        assert isinstance(pilot.app.screen, ReviewScreen)  # no comment dialog either
        assert any(reason in n.message for n in pilot.app._notifications)  # noqa: SLF001 - reads what the screen shows
    assert reviews(path) == before


@pytest.mark.both_backends
async def test_filters(desk: tuple[Path, dict[str, int]]) -> None:
    path, ids = desk
    async with app_on(path).run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        await pilot.press("f")
        assert screen.query_one("#review-filters").display
        for name, value, expected in (
            ("status", "pending", [ids["hold"], ids["responded"]]),
            ("operator", "kim", [ids["responded"]]),
            ("operator", "any", [ids["hold"], ids["responded"]]),
            ("kind", "hold", [ids["hold"]]),
            ("kind", "any", [ids["hold"], ids["responded"]]),
            ("status", "any", [ids["hold"], ids["responded"], ids["extend"]]),
            ("reason", "third_party", [ids["extend"]]),
            ("reason", "any", [ids["hold"], ids["responded"], ids["extend"]]),
            ("agreement", "acme-gold", [ids["hold"], ids["responded"], ids["extend"]]),
        ):
            asked = screen.generation
            screen.query_one(f"#filter-{name}", Select).value = value
            await reloaded(pilot, screen, asked)
            assert [i for i, _ in listed(screen)] == expected, (name, value)
        asked = screen.generation
        screen.query_one("#filter-since", Input).value = "-250s"
        await reloaded(pilot, screen, asked)
        assert [i for i, _ in listed(screen)] == [ids["responded"], ids["extend"]]
        screen.query_one("#filter-until", Input).value = "soon"
        await pilot.pause()
        assert "until:" in str(screen.query_one("#filter-problem", Static).render())
        await pilot.press("escape")
        assert not screen.query_one("#review-filters").display
        assert isinstance(pilot.app.screen, ReviewScreen)


@pytest.mark.both_backends
async def test_per_operator_figures(desk: tuple[Path, dict[str, int]]) -> None:
    path, _ = desk
    async with app_on(path).run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        asked = screen.generation
        await pilot.press("t")
        await reloaded(pilot, screen, asked)
        table = screen.query_one("#review-figures", DataTable)
        assert table.display and table.row_count == 2
        assert [str(c) for c in table.get_row_at(0)] == ["kim", "1", "1", "0", "0", "-", "1", "0", "0"]
        assert [str(c) for c in table.get_row_at(1)] == ["sam", "2", "1", "1", "0", "100%", "0", "0", "0"]
        text = detail(screen)
        assert "turned a breached clock into a met one: 1" in text and "by kind:   responded 1" in text
        await pilot.press("down")
        await pilot.pause()
        assert "approval rate: 100% (1 of 1 reviewed)" in detail(screen)


async def test_leads_are_granted_by_leads_only(desk: tuple[Path, dict[str, int]]) -> None:
    from sladesk_tui.store.roles import leads
    from sladesk_tui.tui.screens.review import LeadsDialog

    path, _ = desk
    async with app_on(path, "kim").run_test(size=(100, 40)) as pilot:
        await opened(pilot)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(pilot.app.screen, LeadsDialog))
        dialog = pilot.app.screen
        await until(pilot, lambda: "now: lee" in str(dialog.query_one("#leads-list", Static).render()))
        await pilot.press(*"kim", "enter")
        await until(pilot, lambda: said(dialog) != "enter apply · escape close")
        assert (
            said(dialog) == "✗ Not changed: only a team lead may grant the lead role, and kim is not a lead"
        )
    with connected(path) as conn:
        assert leads(conn) == [LEAD]
    async with app_on(path, LEAD).run_test(size=(100, 40)) as pilot:
        await opened(pilot)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(pilot.app.screen, LeadsDialog))
        dialog = pilot.app.screen
        await pilot.press(*"kim", "enter")
        await until(pilot, lambda: said(dialog) != "enter apply · escape close")
        assert said(dialog) == "✓ kim is now a team lead"
        await until(pilot, lambda: "now: kim, lee" in str(dialog.query_one("#leads-list", Static).render()))
    with connected(path) as conn:
        assert leads(conn) == ["kim", LEAD]


def test_snapshot_review_screen(desk: tuple[Path, dict[str, int]], snap_compare) -> None:
    path, _ = desk

    async def run_before(pilot: Pilot) -> None:
        screen = await opened(pilot)
        await pilot.press("down")
        await until(pilot, lambda: "Ticket timeline" in detail(screen))
        await pilot.pause()

    assert snap_compare(app_on(path), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.both_backends
async def test_slash_searches_justifications_and_review_comments(desk: tuple[Path, dict[str, int]]) -> None:
    from sladesk_tui.store.overrides import review_override

    path, ids = desk
    async with app_on(path).run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        await pilot.press("slash")
        box = screen.query_one("#filter-search", Input)
        assert box.has_focus and screen.query_one("#review-filters").display
        asked = screen.generation
        await pilot.press(*"PHONED")  # a justification word, any case
        await until(pilot, lambda: screen.shown > asked and not screen.load_pending)
        assert [i for i, _ in listed(screen)] == [ids["responded"]]
        with connected(path) as conn:  # another lead's comment, committed elsewhere
            review_override(
                conn, ids["hold"], "reject", reviewer=LEAD, comment="Duplicate of a vendor hold", now=NOW
            )
        box.value = "vendor dupl"  # words of a review comment, in any order, as beginnings
        await until(pilot, lambda: [i for i, _ in listed(screen)] == [ids["hold"]])
        box.value = "nothing-like-this"
        await until(pilot, lambda: listed(screen) == [])
        assert "No overrides match." in detail(screen)
        box.value = ""
        await until(pilot, lambda: len(listed(screen)) == 3)
