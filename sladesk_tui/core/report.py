"""Compliance reports: what happened to each clock, counted per agreement, priority and clock.

One counting path serves both sources: the outcomes the store keeps (its daily
rollup rows) and outcomes replayed from the log as of an instant (`--at`). Both are
turned into `Tally` rows (the rollup's shape) and `build_report` counts those.

Decisions recorded here (docs/reports.md, "What the report counts"):

- **A ticket counts in the period in which its clock stopped**, by the local date
  of the stop in its agreement's calendar zone: "November" for a Berlin agreement
  is Berlin's November, for a New York one New York's. A clock still running
  counts nowhere yet; a resolution clock that a reopen sets running again leaves
  the period it had stopped in and counts again when it stops.
- Each clock of a ticket counts once; the update clock once per cycle (its
  "tickets" are cycles).
- An outcome is filed under the priority in force when the clock stopped, after
  the `reprioritize` overrides that count, and under the ticket's assignee then
  (`--by operator`).
- **Raw** ignores every override. **Adjusted** applies pending and approved ones
  (a rejected override stops counting): an exempt clock leaves the rate. A
  `responded` override stops the adjusted response clock before the raw one; the
  raw figure of such a clock counts once the raw clock stops too.
- The rate is met / (met + breached), None when nothing was decided.
- **Penalties** follow the agreement version that governed each ticket: the
  priority's `per_breach` amount for every breached clock (update cycles
  included), capped by `monthly_cap` per calendar month of the period (the newest
  version's cap). Raw and adjusted amounts are both shown; the adjusted one is what
  the overrides argue is owed.
- An agreement expires soon when its last valid day is within 30 days of `now`
  (local date in its zone).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sladesk_tui.core.availability import Availability, Outage, availability, services_judged
from sladesk_tui.core.errors import InputError
from sladesk_tui.core.instants import check_year
from sladesk_tui.core.queue import natural_key

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import Agreement, AgreementSet
    from sladesk_tui.core.clocks import Clock
    from sladesk_tui.core.events import Event
    from sladesk_tui.core.tickets import TicketRecord

BASIS = "a ticket counts in the period in which its clock stopped (local date in its agreement's time zone)"
GROUPINGS: tuple[str, ...] = ("priority", "agreement", "operator")
CLOCK_ORDER: tuple[str, ...] = ("response", "update", "resolution")
EXPIRY_WARNING_DAYS = 30
UNASSIGNED = ""

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# ---- the period ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates `first`..`last`, both inclusive, read in each agreement's own zone."""

    first: dt.date
    last: dt.date

    @classmethod
    def month(cls, text: str) -> Period:
        m = _MONTH.fullmatch(text.strip())
        if m is None or not 1 <= int(m.group(2)) <= 12:
            raise InputError(f"--month: expected YYYY-MM, got {text!r}")
        try:
            year = check_year(int(m.group(1)), text.strip())
        except InputError as exc:
            raise InputError(f"--month: {exc}") from None
        return cls.of_month(year, int(m.group(2)))

    @classmethod
    def of_month(cls, year: int, month: int) -> Period:
        first = dt.date(year, month, 1)
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        return cls(first, nxt - dt.timedelta(days=1))

    @classmethod
    def containing(cls, ts: float) -> Period:
        """The calendar month (UTC) holding the instant `ts`: the default period."""
        d = dt.datetime.fromtimestamp(ts, dt.UTC)
        return cls.of_month(d.year, d.month)

    @classmethod
    def dates(cls, first: str, last: str) -> Period:
        a, b = _parse_date(first, "--from"), _parse_date(last, "--to")
        if b < a:
            raise InputError(f"--to {last} is before --from {first}")
        return cls(a, b)

    @property
    def is_month(self) -> bool:
        return self.first.day == 1 and self == Period.of_month(self.first.year, self.first.month)

    @property
    def label(self) -> str:
        return self.first.strftime("%Y-%m") if self.is_month else f"{self.first}..{self.last}"

    def shifted(self, months: int) -> Period:
        """The month `months` before (negative) or after this period's first month."""
        i = self.first.year * 12 + self.first.month - 1 + months
        return Period.of_month(i // 12, i % 12 + 1)

    def bounds(self, zone: str) -> tuple[float, float]:
        """[start, end) in epoch seconds: local midnight of `first` to the one after `last`."""
        z = ZoneInfo(zone)
        start = dt.datetime.combine(self.first, dt.time(), z).timestamp()
        end = dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), z).timestamp()
        return start, end

    def widest_bounds(self) -> tuple[float, float]:
        """[start, end) covering the period in every zone (UTC-14 to UTC+14)."""
        start, end = self.bounds("UTC")
        return start - 14 * 3600, end + 14 * 3600

    def months(self) -> list[str]:
        out: list[str] = []
        p = Period.of_month(self.first.year, self.first.month)
        while p.first <= self.last:
            out.append(p.first.strftime("%Y-%m"))
            p = p.shifted(1)
        return out


