"""Overrides: an agent's deliberate, justified departure from the normal rule (docs/overrides.md).

Only the domain value and the rules live here; storing and reviewing them is the
store's and the screens' business.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS: tuple[str, ...] = ("hold", "extend", "exempt", "responded", "reprioritize", "out_of_order")
REASONS: tuple[str, ...] = (
    "customer_unreachable",
    "third_party",
    "customer_request",
    "misclassified",
    "major_incident",
    "other",
)
STATUSES: tuple[str, ...] = ("pending", "approved", "rejected")
MIN_JUSTIFICATION = 15  # non-blank characters


@dataclass(frozen=True, slots=True)
class Override:
    """One override as the clock engine applies it.

    `clock` is the clock it touches (`response`, `update`, `resolution`), or None for
    all clocks (a hold may stop every clock). `at` is the instant it was made; the
    parameter fields are set according to `kind`:

    - hold: `until` (epoch) — clocks stand still in [at, until)
    - extend: `by_s` — business seconds added to the clock's target
    - exempt: nothing — the clock is excluded from compliance
    - responded: `responded_at` (epoch) — the response clock stopped then
    - reprioritize: `to_priority` — a priority change at `at`, under the agreement's policy
    - out_of_order: `ahead_of` (a ticket id) — no clock effect
    """

    id: int
    ticket: str
    kind: str
    at: float
    operator: str
    reason: str
    justification: str
    clock: str | None = None
    status: str = "pending"
    until: float | None = None
    by_s: float | None = None
    responded_at: float | None = None
    to_priority: str | None = None
    ahead_of: str | None = None

    @property
    def counts(self) -> bool:
        """Pending and approved overrides take effect; a rejected one stops counting."""
        return self.status != "rejected"


def justification_problem(text: str) -> str | None:
    """Why a justification is not acceptable, or None when it is."""
    n = sum(1 for ch in text if not ch.isspace())
    if n < MIN_JUSTIFICATION:
        return f"justification needs at least {MIN_JUSTIFICATION} non-blank characters (has {n})"
    return None
