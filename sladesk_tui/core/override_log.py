"""The override log as leads read it: entries, filters, the review order and per-operator figures.

Shared by the review screen and `sladesk overrides`, so both list, filter and count
the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sladesk_tui.core.override_rules import CLOCK_KINDS

if TYPE_CHECKING:
    from sladesk_tui.core.override_effects import BreachEffect
    from sladesk_tui.core.overrides import Override
    from sladesk_tui.core.tickets import Review


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One override with what a lead needs beside it.

    `override.status` is derived from `review`, the latest review (None: pending).
    `before`/`after` are the clock figures stored when it was made
    (`override_effects.clock_figures`). `effect` is filled only when asked for
    (it costs two engine runs).
    """

    override: Override
    agreement_id: str | None
    title: str
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    review: Review | None = None
    effect: BreachEffect | None = None

    @property
    def status(self) -> str:
        return self.override.status


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Every field None matches everything; `since`/`until` bound the override's instant [since, until)."""

    status: str | None = None
    operator: str | None = None
    kind: str | None = None
    reason: str | None = None
    agreement: str | None = None
    ticket: str | None = None
    since: float | None = None
    until: float | None = None

    def matches(self, e: LogEntry) -> bool:
        o = e.override
        return (
            (self.status is None or o.status == self.status)
            and (self.operator is None or o.operator == self.operator)
            and (self.kind is None or o.kind == self.kind)
            and (self.reason is None or o.reason == self.reason)
            and (self.agreement is None or e.agreement_id == self.agreement)
            and (self.ticket is None or o.ticket == self.ticket)
            and (self.since is None or o.at >= self.since)
            and (self.until is None or o.at < self.until)
        )

    def apply(self, entries: Iterable[LogEntry]) -> list[LogEntry]:
        return [e for e in entries if self.matches(e)]


def review_order(entries: Iterable[LogEntry]) -> list[LogEntry]:
    """Pending first (oldest first: it has waited longest), then the reviewed ones newest first."""
    pending = sorted(
        (e for e in entries if e.status == "pending"), key=lambda e: (e.override.at, e.override.id)
    )
    done = sorted(
        (e for e in entries if e.status != "pending"),
        key=lambda e: (e.override.at, e.override.id),
        reverse=True,
    )
    return pending + done


@dataclass(frozen=True, slots=True)
class OperatorStats:
    """One operator's overrides, counted.

    `turned_met`: overrides that turned a breached clock into a compliant one;
    `turned_exempt`: ones that took a breached clock out of compliance;
    `local_actions`: clocks they moved by hand in the app (reply, status, priority,
    resolve, reopen recorded there rather than by the ticketing system).
    """

    operator: str
    total: int = 0
    by_kind: Mapping[str, int] = field(default_factory=dict)
    by_reason: Mapping[str, int] = field(default_factory=dict)
    pending: int = 0
    approved: int = 0
    rejected: int = 0
    turned_met: int = 0
    turned_exempt: int = 0
    local_actions: int = 0

    @property
    def approval_rate(self) -> float | None:
        """Approved among the reviewed ones; None before any review."""
        reviewed = self.approved + self.rejected
        return None if reviewed == 0 else self.approved / reviewed

    def as_dict(self) -> dict[str, Any]:
        rate = self.approval_rate
        return {
            "operator": self.operator,
            "total": self.total,
            "by_kind": dict(self.by_kind),
            "by_reason": dict(self.by_reason),
            "pending": self.pending,
            "approved": self.approved,
            "rejected": self.rejected,
            "approval_rate": None if rate is None else round(rate, 4),
            "turned_met": self.turned_met,
            "turned_exempt": self.turned_exempt,
            "local_actions": self.local_actions,
        }


def operator_stats(
    entries: Iterable[LogEntry], local_actions: Mapping[str, int] | None = None
) -> list[OperatorStats]:
    """Per-operator figures, operators in name order; entries without `effect` count no breach.

    `local_actions`: per operator, the clock-moving actions recorded in the app; an
    operator with such actions and no override still gets a row.
    """
    local = local_actions or {}
    groups: dict[str, list[LogEntry]] = {op: [] for op, n in local.items() if n}
    for e in entries:
        groups.setdefault(e.override.operator, []).append(e)
    out: list[OperatorStats] = []
    for op in sorted(groups):
        es = groups[op]
        statuses = Counter(e.status for e in es)
        out.append(
            OperatorStats(
                operator=op,
                total=len(es),
                by_kind=dict(sorted(Counter(e.override.kind for e in es).items())),
                by_reason=dict(sorted(Counter(e.override.reason for e in es).items())),
                pending=statuses["pending"],
                approved=statuses["approved"],
                rejected=statuses["rejected"],
                turned_met=sum(1 for e in es if e.effect is not None and e.effect.met),
                turned_exempt=sum(
                    1 for e in es if e.effect is not None and e.effect.exempted and not e.effect.met
                ),
                local_actions=local.get(op, 0),
            )
        )
    return out


# ---- output shapes (JSON objects, table and CSV rows) -----------------------------------


