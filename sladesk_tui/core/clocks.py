"""The clock engine of SPEC §5 and §6: a ticket's history, seen at `now`, as clocks.

The queue recomputes every ticket's clocks, so this is a hot path (issue 2: 100k
tickets well within a second): the engine walks the events once, stays on epoch
floats and turns the history into one sorted list of status pauses per ticket. It
cuts each clock's span into the stretches between pauses itself and asks the
calendar plain questions, which the calendar answers on a fast path: one
`elapsed_ts` per stretch (usually one), one `add_ts` for a breach instant, one for
a running clock's at-risk instant. (The calendar's own `pauses` argument gives the
same answers; it merges and converts on every call, which costs more than the
stretches do.) Result clocks are built by `_new_clock`, and the shared n/a ones
come from caches. The explanation, which costs, is built only on request.

Decisions recorded here (SPEC §5/§6 are silent on them):

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

    `due_at` is the breach instant of SPEC §2 (set while running, not while paused);
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
    and approved overrides apply and rejected ones do not.
    """
    if agreement is None:
        reason = no_agreement_reason or NO_AGREEMENT
        return {name: _na(name, reason) for name in CLOCKS}

    pause_statuses = agreement.pause_statuses
    created = None
    prio0 = None
    changes: list[tuple[float, str | None, str]] = []  # (at, priority, override id or "")
    pauses: list[tuple[float, float]] = []
    pause_notes: list[str] = []
    p_from = None  # start of the status pause in progress
    p_note = ""
    resp_stop = None
    res_stop = None
    res_run = 0.0  # start of the resolution clock's current run
    gaps: list[tuple[float, float]] = []  # resolution stopped, then resumed
    reopens: list[float] = []
    cycles: list[tuple[float, float | None]] = []  # update cycles
    cyc_open = None
    ended = False
    resume = agreement.on_reopen != "restart"

    for ev in events:
        at = ev.at
        if at > now:
            break
        typ = ev.type
        if created is None:
            if typ == "created":
                created = res_run = at
                prio0 = ev.priority
                st = ev.status
                if st is not None and st in pause_statuses:
                    p_from, p_note = at, st
            continue
        if typ == "status":
            st = ev.status
            if p_from is not None and st != p_note:
                pauses.append((p_from, at))
                pause_notes.append(p_note)
                p_from = None
            if p_from is None and st in pause_statuses:
                p_from, p_note = at, st
        elif typ == "reply":
            if resp_stop is None:
                resp_stop = at
            if cyc_open is not None:
                cycles.append((cyc_open, at))
                cyc_open = None
        elif typ == "customer_reply":
            if cyc_open is None and not ended:
                cyc_open = at
        elif typ == "priority":
            changes.append((at, ev.priority, ""))
        elif typ == "resolved" or typ == "closed":
            if not ended:
                ended = True
                if resp_stop is None:
                    resp_stop = at
                if res_stop is None:
                    res_stop = at
                if cyc_open is not None:
                    cycles.append((cyc_open, at))
                    cyc_open = None
            if p_from is not None:
                pauses.append((p_from, at))
                pause_notes.append(p_note)
                p_from = None
        elif typ == "reopened":
            if ended:
                ended = False
                reopens.append(at)
                if res_stop is not None:
                    if resume:
                        gaps.append((res_stop, at))
                    else:
                        res_run = at
                    res_stop = None
            if p_from is not None:
                pauses.append((p_from, at))
                pause_notes.append(p_note)
                p_from = None

    if created is None:
        return {name: _na(name, NO_CREATED) for name in CLOCKS}
    status_paused = p_from is not None
    if p_from is not None:
        pauses.append((p_from, now))
        pause_notes.append(p_note)
    if cyc_open is not None:
        cycles.append((cyc_open, None))

    ov = _Applied(overrides, now, created, changes) if adjusted and overrides else None
    restart = agreement.on_priority_change == "restart"
    targets = agreement.targets
    risk = (agreement.at_risk.ratio, agreement.at_risk.remaining_s)
    out: dict[str, Clock] = {}

    for name in CLOCKS:
        ncyc = prior_breached = 0
        if name == "response":
            start, stop = created, resp_stop
            if ov is not None and ov.responded is not None and (stop is None or ov.responded < stop):
                stop = ov.responded
        elif name == "resolution":
            start, stop = res_run, res_stop
        elif cycles:
            start, stop = cycles[-1]
            ncyc = len(cycles)
        else:
            prio = changes[-1][1] if changes else prio0
            tg = targets.get(prio) if prio is not None else None
            has = tg is not None and tg.update is not None
            out[name] = _na(name, NO_UPDATE_DUE) if has else _na_no_target(name, prio)
            continue
        own_gaps = gaps if name == "resolution" else ()
        if changes:
            prio, start = _governing_priority(prio0, changes, start, stop, restart, own_gaps)
        else:
            prio = prio0
        tg = targets.get(prio) if prio is not None else None
        target = None if tg is None else getattr(tg, name)
        if target is None:
            out[name] = _na_no_target(name, prio)
            continue

        # Status pauses alone are sorted and disjoint; anything added needs a merge.
        pz = pauses + own_gaps if own_gaps else pauses
        disjoint = not own_gaps
        paused = status_paused
        resumes_at = None
        exempt = None
        if ov is not None:
            if ov.holds:
                extra, held, release = ov.holds_for(name, now)
                if extra:
                    pz = pz + extra
                    disjoint = False
                if held and not paused:
                    paused, resumes_at = True, release
            target += ov.extension(name, cycles[-1][0] if ncyc else None, cycles)
            exempt = ov.exempt.get(name) or ov.exempt.get(None)
        if ncyc > 1:
            prior_breached = _breached_cycles(calendar, prio0, changes, targets, restart, cycles, pz, ov)

        c = _clock(
            name,
            calendar,
            now,
            start,
            stop,
            target,
            pz,
            disjoint,
            paused,
            resumes_at,
            exempt,
            risk,
            ncyc,
            prior_breached,
        )
        if explain:
            labels = ov.hold_labels(name) if ov is not None else []
            marks = _markers(name, agreement, prio0, changes, reopens, ov, c)
            seg = _explain(calendar, c, now, pauses, pause_notes, own_gaps, labels, marks)
            c = dataclasses.replace(c, explanation=seg)
        out[name] = c
    return out


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
    pz: list[tuple[float, float]],
    disjoint: bool,
    paused: bool,
    resumes_at: float | None,
    exempt: str | None,
    risk: tuple[float | None, float | None],
    ncyc: int = 0,
    prior_breached: int = 0,
) -> Clock:
    """One clock's figures from its effective start, stop, target and pauses.

    Exactly at the target is met: breached means elapsed > target, i.e. `now` is
    past the breach instant (the latest instant with elapsed == target).
    """
    end = now if stop is None else stop
    running = stop is None and not paused
    risk_us = _risk_us(target, risk) if running else None
    if not pz or (disjoint and (pz[0][0] >= end or pz[-1][1] <= start)):
        # No pause in the way (the common case): one window, floats exact to the µs.
        el = cal.elapsed_ts(start, end)
        over = el > target
        w_due, rest = start, target
        w_risk, risk_base = start, 0
    else:
        target_us = round(target * _US)
        el_us, w_due, base, w_risk, risk_base = _count(
            cal.elapsed_ts, start, end, pz if disjoint else _merged(pz), target_us + 1, risk_us or 0
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
    if ncyc:
        prior_breached += b is not None
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
        ncyc,
        prior_breached,
    )


