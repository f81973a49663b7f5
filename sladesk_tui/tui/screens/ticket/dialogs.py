"""The small dialogs of the ticket screen: choose a status, choose a priority.

Each dismisses with the chosen value (None on escape); the ticket screen writes the
event. The priority dialog previews, for the highlighted priority, what the clocks
would become if the change were made now: priority changes surprise users in every
peer product (docs/clocks.md, "How peers count"), so the agent sees "target 1h ->
15m, BREACHED" before confirming rather than after.

Every label is `Content` built from plain strings: priorities and statuses come
from an agreements file and are still never read as markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from sladesk_tui.core.clocks import Clock
from sladesk_tui.core.text import safe_text
from sladesk_tui.tui.widgets.clock_panel import CLOCK_TITLES, Zones, fmt_instant, summary

HINT = "↑/↓ choose · enter confirm · escape cancel"


class _ChoiceDialog(ModalScreen[str | None]):
    """A titled option list that dismisses with the chosen option's id."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choice.cancel")]

    def __init__(self, heading: str, options: Sequence[tuple[str, str]], current: str | None) -> None:
        super().__init__()
        self._heading = heading
        self._options = options
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content(self._heading), classes="dialog-title")
            yield OptionList(
                *(Option(Content(label), id=value) for value, label in self._options),
                classes="dialog-options",
            )
            yield from self.compose_extra()
            yield Static(Content(HINT), classes="dialog-hint")

    def compose_extra(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        values = [v for v, _ in self._options]
        if self._current in values:
            options.highlighted = values.index(self._current)
        options.focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class StatusDialog(_ChoiceDialog):
    """Choose a status; the agreement's pause statuses say that they stop the clocks."""

    def __init__(
        self, ticket_id: str, current: str, statuses: Sequence[str], pause_statuses: frozenset[str]
    ) -> None:
        options = [
            (s, f"{safe_text(s)}  (pauses the clocks)" if s in pause_statuses else safe_text(s))
            for s in statuses
        ]
        super().__init__(
            f"Set the status of {safe_text(ticket_id)} (now {safe_text(current)})", options, current
        )


class PriorityDialog(_ChoiceDialog):
    """Choose a priority, with the clocks before -> after the change for the highlighted one.

    `after` holds, per priority, the clocks as the engine computes them with a
    priority event added at now; the dialog only displays them.
    """

    def __init__(
        self,
        ticket_id: str,
        current: str,
        priorities: Sequence[str],
        before: Mapping[str, Clock],
        after: Mapping[str, Mapping[str, Clock]],
        zones: Zones,
    ) -> None:
        options = [(p, f"{safe_text(p)}  (current)" if p == current else safe_text(p)) for p in priorities]
        super().__init__(
            f"Change the priority of {safe_text(ticket_id)} (now {safe_text(current)})", options, current
        )
        self._before = before
        self._after = after
        self._zones = zones
        self._priority_now = current

    def compose_extra(self) -> ComposeResult:
        yield Static(
            Content("\n".join(self.preview_lines(self._priority_now))), id="what-if", classes="dialog-preview"
        )

    @on(OptionList.OptionHighlighted)
    def _preview(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        chosen = event.option.id
        self.query_one("#what-if", Static).update(Content("\n".join(self.preview_lines(chosen))))

    def preview_lines(self, priority: str | None) -> list[str]:
        """What-if text for `priority`: per clock, its figures now and after the change."""
        if priority is None or priority == self._priority_now:
            return [f"What if: {safe_text(priority)} is the current priority; nothing changes."]
        after = self._after.get(priority, {})
        lines = [f"What if it becomes {safe_text(priority)} now:"]
        for name, title in CLOCK_TITLES.items():
            b, a = self._before.get(name), after.get(name)
            if b is None or a is None or (b.state == "n/a" and a.state == "n/a"):
                continue
            lines.append(f"{title:<11} {summary(b)}")
            lines.append(f"{'':<8} →  {summary(a)}")
            if a.due_at != b.due_at and a.due_at is not None:
                was = (
                    fmt_instant(b.due_at, self._zones.operator, year=self._zones.year)
                    if b.due_at is not None
                    else "none"
                )
                lines.append(
                    f"{'':<12}due {was} → {fmt_instant(a.due_at, self._zones.operator, year=self._zones.year)}"
                )
        return lines
