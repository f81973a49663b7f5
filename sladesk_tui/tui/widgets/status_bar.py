"""The queue's status bar: who, the counts, and how the queue is being looked at.

One line that must never lose the markers that change what the rows mean. With
several filters on, the full text is far wider than a terminal, and a row of
separate widgets simply cut the tail off, which is where "sort" and "RAW clocks"
were. Here the bar is worded at several lengths (`status_levels`, longest first,
each a little terser than the last) and shows the first that fits its width:
labels shorten first, then the filters fold into a count, then the least useful
items go. The RAW marker outlasts everything else: a raw figure read as an
adjusted one is a wrong decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from textual.content import Content
from textual.widget import Widget

from sladesk_tui.core.queue import SORT_LABELS, QueueCounts, QueueFilter
from sladesk_tui.core.text import cells, safe_text

SHORT_SORT_LABELS = {"urgency": "breach", "priority": "priority", "age": "age", "id": "id"}
_GAP = "  "  # between the name and the counts, and between counts
_DOT = " · "  # between the markers of the view
_TEXT_SHORT = 12  # cells of the filter text kept once labels shorten


@dataclass(frozen=True, slots=True)
class ViewState:
    """What the bar says: the operator, the counts (None until the first rows arrive)
    and how the queue is looked at."""

    operator: str
    counts: QueueCounts | None
    filter: QueueFilter
    shown: int
    sort: str
    raw: bool
    unread_alerts: int = 0  # alerts on my tickets not yet looked at (tui.alert_watch)


Item = tuple[str, str]  # (text, component class)


@dataclass(frozen=True, slots=True)
class _Wording:
    """How tersely each part is said; every step of `status_levels` turns one knob."""

    raw_long: bool = True
    filters_long: bool = True
    sort_long: bool = True
    app_name: bool = True
    filters_listed: bool = True
    paused: bool = True
    who: bool = True
    open_count: bool = True
    sort: bool = True
    raw_short: bool = False
    filter_count: bool = True


_STEPS: tuple[dict[str, bool], ...] = (
    {"raw_long": False},
    {"filters_long": False},
    {"sort_long": False},
    {"app_name": False},
    {"filters_listed": False},
    {"paused": False},
    {"who": False},
    {"open_count": False},
    {"sort": False},
    {"raw_short": True},
    {"filter_count": False},
)


def status_levels(state: ViewState) -> list[list[Item]]:
    """The bar worded from the fullest to the tersest; each level drops or shortens one thing."""
    wording = _Wording()
    levels = [_items(state, wording)]
    for step in _STEPS:
        wording = replace(wording, **step)
        levels.append(_items(state, wording))
    return levels


def fit_status(state: ViewState, width: int) -> list[Item]:
    """The fullest wording that fits `width` cells (the tersest one when none does)."""
    levels = status_levels(state)
    for items in levels:
        if sum(cells(text) for text, _ in items) <= width:
            return items
    return levels[-1]


def _items(s: ViewState, w: _Wording) -> list[Item]:
    c = s.counts
    head: list[list[Item]] = []
    if w.who:
        name = (safe_text(s.operator), "status-bar--who")
        head.append([("sladesk", "status-bar--app"), (" ", ""), name] if w.app_name else [name])
    if c is not None:
        if w.open_count:
            head.append([(f"{c.open} open", "")])
        head.append([(f"{c.at_risk} at risk", "status-bar--at-risk")])
        head.append([(f"{c.breached} breached", "status-bar--breached")])
        if w.paused:
            head.append([(f"{c.paused} paused", "status-bar--paused")])
    if s.unread_alerts:
        n = s.unread_alerts
        head.append(
            [(f"{n} new alert{'' if n == 1 else 's'}" if w.paused else f"{n} alerts", "status-bar--alerts")]
        )
    out: list[Item] = []
    for group in head:
        if out:
            out.append((_GAP, ""))
        out += group
    for i, (text, cls) in enumerate(_view_markers(s, w)):
        out.append((_GAP if i == 0 else _DOT, "status-bar--view"))
        out.append((text, cls))
    return out


def _view_markers(s: ViewState, w: _Wording) -> list[Item]:
    f = s.filter
    markers: list[Item] = []
    if f.active:
        markers.append((f"showing {s.shown}", "status-bar--view"))
        listed = _filter_words(f, long=w.filters_long)
        if w.filters_listed:
            markers += [(word, "status-bar--view") for word in listed]
        elif w.filter_count:
            markers.append((f"{len(listed)} filter{'' if len(listed) == 1 else 's'}", "status-bar--view"))
    if w.sort:
        label = SORT_LABELS[s.sort] if w.sort_long else SHORT_SORT_LABELS.get(s.sort, s.sort)
        markers.append((f"sort: {label}", "status-bar--view"))
    if s.raw:
        text = "RAW clocks (overrides ignored)" if w.raw_long else ("RAW" if w.raw_short else "RAW clocks")
        markers.append((text, "status-bar--raw"))
    return markers


def _filter_words(f: QueueFilter, *, long: bool) -> list[str]:
    words: list[str] = []
    if f.text:
        text = safe_text(f.text)
        if not long and cells(text) > _TEXT_SHORT:
            text = text[: _TEXT_SHORT - 1] + "…"
        words.append(f"“{text}”")
    if f.mine:
        words.append("mine")
    if f.urgent_only:
        words.append("at risk")
    if f.breached_only:
        words.append("breached")
    if f.agreement:
        words.append(f"agreement {safe_text(f.agreement)}" if long else safe_text(f.agreement))
    if f.priority:
        words.append(f"priority {safe_text(f.priority)}" if long else safe_text(f.priority))
    return words


class StatusBar(Widget):
    """One line above the queue; call `show(state)` when anything in it changes."""

    COMPONENT_CLASSES = {
        "status-bar--app",
        "status-bar--who",
        "status-bar--at-risk",
        "status-bar--breached",
        "status-bar--paused",
        "status-bar--view",
        "status-bar--raw",
        "status-bar--alerts",
    }

    # Colours from the theme's variables only (every theme, ansi-dark over SSH too,
    # stays legible); each state is written in words as well.
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        background: $panel;
        color: $foreground;

        & > .status-bar--app {
            color: $accent;
            text-style: bold;
        }
        & > .status-bar--who {
            color: $accent;
        }
        & > .status-bar--at-risk {
            color: $warning;
            text-style: bold;
        }
        & > .status-bar--breached {
            color: $error;
            text-style: bold;
        }
        & > .status-bar--paused {
            color: $text-muted;
        }
        & > .status-bar--view {
            color: $text-muted;
        }
        & > .status-bar--alerts {
            color: $error;
            text-style: bold reverse;
        }
        /* Raw figures read as adjusted ones mislead: the marker stands out. */
        & > .status-bar--raw {
            color: $warning;
            text-style: bold;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state: ViewState | None = None

    def show(self, state: ViewState) -> None:
        if state != self.state:
            self.state = state
            self.refresh()

    def _items(self) -> Sequence[Item]:
        if self.state is None:
            return ()
        return fit_status(self.state, self.content_region.width or self.app.size.width)

    def render(self) -> Content:
        return Content.assemble(*((text, f".{cls}") if cls else text for text, cls in self._items()))
