"""The live queue as plain rows: what each line shows, how lines are ordered and filtered.

The clock engine is exact but not free; the queue ticks every second over thousands
of tickets. So the engine runs only when the data changes, and each row keeps the
*instants* its clocks cross thresholds (`at_risk_at`, `due_at`). Between reloads the
state of a clock at any `now` is a comparison of epochs (`ClockCell.state_at`), and
only the rows on screen ask their business calendar for the time left.

Decisions written down here:

- **Live urgency.** A row is BREACHED when a clock that has not stopped (running, or
  paused after its breach) is past its target: the work is overdue *now*. A clock
  that stopped late (a late first reply) shows `missed` in its cell but no longer
  ranks the ticket first: nothing the agent does can save it, and it would bury the
  tickets that can still be saved.
- **Urgency order** is one key that never depends on `now`: rows with a live clock by
  the earliest breach instant (past breaches first, so breached rows lead without a
  re-sort when a clock tips over), then paused rows by least time left, then rows
  with no live clock (n/a, exempt, stopped) by age.
- **Off shift** means the nearest breach instant falls outside the *desk's* own hours
  (the desk calendar, see `tui.data`), not the agreement's: a breach instant is by
  construction within or at the edge of the agreement's hours, so asking the
  agreement calendar would never flag anything. A 24x7 agreement breaching at 03:00
  on a 09-17 desk is the case this warns of. No desk calendar, no flag.
- **Reply column.** A ticket's reply clock is its response clock until the first
  reply, then its update cycle (both are stopped by an agent reply); the column
  shows whichever is live, the update clock labelled `upd`.
- Countdowns are **business time**: what the agreement counts, so a countdown stands
  still overnight on a 09-17 calendar. Wall-clock only for 24x7 calendars.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from sladesk_tui.core.clocks import Clock, running_state
from sladesk_tui.core.durations import format_countdown
from sladesk_tui.core.text import safe_text
from sladesk_tui.core.tickets import TicketRecord

if TYPE_CHECKING:
    from sladesk_tui.core.evaluate import TicketClocks

SORTS: tuple[str, ...] = ("urgency", "priority", "age", "id")
SORT_LABELS: Mapping[str, str] = {
    "urgency": "time to breach",
    "priority": "priority",
    "age": "oldest first",
    "id": "ticket id",
}

BADGES: Mapping[str, str] = {"breached": "BREACHED", "at_risk": "AT RISK", "paused": "PAUSED"}


class CalendarLike(Protocol):
    """The two questions the queue asks a business calendar (epoch seconds)."""

    def elapsed_ts(self, start: float, end: float) -> float: ...

    def is_open_ts(self, at: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class ClockCell:
    """One clock reduced to what a queue line needs between engine runs.

    `phase`: `running` (counts now), `paused` (status pause or hold), `stopped`
    (met or breached for good), `none` (no target, no agreement, exempt, not started).
    `state` and `remaining_s` are the engine's figures when it ran; for a running
    clock `state_at(now)` supersedes them.
    """

    phase: str
    state: str
    target_s: float | None = None
    remaining_s: float | None = None
    due_at: float | None = None
    at_risk_at: float | None = None
    breached_at: float | None = None

    @classmethod
    def from_clock(cls, clock: Clock | None) -> ClockCell:
        if clock is None:
            return NO_CLOCK
        if clock.state in ("n/a", "exempt"):
            phase = "none"
        elif clock.stopped_at is not None or clock.state == "met":
            phase = "stopped"
        elif clock.running:
            phase = "running" if clock.due_at is not None else "none"
        elif clock.state in ("paused", "breached", "at_risk", "ok") and clock.remaining_s is not None:
            phase = "paused"
        else:
            phase = "none"
        return cls(
            phase=phase,
            state=clock.state,
            target_s=clock.target_s,
            remaining_s=clock.remaining_s,
            due_at=clock.due_at,
            at_risk_at=clock.at_risk_at,
            breached_at=clock.breached_at,
        )

    @property
    def live(self) -> bool:
        """Running, or paused: its ticket can still be worked against it."""
        return self.phase in ("running", "paused")

    def state_at(self, now: float) -> str:
        """The clock's state at `now`, from the stored instants alone.

        A running clock follows `running_state`, the engine's own rule.
        """
        if self.phase == "running":
            return running_state(now, self.due_at, self.at_risk_at)
        if self.phase == "paused":
            return "breached" if self.paused_breached else "paused"
        return self.state

    @property
    def paused_breached(self) -> bool:
        """Paused after its breach: still overdue (breached wins over paused, docs/clocks.md)."""
        return self.phase == "paused" and (
            self.breached_at is not None or (self.remaining_s is not None and self.remaining_s < 0)
        )

    def breach_instant(self) -> float | None:
        """When this live clock breaches (or breached); None if it cannot breach now."""
        if self.phase == "running":
            return self.breached_at if self.breached_at is not None else self.due_at
        if self.paused_breached:
            return self.breached_at
        return None

    def remaining_at(self, now: float, calendar: CalendarLike | None) -> float | None:
        """Business seconds left at `now` (negative: overdue by that much).

        Only a running clock moves; `calendar` None means wall-clock (24x7).
        """
        if self.phase != "running" or self.due_at is None:
            return self.remaining_s
        due = self.due_at
        if calendar is None:
            return due - now
        if now <= due:
            return calendar.elapsed_ts(now, due)
        return -calendar.elapsed_ts(due, now)


NO_CLOCK = ClockCell(phase="none", state="n/a")


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One open ticket as the queue shows it. Text fields are already `safe_text`.

    `urgency` is the default sort key (see the module docstring); `recompute_at` is
    when the engine must run again for this ticket although no data changed (a hold
    override ends), None if never.
    """

    id: str
    priority: str
    customer: str
    title: str
    status: str
    assignee: str
    agreement_id: str | None
    created_ts: float
    response: ClockCell
    resolution: ClockCell
    update: ClockCell = NO_CLOCK
    off_shift: bool = False
    urgency: tuple[int, float, str] = (3, 0.0, "")
    recompute_at: float | None = None
    search: str = ""
    calendar: CalendarLike | None = field(default=None, compare=False, repr=False)
    # The same ticket with its raw clocks (overrides ignored), when they differ (docs/clocks.md).
    raw: QueueRow | None = field(default=None, compare=False, repr=False)

    @property
    def cells(self) -> tuple[ClockCell, ClockCell, ClockCell]:
        return (self.response, self.update, self.resolution)

    @property
    def reply_cell(self) -> tuple[ClockCell, str]:
        """The clock an agent reply stops next, and its label (`""` or `"upd"`)."""
        if not self.response.live and self.update.live:
            return self.update, "upd"
        return self.response, ""

    def state_at(self, now: float) -> str:
        """The row's state: the most severe of its clocks' states at `now`."""
        states = {c.state_at(now) for c in self.cells if c.live}
        if "breached" in states:
            return "breached"
        if "at_risk" in states:
            return "at_risk"
        if "ok" in states:
            return "ok"  # something still runs: not PAUSED, even if another clock is held
        return "paused" if states else "none"

    def remaining_at(self, cell: ClockCell, now: float) -> float | None:
        return cell.remaining_at(now, self.calendar)


