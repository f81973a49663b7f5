"""The clock engine of SPEC §5 and §6.

INTERFACE STUB: the value types are the contract screens, store and reports build
on; `compute_clocks` is filled in by the engine work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

STATES: tuple[str, ...] = ("ok", "at_risk", "breached", "paused", "met", "exempt", "n/a")


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of a clock's explanation, epoch seconds [start, end).

    kind: `counted`, `closed` (outside business hours or a holiday), `paused`
    (status in pause_statuses; note names the status), `held` (hold override; note
    names the override), or `rule` (a zero-length marker: priority change, reopen,
    restart, extend, exempt, responded...).
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
    second can derive the state from `now` without calling the engine again.
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


ClockMap = Mapping[str, Clock]