def override_fields(o: Override) -> dict[str, Any]:
    """The override's own fields, in the order every JSON output lists them (instants ISO 8601 UTC).

    Shared by `sladesk overrides` and `sladesk ticket` so that one override reads
    the same in both.
    """
    from sladesk_tui.core.override_effects import iso_z

    return {
        "kind": o.kind,
        "clock": o.clock,
        "at": iso_z(o.at),
        "operator": o.operator,
        "reason": o.reason,
        "justification": o.justification,
        "status": o.status,
        "until": None if o.until is None else iso_z(o.until),
        "by_s": o.by_s,
        "responded_at": None if o.responded_at is None else iso_z(o.responded_at),
        "to_priority": o.to_priority,
        "ahead_of": o.ahead_of,
    }


def entry_dict(e: LogEntry) -> dict[str, Any]:
    """An override as `sladesk overrides --format json` prints it (instants ISO 8601 UTC)."""
    from sladesk_tui.core.override_effects import iso_z

    o = e.override
    r = e.review
    return {
        "id": o.id,
        "ticket": o.ticket,
        "title": e.title,
        "agreement": e.agreement_id,
        **override_fields(o),
        "before": dict(e.before),
        "after": dict(e.after),
        "review": None
        if r is None
        else {
            "reviewer": r.reviewer,
            "decision": r.decision,
            "at": iso_z(r.at),
            "comment": r.comment,
        },
    }


def short_instant(ts: float, now: float) -> str:
    """`01-15 09:00Z`, or `2100-01-01 00:00Z` when the year is not the current one (UTC):
    a hold into another year must never read like a date in this one (docs/instants.md)."""
    from sladesk_tui.core.override_effects import iso_z

    text = iso_z(ts)
    return text[0 if text[:4] != iso_z(now)[:4] else 5 : 16].replace("T", " ") + "Z"


def parameter_text(o: Override, *, now: float | None = None) -> str:
    """The kind's parameter: `until 2027-01-15T09:00:00Z`, `+2h`, `to P1`; given `now`,
    instants in the short form of `short_instant`."""
    from sladesk_tui.core.durations import format_duration
    from sladesk_tui.core.override_effects import iso_z

    def when(ts: float) -> str:
        return iso_z(ts) if now is None else short_instant(ts, now)

    if o.until is not None:
        return f"until {when(o.until)}"
    if o.by_s is not None:
        return f"+{format_duration(o.by_s)}"
    if o.responded_at is not None:
        return f"at {when(o.responded_at)}"
    if o.to_priority is not None:
        return f"to {o.to_priority}"
    if o.ahead_of is not None:
        return f"ahead of {o.ahead_of}"
    return ""


def what_text(o: Override, now: float) -> str:
    """Kind, clock and parameter in one cell: `hold all until 01-15 09:00Z`, `extend resolution +2h`."""
    clock = (o.clock or "all") if o.kind in CLOCK_KINDS else ""
    return " ".join(p for p in (o.kind, clock, parameter_text(o, now=now)) if p)


def table_row(e: LogEntry, now: float) -> dict[str, Any]:
    """The first line of an entry in `sladesk overrides` (reason and justification go below it)."""
    o = e.override
    return {
        "id": o.id,
        "at": short_instant(o.at, now)[:-1],
        "ticket": o.ticket,
        "override": what_text(o, now),
        "by": o.operator,
        "status": o.status,
    }


def csv_row(e: LogEntry) -> dict[str, Any]:
    """An entry as one CSV row: every field, the whole justification and the review."""
    from sladesk_tui.core.override_effects import iso_z

    o = e.override
    r = e.review
    return {
        "id": o.id,
        "at": iso_z(o.at),
        "ticket": o.ticket,
        "agreement": e.agreement_id or "",
        "kind": o.kind,
        "clock": o.clock or "",
        "until": iso_z(o.until) if o.until is not None else "",
        "by_s": o.by_s if o.by_s is not None else "",
        "responded_at": iso_z(o.responded_at) if o.responded_at is not None else "",
        "to_priority": o.to_priority or "",
        "ahead_of": o.ahead_of or "",
        "operator": o.operator,
        "reason": o.reason,
        "justification": o.justification,
        "status": o.status,
        "reviewer": r.reviewer if r else "",
        "reviewed_at": iso_z(r.at) if r else "",
        "comment": (r.comment or "") if r else "",
    }


def stats_row(s: OperatorStats) -> dict[str, Any]:
    """Per-operator figures as a row; `by_kind`/`by_reason` as `kind:n` words."""
    rate = s.approval_rate
    return {
        "operator": s.operator,
        "overrides": s.total,
        "pending": s.pending,
        "approved": s.approved,
        "rejected": s.rejected,
        "rate": "" if rate is None else f"{rate:.0%}",
        "to_met": s.turned_met,
        "to_exempt": s.turned_exempt,
        "local": s.local_actions,
        "by_kind": " ".join(f"{k}:{n}" for k, n in s.by_kind.items()),
        "by_reason": " ".join(f"{k}:{n}" for k, n in s.by_reason.items()),
    }
