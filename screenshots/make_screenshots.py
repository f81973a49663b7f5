"""Render each screen from the demo data at a fixed instant to SVG in screenshots/.

    uv run python screenshots/make_screenshots.py [--out DIR]

The demo database is rebuilt in a temporary directory at `AT` (a Friday, mid
morning in Berlin, when the queue has something of everything), the app runs
headless with its clock frozen there, and each entry of `SHOTS` is a screen reached
by pressing keys from the queue. Same code, same SVGs: re-run after a UI change and
review the diff. To add a screen, add a `Shot`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

AT = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC).timestamp()  # Friday 10:30 in Berlin
OPERATOR = "dana"
SEED = 7


@dataclass(frozen=True)
class Shot:
    name: str  # file name without .svg
    size: tuple[int, int]
    keys: Sequence[str] = ()
    theme: str | None = None


SHOTS: tuple[Shot, ...] = (
    Shot("queue-120x40", (120, 40)),
    Shot("queue-80x24", (80, 24)),
    Shot("queue-at-risk-filter", (120, 30), ("r",)),
    Shot("queue-ansi-dark", (100, 30), theme="ansi-dark"),
    Shot("help", (100, 40), ("question_mark",)),
    Shot("ticket-120x40", (120, 40), ("enter", "e")),
    Shot("ticket-80x24", (80, 24), ("enter",)),
    Shot("ticket-priority-what-if", (100, 32), ("enter", "p", "up")),
    # Filter the queue to an at-risk P1 (its id comes from SEED and AT), open the dialog
    # on it and fill it in up to the preview: extend (2nd kind), response (2nd clock),
    # 30m, major_incident (5th reason), a justification; not confirmed.
    Shot(
        "override-dialog",
        (100, 32),
        (
            "slash",
            *"T-13299",
            "enter",
            "o",
            "enter",
            "down",
            "enter",
            "tab",
            "enter",
            "down",
            "enter",
            "tab",
            *"30m",
            "tab",
            "enter",
            *["down"] * 5,
            "enter",
            "tab",
            *"Whole payroll run blocked, bridge call open",
        ),
    ),
    Shot("review", (120, 40), ("L",)),
    Shot("compliance", (120, 40), ("c",)),
)


def _ready(screen: object) -> bool:
    """Whether a screen's first load is shown: every screen that loads says so with
    `ready` (the help screen loads nothing)."""
    return bool(getattr(screen, "ready", True))


async def _shoot(db: Path, shot: Shot, out: Path) -> Path:
    from sladesk_tui.tui.app import SladeskApp
    from sladesk_tui.tui.screens.queue import QueueScreen

    app = SladeskApp(db, OPERATOR, clock=lambda: AT, poll_interval=0.05, display_tz=ZoneInfo("Europe/Berlin"))
    async with app.run_test(size=shot.size) as pilot:
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        for _ in range(500):
            if screen.ready:
                break
            await pilot.pause(0.02)
        else:
            raise RuntimeError("the queue did not load")
        await pilot.pause()
        for key in shot.keys:
            await pilot.press(key)
            await pilot.pause(0.05)
            for _ in range(250):  # wait for the screen's first load
                if _ready(app.screen):
                    break
                await pilot.pause(0.02)
        await pilot.pause(0.2)
        path = out / f"{shot.name}.svg"
        app.save_screenshot(filename=path.name, path=str(out))
        return path


def main(argv: Sequence[str] | None = None) -> int:
    from sladesk_tui.store.demo import build_demo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        build_demo(db, now=AT, seed=SEED, operator=OPERATOR)
        for shot in SHOTS:
            path = asyncio.run(_shoot(db, shot, args.out))
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
