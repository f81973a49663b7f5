"""The clock engine (docs/clocks.md): a ticket's history, seen at `now`, as clocks.

The queue recomputes every ticket's clocks, so this is a hot path (docs/performance.md: 100k
tickets well within a second): the engine walks the events once, stays on epoch
floats and turns the history into one sorted list of status pauses per ticket. It
cuts each clock's span into the stretches between pauses itself and asks the
calendar plain questions, which the calendar answers on a fast path: one
`elapsed_ts` per stretch (usually one), one `add_ts` for a breach instant, one for
a running clock's at-risk instant. (The calendar's own `pauses` argument gives the
same answers; it merges and converts on every call, which costs more than the
stretches do.) Result clocks are built by `_new_clock`, and the shared n/a ones
come from caches. The explanation, which costs, is built only on request.

Decisions recorded here (docs/clocks.md):

- Events after `now` and overrides made after `now` are ignored (replays `--at`).
  Events must come sorted by `(at, seq)`; nothing counts before `created`.
- Every ticket status counts from `created` (status `new` unless the event says).
  `resolved`/`closed` end the ticket and also stop the response clock (a ticket
  closed without a reply is not left breaching forever) and an open update cycle;
  a `customer_reply` on an ended ticket starts no update cycle.
- The resolution clock resumed after a reopen treats the time it spent stopped as
  a pause ("paused: resolved" in the explanation).
- A priority change under `restart` restarts whichever clocks are running at that
  instant (response included: the table's "never" is about events); a change while
  a clock is stopped or after it stopped only matters if the clock runs again.
  `keep` may breach at once (the target shrinks under elapsed time); `breached_at`
  is then the breach instant of the new target, which may precede the change — the
  explanation shows the change.
- `extend` adds to the clock's target; for the update clock, to the cycle that was
  running (or last started) when it was made. `exempt` exempts every cycle.
  An override whose `clock` is None applies to every clock (hold, extend, exempt).
- A hold without `until` is open-ended: the clock stays held.
- `remaining_s` goes negative once a clock is breached (the overrun).
- An update clock with no customer reply waiting for an answer is `n/a`.
- A clock is at risk once elapsed >= the earlier of `ratio * target` and
  `target - remaining`; `at_risk_at` is the first instant that holds, so a clock
  reaching 75% right at closing time is at risk overnight.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from sladesk_tui.core.agreements import NO_AGREEMENT
from sladesk_tui.core.durations import format_duration

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import Agreement, Targets
    from sladesk_tui.core.calendar import BusinessCalendar
    from sladesk_tui.core.events import Event
    from sladesk_tui.core.overrides import Override

STATES: tuple[str, ...] = ("ok", "at_risk", "breached", "paused", "met", "exempt", "n/a")
CLOCKS: tuple[str, ...] = ("response", "update", "resolution")
NO_CREATED = "no created event"
NO_UPDATE_DUE = "no customer reply awaiting an update"

_US = 1_000_000
_NA_CACHE: dict[tuple[str, str], Clock] = {}
_NO_TARGET_CACHE: dict[tuple[str, str | None], Clock] = {}


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of a clock's explanation, epoch seconds [start, end).

    kind: `counted`, `closed` (outside business hours or a holiday), `paused`
    (status in pause_statuses, or the resolved stretch before a resume; note names
    it), `held` (hold override; note is the override id), or `rule` (a zero-length
    marker: priority change, reopen, restart, extend, exempt, responded, breach).
    """

    start: float
    end: float
    kind: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Clock:
    """A clock's figures at `now`. Instants are epoch seconds; None where not applicable.

    `due_at` is the breach instant of docs/calendars.md (set while running, not while paused);
    `at_risk_at` is when a running clock turns at risk, so a view ticking every
    second can derive the state from `now` with `state_at` instead of calling the
    engine again. `running` means counting at `now` (not paused, not stopped).
    `started_at` is where the current count began (after any restart). A paused
    clock that a hold will release by itself has `resumes_at`: recompute then.
    `cycles`/`breached_cycles` count update-clock cycles (the figures are those of
    the current or last cycle).
    """

    name: str
    state: str
    target_s: float | None = None
    elapsed_s: float | None = None
    remaining_s: float | None = None
    ratio: float | None = None
    started_at: float | None = None
    due_at: float | None = None
    at_risk_at: float | None = None
    breached_at: float | None = None
    stopped_at: float | None = None
    running: bool = False
    reason: str | None = None  # why n/a, or why exempt
    explanation: tuple[Segment, ...] = ()
    resumes_at: float | None = None
    cycles: int = 0
    breached_cycles: int = 0

    def state_at(self, now: float) -> str:
        """The state at `now` (>= the instant computed for, no event since), cheaply.

        Only a running clock changes state by itself; its thresholds are instants.
        """
        if self.running and self.state != "exempt":
            return running_state(now, self.due_at, self.at_risk_at)
        return self.state


