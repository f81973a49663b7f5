"""Service level agreements: the TOML file of SPEC §3 as frozen domain values.

An agreements file is a contract people sign, so the loader is strict: a typo in a
key, a unit or a policy name must never pass silently and leave a clock counting the
wrong thing. Every message names the file, the agreement (or calendar), the key and
the value, and the whole file is refused on the first problem found in each section.

Decisions recorded here (SPEC §3 is silent on them):

- Durations are `<n>h<n>m<n>s` with whole numbers, each unit at most once and in that
  order, optionally separated by spaces (`"1h30m"`, `"1h 30m"`, `"90s"`). Days and
  weeks are refused because a business day has no fixed length. A duration must be
  positive and at most 10000h.
- A written `at_risk` table replaces the default whole: `{ remaining = "30m" }` flags
  on remaining time only, `{}` never flags.
- A priority table may be empty (`P4 = {}`): the priority is known, all its clocks
  are `n/a`.
- Validity dates are local dates in the agreement's calendar zone, both inclusive;
  either may be left out (open-ended).
- Two agreements could govern the same ticket when they share the customer, their
  services overlap (no list means every service) and their validity periods share
  an instant (each period taken in its own calendar's zone).
- An agreement named in a `created` event governs the ticket whatever its customer
  (the system of record decided) but only while it is in force.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import tomli as tomllib  # TOML 1.1: SPEC §3's example spreads an inline table over lines

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.events import STATUS_PATTERN
from sladesk_tui.core.instants import EARLIEST_YEAR, LATEST_YEAR

if TYPE_CHECKING:
    from sladesk_tui.core.calendar import BusinessCalendar, HolidaySnapshot

CLOCK_NAMES: tuple[str, ...] = ("response", "update", "resolution")
PRIORITY_POLICIES: tuple[str, ...] = ("keep", "restart")
REOPEN_POLICIES: tuple[str, ...] = ("resume", "restart")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = "24x7"  # the calendar reference of a round-the-clock calendar (UTC)

MAX_DURATION_S = 10_000 * 3600
MAX_NAME = 200  # customer and service names; events use the same bound
NO_AGREEMENT = "no agreement in force"

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
PRIORITY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"  # priority names, here and in events
_PRIORITY = re.compile(PRIORITY_PATTERN)
_STATUS = re.compile(STATUS_PATTERN)
_CURRENCY = re.compile(r"[A-Z]{3}")
_DURATION = re.compile(r"(?:(\d+)h)? *(?:(\d+)m)? *(?:(\d+)s)?")
_DAYS = re.compile(r"\d+(?:\.\d+)? *(?:days?|weeks?|d|w)(?![a-z])")
_TOML_POS = re.compile(r" \(at (?:line (\d+), column (\d+)|end of document)\)$")

_TOP_KEYS = ("calendar", "agreement")
_CALENDAR_KEYS = ("id", "tz", "hours", "holidays")
_AGREEMENT_KEYS = (
    "id",
    "name",
    "customer",
    "services",
    "calendar",
    "valid_from",
    "valid_until",
    "pause_statuses",
    "at_risk",
    "on_priority_change",
    "on_reopen",
    "availability",
    "targets",
    "penalty",
)
_REQUIRED_AGREEMENT_KEYS = ("id", "customer", "calendar", "targets")
_AT_RISK_KEYS = ("ratio", "remaining")
_PENALTY_KEYS = ("currency", "per_breach", "monthly_cap")
_HOLIDAY_KEYS = ("country", "subdiv", "extra")


class AgreementError(InputError):
    """A problem in an agreements file; the message names agreement, key and value.

    An InputError, so the command line prints it as `sladesk: FILE[:LINE]: reason`
    and exits 2. `line` is the TOML line where the file is malformed, else the
    header line of the offending section when it can be found. `problems` lists
    every problem found (one per section at most), the first being this one.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        source: str | None = None,
        problems: tuple[AgreementError, ...] = (),
    ) -> None:
        where = source if source is None or line is None else f"{source}:{line}"
        super().__init__(message, where=where)
        self.reason = message
        self.line = line
        self.source = source
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
        return getattr(self, clock)


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


# ---- durations ------------------------------------------------------------------


