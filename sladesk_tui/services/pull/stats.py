"""What one round of a pull reports, and the error that stops it (docs/pull.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class PullError(Exception):
    """The pull cannot go on (credentials refused, a 4xx, retries exhausted): one line, exit 1."""


@dataclass
class PullStats:
    """Counts of one `run_once`, printed by the command and the benchmark."""

    batches: int = 0
    transactions: int = 0
    inserted: int = 0
    already_present: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    would_store: list[Any] = field(default_factory=list)  # dry run: the events

    def summary(self, source: str) -> str:
        return (
            f"pulled {source}: {self.transactions} transactions in {self.batches} batches, "
            f"{self.inserted} events stored ({self.already_present} already present), "
            f"{len(self.problems)} tickets set aside; {self.requests} requests, "
            f"{self.retries} retried, {self.rate_limited} rate-limited"
        )
