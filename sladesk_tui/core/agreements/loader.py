"""Reading an agreements file (docs/agreements.md): TOML in, an AgreementSet out.

The loader is strict: a typo in a key, a unit or a policy name must never pass
silently and leave a clock counting the wrong thing. Every message names the file,
the agreement (or calendar), the key and the value, and points at the line where
that key is written; the whole file is refused, reporting the first problem of each
section. The rules it enforces are in docs/agreements.md.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import tomli as tomllib  # TOML 1.1: multi-line inline tables, as docs/agreements.md's example

from sladesk_tui.core.agreements.matching import cached_calendar
from sladesk_tui.core.agreements.model import (
    ALWAYS,
    CLOCK_NAMES,
    DEFAULT_MAX_HOLD_S,
    MAX_NAME,
    PRIORITY_PATTERN,
    PRIORITY_POLICIES,
    REOPEN_POLICIES,
    WEEKDAYS,
    Agreement,
    AgreementError,
    AgreementSet,
    AtRisk,
    CalendarDef,
    Penalty,
    Targets,
)
from sladesk_tui.core.durations import format_duration, parse_duration
from sladesk_tui.core.events import STATUS_PATTERN
from sladesk_tui.core.instants import EARLIEST_YEAR, LATEST_YEAR

if TYPE_CHECKING:
    from sladesk_tui.core.calendar import HolidaySnapshot

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_PRIORITY = re.compile(PRIORITY_PATTERN)
_STATUS = re.compile(STATUS_PATTERN)
_CURRENCY = re.compile(r"[A-Z]{3}")
_TOML_POS = re.compile(r" \(at (?:line (\d+), column (\d+)|end of document)\)$")

_TOP_KEYS = ("calendar", "agreement", "alerts")  # alerts: core.alert_rules
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
    "max_hold",
    "alerts",  # parsed by core.alert_rules
)
_REQUIRED_AGREEMENT_KEYS = ("id", "customer", "calendar", "targets")
_AT_RISK_KEYS = ("ratio", "remaining")
_PENALTY_KEYS = ("currency", "per_breach", "monthly_cap")
_HOLIDAY_KEYS = ("country", "subdiv", "extra")


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
    keys = _KeyLines(text)

    def note(exc: AgreementError, line: int | None) -> None:
        """Record a problem at the line of its key, else of its section's header."""
        at = exc.line or keys.find(line, exc.key) or line
        problems.append(AgreementError(exc.reason, line=at, source=source, key=exc.key))

    for key in doc:
        if key not in _TOP_KEYS:
            note(AgreementError(f"unknown top-level key {key!r}{_hint(key, _TOP_KEYS)}"), None)
    cal_tables = _array_of_tables(doc, "calendar", note)
    agr_tables = _array_of_tables(doc, "agreement", note)
    cal_lines = _header_lines(text, "calendar", len(cal_tables))
    agr_lines = _header_lines(text, "agreement", len(agr_tables))
    keys.sections(cal_lines + agr_lines)

    calendars: dict[str, CalendarDef] = {}
    broken: set[str] = set()  # calendars already reported: agreements naming them say no more
    for i, table in enumerate(cal_tables):
        try:
            cdef = _calendar(table, i)
            if cdef.id in calendars:
                raise AgreementError(f"calendar {cdef.id!r}: id: {cdef.id!r} is defined twice", key="id")
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
                raise AgreementError(f"agreement {a.id!r}: id: {a.id!r} is defined twice", key="id")
            agreements.append(a)
            agr_line[a.id] = agr_lines[i]
        except AgreementError as exc:
            note(exc, agr_lines[i])
    if not agr_tables and not problems:
        note(AgreementError("the file defines no agreement ([[agreement]] tables)"), None)

    aset = AgreementSet(calendars=calendars, agreements=tuple(agreements))
    if not problems:
        for overlap, aid in _overlaps(aset):
            note(overlap, agr_line[aid])
    alerts = None
    if not problems:
        from sladesk_tui.core.alert_rules import alerts_line, parse_alert_rules

        try:
            alerts = parse_alert_rules(doc, agr_tables)
        except AgreementError as exc:
            note(exc, alerts_line(text))
    if problems:
        first = problems[0]
        n = len(problems) - 1
        more = f" (and {n} more problem{'s' if n > 1 else ''})" if n else ""
        raise AgreementError(first.reason + more, line=first.line, source=source, problems=tuple(problems))
    return AgreementSet(
        calendars=calendars,
        agreements=tuple(agreements),
        warnings=_warnings(aset),
        holidays=holidays,
        alerts=alerts,
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


class _KeyLines:
    """Where a key of a section is written, found in the text: the TOML parser gives
    values, not positions, and a message that points at `[[agreement]]` leaves the
    reader to hunt through the section for the bad key.

    A dotted path (`targets.P1.response`) is found one part at a time, each after the
    previous one, as a key: at the start of a line, after `{`, `,` or `.`, or inside
    a `[table.header]`, and followed by `=`, `.` or `]`. That covers dotted keys,
    sub-table headers and inline tables spread over lines. When a part cannot be
    found, the line of the last part found is the answer (None: not even the first).
    """

    __slots__ = ("_ends", "_lines")

    def __init__(self, text: str) -> None:
        self._lines = text.split("\n")
        self._ends: list[int] = []

    def sections(self, headers: list[int | None]) -> None:
        """The `[[...]]` header lines: a section ends where the next one begins."""
        self._ends = sorted(h for h in headers if h is not None)

    def find(self, header: int | None, key: str | None) -> int | None:
        if header is None or not key:
            return None
        end = next((h for h in self._ends if h > header), len(self._lines) + 1)
        found = None
        row, col = header, 0  # 1-based row; the header itself holds no key
        for part in re.sub(r"\[\d+\]", "", key).split("."):
            pattern = re.compile(r"(?:^|[{,.\[])\s*([\"']?)" + re.escape(part) + r"\1\s*(?=[=.\]])")
            hit = None
            for r in range(row, end):
                m = pattern.search(self._lines[r - 1], col if r == row else 0)
                if m is not None:
                    hit = (r, m.end())
                    break
            if hit is None:
                break
            (row, col), found = hit, hit[0]
        return found


# ---- calendars ------------------------------------------------------------------


def _calendar(t: dict[str, Any], index: int) -> CalendarDef:
    cid = t.get("id")
    label = f"calendar {cid!r}" if isinstance(cid, str) and cid else f"calendar #{index + 1}"
    bad = _Ctx(label)
    _check_keys(t, _CALENDAR_KEYS, bad)
    for key in ("id", "tz", "hours"):
        if key not in t:
            raise bad.say(f"{key}: missing (required)")
    if not isinstance(cid, str) or not _ID.fullmatch(cid):
        raise bad("id", cid, "must be a name of letters, digits, '.', '_' or '-'")
    if cid.startswith(ALWAYS):
        raise bad("id", cid, "is reserved for round-the-clock calendars")
    tz = t["tz"]
    if not isinstance(tz, str) or not _zone_ok(tz):
        raise bad("tz", tz, "is not a known time zone (write e.g. 'Europe/Berlin')")
    hours = _hours(t["hours"], bad)
    holidays: tuple[str, ...] = ()
    country = subdiv = None
    raw = t.get("holidays", [])
    if isinstance(raw, dict):
        _check_keys(raw, _HOLIDAY_KEYS, bad, "holidays.")
        country = raw.get("country")
        if not isinstance(country, str) or not re.fullmatch(r"[A-Z]{2,3}", country):
            raise bad("holidays.country", country, "must be a country code such as 'DE'")
        subdiv = raw.get("subdiv")
        if subdiv is not None and (not isinstance(subdiv, str) or not subdiv.strip()):
            raise bad("holidays.subdiv", subdiv, "must be a subdivision code such as 'BY'")
        holidays = _dates(raw.get("extra", []), bad, "holidays.extra")
    else:
        holidays = _dates(raw, bad, "holidays")
    return CalendarDef(
        id=cid, tz=tz, hours=hours, holidays=holidays, holiday_country=country, holiday_subdiv=subdiv
    )


def _hours(raw: Any, bad: _Ctx) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(raw, dict):
        raise bad("hours", raw, "must be a table of weekdays, e.g. { mon = ['09:00-17:00'] }")
    for day in raw:
        if day not in WEEKDAYS:
            raise bad(f"hours.{day}", day, f"is not a weekday (mon..sun){_hint(day, WEEKDAYS)}")
    out = []
    for day in WEEKDAYS:
        segs = raw.get(day, [])
        if not isinstance(segs, list) or not all(isinstance(s, str) for s in segs):
            raise bad(f"hours.{day}", segs, "must be a list of 'HH:MM-HH:MM' strings")
        if segs:
            out.append((day, tuple(segs)))
    if not out:
        raise bad.say("hours: the calendar is never open", key="hours")
    return tuple(out)


def _validate_calendar(cdef: CalendarDef, holidays: HolidaySnapshot | None) -> None:
    """Build it once: BusinessCalendar is the authority on segments, dates and zones
    (and the built calendar is kept for the clocks)."""
    try:
        cached_calendar(cdef, holidays)
    except ValueError as exc:
        raise AgreementError(f"calendar {cdef.id!r}: {exc}", key=_calendar_key(cdef, str(exc))) from None


def _calendar_key(cdef: CalendarDef, message: str) -> str:
    """The key a BusinessCalendar complaint is about: the weekday it names, or whose
    segment it quotes; else holidays or hours as a whole."""
    head = message.removeprefix("hours: ")
    day = head.split(" ", 1)[0].rstrip(":")
    if day in WEEKDAYS:
        return f"hours.{day}"
    for d, segments in cdef.hours:
        if any(repr(seg) in message for seg in segments):
            return f"hours.{d}"
    return "hours" if message.startswith("hours") else "holidays"


def _zone_ok(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a directory
        return False
    return True


# ---- agreements -----------------------------------------------------------------


def _agreement(
    t: dict[str, Any], index: int, calendars: Mapping[str, CalendarDef], broken: set[str]
) -> Agreement:
    aid = t.get("id")
    label = f"agreement {aid!r}" if isinstance(aid, str) and aid else f"agreement #{index + 1}"
    bad = _Ctx(label)
    _check_keys(t, _AGREEMENT_KEYS, bad)
    for key in _REQUIRED_AGREEMENT_KEYS:
        if key not in t:
            raise bad.say(f"{key}: missing (required)")
    if not isinstance(aid, str) or not _ID.fullmatch(aid):
        raise bad("id", aid, "must be a name of letters, digits, '.', '_' or '-' (at most 100)")

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
    max_hold = t.get("max_hold")
    try:
        max_hold_s = DEFAULT_MAX_HOLD_S if max_hold is None else parse_duration(max_hold)
    except (TypeError, ValueError) as exc:
        raise bad.say(f"max_hold: {exc}") from None
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
        max_hold_s=max_hold_s,
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
                    + _hint(clock, CLOCK_NAMES),
                    key=f"targets.{prio}.{clock}",
                )
            try:
                values[clock] = parse_duration(text)
            except ValueError as exc:
                raise bad.say(f"targets.{prio}.{clock}: {exc}", key=f"targets.{prio}.{clock}") from None
        out[prio] = Targets(**values)
    return out


def _at_risk(raw: Any, bad: _Ctx) -> AtRisk:
    if raw is None:
        return AtRisk()
    if not isinstance(raw, dict):
        raise bad("at_risk", raw, "must be a table such as { ratio = 0.75, remaining = '30m' }")
    _check_keys(raw, _AT_RISK_KEYS, bad, "at_risk.")
    ratio = raw.get("ratio")
    if ratio is not None and (not _is_number(ratio) or not 0 < ratio <= 1):
        raise bad("at_risk.ratio", ratio, "must be a number greater than 0 and at most 1")
    remaining = raw.get("remaining")
    remaining_s = None
    if remaining is not None:
        try:
            remaining_s = parse_duration(remaining)
        except ValueError as exc:
            raise bad.say(f"at_risk.remaining: {exc}", key="at_risk.remaining") from None
    return AtRisk(ratio=None if ratio is None else float(ratio), remaining_s=remaining_s)


def _penalty(raw: Any, targets: Mapping[str, Targets], bad: _Ctx) -> Penalty | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad("penalty", raw, "must be a table with currency, per_breach and monthly_cap")
    _check_keys(raw, _PENALTY_KEYS, bad, "penalty.")
    for key in ("currency", "per_breach"):
        if key not in raw:
            raise bad.say(f"penalty.{key}: missing (required)", key="penalty")
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


def _dates(raw: Any, bad: _Ctx, key: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise bad(key, raw, "must be a list of dates or a table { country = 'DE' }")
    out = set()
    for i, v in enumerate(raw):
        d = _date(v, f"{key}[{i}]", bad)
        if d is None:  # a TOML array holds no nulls; kept for the type checker
            raise bad(f"{key}[{i}]", v, "is not a date (write e.g. 2026-01-01)")
        out.add(d.isoformat())
    return tuple(sorted(out))


class _Ctx:
    """Builds the messages of one section: `label: key: value problem`, each carrying
    the key's dotted path so the loader can point at the line where it is written."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, key: str, value: Any, problem: str) -> AgreementError:
        return AgreementError(f"{self.label}: {key}: {_show(value)} {problem}", key=key)

    def say(self, message: str, *, key: str | None = None) -> AgreementError:
        return AgreementError(f"{self.label}: {message}", key=key)


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


# ---- small helpers --------------------------------------------------------------


def _check_keys(t: Mapping[str, Any], known: tuple[str, ...], bad: _Ctx, prefix: str = "") -> None:
    for key in t:
        if key not in known:
            raise bad.say(f"unknown key {prefix + key!r}{_hint(key, known)}", key=prefix + key)


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