def running_state(now: float, due_at: float | None, at_risk_at: float | None) -> str:
    """The state of a running clock at `now` from its two thresholds.

    A clock exactly at its target is met, not breached: breached means `now` is
    strictly after the due instant. At risk starts *at* its instant. The one home of
    this rule: the engine's clocks and the queue's cells both ask it.
    """
    if due_at is not None and now > due_at:
        return "breached"
    if at_risk_at is not None and now >= at_risk_at:
        return "at_risk"
    return "ok"


# `Clock(...)` runs the dataclass __init__, which for a frozen class sets each of
# the 17 fields with `object.__setattr__`, a lookup by name each time: about 1.1 µs,
# and the engine builds two or three clocks per ticket over a whole queue. On that
# path `_new_clock` sets the same slots through their member descriptors instead
# (about 0.6 µs). What comes out is an ordinary, fully initialised Clock, exactly as
# frozen as any other (assigning a field still raises FrozenInstanceError); only
# its construction is shorter. The check after it keeps it in step with the fields.
_new = object.__new__
_setter = {f.name: getattr(Clock, f.name).__set__ for f in dataclasses.fields(Clock)}
_set_name = _setter["name"]
_set_state = _setter["state"]
_set_target_s = _setter["target_s"]
_set_elapsed_s = _setter["elapsed_s"]
_set_remaining_s = _setter["remaining_s"]
_set_ratio = _setter["ratio"]
_set_started_at = _setter["started_at"]
_set_due_at = _setter["due_at"]
_set_at_risk_at = _setter["at_risk_at"]
_set_breached_at = _setter["breached_at"]
_set_stopped_at = _setter["stopped_at"]
_set_running = _setter["running"]
_set_reason = _setter["reason"]
_set_explanation = _setter["explanation"]
_set_resumes_at = _setter["resumes_at"]
_set_cycles = _setter["cycles"]
_set_breached_cycles = _setter["breached_cycles"]


def _new_clock(
    name: str,
    state: str,
    target_s: float | None,
    elapsed_s: float | None,
    remaining_s: float | None,
    ratio: float | None,
    started_at: float | None,
    due_at: float | None,
    at_risk_at: float | None,
    breached_at: float | None,
    stopped_at: float | None,
    running: bool,
    reason: str | None,
    explanation: tuple[Segment, ...],
    resumes_at: float | None,
    cycles: int,
    breached_cycles: int,
) -> Clock:
    """`Clock(...)` with every field given, positionally, minus the __init__ cost."""
    c = _new(Clock)
    _set_name(c, name)
    _set_state(c, state)
    _set_target_s(c, target_s)
    _set_elapsed_s(c, elapsed_s)
    _set_remaining_s(c, remaining_s)
    _set_ratio(c, ratio)
    _set_started_at(c, started_at)
    _set_due_at(c, due_at)
    _set_at_risk_at(c, at_risk_at)
    _set_breached_at(c, breached_at)
    _set_stopped_at(c, stopped_at)
    _set_running(c, running)
    _set_reason(c, reason)
    _set_explanation(c, explanation)
    _set_resumes_at(c, resumes_at)
    _set_cycles(c, cycles)
    _set_breached_cycles(c, breached_cycles)
    return c


if _new_clock.__code__.co_varnames[: _new_clock.__code__.co_argcount] != tuple(
    f.name for f in dataclasses.fields(Clock)
):
    raise RuntimeError("clocks._new_clock must take exactly Clock's fields, in order")


