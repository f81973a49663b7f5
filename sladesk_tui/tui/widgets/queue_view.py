"""The queue widget: thousands of rows, a countdown on each, repainted every second.

A `ScrollView` on the Line API (docs/performance.md: `DataTable` takes seconds to load 10k rows
and 70-150 ms to repaint after any cell update): `render_line` draws only the lines
on screen, straight from the `core.queue` rows and the injected clock, so a tick is
"repaint the visible lines", never "update the model".

Line 0 is the column header and stays put; row `i` is drawn on line `i - scroll_y + 1`
(the virtual height is rows + 1, so the last row still scrolls into view).

Every piece of text goes into a `Segment` as plain characters (already `safe_text`):
nothing is parsed as markup and no segment carries a link or an action, so a title
like `[@click=app.quit]x[/]` is only ever text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from sladesk_tui.core.queue import (
    QueueCounts,
    QueueFilter,
    QueueRow,
    badge,
    cell_text,
    counts,
    next_change,
    sort_key,
)
from sladesk_tui.core.text import cells, fit


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    width: int
    align: str = "left"  # or "right"


# (key, header, minimum width, widest useful width, drop rank: higher drops first, 0 never)
_COLUMNS: tuple[tuple[str, str, int, int, int, str], ...] = (
    ("id", "ticket", 6, 14, 0, "left"),
    ("priority", "pri", 3, 4, 0, "left"),
    ("customer", "customer", 8, 16, 2, "left"),
    ("title", "title", 20, 400, 0, "left"),
    ("status", "status", 8, 10, 1, "left"),
    ("assignee", "assignee", 8, 12, 3, "left"),
    ("response", "response", 13, 18, 0, "right"),
    ("resolution", "resolution", 13, 18, 0, "right"),
    ("badge", "state", 11, 17, 0, "left"),
)
# Where spare width goes, in order, up to each cap: a readable title first.
_GROWTH: tuple[tuple[str, int], ...] = (
    ("title", 28),
    ("customer", 12),
    ("badge", 17),
    ("assignee", 10),
    ("response", 18),
    ("resolution", 18),
    ("status", 10),
    ("customer", 16),
    ("assignee", 12),
    ("title", 400),
)


def layout_columns(width: int, id_width: int = 8) -> tuple[Column, ...]:
    """Columns that fit `width` cells (one space between columns).

    Narrow terminals drop assignee, then customer, then status, so that the title
    keeps its minimum; the clock columns and the badge never drop.
    """
    key, label, _w, _cap, drop, align = _COLUMNS[0]
    id_w = max(6, min(id_width, 14))
    specs = [(key, label, id_w, id_w, drop, align), *_COLUMNS[1:]]
    widths = {c[0]: c[2] for c in specs}
    present = list(specs)

    def used() -> int:
        return int(sum(widths[c[0]] for c in present)) + len(present) - 1

    for victim in sorted((c for c in specs if c[4]), key=lambda c: -c[4]):
        if used() <= width:
            break
        present.remove(victim)
    keys = {c[0] for c in present}
    spare = width - used()
    for key, cap in _GROWTH:
        if spare <= 0:
            break
        if key in keys and widths[key] < cap:
            grow = min(spare, cap - widths[key])
            widths[key] += grow
            spare -= grow
    return tuple(Column(c[0], c[1], widths[c[0]], c[5]) for c in present)


_STATE_CLASS = {
    "breached": "queue-view--breached",
    "at_risk": "queue-view--at-risk",
    "paused": "queue-view--paused",
    "ok": "queue-view--ok",
    "none": "queue-view--none",
    "met": "queue-view--muted",
    "exempt": "queue-view--muted",
    "n/a": "queue-view--muted",
}


class QueueView(ScrollView, can_focus=True, inherit_bindings=False):
    """The live queue. Feed it rows with `set_rows`; call `tick()` every second.

    Its own bindings only (`inherit_bindings=False`): the columns always fit, so the
    scroll containers' horizontal keys would only clutter the help screen.
    """

    # Colours from the theme's variables only; the state is always written too
    # (BREACHED, AT RISK, PAUSED, OFF SHIFT): colour is a second channel, never the only one.
    DEFAULT_CSS = """
    QueueView {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        background: $surface;
        color: $foreground;
        scrollbar-size-vertical: 1;

        & > .queue-view--header {
            color: $text-muted;
            background: $panel;
            text-style: bold;
        }
        & > .queue-view--cursor {
            background: $block-cursor-blurred-background;
        }
        &:focus > .queue-view--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: bold;
        }
        & > .queue-view--breached {
            color: $error;
        }
        & > .queue-view--at-risk {
            color: $warning;
        }
        & > .queue-view--paused {
            color: $text-muted;
        }
        & > .queue-view--ok {
            color: $foreground;
        }
        & > .queue-view--none {
            color: $text-muted;
        }
        & > .queue-view--muted {
            color: $text-muted;
        }
        & > .queue-view--off-shift {
            color: $accent;
            text-style: bold;
        }
        & > .queue-view--badge {
            text-style: bold reverse;
        }
    }
    """

    COMPONENT_CLASSES = {
        "queue-view--header",
        "queue-view--cursor",
        "queue-view--breached",
        "queue-view--at-risk",
        "queue-view--paused",
        "queue-view--ok",
        "queue-view--none",
        "queue-view--muted",
        "queue-view--off-shift",
        "queue-view--badge",
    }

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="queue.cursor-up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="queue.cursor-down"),
        Binding("pageup", "page_up", "Page up", show=False, id="queue.page-up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="queue.page-down"),
        Binding("home", "first", "First", show=False, id="queue.first"),
        Binding("end", "last", "Last", show=False, id="queue.last"),
        Binding("enter", "open", "Open", tooltip="Open the ticket under the cursor", id="queue.open"),
    ]

    class Opened(Message):
        """The agent asked to open a ticket (enter, or a double click)."""

        def __init__(self, ticket_id: str) -> None:
            super().__init__()
            self.ticket_id = ticket_id

    class Changed(Message):
        """Rows, filter or states changed: counts and what is shown."""

        def __init__(self, counts: QueueCounts, shown: int) -> None:
            super().__init__()
            self.counts = counts
            self.shown = shown

    def __init__(self, clock: Callable[[], float], *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self._clock = clock
        self._given: Sequence[QueueRow] = []
        self._all: list[QueueRow] = []
        self._rows: list[QueueRow] = []
        self.show_raw = False  # raw clocks (overrides ignored) instead of adjusted ones
        self._filter = QueueFilter()
        self._found: tuple[str, frozenset[str]] | None = None  # (filter text, ids the index found)
        self._sort = "urgency"
        self._cursor = 0
        self._now = clock()
        self._next_change = float("inf")
        self._counts = QueueCounts(0, 0, 0, 0)
        self._columns: tuple[Column, ...] = ()
        self._id_width = 8
        self._styles: dict[str, Style] = {}

    # ---- state ------------------------------------------------------------------

    @property
    def rows(self) -> Sequence[QueueRow]:
        """The rows shown, in order."""
        return self._rows

    @property
    def all_rows(self) -> Sequence[QueueRow]:
        return self._all

    @property
    def cursor(self) -> int:
        return self._cursor

    @property
    def cursor_row(self) -> QueueRow | None:
        return self._rows[self._cursor] if self._rows else None

    @property
    def counts(self) -> QueueCounts:
        return self._counts

    @property
    def now(self) -> float:
        return self._now

    @property
    def filter(self) -> QueueFilter:
        return self._filter

    @property
    def sort(self) -> str:
        return self._sort

    def set_rows(self, rows: Sequence[QueueRow]) -> None:
        """New data from the store; the cursor stays on its ticket wherever it moved."""
        self._given = rows
        if self.show_raw:
            rows = [r.raw or r for r in rows]
        self._all = sorted(rows, key=sort_key(self._sort))
        self._id_width = max((cells(r.id) for r in self._all), default=6)
        self._columns = ()
        self._reshape()

    def set_raw(self, show_raw: bool) -> None:
        """Show the raw clocks (no overrides) or the adjusted ones: one keystroke apart."""
        self.show_raw = show_raw
        self.set_rows(self._given)

    def set_filter(self, flt: QueueFilter) -> None:
        self._filter = flt
        self._reshape()

    def set_found(self, text: str, ids: frozenset[str] | None) -> None:
        """The tickets the text index finds for the filter text `text`: shown beside
        the rows whose id, title, customer, status or assignee holds it, so words in
        any order, word beginnings and accent-free spellings find a ticket too."""
        self._found = (text, ids) if ids else None
        if text == self._filter.text:
            self._reshape()

    def _filtered(self) -> list[QueueRow]:
        flt, found = self._filter, self._found
        if not flt.text or found is None or found[0] != flt.text:
            return flt.apply(self._all, self._now)
        needle, ids = flt.text.casefold(), found[1]
        rest = replace(flt, text="")
        return [r for r in rest.apply(self._all, self._now) if needle in r.search or r.id in ids]

    def set_sort(self, sort: str) -> None:
        key = sort_key(sort)
        self._sort = sort
        self._all = sorted(self._all, key=key)
        self._reshape()

    def tick(self) -> None:
        """Advance to the clock's `now`: states are re-derived only when one changes."""
        self._now = self._clock()
        if self._now >= self._next_change:
            if self._filter.depends_on_time:
                self._reshape()
                return
            self._recount()
        self.refresh()

    def _recount(self) -> None:
        now = self._now
        self._counts = counts(self._all, now)
        self._next_change = next_change(self._all, now)
        self.post_message(self.Changed(self._counts, len(self._rows)))

    def _reshape(self) -> None:
        """Re-filter, keeping the cursor's ticket and its line on screen."""
        self._now = self._clock()
        old = self.cursor_row
        old_line = self._cursor - int(self.scroll_y)
        self._rows = self._filtered()
        index = 0
        if old is not None:
            index = next(
                (i for i, r in enumerate(self._rows) if r.id == old.id),
                min(self._cursor, len(self._rows) - 1),
            )
        self._cursor = max(0, index)
        self.virtual_size = Size(0, len(self._rows) + 1)
        if old is not None:
            self.scroll_to(y=max(0, self._cursor - old_line), animate=False, force=True)
        self._scroll_cursor_into_view()
        self._recount()
        self.refresh()

    # ---- cursor -----------------------------------------------------------------

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _set_cursor(self, index: int) -> None:
        if not self._rows:
            return
        index = max(0, min(index, len(self._rows) - 1))
        if index != self._cursor:
            old = self._cursor
            self._cursor = index
            self._refresh_row(old)
            self._refresh_row(index)
        self._scroll_cursor_into_view()

    def _refresh_row(self, index: int) -> None:
        self.refresh_line(index + 1)  # line 0 is the header

    def _scroll_cursor_into_view(self) -> None:
        top = int(self.scroll_y)
        page = self._page
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False, force=True)

    def action_cursor_up(self) -> None:
        self._set_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._set_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self._set_cursor(self._cursor - self._page)

    def action_page_down(self) -> None:
        self._set_cursor(self._cursor + self._page)

    def action_first(self) -> None:
        self._set_cursor(0)

    def action_last(self) -> None:
        self._set_cursor(len(self._rows) - 1)

    def action_open(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.Opened(row.id))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        index = int(self.scroll_y) + offset.y - 1
        if 0 <= index < len(self._rows):
            self._set_cursor(index)
            if event.chain >= 2:
                self.action_open()

    # ---- drawing ----------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._columns = ()
        self._scroll_cursor_into_view()

    def _style(self, name: str = "", extra: str = "") -> Style:
        """The widget's style plus up to two component classes' own rules (cached)."""
        key = f"{name}|{extra}"
        style = self._styles.get(key)
        if style is None:
            style = self.rich_style
            for part in (name, extra):
                if part:
                    style = style + self.get_component_rich_style(part, partial=True)
            self._styles[key] = style
        return style

    def _layout(self, width: int) -> tuple[Column, ...]:
        if not self._columns or sum(c.width for c in self._columns) + len(self._columns) - 1 != width:
            self._columns = layout_columns(width, self._id_width)
        return self._columns

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width <= 0:
            return Strip.blank(0)
        columns = self._layout(width)
        if y == 0:
            return self._header_strip(columns, width)
        index = int(self.scroll_y) + y - 1
        if not 0 <= index < len(self._rows):
            return Strip.blank(width, self._style())
        return self._row_strip(self._rows[index], columns, width, index == self._cursor)

    def _header_strip(self, columns: tuple[Column, ...], width: int) -> Strip:
        style = self._style("queue-view--header")
        text = " ".join(fit(c.header, c.width, right=c.align == "right") for c in columns)
        return Strip([Segment(fit(text, width), style)], width)

    def _row_strip(self, row: QueueRow, columns: tuple[Column, ...], width: int, is_cursor: bool) -> Strip:
        now = self._now
        state = row.state_at(now)
        row_class = _STATE_CLASS.get(state, "")
        cursor = "queue-view--cursor" if is_cursor else ""
        base = self._style(row_class, cursor)
        segments: list[Segment] = []
        gap = Segment(" ", base)
        for i, col in enumerate(columns):
            style = base
            key = col.key
            if key in ("response", "resolution"):
                cell, label = row.reply_cell if key == "response" else (row.resolution, "")
                text = cell_text(row, cell, now, compact=col.width < 18)
                if label and cell.phase != "none":
                    text = f"{label} {text}"
                cell_state = cell.state_at(now) if cell.live else cell.state
                style = self._style(_STATE_CLASS.get(cell_state, ""), cursor)
            elif key == "badge":
                text = badge(row, state, compact=col.width < 17)
                if state in ("breached", "at_risk", "paused"):
                    # The badge keeps its colours on the cursor row: the state must stay visible.
                    style = self._style(row_class, "queue-view--badge")
                elif row.off_shift:
                    style = self._style("queue-view--off-shift", cursor)
            else:
                text = getattr(row, key)
            if i:
                segments.append(gap)
            segments.append(Segment(fit(text, col.width, right=col.align == "right"), style))
        return Strip(segments).adjust_cell_length(width, base)