def _parse_date(text: str, flag: str) -> dt.date:
    if not _DATE.fullmatch(text.strip()):
        raise InputError(f"{flag}: expected a date YYYY-MM-DD, got {text!r}")
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{flag}: {text!r} is not a valid date") from None
    try:
        check_year(day.year, text.strip())
    except InputError as exc:
        raise InputError(f"{flag}: {exc}") from None
    return day


# ---- outcomes of one ticket --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """A stopped clock, as stored (fields in the order of the `outcomes` table's columns).

    `raw_state` is None while only the adjusted clock has stopped.
    """

    ticket: str
    clock: str
    cycle: int
    agreement_id: str
    agreement_version: int
    priority: str
    operator: str
    stopped_at: float
    day: str
    raw_state: str | None
    raw_elapsed_s: float | None
    raw_target_s: float | None
    adj_state: str
    adj_elapsed_s: float
    adj_target_s: float


def ticket_outcomes(record: TicketRecord, books: Mapping[int, AgreementSet], now: float) -> list[Outcome]:
    """The outcomes of `record`'s stopped clocks at `now` (later events and overrides ignored)."""
    from sladesk_tui.core.agreements import build_calendar
    from sladesk_tui.core.clocks import ticket_clocks
    from sladesk_tui.core.evaluate import governing

    agreement, aset, _ = governing(record, books)
    if agreement is None or aset is None or record.agreement_version is None:
        return []
    calendar = build_calendar(aset, agreement.calendar)
    zone = ZoneInfo(aset.zone_of(agreement.calendar))
    events = record.events
    ctx = _Context(record, agreement.id, record.agreement_version, zone)
    raw, adj = ticket_clocks(agreement, calendar, events, now, record.overrides)
    out: list[Outcome] = []
    for name in ("response", "resolution"):
        o = ctx.outcome(name, 0, raw.get(name), adj.get(name))
        if o is not None:
            out.append(o)
    if not any(t.update is not None for t in agreement.targets.values()):
        return out  # no update clock under any priority: no cycle to replay
    exempt_all = adj.get("update") is not None and adj["update"].state == "exempt"
    for n, end in enumerate(_finished_cycles(events, now), 1):
        prefix = events[: end + 1]
        r, a = ticket_clocks(agreement, calendar, prefix, prefix[-1].at, record.overrides)
        o = ctx.outcome("update", n, r.get("update"), a.get("update"), force_exempt=exempt_all)
        if o is not None and o.stopped_at == prefix[-1].at:
            out.append(o)
    return out


class _Context:
    """What every outcome of one ticket shares, and the look-ups at a stop instant."""

    def __init__(self, record: TicketRecord, agreement_id: str, version: int, zone: ZoneInfo) -> None:
        self.record = record
        self.agreement_id = agreement_id
        self.version = version
        self.zone = zone

    def outcome(
        self, name: str, cycle: int, raw: Clock | None, adj: Clock | None, *, force_exempt: bool = False
    ) -> Outcome | None:
        from sladesk_tui.core.clocks import priority_at

        if adj is None or adj.stopped_at is None or adj.state == "n/a":
            return None
        if adj.target_s is None or adj.elapsed_s is None:
            return None
        stop = adj.stopped_at
        if adj.state == "exempt" or force_exempt:
            adj_state = "exempt"
        else:
            adj_state = "breached" if adj.elapsed_s > adj.target_s else "met"
        raw_state = raw_el = raw_tg = None
        if raw is not None and raw.stopped_at is not None and raw.state in ("met", "breached"):
            raw_state, raw_el, raw_tg = raw.state, raw.elapsed_s, raw.target_s
        day = dt.datetime.fromtimestamp(stop, self.zone).date().isoformat()
        return Outcome(
            self.record.id,
            name,
            cycle,
            self.agreement_id,
            self.version,
            priority_at(self.record.events, self.record.overrides, stop) or "",
            _assignee_at(self.record.events, stop),
            stop,
            day,
            raw_state,
            raw_el,
            raw_tg,
            adj_state,
            adj.elapsed_s,
            adj.target_s,
        )


def _assignee_at(events: Sequence[Event], stop: float) -> str:
    who = events[0].assignee
    for ev in events:
        if ev.at > stop:
            break
        if ev.type == "assign":
            who = ev.assignee
    return who or UNASSIGNED