def compute_clocks(
    agreement: Agreement | None,
    calendar: BusinessCalendar,
    events: Iterable[Event],
    now: float,
    overrides: Iterable[Override] = (),
    *,
    adjusted: bool = True,
    explain: bool = False,
    no_agreement_reason: str | None = None,
) -> dict[str, Clock]:
    """The response, update and resolution clocks of one ticket at `now`.

    `adjusted=False` gives the raw figures (overrides ignored); otherwise pending
    and approved overrides apply and rejected ones do not. The steps: read the
    history once (`_read_history`), apply the overrides (`_Applied`), then for each
    clock find its span, its governing priority and target, its pauses, and count
    (`_clock`); the explanation is added only on request (`_explained`).
    """
    if agreement is None:
        reason = no_agreement_reason or NO_AGREEMENT
        return {name: _na(name, reason) for name in CLOCKS}
    history = _read_history(events, now, agreement.pause_statuses, agreement.on_reopen != "restart")
    if history is None:
        return {name: _na(name, NO_CREATED) for name in CLOCKS}
    (
        created,
        first_priority,
        changes,
        pauses,
        pause_notes,
        status_paused,
        response_stop,
        resolution_start,
        resolution_stop,
        resolution_gaps,
        reopens,
        cycles,
    ) = history
    applied = _Applied(overrides, now, created, changes) if adjusted and overrides else None
    restart = agreement.on_priority_change == "restart"
    targets = agreement.targets
    risk = (agreement.at_risk.ratio, agreement.at_risk.remaining_s)
    out: dict[str, Clock] = {}

    for name in CLOCKS:
        # The span: where the clock's current count starts and where it stopped.
        cycle_count = 0
        if name == "response":
            start, stop = created, response_stop
            if (
                applied is not None
                and applied.responded is not None
                and (stop is None or applied.responded < stop)
            ):
                stop = applied.responded
        elif name == "resolution":
            start, stop = resolution_start, resolution_stop
        elif cycles:
            (start, stop), cycle_count = cycles[-1], len(cycles)
        else:
            out[name] = _no_update_due(targets, changes[-1][1] if changes else first_priority)
            continue
        gaps = resolution_gaps if name == "resolution" else ()

        # The priority that governs it (a change may restart it) and so its target.
        if changes:
            priority, start = _governing_priority(first_priority, changes, start, stop, restart, gaps)
        else:
            priority = first_priority
        prio_targets = targets.get(priority) if priority is not None else None
        target = None if prio_targets is None else getattr(prio_targets, name)
        if target is None:
            out[name] = _na_no_target(name, priority)
            continue

        # What does not count: status pauses (sorted, disjoint), resolved stretches
        # before a resume and holds (these two need a merge), and the overrides.
        clock_pauses = pauses + gaps if gaps else pauses
        disjoint = not gaps
        paused, resumes_at, exempt = status_paused, None, None
        if applied is not None:
            clock_pauses, disjoint, paused, resumes_at = applied.held(
                name, now, clock_pauses, disjoint, paused
            )
            target += applied.extension(name, cycles[-1][0] if cycle_count else None, cycles)
            exempt = applied.exempt.get(name) or applied.exempt.get(None)
        earlier_breaches = 0
        if cycle_count > 1:
            earlier_breaches = _breached_cycles(
                calendar, first_priority, changes, targets, restart, cycles, clock_pauses, applied
            )

        c = _clock(
            name,
            calendar,
            now,
            start,
            stop,
            target,
            clock_pauses,
            disjoint,
            paused,
            resumes_at,
            exempt,
            risk,
            cycle_count,
            earlier_breaches,
        )
        if explain:
            c = _explained(
                c,
                calendar,
                now,
                agreement,
                first_priority,
                changes,
                reopens,
                applied,
                pauses,
                pause_notes,
                gaps,
            )
        out[name] = c
    return out


# The history as the clocks need it: (created, first priority, priority changes,
# status pauses and their statuses, status-paused at now, response stop, resolution
# start and stop, resolution gaps, reopen instants, update cycles). A plain tuple:
# this runs once per ticket over a whole queue.
_History = tuple[
    float,
    "str | None",
    "list[tuple[float, str | None, str]]",
    "list[tuple[float, float]]",
    "list[str]",
    bool,
    "float | None",
    float,
    "float | None",
    "list[tuple[float, float]]",
    "list[float]",
    "list[tuple[float, float | None]]",
]


