"""Service level agreements (docs/agreements.md): the model, its loader, its matching.

`sladesk_tui.core.agreements` is the one import for callers: the values live in
`model`, reading a file in `loader`, "which agreement governs this ticket, on which
calendar" in `matching`. Durations have their own module (`core/durations.py`).
"""

from sladesk_tui.core.agreements.loader import load_agreements
from sladesk_tui.core.agreements.matching import build_calendar, match_agreement
from sladesk_tui.core.agreements.model import (
    ALWAYS,
    CLOCK_NAMES,
    MAX_NAME,
    NO_AGREEMENT,
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
from sladesk_tui.core.durations import MAX_DURATION_S, format_duration, parse_duration

__all__ = [
    "ALWAYS",
    "CLOCK_NAMES",
    "MAX_DURATION_S",
    "MAX_NAME",
    "NO_AGREEMENT",
    "PRIORITY_PATTERN",
    "PRIORITY_POLICIES",
    "REOPEN_POLICIES",
    "WEEKDAYS",
    "Agreement",
    "AgreementError",
    "AgreementSet",
    "AtRisk",
    "CalendarDef",
    "Penalty",
    "Targets",
    "build_calendar",
    "format_duration",
    "load_agreements",
    "match_agreement",
    "parse_duration",
]
