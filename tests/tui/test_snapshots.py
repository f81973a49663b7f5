"""Snapshots of the queue and help screens: frozen clock, fixed rows.

The rows are synthetic (queue_data.sample_rows) so a snapshot changes only when the
screen does, not when the demo data or the engine's figures evolve. Update after a
deliberate change with `uv run pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the SVGs.
"""

from __future__ import annotations

from queue_data import NOW, sample_rows, source_with
from textual.pilot import Pilot

from sladesk_tui.tui.app import SladeskApp
from sladesk_tui.tui.screens.queue import QueueScreen


def _app() -> SladeskApp:
    return SladeskApp(
        "unused.db", "sam", clock=lambda: NOW, source_factory=source_with(sample_rows(30)), poll_interval=0.02
    )


async def _loaded(pilot: Pilot) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, QueueScreen)
    while not screen.ready:
        await pilot.pause(0.02)
    await pilot.pause()


def test_queue_80x24(snap_compare) -> None:
    assert snap_compare(_app(), terminal_size=(80, 24), run_before=_loaded)


def test_queue_120x40(snap_compare) -> None:
    assert snap_compare(_app(), terminal_size=(120, 40), run_before=_loaded, press=["down", "down"])


def test_help_screen(snap_compare) -> None:
    assert snap_compare(_app(), terminal_size=(100, 40), run_before=_loaded, press=["question_mark"])