def _read_history(
    events: Iterable[Event], now: float, pause_statuses: frozenset[str], resume: bool
) -> _History | None:
    """Walk the events once, up to `now` (docs/clocks.md): None without a `created` event.

    Status pauses come out sorted and disjoint, each with its status; a pause still
    open at `now` ends at `now`. `resume` is the agreement's `on_reopen = "resume"`:
    the resolution clock resumes after a reopen, the stopped stretch becoming a gap;
    otherwise it starts again at the reopen.
    """
    created = None
    first_priority = None
    changes: list[tuple[float, str | None, str]] = []  # (at, priority, override id or "")
    pauses: list[tuple[float, float]] = []
    pause_notes: list[str] = []
    pause_from = None  # start of the status pause in progress
    pause_status = ""
    response_stop = None
    resolution_stop = None
    resolution_start = 0.0  # start of the resolution clock's current run
    resolution_gaps: list[tuple[float, float]] = []  # stopped, then resumed
    reopens: list[float] = []
    cycles: list[tuple[float, float | None]] = []  # update cycles
    open_cycle = None
    ended = False

    for ev in events:
        at = ev.at
        if at > now:
            break
        typ = ev.type
        if created is None:
            if typ == "created":
                created = resolution_start = at
                first_priority = ev.priority
                st = ev.status
                if st is not None and st in pause_statuses:
                    pause_from, pause_status = at, st
            continue
        if typ == "status":
            st = ev.status
            if pause_from is not None and st != pause_status:
                pauses.append((pause_from, at))
                pause_notes.append(pause_status)
                pause_from = None
            if pause_from is None and st in pause_statuses:
                pause_from, pause_status = at, st
        elif typ == "reply":
            if response_stop is None:
                response_stop = at
            if open_cycle is not None:
                cycles.append((open_cycle, at))
                open_cycle = None
        elif typ == "customer_reply":
            if open_cycle is None and not ended:
                open_cycle = at
        elif typ == "priority":
            changes.append((at, ev.priority, ""))
        elif typ == "resolved" or typ == "closed":
            if not ended:
                ended = True
                if response_stop is None:
                    response_stop = at
                if resolution_stop is None:
                    resolution_stop = at
                if open_cycle is not None:
                    cycles.append((open_cycle, at))
                    open_cycle = None
            if pause_from is not None:
                pauses.append((pause_from, at))
                pause_notes.append(pause_status)
                pause_from = None
        elif typ == "reopened":
            if ended:
                ended = False
                reopens.append(at)
                if resolution_stop is not None:
                    if resume:
                        resolution_gaps.append((resolution_stop, at))
                    else:
                        resolution_start = at
                    resolution_stop = None
            if pause_from is not None:
                pauses.append((pause_from, at))
                pause_notes.append(pause_status)
                pause_from = None

    if created is None:
        return None
    status_paused = pause_from is not None
    if pause_from is not None:
        pauses.append((pause_from, now))
        pause_notes.append(pause_status)
    if open_cycle is not None:
        cycles.append((open_cycle, None))
    return (
        created,
        first_priority,
        changes,
        pauses,
        pause_notes,
        status_paused,
        response_stop,
        resolution_start,
        resolution_stop,
        resolution_gaps,
        reopens,
        cycles,
    )


def _no_update_due(targets: Mapping[str, Targets], priority: str | None) -> Clock:
    """The update clock of a ticket with no customer reply awaiting an answer: n/a,
    saying so when the priority has an update target at all."""
    prio_targets = targets.get(priority) if priority is not None else None
    if prio_targets is not None and prio_targets.update is not None:
        return _na("update", NO_UPDATE_DUE)
    return _na_no_target("update", priority)


def _explained(
    c: Clock,
    calendar: BusinessCalendar,
    now: float,
    agreement: Agreement,
    first_priority: str | None,
    changes: list[tuple[float, str | None, str]],
    reopens: list[float],
    applied: _Applied | None,
    pauses: list[tuple[float, float]],
    pause_notes: list[str],
    gaps: Iterable[tuple[float, float]],
) -> Clock:
    """`c` with its explanation: the stretches of its window and the rules that shaped it."""
    labels = applied.hold_labels(c.name) if applied is not None else []
    marks = _markers(c.name, agreement, first_priority, changes, reopens, applied, c)
    return dataclasses.replace(
        c, explanation=_explain(calendar, c, now, pauses, pause_notes, gaps, labels, marks)
    )


