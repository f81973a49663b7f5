"""Small helpers every screen shares: the typed app, the operator's zone, clean input.

Screens never import from each other (docs/tui.md): what two screens need lives here,
domain text handling in `sladesk_tui.core` (`core.text.safe_text`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sladesk_tui.core.events import ENDING_TYPES
from sladesk_tui.core.text import safe_text

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.widgets import Input

    from sladesk_tui.core.events import Event
    from sladesk_tui.tui.app import SladeskApp


def sladesk_app(node: DOMNode) -> SladeskApp:
    """The running `SladeskApp`, typed: the one way a screen or widget reaches it.

    Checked rather than cast, so a screen mounted in a bare `App` fails here, by name,
    instead of somewhere deep with an AttributeError.
    """
    from sladesk_tui.tui.app import SladeskApp

    app = node.app
    if not isinstance(app, SladeskApp):
        raise TypeError(f"{type(node).__name__} runs inside SladeskApp, not {type(app).__name__}")
    return app


def operator_zone(app: SladeskApp) -> dt.tzinfo:
    """The app's display zone (fixed in tests and screenshots), else this machine's.

    tzlocal's zone keeps DST rules, where `astimezone()` gives a fixed offset that is
    wrong for instants on the other side of a DST change.
    """
    if app.display_tz is not None:
        return app.display_tz
    from tzlocal import get_localzone

    return get_localzone()


def keep_printable(box: Input) -> bool:
    """Drop control, bidi-control and separator characters from what was typed or pasted.

    An escape sequence pasted into a field would otherwise reach the terminal as the
    field redraws it (docs/formats.md, "Untrusted text"), and would be
    stored in the justification. Returns False when the value was changed (a new
    Changed message follows).
    """
    value = box.value
    cleaned = "".join(ch for ch, safe in zip(value, safe_text(value), strict=True) if ch == safe)
    if cleaned == value:
        return True
    box.value = cleaned
    return False


def event_detail(ev: Event) -> str:
    """What an event changed, in a few words (the ticket's history, the review's timeline)."""
    if ev.type == "created":
        bits = [ev.priority or "", ev.customer or "", ev.title or ""]
        return " · ".join(b for b in bits if b)
    if ev.type == "status":
        return ev.status or ""
    if ev.type == "priority":
        return ev.priority or ""
    if ev.type == "assign":
        return ev.assignee or ""
    if ev.type in ENDING_TYPES or ev.type == "reopened":
        return ""
    return ev.body or ""
