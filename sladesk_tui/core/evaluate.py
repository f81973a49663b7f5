"""A stored ticket's clocks: which agreement governs it, on which calendar, raw and adjusted.

The store fixes the governing agreement (id and version) when a ticket is created;
this glue only looks that version up, so a later agreements load never changes the
clocks of an existing ticket. Pure: the caller loads the agreement versions
(`store.queries.agreements_for_versions`) and passes `now`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sladesk_tui.core.agreements import ALWAYS, NO_AGREEMENT, build_calendar
from sladesk_tui.core.clocks import Clock, ticket_clocks

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import Agreement, AgreementSet
    from sladesk_tui.core.calendar import BusinessCalendar
    from sladesk_tui.core.tickets import TicketRecord


@dataclass(frozen=True, slots=True)
class TicketClocks:
    """A ticket's clocks at one instant.

    `raw` ignores overrides, `adjusted` applies the pending and approved ones; when no
    override counts they are the same mapping. `calendar` is the governing agreement's
    business calendar (None without an agreement); `reason` says why there is none.
    """

    ticket: str
    agreement: Agreement | None
    calendar: BusinessCalendar | None
    raw: Mapping[str, Clock]
    adjusted: Mapping[str, Clock]
    reason: str | None = None

    @property
    def clocks(self) -> Mapping[str, Clock]:
        """The figures shown by default (the JSON "clocks"): the adjusted ones (docs/clocks.md)."""
        return self.adjusted

    @property
    def countdown_calendar(self) -> BusinessCalendar | None:
        """The calendar a live countdown counts in: None on a 24x7 agreement, where
        business time is wall-clock time and a countdown needs no calendar lookup."""
        if self.agreement is not None and self.agreement.calendar.startswith(ALWAYS):
            return None
        return self.calendar

    @property
    def differs(self) -> bool:
        """Whether overrides changed any figure (screens show both only then)."""
        return self.raw is not self.adjusted and self.raw != self.adjusted


def governing(
    record: TicketRecord, agreements_by_version: Mapping[int, AgreementSet]
) -> tuple[Agreement | None, AgreementSet | None, str | None]:
    """(agreement, its version's set, None) or (None, None, why there is none).

    A version the caller did not load is a programming error (KeyError); an id the
    version does not hold (a hand-edited file) is reported as no agreement in force.
    """
    if record.agreement_id is None or record.agreement_version is None:
        return None, None, record.no_agreement_reason or NO_AGREEMENT
    aset = agreements_by_version[record.agreement_version]
    agreement = aset.get(record.agreement_id)
    if agreement is None:
        why = (
            f"{NO_AGREEMENT}: agreement {record.agreement_id!r} is not in version {record.agreement_version}"
        )
        return None, None, why
    return agreement, aset, None


def evaluate(
    record: TicketRecord,
    agreements_by_version: Mapping[int, AgreementSet],
    now: float,
    *,
    explain: bool = False,
) -> TicketClocks:
    """Raw and adjusted clocks of `record` at `now` (events and overrides after `now` ignored)."""
    agreement, aset, reason = governing(record, agreements_by_version)
    if agreement is None or aset is None:
        calendar = None
        raw, adjusted = ticket_clocks(None, _utc_always(), record.events, now, no_agreement_reason=reason)
    else:
        calendar = build_calendar(aset, agreement.calendar)
        raw, adjusted = ticket_clocks(
            agreement, calendar, record.events, now, record.overrides, explain=explain
        )
    return TicketClocks(record.id, agreement, calendar, raw, adjusted, reason)


def _utc_always() -> BusinessCalendar:
    """The engine wants a calendar even when it has no agreement to count for."""
    from sladesk_tui.core.agreements import AgreementSet

    return build_calendar(AgreementSet(calendars={}, agreements=()), ALWAYS)