def ticket_clocks(
    agreement: Agreement | None,
    calendar: BusinessCalendar,
    events: Iterable[Event],
    now: float,
    overrides: Iterable[Override] = (),
    *,
    explain: bool = False,
    no_agreement_reason: str | None = None,
) -> tuple[dict[str, Clock], dict[str, Clock]]:
    """(raw, adjusted) clocks; the same mapping twice when no override counts."""
    events = tuple(events)
    raw = compute_clocks(
        agreement,
        calendar,
        events,
        now,
        (),
        adjusted=False,
        explain=explain,
        no_agreement_reason=no_agreement_reason,
    )
    counting = [o for o in overrides if o.status != "rejected" and o.at <= now]
    if not counting:
        return raw, raw
    adj = compute_clocks(
        agreement,
        calendar,
        events,
        now,
        counting,
        explain=explain,
        no_agreement_reason=no_agreement_reason,
    )
    return raw, adj


# -- the figures ---------------------------------------------------------------


def _clock(
    name: str,
    cal: BusinessCalendar,
    now: float,
    start: float,
    stop: float | None,
    target: float,
    pauses: list[tuple[float, float]],
    disjoint: bool,
    paused: bool,
    resumes_at: float | None,
    exempt: str | None,
    risk: tuple[float | None, float | None],
    cycle_count: int = 0,
    earlier_breaches: int = 0,
) -> Clock:
    """One clock's figures from its effective start, stop, target and pauses.

    Exactly at the target is met: breached means elapsed > target, i.e. `now` is
    past the breach instant (the latest instant with elapsed == target).
    """
    end = now if stop is None else stop
    running = stop is None and not paused
    risk_us = _risk_us(target, risk) if running else None
    if not pauses or (disjoint and (pauses[0][0] >= end or pauses[-1][1] <= start)):
        # No pause in the way (the common case): one window, floats exact to the µs.
        el = cal.elapsed_ts(start, end)
        over = el > target
        w_due, rest = start, target
        w_risk, risk_base = start, 0
    else:
        target_us = round(target * _US)
        el_us, w_due, base, w_risk, risk_base = _count(
            cal.elapsed_ts, start, end, pauses if disjoint else _merged(pauses), target_us + 1, risk_us or 0
        )
        el = el_us / _US
        over = el_us > target_us
        rest = (target_us - base) / _US
    due = risk_at = b = None
    if running:
        # The breach instant, reckoned from the window where elapsed passes the
        # target or, not yet passed, from the last one (no pause lies after `now`).
        due = cal.add_ts(w_due, rest)
        if now > due:
            state, b = "breached", due
        else:
            if risk_us is not None:
                risk_at = _first_instant(cal, w_risk, risk_us - risk_base) if risk_us > 0 else start
            state = "at_risk" if risk_at is not None and now >= risk_at else "ok"
    elif over:
        state, b = "breached", cal.add_ts(w_due, rest)
    else:
        state = "paused" if stop is None else "met"
    if cycle_count:
        earlier_breaches += b is not None
    return _new_clock(
        name,
        "exempt" if exempt else state,
        target,
        el,
        target - el,
        el / target if target > 0 else None,
        start,
        due,
        risk_at,
        b,
        stop,
        running,
        exempt,
        (),
        resumes_at,
        cycle_count,
        earlier_breaches,
    )


def _count(
    elapsed_ts: Callable[[float, float], float],
    start: float,
    end: float,
    pauses: list[tuple[float, float]],
    reach_us: int,
    risk_us: int,
) -> tuple[int, float, int, float, int]:
    """Walk the windows of [start, end) between pauses (sorted, disjoint), in µs.

    Returns the elapsed total and, for each of two amounts, the start of the window
    by whose end elapsed reaches it (or of the last window) with the elapsed
    before that window: where `add_ts` must be asked from, without pauses.
    """
    cum = 0
    cur = start
    w_reach = w_risk = None
    c_reach = c_risk = 0
    for p0, p1 in pauses:
        if p1 <= cur:
            continue
        if p0 >= end:
            break
        if p0 > cur:
            v = round(elapsed_ts(cur, p0) * _US)
            if w_reach is None and cum + v >= reach_us:
                w_reach, c_reach = cur, cum
            if w_risk is None and cum + v >= risk_us:
                w_risk, c_risk = cur, cum
            cum += v
        cur = p1
    if cur < end:
        last = round(elapsed_ts(cur, end) * _US)
    else:
        cur, last = end, 0
    if w_reach is None:
        w_reach, c_reach = cur, cum
    if w_risk is None:
        w_risk, c_risk = cur, cum
    return cum + last, w_reach, c_reach, w_risk, c_risk


