"""Store-side helpers of the TUI tests: the agreements, the `created` event maker and
the ingest function type. A module of its own (not conftest) so test modules import
it by a name no other directory's conftest shadows."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sladesk_tui.core.events import Event

AGREEMENTS = """
[[calendar]]
id = "desk"
tz = "UTC"
hours = { mon = ["07:00-19:00"], tue = ["07:00-19:00"], wed = ["07:00-19:00"],
          thu = ["07:00-19:00"], fri = ["07:00-19:00"] }

[[calendar]]
id = "office"
tz = "UTC"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"],
          thu = ["09:00-17:00"], fri = ["09:00-17:00"] }

[[agreement]]
id = "acme-gold"
name = "ACME Gold"
customer = "acme"
calendar = "24x7"
at_risk = { ratio = 0.75 }
[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
P3 = { response = "4h", resolution = "40h" }

[[agreement]]
id = "beta-std"
name = "Beta Standard"
customer = "beta"
calendar = "office"
[agreement.targets]
P2 = { response = "2h", resolution = "16h" }
"""

Ingest = Callable[[Iterable[Event]], None]


def created(
    tid: str,
    at: float,
    *,
    customer: str = "acme",
    priority: str = "P2",
    title: str | None = None,
    assignee: str | None = None,
) -> Event:
    return Event(
        id=f"{tid}-c",
        type="created",
        at=at,
        ticket=tid,
        customer=customer,
        priority=priority,
        title=title or f"Ticket {tid}",
        assignee=assignee,
    )
