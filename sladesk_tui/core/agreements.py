"""Service level agreements: the TOML file of SPEC §3 as frozen domain values.

INTERFACE STUB: the dataclasses below are the contract other modules build on;
parsing and validation (`load_agreements`, `parse_duration`, ...) are filled in by
the engine work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

CLOCK_NAMES: tuple[str, ...] = ("response", "update", "resolution")
PRIORITY_POLICIES: tuple[str, ...] = ("keep", "restart")
REOPEN_POLICIES: tuple[str, ...] = ("resume", "restart")


class AgreementError(ValueError):
    """A problem in an agreements file; the message names agreement, key and value."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class CalendarDef:
    """A named calendar as written in the file; `to_dict()` feeds BusinessCalendar.from_dict."""

    id: str
    tz: str
    hours: Mapping[str, tuple[str, ...]]
    holidays: tuple[str, ...] = ()
    holiday_country: str | None = None
    holiday_subdiv: str | None = None


@dataclass(frozen=True, slots=True)
class Targets:
    """Business-second targets of one priority; None where the clock has no target."""

    response: float | None = None
    update: float | None = None
    resolution: float | None = None

    def get(self, clock: str) -> float | None:
        return getattr(self, clock)


@dataclass(frozen=True, slots=True)
class AtRisk:
    """A running clock is at risk once either condition holds."""

    ratio: float | None = 0.75
    remaining_s: float | None = None


@dataclass(frozen=True, slots=True)
class Penalty:
    currency: str
    per_breach: Mapping[str, float]
    monthly_cap: float | None = None


@dataclass(frozen=True, slots=True)
class Agreement:
    id: str
    name: str
    customer: str
    calendar: str  # a calendar id, "24x7" or "24x7:Zone/Name"
    targets: Mapping[str, Targets]  # priority -> targets
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None  # inclusive
    services: tuple[str, ...] = ()
    pause_statuses: frozenset[str] = frozenset({"waiting"})
    at_risk: AtRisk = field(default_factory=AtRisk)
    on_priority_change: str = "keep"
    on_reopen: str = "resume"
    availability: float | None = None
    penalty: Penalty | None = None

    def target(self, priority: str | None, clock: str) -> float | None:
        if priority is None:
            return None
        t = self.targets.get(priority)
        return None if t is None else t.get(clock)


@dataclass(frozen=True, slots=True)
class AgreementSet:
    """Everything one agreements file defines, validated and cross-checked."""

    calendars: Mapping[str, CalendarDef]
    agreements: tuple[Agreement, ...]
    warnings: tuple[str, ...] = ()