def _finished_cycles(events: Sequence[Event], now: float) -> list[int]:
    """Indexes of the events that ended an update cycle, by the clock engine's rules.

    A `customer_reply` opens a cycle when none is open and the ticket has not ended;
    the next `reply`, or the ticket's end, closes it. The caller re-runs the engine on
    each prefix and keeps only cycles the engine agrees ended there.
    """
    ends: list[int] = []
    open_ = created = ended = False
    for i, ev in enumerate(events):
        if ev.at > now:
            break
        typ = ev.type
        if not created:
            created = typ == "created"
            continue
        if typ == "reply":
            if open_:
                ends.append(i)
                open_ = False
        elif typ == "customer_reply":
            if not open_ and not ended:
                open_ = True
        elif typ in ("resolved", "closed"):
            if not ended:
                ended = True
                if open_:
                    ends.append(i)
                    open_ = False
        elif typ == "reopened":
            ended = False
    return ends


# ---- counting -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    """Counted outcomes sharing a day and a key: a row of the store's daily rollup."""

    day: str
    agreement_id: str
    agreement_version: int
    priority: str
    clock: str
    operator: str
    n: int
    raw_met: int
    raw_breached: int
    adj_met: int
    adj_breached: int
    adj_exempt: int


def tallies(outcomes: Iterable[Outcome]) -> list[Tally]:
    """Outcomes grouped as the store's rollup groups them (for the replayed report)."""
    acc: dict[tuple[str, str, int, str, str, str], list[int]] = {}
    for o in outcomes:
        key = (o.day, o.agreement_id, o.agreement_version, o.priority, o.clock, o.operator)
        c = acc.setdefault(key, [0, 0, 0, 0, 0, 0])
        c[0] += 1
        c[1] += o.raw_state == "met"
        c[2] += o.raw_state == "breached"
        c[3] += o.adj_state == "met"
        c[4] += o.adj_state == "breached"
        c[5] += o.adj_state == "exempt"
    return [Tally(*k, *v) for k, v in acc.items()]


@dataclass(frozen=True, slots=True)
class Counts:
    tickets: int = 0
    raw_met: int = 0
    raw_breached: int = 0
    met: int = 0
    breached: int = 0
    exempt: int = 0

    def plus(self, t: Tally) -> Counts:
        return Counts(
            self.tickets + t.n,
            self.raw_met + t.raw_met,
            self.raw_breached + t.raw_breached,
            self.met + t.adj_met,
            self.breached + t.adj_breached,
            self.exempt + t.adj_exempt,
        )

    @property
    def raw_rate(self) -> float | None:
        return _rate(self.raw_met, self.raw_breached)

    @property
    def rate(self) -> float | None:
        return _rate(self.met, self.breached)


def _rate(met: int, breached: int) -> float | None:
    return None if met + breached == 0 else met / (met + breached)


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One line: an agreement, a priority (or operator, or neither) and a clock.

    Penalties here are before the monthly cap (the cap applies per agreement).
    """

    agreement: str
    priority: str | None
    operator: str | None
    clock: str
    counts: Counts
    currency: str | None = None
    penalty_raw: float | None = None
    penalty: float | None = None


def format_money(amount: float | None) -> str:
    """A penalty amount as both report views print it: whole amounts without cents,
    thousands grouped (`12,500`, `1,250.50`); None (no penalty) as nothing."""
    if amount is None:
        return ""
    return f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.2f}"


@dataclass(frozen=True, slots=True)
class PenaltySummary:
    """What an agreement's breaches cost over the period: uncapped, then capped per month."""

    currency: str
    per_breach: Mapping[str, float]
    monthly_cap: float | None
    raw_uncapped: float
    adjusted_uncapped: float
    raw: float
    adjusted: float


@dataclass(frozen=True, slots=True)
class AgreementSummary:
    """An agreement's block of the report: totals, penalties, availability, expiry."""

    id: str
    name: str
    customer: str
    version: int
    counts: Counts
    penalty: PenaltySummary | None
    availability_target: float | None
    availability: tuple[Availability, ...]
    valid_until: dt.date | None
    days_left: int | None

    @property
    def expiring(self) -> bool:
        return self.days_left is not None and 0 <= self.days_left <= EXPIRY_WARNING_DAYS

    @property
    def expired(self) -> bool:
        return self.days_left is not None and self.days_left < 0


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    by: str
    now: float
    as_of: float | None  # the `--at` instant, when replayed from the log
    rows: tuple[ReportRow, ...]
    agreements: tuple[AgreementSummary, ...]
    basis: str = BASIS
    source: str = "stored outcomes"

    def for_agreement(self, agreement_id: str) -> AgreementSummary | None:
        return next((a for a in self.agreements if a.id == agreement_id), None)


@dataclass(frozen=True, slots=True)
class Terms:
    """One agreement version as the report needs it: the agreement and its calendar's zone."""

    agreement: Agreement
    version: int
    zone: str


@dataclass
class _Acc:
    counts: Counts = field(default_factory=Counts)
    raw: float = 0.0
    adj: float = 0.0