def parse_duration(text: str) -> float:
    """Seconds of a duration such as "15m", "1h30m", "1h 30m", "40h" or "90s".

    Raises ValueError whose message starts with the quoted value, so callers can
    prefix the agreement and key.
    """
    if not isinstance(text, str):
        raise ValueError(f"{_show(text)} is not a duration: write a string such as '15m' or '1h30m'")
    s = text.strip()
    if _DAYS.search(s):
        raise ValueError(
            f"{text!r} is not a duration: days and weeks are refused because a business day "
            "has no fixed length; write hours (e.g. '24h')"
        )
    if s.startswith("-"):
        raise ValueError(f"{text!r} is not a duration: it must be positive")
    m = _DURATION.fullmatch(s)
    if not s or m is None:
        raise ValueError(f"{text!r} is not a duration (write e.g. '15m', '1h30m', '40h', '90s')")
    h, mi, se = (int(g) if g else 0 for g in m.groups())
    seconds = float(h * 3600 + mi * 60 + se)
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a duration: it must be longer than zero")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{text!r} is too long: at most {MAX_DURATION_S // 3600}h")
    return seconds


def format_duration(seconds: float) -> str:
    """The canonical spelling parse_duration reads back ("1h30m"); for messages."""
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{sec}s" if sec else "")
    return out or "0s"


# ---- loading --------------------------------------------------------------------


