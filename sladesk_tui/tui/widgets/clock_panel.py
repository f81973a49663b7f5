"""One clock of a ticket on screen: its state, a progress bar, the figures, the due
instant in two zones and the explanation ("why is this due then?").

The text is built by pure functions (`figure_lines`, `core.timeline`) so tests and
the what-if preview read the same words the panel shows. Colour comes from CSS
classes (`-ok`, `-at-risk`, `-breached`, ...) mapped to theme variables in
`ticket.tcss`; the state is always written too, so a colourless terminal loses
nothing.

Instants are shown in the operator's zone (`you`) and the customer's zone (the
agreement calendar's), because an agent in Berlin promising "by 17:00" to a
customer in New York must know whose 17:00 the agreement means. The timeline is in
the customer's zone only: business hours are local to it, so "09:00-12:30 counted"
reads naturally there and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Collapsible, Label, ProgressBar, Static

from sladesk_tui.core.clocks import Clock
from sladesk_tui.core.durations import format_clock_duration, format_countdown
from sladesk_tui.core.text import safe_text
from sladesk_tui.core.timeline import timeline_lines, visible_segments

STATE_WORDS: dict[str, str] = {
    "ok": "OK",
    "at_risk": "AT RISK",
    "breached": "BREACHED",
    "paused": "PAUSED",
    "met": "MET",
    "exempt": "EXEMPT",
    "n/a": "N/A",
}
CLOCK_TITLES: dict[str, str] = {"response": "Response", "update": "Update", "resolution": "Resolution"}
STATE_CLASSES: tuple[str, ...] = ("-ok", "-at-risk", "-breached", "-paused", "-met", "-exempt", "-na")
# A ticket open for months has a counted and a closed stretch per day: the panel
# shows the newest ones and says how many it left out.
MAX_TIMELINE = 120


def state_class(state: str) -> str:
    return "-na" if state == "n/a" else "-" + state.replace("_", "-")


def state_word(clock: Clock) -> str:
    """The state in capitals; a stopped breached clock reads MISSED, a clock that
    breached and then paused reads BREACHED (breached wins, docs/clocks.md)."""
    if clock.state == "breached" and clock.stopped_at is not None:
        return "MISSED"
    return STATE_WORDS.get(clock.state, clock.state.upper())


def fmt_instant(ts: float, tz: dt.tzinfo, *, year: int | None = None) -> str:
    """`Fri 27 Nov 10:15 CET`: the weekday and zone say more to an agent than a year,
    until the instant is not in `year` (the current one, when the caller knows it):
    then `Fri 01 Jan 2100 00:00 UTC`, so a hold into another year never reads as this one."""
    when = dt.datetime.fromtimestamp(ts, tz)
    if year is not None and when.year != year:
        return when.strftime("%a %d %b %Y %H:%M %Z")
    return when.strftime("%a %d %b %H:%M %Z")


@dataclass(frozen=True, slots=True)
class Zones:
    """The operator's zone, the customer's zone and the customer's zone name."""

    operator: dt.tzinfo
    customer: dt.tzinfo
    customer_name: str
    year: int | None = None  # the current year: instants in another one show theirs

    def both(self, ts: float) -> str:
        mine = fmt_instant(ts, self.operator, year=self.year)
        theirs = fmt_instant(ts, self.customer, year=self.year)
        if mine == theirs:
            return f"{mine} (yours and the customer's)"
        return f"{mine} · customer {theirs}"


def summary(clock: Clock) -> str:
    """One line for the what-if preview: `AT RISK 13m left, target 1h 00m`."""
    word = state_word(clock)
    if clock.state == "n/a" or clock.target_s is None:
        return f"{word} ({clock.reason})" if clock.reason else word
    rem = clock.remaining_s if clock.remaining_s is not None else 0.0
    left = f"{format_clock_duration(rem)} overdue" if rem < 0 else f"{format_clock_duration(rem)} left"
    return f"{word} {left}, target {format_clock_duration(clock.target_s)}"


def figure_lines(clock: Clock, zones: Zones) -> list[str]:
    """Target, elapsed, remaining; then the instants that apply (due, breached, stopped)."""
    if clock.state == "n/a" or clock.target_s is None:
        return [f"n/a: {clock.reason}" if clock.reason else "n/a"]
    lines: list[str] = []
    rem = clock.remaining_s if clock.remaining_s is not None else 0.0
    remaining = f"{format_countdown(rem)} (overdue)" if rem < 0 else format_clock_duration(rem)
    lines.append(
        f"target {format_clock_duration(clock.target_s)} · elapsed {format_clock_duration(clock.elapsed_s or 0.0)}"
        f" · remaining {remaining}"
    )
    if clock.state == "exempt":
        lines.append(f"exempt: {clock.reason}" if clock.reason else "exempt from compliance")
    if clock.due_at is not None and clock.stopped_at is None and clock.breached_at != clock.due_at:
        lines.append(f"due      {zones.both(clock.due_at)}")
    elif clock.stopped_at is None and not clock.running:
        if clock.resumes_at is not None:
            lines.append(f"paused; resumes {zones.both(clock.resumes_at)}")
        else:
            lines.append("paused: no due time until it runs again")
    if clock.breached_at is not None:
        lines.append(f"breached {zones.both(clock.breached_at)}")
    if clock.stopped_at is not None:
        lines.append(f"stopped  {zones.both(clock.stopped_at)}")
    if clock.cycles > 1:
        lines.append(f"update cycle {clock.cycles} ({clock.breached_cycles} breached so far)")
    return lines