def _merged(pauses: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping pauses (holds, resolved stretches) as sorted, disjoint ones."""
    out: list[tuple[float, float]] = []
    for p0, p1 in sorted(pauses):
        if out and p0 <= out[-1][1]:
            if p1 > out[-1][1]:
                out[-1] = (out[-1][0], p1)
        else:
            out.append((p0, p1))
    return out


def _risk_us(target: float, risk: tuple[float | None, float | None]) -> int | None:
    """Elapsed µs from which a clock is at risk: the earlier of the two rules."""
    ratio, remaining = risk
    a = None if ratio is None else ratio * target
    if remaining is not None and (a is None or target - remaining < a):
        a = target - remaining
    return None if a is None else round(a * _US)


def _first_instant(cal: BusinessCalendar, start: float, amount_us: int) -> float:
    """The first instant with elapsed(start, t) == amount (> 0, no pause after start).

    `add_ts` gives the *latest* such instant (it skips closed hours forward): the
    first is one microsecond after the latest instant with a microsecond less,
    since the calendar counts whole microseconds. So a clock reaching its at-risk
    point at closing time is at risk overnight, not from the next opening.
    """
    return (round(cal.add_ts(start, (amount_us - 1) / _US) * _US) + 1) / _US


def priority_at(events: Iterable[Event], overrides: Iterable[Override], stop: float) -> str | None:
    """The priority governing a clock that stopped at `stop`, by the engine's own rule:
    the `created` event's, then each change before `stop` (priority events, and the
    counting `reprioritize` overrides merged in as the engine merges them)."""
    first_priority = None
    created = False
    changes: list[tuple[float, str | None, str]] = []
    for ev in events:
        if not created:
            if ev.type == "created":
                created, first_priority = True, ev.priority
            continue
        if ev.at >= stop:
            break
        if ev.type == "priority":
            changes.append((ev.at, ev.priority, ""))
    _merge_reprioritized(changes, overrides, stop)
    return _governing_priority(first_priority, changes, stop, stop, False, ())[0]


def _merge_reprioritized(
    changes: list[tuple[float, str | None, str]], overrides: Iterable[Override], now: float
) -> None:
    """Merge the counting `reprioritize` overrides made by `now` into the priority
    `changes` of the events (in place, in time order, after events of the same instant)."""
    moves = [
        (o.at, o.to_priority, str(o.id))
        for o in overrides
        if o.kind == "reprioritize" and o.to_priority and o.status != "rejected" and o.at <= now
    ]
    if moves:
        changes.extend(moves)
        changes.sort(key=lambda c: c[0])


def _governing_priority(
    prio: str | None,
    changes: list[tuple[float, str | None, str]],
    start: float,
    stop: float | None,
    restart: bool,
    gaps: Iterable[tuple[float, float]],
) -> tuple[str | None, float]:
    """The priority governing a run and the run's effective start after restarts.

    Changes at or after `stop` do not count; under `restart` a change while the
    clock runs (after `start`, outside a stopped stretch) starts it again.
    """
    for at, p, _src in changes:
        if stop is not None and at >= stop:
            break
        prio = p
        if restart and at > start and not any(g0 <= at < g1 for g0, g1 in gaps):
            start = at
    return prio, start


def _breached_cycles(
    cal: BusinessCalendar,
    first_priority: str | None,
    changes: list[tuple[float, str | None, str]],
    targets: Mapping[str, Targets],
    restart: bool,
    cycles: list[tuple[float, float | None]],
    pauses: list[tuple[float, float]],
    applied: _Applied | None,
) -> int:
    """How many finished update cycles (all but the last) exceeded their target."""
    n = 0
    for cycle_start, cycle_end in cycles[:-1]:
        if cycle_end is None:  # only the last cycle may still be open
            continue
        prio, start = _governing_priority(first_priority, changes, cycle_start, cycle_end, restart, ())
        prio_targets = targets.get(prio) if prio is not None else None
        target = None if prio_targets is None else prio_targets.update
        if target is None:
            continue
        if applied is not None:
            target += applied.extension("update", cycle_start, cycles)
        if cal.elapsed_ts(start, cycle_end, pauses) > target:
            n += 1
    return n


def _na(name: str, reason: str) -> Clock:
    """A shared n/a clock: immutable, so every ticket without a target can reuse it."""
    key = (name, reason)
    c = _NA_CACHE.get(key)
    if c is None:
        if len(_NA_CACHE) > 4096:
            _NA_CACHE.clear()
        c = _NA_CACHE[key] = Clock(name, "n/a", reason=reason)
    return c


def _na_no_target(name: str, prio: str | None) -> Clock:
    """`_na` for a priority without this clock's target, keyed without formatting
    the reason (a third of the tickets in a queue take this path)."""
    key = (name, prio)
    c = _NO_TARGET_CACHE.get(key)
    if c is None:
        if len(_NO_TARGET_CACHE) > 4096:
            _NO_TARGET_CACHE.clear()
        c = _NO_TARGET_CACHE[key] = _na(name, f"no {name} target for priority {prio}")
    return c


# -- overrides -----------------------------------------------------------------


class _Applied:
    """The counting overrides of one ticket, sorted by effect (rare: off the hot path).

    Reprioritize overrides are merged into `changes` (in place) as priority changes.
    """

    __slots__ = ("exempt", "extends", "holds", "marks", "responded")

    def __init__(
        self,
        overrides: Iterable[Override],
        now: float,
        created: float,
        changes: list[tuple[float, str | None, str]],
    ) -> None:
        self.holds: list[tuple[float, float | None, str | None, int]] = []
        self.extends: list[tuple[float, float, str | None, int]] = []
        self.exempt: dict[str | None, str] = {}
        self.responded: float | None = None
        self.marks: list[tuple[float, str | None, str]] = []  # (at, clock, note)
        overrides = tuple(overrides)
        _merge_reprioritized(changes, overrides, now)
        for o in overrides:
            if o.status == "rejected" or o.at > now:
                continue
            kind = o.kind
            if kind == "hold":
                if o.until is None or o.until > o.at:
                    self.holds.append((o.at, o.until, o.clock, o.id))
            elif kind == "extend":
                if o.by_s:
                    self.extends.append((o.at, o.by_s, o.clock, o.id))
                    self.marks.append((o.at, o.clock, f"extend +{format_duration(o.by_s)} (override {o.id})"))
            elif kind == "exempt":
                self.exempt.setdefault(o.clock, f"exempt by override {o.id}: {o.reason}")
                self.marks.append((o.at, o.clock, f"exempt (override {o.id})"))
            elif kind == "responded":
                r = max(o.responded_at if o.responded_at is not None else o.at, created)
                if r <= now and (self.responded is None or r < self.responded):
                    self.responded = r
                    self.marks = [m for m in self.marks if not m[2].startswith("responded")]
                    self.marks.append((r, "response", f"responded out of band (override {o.id})"))

    def held(
        self, name: str, now: float, pauses: list[tuple[float, float]], disjoint: bool, paused: bool
    ) -> tuple[list[tuple[float, float]], bool, bool, float | None]:
        """The clock's pauses with its holds added (then no longer disjoint), whether it
        is paused at `now`, and when its holds release it (None: not held, or never)."""
        resumes_at = None
        if self.holds:
            extra, held, release = self.holds_for(name, now)
            if extra:
                pauses, disjoint = pauses + extra, False
            if held and not paused:
                paused, resumes_at = True, release
        return pauses, disjoint, paused, resumes_at

    def holds_for(self, name: str, now: float) -> tuple[list[tuple[float, float]], bool, float | None]:
        """(pause intervals up to now, held at now, when the holds release it)."""
        extra: list[tuple[float, float]] = []
        held = False
        release: float | None = 0.0
        for at, until, clock, _id in self.holds:
            if clock is not None and clock != name:
                continue
            if until is None or until > now:
                extra.append((at, now))
                held = True
                release = None if until is None or release is None else max(release, until)
            else:
                extra.append((at, until))
        return extra, held, release if held else None

    def hold_labels(self, name: str) -> list[tuple[float, float | None, str]]:
        return [(at, until, str(i)) for at, until, clock, i in self.holds if clock is None or clock == name]

    def extension(
        self, name: str, cycle_start: float | None, cycles: list[tuple[float, float | None]]
    ) -> float:
        """Seconds added to the target (of the update cycle starting at `cycle_start`)."""
        total = 0.0
        for at, by, clock, _id in self.extends:
            if clock is not None and clock != name:
                continue
            if name == "update":
                i = bisect_right([c[0] for c in cycles], at) - 1
                if i < 0 or cycles[i][0] != cycle_start:
                    continue
            total += by
        return total


# -- explanation -----------------------------------------------------------------


def _markers(
    name: str,
    agreement: Agreement,
    first_priority: str | None,
    changes: list[tuple[float, str | None, str]],
    reopens: list[float],
    applied: _Applied | None,
    c: Clock,
) -> list[tuple[float, str]]:
    """The rules that shaped the clock, as (instant, note); `_explain` keeps those
    inside the clock's window."""
    out: list[tuple[float, str]] = []
    prev = first_priority
    for at, p, src in changes:
        if p != prev:
            by = f", override {src}" if src else ""
            out.append((at, f"priority {prev} -> {p} ({agreement.on_priority_change}{by})"))
        prev = p
    if name == "resolution":
        out.extend((at, f"reopened ({agreement.on_reopen})") for at in reopens)
    if applied is not None:
        out.extend((at, note) for at, clock, note in applied.marks if clock is None or clock == name)
    if c.breached_at is not None:
        out.append((c.breached_at, f"breached: target {format_duration(c.target_s or 0)} exceeded"))
    return out


