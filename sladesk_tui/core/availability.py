"""Service availability from `outage_start` / `outage_end` events (docs/agreements.md `availability`, docs/formats.md).

Decisions recorded here (docs/reports.md):

- Availability is wall-clock time, not business time: a service down at 03:00 is
  down, whatever the support hours. Over a period it is
  `1 - downtime / period length`, the whole period counted, so the figure for the
  current month is what it will be if nothing else goes down; the downtime budget
  (`(1 - target) * period length`) and what is left of it say how close that is.
- Outages of one service are merged: a second `outage_start` while one is open
  changes nothing, an `outage_end` with none open is ignored, and an outage still
  open at `now` counts up to `now`.
- An agreement with a `services` list is judged on those services; one without
  (it covers every service of its customer) on every service that had an outage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outage:
    """One merged stretch of downtime, epoch seconds [start, end)."""

    service: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Availability:
    """One service over one period, against a target in percent (None: no target)."""

    service: str
    period_s: float
    downtime_s: float
    outages: int
    target: float | None

    @property
    def ratio(self) -> float:
        return 1.0 - self.downtime_s / self.period_s if self.period_s > 0 else 1.0

    @property
    def allowed_downtime_s(self) -> float | None:
        return None if self.target is None else (1.0 - self.target / 100.0) * self.period_s

    @property
    def budget_left_s(self) -> float | None:
        allowed = self.allowed_downtime_s
        return None if allowed is None else allowed - self.downtime_s

    @property
    def met(self) -> bool | None:
        # Compared in downtime seconds, not percentages: 99.9 has no exact float.
        allowed = self.allowed_downtime_s
        return None if allowed is None else self.downtime_s <= allowed + 1e-6


def merge_outages(events: Iterable[tuple[str, str, float]], now: float) -> dict[str, list[Outage]]:
    """Per service, the merged outages from `(service, type, at)` in `(at, arrival)` order.

    Events after `now` are ignored; an outage still open at `now` ends there.
    """
    open_since: dict[str, float] = {}
    out: dict[str, list[Outage]] = {}
    for service, typ, at in events:
        if at > now:
            break
        if typ == "outage_start":
            open_since.setdefault(service, at)
        elif typ == "outage_end":
            start = open_since.pop(service, None)
            if start is not None and at > start:
                out.setdefault(service, []).append(Outage(service, start, at))
    for service, start in open_since.items():
        if now > start:
            out.setdefault(service, []).append(Outage(service, start, now))
    return out


def availability(
    service: str,
    outages: Sequence[Outage],
    start: float,
    end: float,
    target: float | None,
) -> Availability:
    """The availability of `service` over [start, end), from its merged outages."""
    down = 0.0
    n = 0
    for o in outages:
        a, b = max(o.start, start), min(o.end, end)
        if b > a:
            down += b - a
            n += 1
    return Availability(service, end - start, down, n, target)


def services_judged(
    listed: Sequence[str], outages: Mapping[str, Sequence[Outage]], start: float, end: float
) -> list[str]:
    """The services an agreement is judged on over [start, end) (see the module docstring)."""
    if listed:
        return list(listed)
    return sorted(s for s, os_ in outages.items() if any(o.start < end and o.end > start for o in os_))