def _urgency(ticket_id: str, created_ts: float, cells: Iterable[ClockCell]) -> tuple[int, float, str]:
    cells = tuple(cells)
    instants = [t for c in cells if (t := c.breach_instant()) is not None]
    if instants:
        return (0, min(instants), ticket_id)
    paused = [c.remaining_s for c in cells if c.phase == "paused" and c.remaining_s is not None]
    if paused:
        return (1, min(paused), ticket_id)
    return (2, created_ts, ticket_id)


def _next_due(cells: Iterable[ClockCell]) -> float | None:
    dues = [c.due_at for c in cells if c.phase == "running" and c.due_at is not None]
    return min(dues) if dues else None


def build_row(
    record: TicketRecord,
    clocks: Mapping[str, Clock],
    now: float,
    *,
    calendar: CalendarLike | None = None,
    desk_calendar: CalendarLike | None = None,
    raw_clocks: Mapping[str, Clock] | None = None,
) -> QueueRow:
    """A queue row from a ticket and its (adjusted) clocks as the engine computed them at `now`.

    `calendar` is the agreement's business calendar (None for 24x7: wall-clock
    countdowns); `desk_calendar` the desk's own hours, for the off-shift flag;
    `raw_clocks`, when overrides changed the figures, the clocks without them (`row.raw`).
    """
    response = ClockCell.from_clock(clocks.get("response"))
    update = ClockCell.from_clock(clocks.get("update"))
    resolution = ClockCell.from_clock(clocks.get("resolution"))
    cells = (response, update, resolution)
    due = _next_due(cells)
    off_shift = bool(
        desk_calendar is not None and due is not None and due > now and not desk_calendar.is_open_ts(due)
    )
    holds = [
        o.until
        for o in record.overrides
        if o.kind == "hold" and o.counts and o.until is not None and o.until > now
    ]
    title = safe_text(record.title)
    customer = safe_text(record.customer)
    assignee = safe_text(record.assignee)
    status = safe_text(record.status)
    tid = safe_text(record.id)
    search = "\x00".join(
        (tid, record.priority, customer, title, status, assignee, record.agreement_id or "")
    ).casefold()
    return QueueRow(
        id=tid,
        priority=safe_text(record.priority),
        customer=customer,
        title=title,
        status=status,
        assignee=assignee,
        agreement_id=record.agreement_id,
        created_ts=record.created_ts,
        response=response,
        resolution=resolution,
        update=update,
        off_shift=off_shift,
        urgency=_urgency(tid, record.created_ts, cells),
        recompute_at=min(holds) if holds else None,
        search=search,
        calendar=calendar,
        raw=None
        if raw_clocks is None
        else build_row(
            replace(record, overrides=()), raw_clocks, now, calendar=calendar, desk_calendar=desk_calendar
        ),
    )


# ---- ordering -------------------------------------------------------------------

_DIGITS = re.compile(r"(\d+)")


def natural_key(s: str) -> tuple[int | str, ...]:
    """`T-2` before `T-10`, `P2` before `P10`."""
    return tuple(int(p) if p.isdigit() else p.casefold() for p in _DIGITS.split(s))