def _explain(
    cal: BusinessCalendar,
    c: Clock,
    now: float,
    status_pauses: list[tuple[float, float]],
    notes: list[str],
    gaps: Iterable[tuple[float, float]],
    holds: Iterable[tuple[float, float | None, str]],
    markers: list[tuple[float, str]],
) -> tuple[Segment, ...]:
    """Segments of [start, stop or now): counted, closed, paused, held; plus rule markers.

    Where reasons overlap, a status pause wins over a resolved stretch, which wins
    over a hold, which wins over closed hours: "why did nothing count" has one
    answer per stretch.
    """
    start = c.started_at
    assert start is not None
    end = c.stopped_at if c.stopped_at is not None else now
    labelled: list[tuple[float, float, str, str]] = [
        (a, b, "paused", n) for (a, b), n in zip(status_pauses, notes, strict=False)
    ]
    labelled += [(a, b, "paused", "resolved") for a, b in gaps]
    labelled += [(a, now if u is None else min(u, now), "held", i) for a, u, i in holds]
    marks = [(t, n) for t, n in markers if start <= t <= end]
    cut_at = {t for t, _n in marks}  # a rule splits the stretch it falls in
    opens = cal.open_intervals_ts(start, end) if end > start else []
    points = {start, end} | cut_at
    for a, b in opens:
        points.add(a)
        points.add(b)
    for a, b, _k, _n in labelled:
        if a < end and b > start:
            points.add(max(a, start))
            points.add(min(b, end))
    cuts = sorted(points)
    open_starts = [a for a, _b in opens]
    segs: list[Segment] = []
    for a, b in pairwise(cuts):
        mid = (a + b) / 2
        kind, note = "closed", ""
        for la, lb, lk, ln in labelled:
            if la <= mid < lb:
                kind, note = lk, ln
                break
        else:
            j = bisect_right(open_starts, mid) - 1
            if j >= 0 and mid < opens[j][1]:
                kind = "counted"
        if segs and segs[-1].kind == kind and segs[-1].note == note and a not in cut_at:
            segs[-1] = Segment(segs[-1].start, b, kind, note)
        else:
            segs.append(Segment(a, b, kind, note))
    rules = [Segment(t, t, "rule", n) for t, n in marks]
    # Markers sort before the stretch starting at their instant.
    merged = sorted(segs + rules, key=lambda s: (s.start, s.kind != "rule"))
    return tuple(merged)
