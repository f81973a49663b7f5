"""Service level agreements as frozen domain values (docs/agreements.md).

An agreements file is a contract people sign: `loader` turns one into these values,
strictly; `matching` says which agreement governs a ticket and builds its calendar.
This module holds only the values and the names every layer shares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sladesk_tui.core.errors import InputError

if TYPE_CHECKING:
    from sladesk_tui.core.alert_rules import AlertRules
    from sladesk_tui.core.calendar import HolidaySnapshot

CLOCK_NAMES: tuple[str, ...] = ("response", "update", "resolution")
PRIORITY_POLICIES: tuple[str, ...] = ("keep", "restart")
REOPEN_POLICIES: tuple[str, ...] = ("resume", "restart")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = "24x7"  # the calendar reference of a round-the-clock calendar (UTC)

MAX_NAME = 200  # customer and service names; events use the same bound
NO_AGREEMENT = "no agreement in force"
DEFAULT_MAX_HOLD_S = 90 * 24 * 3600.0  # `max_hold` unless the agreement says (docs/instants.md)
PRIORITY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"  # priority names, here and in events


class AgreementError(InputError):
    """A problem in an agreements file; the message names agreement, key and value.

    An InputError, so the command line prints it as `sladesk: FILE[:LINE]: reason`
    and exits 2. `line` is the TOML line where the file is malformed, else the line
    where the offending key is written (the section's header line when the key is
    missing or cannot be found). `key` is that key's dotted path inside its section
    (`targets.P1.response`), when there is one. `problems` lists every problem found
    (one per section at most), the first being this one.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        source: str | None = None,
        problems: tuple[AgreementError, ...] = (),
        key: str | None = None,
    ) -> None:
        where = source if source is None or line is None else f"{source}:{line}"
        super().__init__(message, where=where)
        self.reason = message
        self.line = line
        self.source = source
        self.key = key
        self.problems = problems or (self,)


@dataclass(frozen=True, slots=True)
class CalendarDef:
    """A named calendar as written in the file; `to_dict()` feeds BusinessCalendar.from_dict.

    Hashable (tuples only) so built calendars, which grow an index lazily, can be
    cached by value and shared by every agreement version that uses the same hours.
    """

    id: str
    tz: str
    hours: tuple[tuple[str, tuple[str, ...]], ...]  # (weekday, segments), mon..sun order
    holidays: tuple[str, ...] = ()  # ISO dates (the `extra` dates with a country)
    holiday_country: str | None = None
    holiday_subdiv: str | None = None

    def to_dict(self) -> dict[str, Any]:
        holidays: list[str] | dict[str, Any] = list(self.holidays)
        if self.holiday_country is not None:
            holidays = {"country": self.holiday_country, "extra": list(self.holidays)}
            if self.holiday_subdiv is not None:
                holidays["subdiv"] = self.holiday_subdiv
        return {"tz": self.tz, "hours": {d: list(s) for d, s in self.hours}, "holidays": holidays}


@dataclass(frozen=True, slots=True)
class Targets:
    """Business-second targets of one priority; None where the clock has no target."""

    response: float | None = None
    update: float | None = None
    resolution: float | None = None

    def get(self, clock: str) -> float | None:
        target: float | None = getattr(self, clock)
        return target


@dataclass(frozen=True, slots=True)
class AtRisk:
    """A running clock is at risk once either condition holds."""

    ratio: float | None = 0.75
    remaining_s: float | None = None


@dataclass(frozen=True, slots=True)
class Penalty:
    currency: str
    per_breach: Mapping[str, float]  # priority -> amount per breached clock
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
    max_hold_s: float = DEFAULT_MAX_HOLD_S  # the longest `hold` override (wall time)

    def target(self, priority: str | None, clock: str) -> float | None:
        if priority is None:
            return None
        t = self.targets.get(priority)
        return None if t is None else t.get(clock)

    def covers_service(self, service: str | None) -> bool:
        return not self.services or service in self.services


@dataclass(frozen=True, slots=True)
class AgreementSet:
    """Everything one agreements file defines, validated and cross-checked.

    `holidays` is the country-holiday snapshot the file's calendars are built with
    (the store's, taken at load time); None leaves every year to the `holidays` package.
    """

    calendars: Mapping[str, CalendarDef]
    agreements: tuple[Agreement, ...]
    warnings: tuple[str, ...] = ()
    holidays: HolidaySnapshot | None = None
    alerts: AlertRules | None = None  # the [alerts] rules (docs/alerts.md), None without any

    def get(self, agreement_id: str) -> Agreement | None:
        for a in self.agreements:
            if a.id == agreement_id:
                return a
        return None

    def zone_of(self, calendar: str) -> str:
        """The IANA zone of a calendar reference (an id, "24x7" or "24x7:Zone")."""
        if calendar == ALWAYS:
            return "UTC"
        if calendar.startswith(ALWAYS + ":"):
            return calendar[len(ALWAYS) + 1 :]
        return self.calendars[calendar].tz