def build_report(
    rows_in: Iterable[Tally],
    terms: Mapping[tuple[str, int], Terms],
    listed: Sequence[Terms],
    outages: Mapping[str, Sequence[Outage]],
    period: Period,
    now: float,
    *,
    by: str = "priority",
    agreement: str | None = None,
    as_of: float | None = None,
) -> Report:
    """Count `rows_in` (tallies of days within `period`) into the report.

    `terms` holds every (agreement, version) the tallies name; `listed` the
    agreements to summarise even without outcomes (the newest version in force).
    `outages` are merged per service up to `now`.
    """
    if by not in GROUPINGS:
        raise InputError(f"--by: expected one of {', '.join(GROUPINGS)}, got {by!r}")
    first, last = period.first.isoformat(), period.last.isoformat()
    lines: dict[tuple[str, str | None, str | None, str], _Acc] = {}
    totals: dict[str, Counts] = {}
    monthly: dict[tuple[str, str], list[float]] = {}  # (agreement, YYYY-MM) -> [raw, adjusted]
    newest: dict[str, Terms] = {t.agreement.id: t for t in listed}
    for t in rows_in:
        if not first <= t.day <= last or (agreement is not None and t.agreement_id != agreement):
            continue
        tm = terms.get((t.agreement_id, t.agreement_version))
        if tm is not None and (t.agreement_id not in newest or newest[t.agreement_id].version < tm.version):
            newest[t.agreement_id] = tm
        prio = t.priority if by == "priority" else None
        oper = t.operator if by == "operator" else None
        acc = lines.setdefault((t.agreement_id, prio, oper, t.clock), _Acc())
        acc.counts = acc.counts.plus(t)
        totals[t.agreement_id] = totals.get(t.agreement_id, Counts()).plus(t)
        pen = tm.agreement.penalty if tm is not None else None
        if pen is not None:
            amount = pen.per_breach.get(t.priority, 0.0)
            acc.raw += amount * t.raw_breached
            acc.adj += amount * t.adj_breached
            m = monthly.setdefault((t.agreement_id, t.day[:7]), [0.0, 0.0])
            m[0] += amount * t.raw_breached
            m[1] += amount * t.adj_breached

    rows = []
    for (aid, prio, oper, clock), acc in sorted(lines.items(), key=lambda kv: _row_order(kv[0])):
        tm = newest.get(aid)
        pen = tm.agreement.penalty if tm is not None else None
        rows.append(
            ReportRow(
                aid,
                prio,
                oper,
                clock,
                acc.counts,
                pen.currency if pen else None,
                acc.raw if pen else None,
                acc.adj if pen else None,
            )
        )

    summaries = []
    for aid in sorted(newest, key=natural_key):
        if agreement is not None and aid != agreement:
            continue
        tm = newest[aid]
        summaries.append(_summary(tm, totals.get(aid, Counts()), monthly, outages, period, now))
    return Report(
        period,
        by,
        now,
        as_of,
        tuple(rows),
        tuple(summaries),
        source="stored outcomes" if as_of is None else "replayed from the log",
    )


def _row_order(key: tuple[str, str | None, str | None, str]) -> tuple[object, ...]:
    aid, prio, oper, clock = key
    return (natural_key(aid), natural_key(prio or ""), (oper or "").casefold(), CLOCK_ORDER.index(clock))


def _summary(
    tm: Terms,
    counts: Counts,
    monthly: Mapping[tuple[str, str], list[float]],
    outages: Mapping[str, Sequence[Outage]],
    period: Period,
    now: float,
) -> AgreementSummary:
    a = tm.agreement
    penalty = None
    if a.penalty is not None:
        months = [v for (aid, _m), v in monthly.items() if aid == a.id]
        cap = a.penalty.monthly_cap

        def capped(x: float) -> float:
            return x if cap is None else min(x, cap)

        penalty = PenaltySummary(
            a.penalty.currency,
            dict(a.penalty.per_breach),
            cap,
            sum(m[0] for m in months),
            sum(m[1] for m in months),
            sum(capped(m[0]) for m in months),
            sum(capped(m[1]) for m in months),
        )
    avail: tuple[Availability, ...] = ()
    if a.availability is not None:
        start, end = period.bounds(tm.zone)
        avail = tuple(
            availability(s, outages.get(s, ()), start, end, a.availability)
            for s in services_judged(a.services, outages, start, end)
        )
    days_left = None
    if a.valid_until is not None:
        today = dt.datetime.fromtimestamp(now, ZoneInfo(tm.zone)).date()
        days_left = (a.valid_until - today).days
    return AgreementSummary(
        a.id,
        a.name,
        a.customer,
        tm.version,
        counts,
        penalty,
        a.availability,
        avail,
        a.valid_until,
        days_left,
    )
