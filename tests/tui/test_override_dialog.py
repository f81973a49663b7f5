"""The override dialog on a real SQLite file: validation as you type, the preview, confirming.

The desk is override_world's (NOW frozen, agents sam and kim, lead lee). Each rule
the command line enforces is checked here too, through the dialog: a short or blank
justification, a stopped clock, an ended ticket.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from override_world import NASTY, WHY, build, connected
from queue_data import NOW
from test_queue_screen import started, until
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, Static
from tui_store import Ingest

from sladesk_tui.tui.app import SladeskApp
from sladesk_tui.tui.messages import OpenOverride, OpenTicket
from sladesk_tui.tui.screens.override_dialog import OverrideDialog
from sladesk_tui.tui.screens.ticket import TicketScreen
from sladesk_tui.tui.widgets.status_bar import StatusBar

H = 3600.0


@pytest.fixture
def desk(store: tuple[Path, Ingest]) -> Path:
    return build(store)


def app_on(path: Path, operator: str = "sam") -> SladeskApp:
    return SladeskApp(path, operator, clock=lambda: NOW, poll_interval=0.05, display_tz=dt.UTC)


async def opened(pilot: Pilot, ticket: str | None = None) -> OverrideDialog:
    """The dialog for `ticket` (default: `o` on the queue's highlighted row), its ticket loaded."""
    await started(pilot)
    if ticket is None:
        await pilot.press("o")
    else:
        pilot.app.post_message(OpenOverride(ticket))
    await until(pilot, lambda: isinstance(pilot.app.screen, OverrideDialog) and pilot.app.screen.ready)
    await pilot.pause()
    return pilot.app.screen


def text(dialog: OverrideDialog, selector: str) -> str:
    return str(dialog.query_one(selector, Static).render())


async def fill(
    pilot: Pilot,
    dialog: OverrideDialog,
    *,
    kind: str = "hold",
    clock: str = "all",
    param: str = "",
    reason: str | None = "customer_unreachable",
    why: str = WHY,
) -> None:
    dialog.query_one("#ov-kind", Select).value = kind
    dialog.query_one("#ov-clock", Select).value = clock
    if reason is not None:
        dialog.query_one("#ov-reason", Select).value = reason
    dialog.query_one("#ov-param", Input).value = param
    dialog.query_one("#ov-why", Input).value = why
    await pilot.pause()


def overrides(path: Path) -> list[tuple]:
    with connected(path) as conn:
        rows = conn.execute("SELECT id, ticket, kind, operator, before_json, after_json FROM overrides")
        return [tuple(r) for r in rows]


async def test_keyboard_only_from_the_queue_to_a_recorded_override(desk: Path) -> None:
    async with app_on(desk).run_test(size=(80, 24)) as pilot:
        dialog = await opened(pilot)  # `o` on the most urgent row: T-3, its response breached
        assert dialog.ticket_id == "T-3"
        # Kind: responded (hold, extend, exempt, responded).
        await pilot.press("enter", "down", "down", "down", "enter")
        assert dialog.kind == "responded"
        await pilot.press("tab")  # the clock select is disabled for responded: straight to the parameter
        assert dialog.focused is dialog.query_one("#ov-param")
        await pilot.press(*"-2h40m", "tab")
        await pilot.press("enter", "down", "down", "down", "down", "down", "down", "enter")  # reason: other
        assert dialog.query_one("#ov-reason", Select).value == "other"
        await pilot.press("tab", *"Phoned at 05:20, see CRM note")
        assert text(dialog, "#ov-kind-help") == "the response was given out of band"
        assert dialog.can_confirm
        await pilot.press("enter")  # enter in the justification confirms
        await until(pilot, lambda: not isinstance(pilot.app.screen, OverrideDialog))
    ((oid, ticket, kind, operator, before, after),) = overrides(desk)
    assert (ticket, kind, operator) == ("T-3", "responded", "sam")
    assert json.loads(before)["response"]["state"] == "breached"
    assert json.loads(after)["response"]["state"] == "met"


async def test_the_justification_is_validated_as_you_type(desk: Path) -> None:
    async with app_on(desk).run_test(size=(80, 24)) as pilot:
        dialog = await opened(pilot, "T-1")
        await fill(pilot, dialog, param="+1h", why="")
        dialog.query_one("#ov-why", Input).focus()
        assert text(dialog, "#ov-count") == "justification: 0 of 15 non-blank characters needed"
        await pilot.press(*"phone off")
        assert text(dialog, "#ov-count") == "justification: 8 of 15 non-blank characters needed"
        assert dialog.query_one("#ov-confirm", Button).disabled
        await pilot.press(*" " * 20)  # blanks do not count
        assert "8 of 15" in text(dialog, "#ov-count") and not dialog.can_confirm
        await pilot.press("ctrl+s")
        assert isinstance(pilot.app.screen, OverrideDialog)
        assert any("at least 15 non-blank" in n.message for n in pilot.app._notifications)  # noqa: SLF001 - reads what the screen shows
        await pilot.press(*"until the afternoon")
        assert text(dialog, "#ov-count") == "justification: 25 non-blank characters ✓"
        assert dialog.draft is not None and dialog.draft.problem is None
        assert not dialog.query_one("#ov-confirm", Button).disabled
    assert overrides(desk) == []


async def test_the_preview_shows_the_clock_figures_before_and_after(desk: Path) -> None:
    async with app_on(desk).run_test(size=(80, 24)) as pilot:
        dialog = await opened(pilot, "T-1")
        await fill(pilot, dialog, param="+1h", why="phone off")  # short: the preview is there already
        lines = text(dialog, "#ov-preview").splitlines()
        assert lines[0].split() == ["clock", "before", "after"]
        assert lines[1].split() == ["response", "ok,", "30m", "left", "paused,", "30m", "left", "(changed)"]
        assert lines[2].split()[:3] == ["resolution", "ok,", "7h"]
        await fill(pilot, dialog, kind="extend", clock="resolution", param="2h")
        lines = text(dialog, "#ov-preview").splitlines()
        assert lines[1].split() == ["response", "ok,", "30m", "left", "ok,", "30m", "left"]  # untouched
        assert lines[2].split() == [
            "resolution",
            "ok,",
            "7h",
            "30m",
            "left",
            "ok,",
            "9h",
            "30m",
            "left",
            "(changed)",
        ]
        await fill(pilot, dialog, kind="extend", clock="resolution", param="two hours")
        assert text(dialog, "#ov-problem").startswith("✗ By:")
        assert "appear once the override can take effect" in text(dialog, "#ov-preview")


async def test_changed_is_shown_only_where_the_words_differ(desk: Path) -> None:
    async with app_on(desk).run_test(size=(80, 24)) as pilot:
        dialog = await opened(pilot, "T-3")
        await fill(
            pilot, dialog, param="+1h"
        )  # a hold moves the breached response's due instant, not its line
        lines = text(dialog, "#ov-preview").splitlines()
        assert lines[1].split() == [
            "response",
            "breached,",
            "2h",
            "00m",
            "over",
            "breached,",
            "2h",
            "00m",
            "over",
        ]
        assert lines[2].split() == [
            "resolution",
            "ok,",
            "5h",
            "00m",
            "left",
            "paused,",
            "5h",
            "00m",
            "left",
            "(changed)",
        ]
        await pilot.press("escape")
        dialog = await opened(pilot, "T-1")
        await fill(pilot, dialog, kind="extend", clock="response", param="10s")  # 30m 10s still reads 30m
        lines = text(dialog, "#ov-preview").splitlines()
        assert "(changed)" not in "\n".join(lines)
        assert lines[-1] == "nothing shown here changes (the override is on the record)"


async def test_changed_stays_on_its_clock_line_at_80_columns(store: tuple[Path, Ingest], desk: Path) -> None:
    from tui_store import created

    store[1]([created("T-9", NOW - 13 * H, title="Open since last night")])  # response 12h over
    async with app_on(desk).run_test(size=(80, 24)) as pilot:
        dialog = await opened(pilot, "T-9")
        await fill(pilot, dialog, kind="responded", param="-5m")
        lines = text(dialog, "#ov-preview").splitlines()
        assert lines[1].split() == [
            "response",
            "breached,",
            "12h",
            "00m",
            "over",
            "breached,",
            "11h",
            "55m",
            "over",
            "(changed)",
        ]
        preview = dialog.query_one("#ov-preview", Static)
        assert preview.content_region.height == len(lines)  # nothing wrapped onto a line of its own
        screen = [strip.text for strip in pilot.app.screen._compositor.render_strips()]  # noqa: SLF001 - reads what the screen shows
        (row,) = [ln for ln in screen if "breached, 12h 00m over" in ln]
        assert row.rstrip(" │╯╮").endswith("(changed)")


async def test_confirming_writes_the_override_with_its_figures(desk: Path) -> None:
    async with app_on(desk).run_test(size=(80, 24)) as pilot:
        dialog = await opened(pilot, "T-1")
        await fill(pilot, dialog, param="+1h")
        shown = dialog.draft
        assert shown is not None and shown.preview is not None
        await pilot.click("#ov-confirm")
        await until(pilot, lambda: not isinstance(pilot.app.screen, OverrideDialog))
        assert any("Override 1 recorded on T-1" in n.message for n in pilot.app._notifications)  # noqa: SLF001 - reads what the screen shows
    ((_, ticket, kind, operator, before, after),) = overrides(desk)
    assert (ticket, kind, operator) == ("T-1", "hold", "sam")
    assert json.loads(before) == shown.preview.before_figures
    assert json.loads(after) == shown.preview.after_figures
    with connected(desk) as conn:
        from sladesk_tui.store.audit import verify

        assert verify(conn).ok


@pytest.mark.parametrize(
    ("ticket", "values", "problem"),
    [
        ("T-2", {"kind": "extend", "clock": "response", "param": "30m"}, "response clock already stopped"),
        ("T-2", {"kind": "hold", "clock": "response", "param": "+1h"}, "response clock already stopped"),
        ("T-4", {"kind": "exempt"}, "ended (resolved)"),
        ("T-1", {"kind": "hold", "param": "-1h"}, "hold must end after now"),
        ("T-1", {"kind": "reprioritize", "param": "P2"}, "already P2"),
    ],
)
async def test_overrides_the_rules_refuse_cannot_be_confirmed(
    desk: Path, ticket: str, values: dict[str, str], problem: str
) -> None:
    async with app_on(desk).run_test(size=(80, 24)) as pilot:
        dialog = await opened(pilot, ticket)
        await fill(pilot, dialog, **values)
        assert problem in text(dialog, "#ov-problem")
        assert dialog.query_one("#ov-confirm", Button).disabled
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(pilot.app.screen, OverrideDialog)
    assert overrides(desk) == []


async def test_escape_cancels_and_the_ticket_screen_opens_it_too(desk: Path) -> None:
    async with app_on(desk).run_test(size=(80, 24)) as pilot:
        await started(pilot)
        pilot.app.post_message(OpenTicket("T-5"))
        await until(pilot, lambda: isinstance(pilot.app.screen, TicketScreen))
        await pilot.press("o")
        await until(pilot, lambda: isinstance(pilot.app.screen, OverrideDialog) and pilot.app.screen.ready)
        dialog = pilot.app.screen
        assert isinstance(dialog, OverrideDialog) and dialog.ticket_id == "T-5"
        title = text(dialog, "#ov-title")
        assert "[@click=app.quit]quit[/]" in title and "\x1b" not in title  # literal, neutralised
        why = dialog.query_one("#ov-why", Input)
        why.focus()
        why.insert_text_at_cursor(f"pasted {NASTY}")  # as a paste does
        await pilot.pause()
        assert why.value == "pasted [@click=app.quit]quit[/] ]52;c;b3duZWQ="
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, TicketScreen))
    assert overrides(desk) == []


async def test_the_raw_figures_are_one_keystroke_away_on_the_queue(desk: Path) -> None:
    from override_world import override, place

    place(desk, override("T-1", "hold", until=NOW + H), NOW - 600)
    async with app_on(desk).run_test(size=(100, 30)) as pilot:
        view = await started(pilot)
        row = next(r for r in view.rows if r.id == "T-1")
        assert row.response.phase == "paused" and row.raw is not None
        await pilot.press("w")
        row = next(r for r in view.rows if r.id == "T-1")
        assert row.response.phase == "running"
        assert "RAW clocks" in pilot.app.screen.query_one(StatusBar).render().plain
        await pilot.press("w")
        assert next(r for r in view.rows if r.id == "T-1").response.phase == "paused"


def test_snapshot_override_dialog(desk: Path, snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        dialog = await opened(pilot, "T-5")
        await fill(
            pilot,
            dialog,
            kind="extend",
            clock="resolution",
            param="2h",
            reason="third_party",
            why=f"Vendor ticket open, {NASTY}",
        )
        await pilot.pause()

    assert snap_compare(app_on(desk), terminal_size=(80, 24), run_before=run_before)