def load_agreements(
    text: str, source: str = "<agreements>", holidays: HolidaySnapshot | None = None
) -> AgreementSet:
    """Parse and validate an agreements file; raises AgreementError naming the problem.

    `holidays` (the store's snapshot) goes with the set: its calendars are validated
    and built with it, so a country it holds needs no `holidays` package.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        line = None
        if m:
            msg = msg[: m.start()]
            line = int(m.group(1)) if m.group(1) else max(1, text.count("\n") + (not text.endswith("\n")))
            if m.group(2):
                msg += f" (column {m.group(2)})"
        raise AgreementError(f"invalid TOML: {msg}", line=line, source=source) from None

    problems: list[AgreementError] = []

    def note(exc: AgreementError, line: int | None) -> None:
        problems.append(AgreementError(exc.reason, line=exc.line or line, source=source))

    for key in doc:
        if key not in _TOP_KEYS:
            note(AgreementError(f"unknown top-level key {key!r}{_hint(key, _TOP_KEYS)}"), None)
    cal_tables = _array_of_tables(doc, "calendar", note)
    agr_tables = _array_of_tables(doc, "agreement", note)
    cal_lines = _header_lines(text, "calendar", len(cal_tables))
    agr_lines = _header_lines(text, "agreement", len(agr_tables))

    calendars: dict[str, CalendarDef] = {}
    broken: set[str] = set()  # calendars already reported: agreements naming them say no more
    for i, table in enumerate(cal_tables):
        try:
            cdef = _calendar(table, i)
            if cdef.id in calendars:
                raise AgreementError(f"calendar {cdef.id!r}: id: {cdef.id!r} is defined twice")
            _validate_calendar(cdef, holidays)
            calendars[cdef.id] = cdef
        except AgreementError as exc:
            note(exc, cal_lines[i])
            if isinstance(table.get("id"), str):
                broken.add(table["id"])

    agreements: list[Agreement] = []
    agr_line: dict[str, int | None] = {}
    for i, table in enumerate(agr_tables):
        try:
            a = _agreement(table, i, calendars, broken)
            if a.id in agr_line:
                raise AgreementError(f"agreement {a.id!r}: id: {a.id!r} is defined twice")
            agreements.append(a)
            agr_line[a.id] = agr_lines[i]
        except AgreementError as exc:
            note(exc, agr_lines[i])
    if not agr_tables and not problems:
        note(AgreementError("the file defines no agreement ([[agreement]] tables)"), None)

    aset = AgreementSet(calendars=calendars, agreements=tuple(agreements))
    if not problems:
        for exc, aid in _overlaps(aset):
            note(exc, agr_line[aid])
    if problems:
        first = problems[0]
        n = len(problems) - 1
        more = f" (and {n} more problem{'s' if n > 1 else ''})" if n else ""
        raise AgreementError(first.reason + more, line=first.line, source=source, problems=tuple(problems))
    return AgreementSet(
        calendars=calendars, agreements=tuple(agreements), warnings=_warnings(aset), holidays=holidays
    )


def _array_of_tables(
    doc: dict[str, Any], key: str, note: Callable[[AgreementError, int | None], None]
) -> list[dict[str, Any]]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        note(AgreementError(f"{key}: must be an array of tables, written [[{key}]]"), None)
        return []
    return value


def _header_lines(text: str, name: str, count: int) -> list[int | None]:
    """Line of each `[[name]]` header; Nones when they cannot be matched one to one
    (inline arrays, headers inside multi-line strings)."""
    pat = re.compile(r"\s*\[\[\s*" + name + r"\s*\]\]\s*(?:#.*)?")
    lines = [n for n, ln in enumerate(text.split("\n"), 1) if pat.fullmatch(ln.rstrip("\r"))]
    return list(lines) if len(lines) == count else [None] * count


# ---- calendars ------------------------------------------------------------------


def _calendar(t: dict[str, Any], index: int) -> CalendarDef:
    cid = t.get("id")
    label = f"calendar {cid!r}" if isinstance(cid, str) and cid else f"calendar #{index + 1}"
    _check_keys(t, _CALENDAR_KEYS, label)
    for key in ("id", "tz", "hours"):
        if key not in t:
            raise AgreementError(f"{label}: {key}: missing (required)")
    if not isinstance(cid, str) or not _ID.fullmatch(cid):
        raise AgreementError(f"{label}: id: {_show(cid)} must be a name of letters, digits, '.', '_' or '-'")
    if cid.startswith(ALWAYS):
        raise AgreementError(f"{label}: id: {cid!r} is reserved for round-the-clock calendars")
    tz = t["tz"]
    if not isinstance(tz, str) or not _zone_ok(tz):
        raise AgreementError(
            f"{label}: tz: {_show(tz)} is not a known time zone (write e.g. 'Europe/Berlin')"
        )
    hours = _hours(t["hours"], label)
    holidays: tuple[str, ...] = ()
    country = subdiv = None
    raw = t.get("holidays", [])
    if isinstance(raw, dict):
        _check_keys(raw, _HOLIDAY_KEYS, label, "holidays.")
        country = raw.get("country")
        if not isinstance(country, str) or not re.fullmatch(r"[A-Z]{2,3}", country):
            raise AgreementError(
                f"{label}: holidays.country: {_show(country)} must be a country code such as 'DE'"
            )
        subdiv = raw.get("subdiv")
        if subdiv is not None and (not isinstance(subdiv, str) or not subdiv.strip()):
            raise AgreementError(
                f"{label}: holidays.subdiv: {_show(subdiv)} must be a subdivision code such as 'BY'"
            )
        holidays = _dates(raw.get("extra", []), label, "holidays.extra")
    else:
        holidays = _dates(raw, label, "holidays")
    return CalendarDef(
        id=cid, tz=tz, hours=hours, holidays=holidays, holiday_country=country, holiday_subdiv=subdiv
    )


def _hours(raw: Any, label: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(raw, dict):
        raise AgreementError(
            f"{label}: hours: {_show(raw)} must be a table of weekdays, e.g. {{ mon = ['09:00-17:00'] }}"
        )
    for day in raw:
        if day not in WEEKDAYS:
            raise AgreementError(
                f"{label}: hours.{day}: {day!r} is not a weekday (mon..sun){_hint(day, WEEKDAYS)}"
            )
    out = []
    for day in WEEKDAYS:
        segs = raw.get(day, [])
        if not isinstance(segs, list) or not all(isinstance(s, str) for s in segs):
            raise AgreementError(
                f"{label}: hours.{day}: {_show(segs)} must be a list of 'HH:MM-HH:MM' strings"
            )
        if segs:
            out.append((day, tuple(segs)))
    if not out:
        raise AgreementError(f"{label}: hours: the calendar is never open")
    return tuple(out)


# Built calendars by `_key`, or by ("24x7", zone). Keys are values, so the cache is
# a memo: equal keys build equal calendars, whichever set or database asked first.
_CACHE: dict[object, BusinessCalendar] = {}


def _key(cdef: CalendarDef, holidays: HolidaySnapshot | None) -> object:
    """A country calendar is only as good as the holidays it is built with: the snapshot
    is part of its identity. Any other calendar is its definition alone."""
    return cdef if cdef.holiday_country is None else (cdef, holidays)


def _validate_calendar(cdef: CalendarDef, holidays: HolidaySnapshot | None) -> None:
    """Build it once: BusinessCalendar is the authority on segments, dates and zones."""
    from sladesk_tui.core.calendar import BusinessCalendar

    key = _key(cdef, holidays)
    if key in _CACHE:
        return
    try:
        cal = BusinessCalendar.from_dict(cdef.to_dict(), holidays)
    except ValueError as exc:
        raise AgreementError(f"calendar {cdef.id!r}: {exc}") from None
    _CACHE[key] = cal


def _zone_ok(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a directory
        return False
    return True


def build_calendar(agreements: AgreementSet, name: str) -> BusinessCalendar:
    """The BusinessCalendar of a calendar reference, shared across calls.

    Built calendars keep a lazily grown index of open intervals: rebuilding one per
    ticket would throw that work away, so they are cached by value (a country
    calendar together with the set's holiday snapshot).
    """
    from sladesk_tui.core.calendar import BusinessCalendar

    if name == ALWAYS or name.startswith(ALWAYS + ":"):
        zone = agreements.zone_of(name)
        key = (ALWAYS, zone)
        if key not in _CACHE:
            _CACHE[key] = BusinessCalendar.always(zone)
        return _CACHE[key]
    cdef = agreements.calendars.get(name)
    if cdef is None:
        raise AgreementError(f"unknown calendar {name!r}")
    key = _key(cdef, agreements.holidays)
    cal = _CACHE.get(key)
    if cal is None:
        cal = _CACHE[key] = BusinessCalendar.from_dict(cdef.to_dict(), agreements.holidays)
    return cal


# ---- agreements -----------------------------------------------------------------


def _agreement(
    t: dict[str, Any], index: int, calendars: Mapping[str, CalendarDef], broken: set[str]
) -> Agreement:
    aid = t.get("id")
    label = f"agreement {aid!r}" if isinstance(aid, str) and aid else f"agreement #{index + 1}"
    _check_keys(t, _AGREEMENT_KEYS, label)
    for key in _REQUIRED_AGREEMENT_KEYS:
        if key not in t:
            raise AgreementError(f"{label}: {key}: missing (required)")
    if not isinstance(aid, str) or not _ID.fullmatch(aid):
        raise AgreementError(
            f"{label}: id: {_show(aid)} must be a name of letters, digits, '.', '_' or '-' (at most 100)"
        )

    bad = _Ctx(label)

    name = t.get("name", aid)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or _has_control(name):
        raise bad("name", name, f"must be a non-blank line of text (at most {MAX_NAME} characters)")
    customer = _name(t["customer"], "customer", bad)
    services_raw = t.get("services", [])
    if not isinstance(services_raw, list):
        raise bad("services", services_raw, "must be a list of service names")
    services = tuple(_name(s, f"services[{i}]", bad) for i, s in enumerate(services_raw))
    if len(set(services)) != len(services):
        raise bad("services", services_raw, "names a service twice")

    calendar = t["calendar"]
    if not isinstance(calendar, str):
        raise bad("calendar", calendar, "must be a calendar id, '24x7' or '24x7:Zone/Name'")
    if calendar.startswith(ALWAYS + ":"):
        if not _zone_ok(calendar[len(ALWAYS) + 1 :]):
            raise bad("calendar", calendar, "names an unknown time zone (write e.g. '24x7:Europe/Berlin')")
    elif calendar != ALWAYS and calendar not in calendars and calendar not in broken:
        known = ", ".join(repr(c) for c in calendars) or "none"
        raise bad(
            "calendar", calendar, f"is not a defined calendar (defined: {known}; or '24x7', '24x7:Zone/Name')"
        )

    valid_from = _date(t.get("valid_from"), "valid_from", bad)
    valid_until = _date(t.get("valid_until"), "valid_until", bad)
    if valid_from and valid_until and valid_until < valid_from:
        raise bad("valid_until", valid_until, f"is before valid_from {valid_from.isoformat()}")

    pauses_raw = t.get("pause_statuses", ["waiting"])
    if not isinstance(pauses_raw, list):
        raise bad("pause_statuses", pauses_raw, "must be a list of statuses, e.g. ['waiting']")
    for i, s in enumerate(pauses_raw):
        if not isinstance(s, str) or not _STATUS.fullmatch(s):
            raise bad(
                f"pause_statuses[{i}]", s, "is not a status (a lowercase word such as 'waiting' or 'on_hold')"
            )

    at_risk = _at_risk(t.get("at_risk"), bad)
    on_priority_change = t.get("on_priority_change", "keep")
    if on_priority_change not in PRIORITY_POLICIES:
        raise bad("on_priority_change", on_priority_change, "is not a policy (keep | restart)")
    on_reopen = t.get("on_reopen", "resume")
    if on_reopen not in REOPEN_POLICIES:
        raise bad("on_reopen", on_reopen, "is not a policy (resume | restart)")

    availability = t.get("availability")
    if availability is not None and (not _is_number(availability) or not 0 < availability <= 100):
        raise bad("availability", availability, "must be a percentage greater than 0 and at most 100")

    targets = _targets(t["targets"], bad)
    penalty = _penalty(t.get("penalty"), targets, bad)
    return Agreement(
        id=aid,
        name=name,
        customer=customer,
        calendar=calendar,
        targets=targets,
        valid_from=valid_from,
        valid_until=valid_until,
        services=services,
        pause_statuses=frozenset(pauses_raw),
        at_risk=at_risk,
        on_priority_change=on_priority_change,
        on_reopen=on_reopen,
        availability=None if availability is None else float(availability),
        penalty=penalty,
    )


def _targets(raw: Any, bad: _Ctx) -> dict[str, Targets]:
    if not isinstance(raw, dict) or not raw:
        raise bad("targets", raw, "must be a table of priorities, e.g. P1 = { response = '15m' }")
    out: dict[str, Targets] = {}
    for prio, clocks in raw.items():
        if not _PRIORITY.fullmatch(prio):
            raise bad(f"targets.{prio}", prio, "is not a priority name (letters, digits, '_', '.', '-')")
        if not isinstance(clocks, dict):
            raise bad(
                f"targets.{prio}", clocks, "must be a table such as { response = '15m', resolution = '4h' }"
            )
        values: dict[str, float] = {}
        for clock, text in clocks.items():
            if clock not in CLOCK_NAMES:
                raise bad.say(
                    f"targets.{prio}: unknown clock {clock!r} (response | update | resolution)"
                    + _hint(clock, CLOCK_NAMES)
                )
            try:
                values[clock] = parse_duration(text)
            except ValueError as exc:
                raise bad.say(f"targets.{prio}.{clock}: {exc}") from None
        out[prio] = Targets(**values)
    return out


def _at_risk(raw: Any, bad: _Ctx) -> AtRisk:
    if raw is None:
        return AtRisk()
    if not isinstance(raw, dict):
        raise bad("at_risk", raw, "must be a table such as { ratio = 0.75, remaining = '30m' }")
    for key in raw:
        if key not in _AT_RISK_KEYS:
            raise bad.say(f"unknown key 'at_risk.{key}'{_hint(key, _AT_RISK_KEYS)}")
    ratio = raw.get("ratio")
    if ratio is not None and (not _is_number(ratio) or not 0 < ratio <= 1):
        raise bad("at_risk.ratio", ratio, "must be a number greater than 0 and at most 1")
    remaining = raw.get("remaining")
    remaining_s = None
    if remaining is not None:
        try:
            remaining_s = parse_duration(remaining)
        except ValueError as exc:
            raise bad.say(f"at_risk.remaining: {exc}") from None
    return AtRisk(ratio=None if ratio is None else float(ratio), remaining_s=remaining_s)


def _penalty(raw: Any, targets: Mapping[str, Targets], bad: _Ctx) -> Penalty | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad("penalty", raw, "must be a table with currency, per_breach and monthly_cap")
    for key in raw:
        if key not in _PENALTY_KEYS:
            raise bad.say(f"unknown key 'penalty.{key}'{_hint(key, _PENALTY_KEYS)}")
    for key in ("currency", "per_breach"):
        if key not in raw:
            raise bad.say(f"penalty.{key}: missing (required)")
    currency = raw["currency"]
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise bad("penalty.currency", currency, "must be a three-letter currency code such as 'EUR'")
    per = raw["per_breach"]
    if not isinstance(per, dict):
        raise bad("penalty.per_breach", per, "must be a table of priority = amount, e.g. { P1 = 500 }")
    per_breach: dict[str, float] = {}
    for prio, amount in per.items():
        if prio not in targets:
            raise bad(
                f"penalty.per_breach.{prio}", prio, f"is not a priority of targets ({', '.join(targets)})"
            )
        if not _is_number(amount) or amount < 0:
            raise bad(f"penalty.per_breach.{prio}", amount, "must be a number at least 0")
        per_breach[prio] = float(amount)
    cap = raw.get("monthly_cap")
    if cap is not None and (not _is_number(cap) or cap < 0):
        raise bad("penalty.monthly_cap", cap, "must be a number at least 0")
    return Penalty(currency=currency, per_breach=per_breach, monthly_cap=None if cap is None else float(cap))


def _name(value: Any, key: str, bad: _Ctx) -> str:
    if (
        not isinstance(value, str)
        or not value
        or value != value.strip()
        or len(value) > MAX_NAME
        or _has_control(value)
    ):
        raise bad(
            key, value, f"must be a non-empty name without surrounding spaces (at most {MAX_NAME} characters)"
        )
    return value


def _date(value: Any, key: str, bad: _Ctx) -> dt.date | None:
    if value is None:
        return None
    day: dt.date | None = None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            pass
    if day is None:
        raise bad(key, value, "is not a date (write e.g. 2026-01-01)")
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:  # docs/instants.md
        raise bad(key, value, f"is outside the years sladesk accepts ({EARLIEST_YEAR} to {LATEST_YEAR})")
    return day


def _dates(raw: Any, label: str, key: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise AgreementError(
            f"{label}: {key}: {_show(raw)} must be a list of dates or a table {{ country = 'DE' }}"
        )
    out = []
    for i, v in enumerate(raw):
        d = _date(v, f"{key}[{i}]", _Ctx(label))
        out.append(d.isoformat())  # type: ignore[union-attr]
    return tuple(sorted(set(out)))


class _Ctx:
    """Builds the messages of one section: `label: key: value problem`."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, key: str, value: Any, problem: str) -> AgreementError:
        return AgreementError(f"{self.label}: {key}: {_show(value)} {problem}")

    def say(self, message: str) -> AgreementError:
        return AgreementError(f"{self.label}: {message}")


# ---- cross-checks ---------------------------------------------------------------


def _validity_span(aset: AgreementSet, a: Agreement) -> tuple[float, float]:
    """[start, end) in epoch seconds: local midnights of valid_from and the day after valid_until."""
    zone = zoneinfo.ZoneInfo(aset.zone_of(a.calendar))
    start = -math.inf
    end = math.inf
    if a.valid_from:
        start = dt.datetime.combine(a.valid_from, dt.time(), zone).timestamp()
    if a.valid_until:
        if a.valid_until < dt.date.max:
            end = dt.datetime.combine(a.valid_until + dt.timedelta(days=1), dt.time(), zone).timestamp()
    return start, end


def _overlaps(aset: AgreementSet) -> list[tuple[AgreementError, str]]:
    out = []
    items = aset.agreements
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            if a.customer != b.customer:
                continue
            if a.services and b.services and not set(a.services) & set(b.services):
                continue
            (s1, e1), (s2, e2) = _validity_span(aset, a), _validity_span(aset, b)
            if s1 < e2 and s2 < e1:
                if a.services and b.services:
                    shared = "service " + ", ".join(
                        repr(x) for x in sorted(set(a.services) & set(b.services))
                    )
                elif a.services or b.services:
                    shared = "service " + ", ".join(repr(x) for x in (a.services or b.services))
                else:
                    shared = "every service"
                out.append(
                    (
                        AgreementError(
                            f"agreements {a.id!r} and {b.id!r} could both govern the same ticket: "
                            f"same customer {a.customer!r}, both cover {shared}, validity overlaps "
                            f"({_period(a)} / {_period(b)}); narrow their services or validity dates"
                        ),
                        b.id,
                    )
                )
    return out


def _period(a: Agreement) -> str:
    if a.valid_from and a.valid_until:
        return f"{a.valid_from} to {a.valid_until}"
    if a.valid_from:
        return f"from {a.valid_from}"
    return f"until {a.valid_until}" if a.valid_until else "always"


def _warnings(aset: AgreementSet) -> tuple[str, ...]:
    out = []
    for a in aset.agreements:
        for prio, t in a.targets.items():
            if t.response is not None and t.resolution is not None and t.response > t.resolution:
                out.append(
                    f"agreement {a.id!r}: targets.{prio}: response target {format_duration(t.response)} "
                    f"is longer than resolution target {format_duration(t.resolution)}"
                )
    used = {a.calendar for a in aset.agreements}
    out.extend(f"calendar {c!r} is not used by any agreement" for c in aset.calendars if c not in used)
    return tuple(out)


# ---- matching -------------------------------------------------------------------


def match_agreement(
    agreements: AgreementSet,
    *,
    customer: str | None,
    service: str | None,
    created_at: float,
    agreement_id: str | None = None,
) -> tuple[Agreement | None, str | None]:
    """The agreement governing a ticket created at `created_at` (epoch seconds), or
    (None, reason) with a reason starting "no agreement in force".

    Validity is judged on the creation instant's local date in the agreement's
    calendar zone, both ends inclusive.
    """
    if agreement_id is not None:
        a = agreements.get(agreement_id)
        if a is None:
            return None, f"{NO_AGREEMENT}: unknown agreement {agreement_id!r}"
        return (
            (a, None)
            if _in_force(agreements, a, created_at) == 0
            else (None, _why_not(agreements, [a], created_at))
        )
    mine = [a for a in agreements.agreements if a.customer == customer]
    if not mine:
        return None, f"{NO_AGREEMENT}: unknown customer {customer!r}"
    fitting = [a for a in mine if a.covers_service(service)]
    if not fitting:
        return None, f"{NO_AGREEMENT}: no agreement of customer {customer!r} covers service {service!r}"
    for a in fitting:
        if _in_force(agreements, a, created_at) == 0:
            return a, None
    return None, _why_not(agreements, fitting, created_at)


def _local_date(agreements: AgreementSet, a: Agreement, at: float) -> dt.date:
    zone = zoneinfo.ZoneInfo(agreements.zone_of(a.calendar))
    return dt.datetime.fromtimestamp(at, zone).date()


def _in_force(agreements: AgreementSet, a: Agreement, at: float) -> int:
    """-1 not yet begun, 0 in force, 1 expired."""
    if a.valid_from is None and a.valid_until is None:
        return 0
    day = _local_date(agreements, a, at)
    if a.valid_from is not None and day < a.valid_from:
        return -1
    if a.valid_until is not None and day > a.valid_until:
        return 1
    return 0


def _why_not(agreements: AgreementSet, candidates: list[Agreement], at: float) -> str:
    """Name the most recent expiry, else the earliest start still to come."""
    expired = [a for a in candidates if _in_force(agreements, a, at) == 1]
    if expired:
        a = max(expired, key=lambda x: x.valid_until)  # type: ignore[arg-type, return-value]
        return f"{NO_AGREEMENT}: expired on {a.valid_until} (agreement {a.id!r})"
    a = min(candidates, key=lambda x: x.valid_from)  # type: ignore[arg-type, return-value]
    return f"{NO_AGREEMENT}: not yet begun (from {a.valid_from}, agreement {a.id!r})"


# ---- small helpers --------------------------------------------------------------


def _check_keys(t: Mapping[str, Any], known: tuple[str, ...], label: str, prefix: str = "") -> None:
    for key in t:
        if key not in known:
            raise AgreementError(f"{label}: unknown key {prefix + key!r}{_hint(key, known)}")


def _hint(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _has_control(s: str) -> bool:
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in s)


def _show(v: Any) -> str:
    """A value as the user wrote it: strings quoted, TOML spellings for the rest."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_show(x)}" for k, x in v.items()) + " }" if v else "{}"
    if isinstance(v, list):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    return repr(v)