def raw_line(raw: Clock, zones: Zones) -> str:
    """The raw figures (no overrides) beside adjusted ones that differ (docs/clocks.md, "Overrides")."""
    parts = [f"without overrides: {summary(raw)}"]
    if raw.due_at is not None and raw.stopped_at is None:
        parts.append(f"due {fmt_instant(raw.due_at, zones.operator, year=zones.year)}")
    elif raw.breached_at is not None:
        parts.append(f"breached {fmt_instant(raw.breached_at, zones.operator, year=zones.year)}")
    return " · ".join(parts)


class ClockPanel(Vertical):
    """A clock's panel; `show()` replaces its figures in place (expanded or not)."""

    # Colours from the theme's variables only; every state is written in words too.
    DEFAULT_CSS = """
    ClockPanel {
        height: auto;
        margin-bottom: 1;
    }

    ClockPanel .clock-head {
        height: 1;
    }

    ClockPanel .clock-title {
        width: 12;
        text-style: bold;
    }

    ClockPanel .clock-bar {
        width: 1fr;
    }

    ClockPanel .clock-bar Bar {
        width: 1fr;
    }

    ClockPanel .clock-pct {
        width: 6;
        text-align: right;
    }

    ClockPanel .clock-state {
        width: 10;
        text-align: right;
        text-style: bold;
    }

    ClockPanel .clock-figures {
        height: auto;
        padding-left: 2;
    }

    ClockPanel .clock-raw {
        height: auto;
        padding-left: 2;
        color: $text-muted;
        text-style: italic;
    }

    ClockPanel .clock-why {
        padding: 0;
        margin: 0;
        border: none;
        background: $surface;
    }

    ClockPanel .clock-why CollapsibleTitle {
        padding: 0 0 0 2;
        color: $text-muted;
    }

    ClockPanel .clock-why Contents {
        padding: 0 0 0 4;
    }

    ClockPanel .clock-timeline {
        height: auto;
    }

    /* State colours: the bar and the state word. */
    ClockPanel.-ok .clock-state { color: $success; }
    ClockPanel.-ok Bar > .bar--bar { color: $success; }
    ClockPanel.-at-risk .clock-state { color: $warning; }
    ClockPanel.-at-risk Bar > .bar--bar { color: $warning; }
    ClockPanel.-breached .clock-state { color: $error; }
    ClockPanel.-breached Bar > .bar--bar { color: $error; }
    ClockPanel.-breached Bar > .bar--complete { color: $error; }
    ClockPanel.-paused .clock-state { color: $text-muted; }
    ClockPanel.-paused Bar > .bar--bar { color: $text-muted; }
    ClockPanel.-met .clock-state { color: $success; }
    ClockPanel.-met Bar > .bar--bar { color: $success; }
    ClockPanel.-met Bar > .bar--complete { color: $success; }
    ClockPanel.-exempt .clock-state { color: $accent; }
    ClockPanel.-exempt Bar > .bar--bar { color: $accent; }
    ClockPanel.-na .clock-state { color: $text-muted; }
    """

    def __init__(self, name: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="clock-panel")
        self.clock_name = name

    def compose(self) -> ComposeResult:
        with Horizontal(classes="clock-head"):
            yield Label(CLOCK_TITLES.get(self.clock_name, self.clock_name), classes="clock-title")
            yield ProgressBar(total=1.0, show_eta=False, show_percentage=False, classes="clock-bar")
            yield Static("", classes="clock-pct")
            yield Static("", classes="clock-state")
        yield Static("", classes="clock-figures")
        yield Static("", classes="clock-raw")
        with Collapsible(title="Why (customer's time)", classes="clock-why"):
            yield Static("", classes="clock-timeline")

    def show(self, clock: Clock, raw: Clock | None, zones: Zones) -> None:
        """Fill the panel; `raw` is the no-overrides clock when it differs, else None."""
        for cls in STATE_CLASSES:
            self.remove_class(cls)
        self.add_class(state_class(clock.state))
        bar = self.query_one(ProgressBar)
        has_figures = clock.target_s is not None and clock.ratio is not None
        bar.styles.visibility = "visible" if has_figures else "hidden"  # keeps the columns in place
        bar.update(total=1.0, progress=min(max(clock.ratio or 0.0, 0.0), 1.0))
        pct = f"{round((clock.ratio or 0.0) * 100)}%" if has_figures else ""
        self.query_one(".clock-pct", Static).update(Content(pct))
        self.query_one(".clock-state", Static).update(Content(state_word(clock)))
        self.query_one(".clock-figures", Static).update(Content("\n".join(figure_lines(clock, zones))))
        raw_static = self.query_one(".clock-raw", Static)
        raw_static.display = raw is not None
        raw_static.update(Content(raw_line(raw, zones)) if raw is not None else Content(""))
        why = self.query_one(Collapsible)
        why.display = bool(clock.explanation)
        lines = timeline_lines(clock.explanation, zones.customer, limit=MAX_TIMELINE)
        n = sum(
            1 for seg in visible_segments(clock.explanation) if seg.kind != "rule"
        )  # markers are instants
        why.title = Content(  # type: ignore[assignment] # the title widget renders Content: no markup parsing
            f"Why: {n} {'stretch' if n == 1 else 'stretches'} ({safe_text(zones.customer_name)} time)"
        )
        self.query_one(".clock-timeline", Static).update(Content("\n".join(lines)))
