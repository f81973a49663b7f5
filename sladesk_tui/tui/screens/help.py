"""The help screen: every key of the screen below, read from its live bindings.

Built from `active_bindings` rather than written by hand, so a key added to any
screen or widget shows up here without anyone remembering to document it.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

LEGEND: tuple[tuple[str, str], ...] = (
    ("BREACHED", "a live clock is past its target (most urgent, listed first)"),
    ("AT RISK", "a running clock crossed the agreement's at-risk threshold"),
    ("PAUSED", "every live clock stands still (waiting on the customer, or a hold)"),
    ("OFF SHIFT", "the next breach falls while the desk is closed (calendar 'desk')"),
    ("1h 05m", "business time left; -25m: overdue; upd: the update cycle"),
    ("missed / met", "a clock that has stopped, late or in time"),
)


def binding_rows(screen: Screen[Any]) -> list[tuple[str, str]]:
    """(keys, description) for each action bound on `screen`, widget keys first."""
    app = screen.app
    grouped: dict[tuple[str, str], tuple[Binding, list[str]]] = {}
    order: list[tuple[str, str]] = []
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.system:
            continue
        ident = (binding.action.removeprefix("app."), binding.description)
        if ident not in grouped:
            grouped[ident] = (binding, [])
            order.append(ident)
        display = app.get_key_display(Binding(key, binding.action, binding.description))
        if display not in grouped[ident][1]:
            grouped[ident][1].append(display)
    rows = [(" ".join(grouped[i][1]), grouped[i][0].description) for i in order]
    return rows


class HelpScreen(ModalScreen[None]):
    """Keys and the meaning of the queue's marks."""

    CSS_PATH = "help.tcss"
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close help", id="help.dismiss"),
    ]

    def __init__(self, below: Screen[Any]) -> None:
        super().__init__()
        self._rows = binding_rows(below)

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _ in self._rows), default=4) + 2
        lines: list[Content] = [Content.styled("Keys", "bold"), Content("")]
        for keys, description in self._rows:
            lines.append(Content.assemble((keys.ljust(width), "bold"), description))
        lines += [Content(""), Content.styled("What the queue shows", "bold"), Content("")]
        lw = max(len(k) for k, _ in LEGEND) + 2
        for mark, meaning in LEGEND:
            lines.append(Content.assemble((mark.ljust(lw), "bold"), meaning))
        lines += [Content(""), Content("escape closes this screen")]
        with VerticalScroll(id="help-body"):
            yield Static(Content("\n").join(lines), id="help-text")