def sort_key(sort: str) -> Callable[[QueueRow], Any]:
    """The `sorted` key of one queue order (the keys are tuples of mixed types, hence `Any`)."""
    if sort == "urgency":
        return lambda r: r.urgency
    if sort == "priority":
        return lambda r: (natural_key(r.priority), r.urgency)
    if sort == "age":
        return lambda r: (r.created_ts, natural_key(r.id))
    if sort == "id":
        return lambda r: natural_key(r.id)
    raise ValueError(f"unknown sort {sort!r}; expected one of {', '.join(SORTS)}")


# ---- filtering ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What the agent narrowed the queue to. `mine` holds the operator's name when on.

    `urgent_only` keeps at-risk *and* breached rows: breached ones are more urgent
    still, hiding them would be perverse. `breached_only` keeps breached rows alone
    (`sladesk queue --breached`).
    """

    text: str = ""
    mine: str | None = None
    urgent_only: bool = False
    agreement: str | None = None
    priority: str | None = None
    breached_only: bool = False

    @property
    def active(self) -> bool:
        return bool(
            self.text
            or self.mine
            or self.urgent_only
            or self.agreement
            or self.priority
            or self.breached_only
        )

    @property
    def depends_on_time(self) -> bool:
        return self.urgent_only or self.breached_only

    def matches(self, row: QueueRow, now: float) -> bool:
        if self.priority is not None and row.priority != self.priority:
            return False
        if self.agreement is not None and row.agreement_id != self.agreement:
            return False
        if self.mine is not None and row.assignee != self.mine:
            return False
        if self.text:
            needle = self.text.casefold()
            if needle not in row.search:
                return False
        if self.urgent_only and row.state_at(now) not in ("at_risk", "breached"):
            return False
        if self.breached_only and row.state_at(now) != "breached":
            return False
        return True

    def apply(self, rows: Iterable[QueueRow], now: float) -> list[QueueRow]:
        if not self.active:
            return list(rows)
        return [r for r in rows if self.matches(r, now)]


def lookup_items(
    evaluated: Iterable[tuple[TicketRecord, TicketClocks]], now: float, wanted: QueueFilter
) -> list[tuple[QueueRow, TicketRecord, TicketClocks]]:
    """`sladesk queue`'s answer: each open ticket's row at `now` beside its record and
    clocks (JSON and CSV print figures a row does not keep), filtered, most urgent first."""
    items = []
    for record, tc in evaluated:
        row = build_row(record, tc.adjusted, now, calendar=tc.countdown_calendar)
        if wanted.matches(row, now):
            items.append((row, record, tc))
    key = sort_key("urgency")
    return sorted(items, key=lambda item: key(item[0]))


def cycle(value: str | None, choices: Sequence[str]) -> str | None:
    """The next choice after `value`, None (all) after the last one."""
    if not choices:
        return None
    if value is None or value not in choices:
        return choices[0]
    i = choices.index(value)
    return choices[i + 1] if i + 1 < len(choices) else None


# ---- counts and time ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueCounts:
    open: int
    at_risk: int
    breached: int
    paused: int


def counts(rows: Iterable[QueueRow], now: float) -> QueueCounts:
    n = at_risk = breached = paused = 0
    for r in rows:
        n += 1
        s = r.state_at(now)
        if s == "breached":
            breached += 1
        elif s == "at_risk":
            at_risk += 1
        elif s == "paused":
            paused += 1
    return QueueCounts(open=n, at_risk=at_risk, breached=breached, paused=paused)


def next_change(rows: Iterable[QueueRow], now: float) -> float:
    """The first instant after `now` at which some row's state changes (inf: none).

    Counts and the at-risk filter need recomputing only then, not every second.
    A breach happens strictly after the due instant, hence the nudge.
    """
    best = math.inf
    for r in rows:
        for c in r.cells:
            if c.phase != "running":
                continue
            if c.at_risk_at is not None and now < c.at_risk_at < best:
                best = c.at_risk_at
            if c.due_at is not None and now <= c.due_at and c.due_at < best:
                best = math.nextafter(c.due_at, math.inf)
    return best


# ---- text -----------------------------------------------------------------------


def cell_text(row: QueueRow, cell: ClockCell, now: float, *, compact: bool = False) -> str:
    """The text of a clock cell at `now`."""
    if cell.phase == "running":
        return format_countdown(row.remaining_at(cell, now), compact=compact)
    if cell.phase == "paused":
        return format_countdown(cell.remaining_s, paused=True, compact=compact)
    if cell.phase == "stopped":
        return "missed" if cell.state == "breached" else "met"
    return "exempt" if cell.state == "exempt" else "n/a"


def badge(row: QueueRow, state: str, *, compact: bool = False) -> str:
    """The state badge: the state's word, plus the off-shift flag for a clock still to breach."""
    word = BADGES.get(state, "")
    if row.off_shift and state in ("ok", "at_risk"):
        flag = "OFF SHIFT" if (compact is False or not word) else "OFF"
        return f"{word} {flag}" if word else flag
    return word
