"""From a ticket to what governs it (docs/agreements.md, "Which agreement governs"):
the agreement in force when it was created, and the business calendar its clocks
count on.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import TYPE_CHECKING

from sladesk_tui.core.agreements.model import ALWAYS, NO_AGREEMENT, Agreement, AgreementError, AgreementSet

if TYPE_CHECKING:
    from sladesk_tui.core.agreements.model import CalendarDef
    from sladesk_tui.core.calendar import BusinessCalendar, HolidaySnapshot


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
            if _validity_at(agreements, a, created_at) == 0
            else (None, _why_not(agreements, [a], created_at))
        )
    mine = [a for a in agreements.agreements if a.customer == customer]
    if not mine:
        return None, f"{NO_AGREEMENT}: unknown customer {customer!r}"
    fitting = [a for a in mine if a.covers_service(service)]
    if not fitting:
        return None, f"{NO_AGREEMENT}: no agreement of customer {customer!r} covers service {service!r}"
    for a in fitting:
        if _validity_at(agreements, a, created_at) == 0:
            return a, None
    return None, _why_not(agreements, fitting, created_at)


def _local_date(agreements: AgreementSet, a: Agreement, at: float) -> dt.date:
    zone = zoneinfo.ZoneInfo(agreements.zone_of(a.calendar))
    return dt.datetime.fromtimestamp(at, zone).date()


def _validity_at(agreements: AgreementSet, a: Agreement, at: float) -> int:
    """Where `at` falls in the agreement's validity: -1 not yet begun, 0 in force, 1 expired."""
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
    expired = [a for a in candidates if _validity_at(agreements, a, at) == 1]
    if expired:
        a = max(expired, key=lambda x: x.valid_until or dt.date.min)  # only those with an end expire
        return f"{NO_AGREEMENT}: expired on {a.valid_until} (agreement {a.id!r})"
    a = min(candidates, key=lambda x: x.valid_from or dt.date.max)  # not yet begun: each has a start
    return f"{NO_AGREEMENT}: not yet begun (from {a.valid_from}, agreement {a.id!r})"


# ---- calendars ------------------------------------------------------------------

# Built calendars by `_key`, or by ("24x7", zone). Keys are values, so the cache is
# a memo: equal keys build equal calendars, whichever set or database asked first.
_CACHE: dict[object, BusinessCalendar] = {}


def _key(cdef: CalendarDef, holidays: HolidaySnapshot | None) -> object:
    """A country calendar is only as good as the holidays it is built with: the snapshot
    is part of its identity. Any other calendar is its definition alone."""
    return cdef if cdef.holiday_country is None else (cdef, holidays)


def cached_calendar(cdef: CalendarDef, holidays: HolidaySnapshot | None) -> BusinessCalendar:
    """The BusinessCalendar of a definition, built once; ValueError names what is wrong."""
    from sladesk_tui.core.calendar import BusinessCalendar

    key = _key(cdef, holidays)
    cal = _CACHE.get(key)
    if cal is None:
        cal = _CACHE[key] = BusinessCalendar.from_dict(cdef.to_dict(), holidays)
    return cal


def build_calendar(agreements: AgreementSet, name: str) -> BusinessCalendar:
    """The BusinessCalendar of a calendar reference, shared across calls.

    Built calendars keep a lazily grown index of open intervals: rebuilding one per
    ticket would throw that work away, so they are cached by value (a country
    calendar together with the set's holiday snapshot).
    """
    from sladesk_tui.core.calendar import BusinessCalendar

    if name == ALWAYS or name.startswith(ALWAYS + ":"):
        zone = agreements.zone_of(name)
        key: object = (ALWAYS, zone)
        cal = _CACHE.get(key)
        if cal is None:
            cal = _CACHE[key] = BusinessCalendar.always(zone)
        return cal
    cdef = agreements.calendars.get(name)
    if cdef is None:
        raise AgreementError(f"unknown calendar {name!r}")
    return cached_calendar(cdef, agreements.holidays)
