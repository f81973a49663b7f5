"""What an override does to a ticket's clocks: the before/after figures and the breach it undid.

Everything here is computed by the clock engine itself (`core.evaluate`), never by
a second, simplified model: the preview the agent confirms is the figure the queue
will show, and the lead's "turned a breach into a met clock" is the engine's verdict.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sladesk_tui.core.clocks import CLOCKS
from sladesk_tui.core.durations import format_clock_duration
from sladesk_tui.core.evaluate import TicketClocks, evaluate

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import AgreementSet
    from sladesk_tui.core.clocks import Clock
    from sladesk_tui.core.overrides import Override
    from sladesk_tui.core.tickets import TicketRecord

FIGURE_KEYS: tuple[str, ...] = (
    "state",
    "target_s",
    "elapsed_s",
    "remaining_s",
    "due_at",
    "breached_at",
    "stopped_at",
)
_INSTANTS = ("due_at", "breached_at", "stopped_at")


def clock_figures(clocks: Mapping[str, Clock]) -> dict[str, dict[str, Any]]:
    """The clocks as JSON clock objects (README, "JSON"; instants ISO 8601 UTC): the stored snapshot."""
    out: dict[str, dict[str, Any]] = {}
    for name in CLOCKS:
        c = clocks.get(name)
        if c is None:
            continue
        fig: dict[str, Any] = {
            "state": c.state,
            "target_s": _seconds(c.target_s),
            "elapsed_s": _seconds(c.elapsed_s),
            "remaining_s": _seconds(c.remaining_s),
        }
        for key in _INSTANTS:
            v = getattr(c, key)
            fig[key] = None if v is None else iso_z(v)
        out[name] = fig
    return out


def iso_z(ts: float) -> str:
    """ISO 8601 UTC with a `Z`, to the microsecond only when there is one."""
    d = dt.datetime.fromtimestamp(ts, dt.UTC)
    text = d.isoformat(timespec="microseconds" if d.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def figure_text(fig: Mapping[str, Any]) -> str:
    """One stored clock figure for people: `ok, 30m left`, `breached, 1h 05m over`, `met`."""
    state: str = fig.get("state", "n/a")
    remaining = fig.get("remaining_s")
    if state in ("n/a", "exempt") or remaining is None:
        return state
    if state == "met":
        return "met"
    if remaining < 0:
        return f"{state}, {format_clock_duration(-remaining)} over"
    return f"{state}, {format_clock_duration(remaining)} left"


@dataclass(frozen=True, slots=True)
class Preview:
    """The ticket's adjusted clocks without and with the candidate override, at `now`."""

    before: TicketClocks
    after: TicketClocks

    @property
    def before_figures(self) -> dict[str, dict[str, Any]]:
        return clock_figures(self.before.adjusted)

    @property
    def after_figures(self) -> dict[str, dict[str, Any]]:
        return clock_figures(self.after.adjusted)

    def changed(self) -> tuple[str, ...]:
        """The clocks whose figures the override changes."""
        b, a = self.before_figures, self.after_figures
        return tuple(n for n in b if b[n] != a.get(n))


def preview(
    record: TicketRecord,
    agreements_by_version: Mapping[int, AgreementSet],
    candidate: Override,
    now: float,
    *,
    before: TicketClocks | None = None,
) -> Preview:
    """Before and after figures of `candidate` made at `now` (it counts as pending).

    `before` saves an engine run when the caller has the ticket's clocks at `now` already.
    """
    if before is None:
        before = evaluate(record, agreements_by_version, now)
    counted = dataclasses.replace(candidate, status="pending")
    with_it = dataclasses.replace(record, overrides=(*record.overrides, counted))
    return Preview(before, evaluate(with_it, agreements_by_version, now))


@dataclass(frozen=True, slots=True)
class Draft:
    """A candidate override as confirming would record it: normalised (made at `now`,
    pending; a `responded` one on the response clock, at now unless told).

    `preview` is there whenever the override could take effect (`effect_problem` is
    None), even while the justification is still too short: the agent sees the
    figures as they write why.
    """

    override: Override
    preview: Preview | None
    effect_problem: str | None
    text_problem: str | None

    @property
    def problem(self) -> str | None:
        """Why confirming would be refused, or None."""
        return self.text_problem or self.effect_problem


def draft(
    record: TicketRecord,
    agreements_by_version: Mapping[int, AgreementSet],
    candidate: Override,
    now: float,
) -> Draft:
    """Run the rules and, when the effect is possible, the preview (the dialog, as the agent types)."""
    from sladesk_tui.core.override_rules import effect_problem, text_problem

    o = dataclasses.replace(candidate, id=0, at=now, status="pending")
    if o.kind == "responded":
        o = dataclasses.replace(
            o, clock=o.clock or "response", responded_at=now if o.responded_at is None else o.responded_at
        )
    before = evaluate(record, agreements_by_version, now)
    effect = effect_problem(o, record, before.agreement, before.adjusted, now)
    shown = None if effect is not None else preview(record, agreements_by_version, o, now, before=before)
    return Draft(o, shown, effect, text_problem(o))


@dataclass(frozen=True, slots=True)
class BreachEffect:
    """Clocks that are breached without the override and not with it, at some instant.

    `met`: the override made them compliant (met, or still within target);
    `exempted`: it took them out of compliance instead.
    """

    met: tuple[str, ...] = ()
    exempted: tuple[str, ...] = ()

    @property
    def turned_met(self) -> bool:
        return bool(self.met)


def breach_effect(
    record: TicketRecord,
    agreements_by_version: Mapping[int, AgreementSet],
    override: Override,
    now: float,
) -> BreachEffect:
    """What `override` alone changes at `now`, the ticket's other counting overrides applied.

    The override is applied whatever its review status: a lead judging an operator
    wants to know what the override did (or would have done), not only what stands.
    """
    others = tuple(o for o in record.overrides if o.id != override.id)
    without = evaluate(dataclasses.replace(record, overrides=others), agreements_by_version, now).adjusted
    counted = dataclasses.replace(override, status="pending")
    with_it = evaluate(
        dataclasses.replace(record, overrides=(*others, counted)), agreements_by_version, now
    ).adjusted
    met: list[str] = []
    exempted: list[str] = []
    for name in CLOCKS:
        b, a = without.get(name), with_it.get(name)
        if b is None or a is None or b.state != "breached" or a.state == "breached":
            continue
        (exempted if a.state == "exempt" else met).append(name)
    return BreachEffect(tuple(met), tuple(exempted))


def _seconds(v: float | None) -> float | None:
    return None if v is None else round(v, 6)