def _count(
    elapsed_ts: Callable[[float, float], float],
    start: float,
    end: float,
    pz: list[tuple[float, float]],
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
    for p0, p1 in pz:
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


def _merged(pz: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping pauses (holds, resolved stretches) as sorted, disjoint ones."""
    out: list[tuple[float, float]] = []
    for p0, p1 in sorted(pz):
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
    prio0 = None
    created = False
    changes: list[tuple[float, str | None, str]] = []
    for ev in events:
        if not created:
            if ev.type == "created":
                created, prio0 = True, ev.priority
            continue
        if ev.at >= stop:
            break
        if ev.type == "priority":
            changes.append((ev.at, ev.priority, ""))
    _merge_reprioritized(changes, overrides, stop)
    return _governing_priority(prio0, changes, stop, stop, False, ())[0]


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
    prio0: str | None,
    changes: list[tuple[float, str | None, str]],
    targets: Mapping[str, Targets],
    restart: bool,
    cycles: list[tuple[float, float | None]],
    pz: list[tuple[float, float]],
    ov: _Applied | None,
) -> int:
    """How many finished update cycles (all but the last) exceeded their target."""
    n = 0
    for cs, ce in cycles[:-1]:
        prio, start = _governing_priority(prio0, changes, cs, ce, restart, ())
        tg = targets.get(prio) if prio is not None else None
        target = None if tg is None else tg.update
        if target is None:
            continue
        if ov is not None:
            target += ov.extension("update", cs, cycles)
        if cal.elapsed_ts(start, ce, pz) > target:  # type: ignore[arg-type]  # pauses are closed by now here
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
    prio0: str | None,
    changes: list[tuple[float, str | None, str]],
    reopens: list[float],
    ov: _Applied | None,
    c: Clock,
) -> list[tuple[float, str]]:
    """The rules that shaped the clock, as (instant, note); `_explain` keeps those
    inside the clock's window."""
    out: list[tuple[float, str]] = []
    prev = prio0
    for at, p, src in changes:
        if p != prev:
            by = f", override {src}" if src else ""
            out.append((at, f"priority {prev} -> {p} ({agreement.on_priority_change}{by})"))
        prev = p
    if name == "resolution":
        out.extend((at, f"reopened ({agreement.on_reopen})") for at in reopens)
    if ov is not None:
        out.extend((at, note) for at, clock, note in ov.marks if clock is None or clock == name)
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
