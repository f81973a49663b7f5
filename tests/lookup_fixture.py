"""A small, hand-checked history for the lookup and report tests (docs/reports.md).

Every agreement runs 24x7 in UTC, so each figure below is plain arithmetic; the
expected report of November 2026 is written out by hand in `NOVEMBER` (do not derive
it from the code under test). The history goes through the store's real writers
(agreements load, event import, override and review writers) in time order, so a
database cut at an instant (`build(path, until=...)`) is the history as it stood
then: what `--at` must reproduce.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from support import agreements_db

from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.overrides import record_override, record_review

AGREEMENTS = """\
[[agreement]]
id = "acme-gold"
name = "ACME Gold"
customer = "acme"
services = ["erp", "email"]
calendar = "24x7"
valid_from = "2026-01-01"
valid_until = "2026-12-15"
availability = 99.9

[agreement.targets]
P1 = { response = "15m", update = "1h", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }

[agreement.penalty]
currency = "EUR"
per_breach = { P1 = 500, P2 = 200 }
monthly_cap = 1300

[[agreement]]
id = "beta-basic"
name = "Beta Basic"
customer = "beta"
calendar = "24x7"

[agreement.targets]
P3 = { response = "4h", resolution = "40h" }
"""

OPERATOR = "sam"
LEAD = "morgan"


def ts(text: str) -> float:
    """`11-02 10:00` in 2026, UTC, as epoch seconds."""
    return dt.datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC).timestamp()


def iso(text: str) -> str:
    return dt.datetime.fromtimestamp(ts(text), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Step:
    at: float
    event: Event | None = None
    override: Override | None = None
    review: tuple[str, str, str | None] | None = None  # (override key, decision, comment)
    key: str = ""


def _ev(n: int, ticket: str | None, at: str, typ: str, **fields: str) -> Step:
    return Step(ts(at), event=Event(id=f"e{n}", type=typ, at=ts(at), ticket=ticket, **fields))


def _created(n: int, ticket: str, at: str, priority: str, customer: str = "acme", **more: str) -> Step:
    more.setdefault("assignee", OPERATOR)
    return _ev(
        n,
        ticket,
        at,
        "created",
        customer=customer,
        priority=priority,
        title=f"Ticket {ticket}",
        service=more.pop("service", "erp"),
        **more,
    )


def _override(key: str, ticket: str, at: str, kind: str, clock: str | None, **params: float) -> Step:
    o = Override(
        id=0,
        ticket=ticket,
        kind=kind,
        at=ts(at),
        operator=OPERATOR,
        reason="third_party",
        justification="The supplier confirmed the delay in writing.",
        clock=clock,
        **params,
    )
    return Step(ts(at), override=o, key=key)


def _review(key: str, at: str, decision: str, comment: str | None = None) -> Step:
    return Step(ts(at), review=(key, decision, comment))


STEPS: tuple[Step, ...] = (
    # T-5: response met in October (10m), resolution met in November (3h).
    _created(1, "T-5", "10-31 23:00", "P1"),
    _ev(2, "T-5", "10-31 23:10", "reply", author=OPERATOR),
    _ev(3, "T-5", "11-01 02:00", "resolved"),
    # T-1: everything met; one update cycle answered in 30m.
    _created(10, "T-1", "11-02 10:00", "P1"),
    _ev(11, "T-1", "11-02 10:10", "reply", author=OPERATOR),
    _ev(12, "T-1", "11-02 11:00", "customer_reply"),
    _ev(13, "T-1", "11-02 11:30", "reply", author=OPERATOR),
    _ev(14, "T-1", "11-02 13:00", "resolved"),
    # T-2: response 30m > 15m and resolution 5h > 4h: both breached.
    _created(20, "T-2", "11-03 10:00", "P1"),
    _ev(21, "T-2", "11-03 10:30", "reply", author=OPERATOR),
    _ev(22, "T-2", "11-03 15:00", "resolved"),
    # T-3: response 1h30 > 1h breached raw, exempted by an approved override.
    _created(30, "T-3", "11-04 10:00", "P2"),
    _ev(31, "T-3", "11-04 11:30", "reply", author=OPERATOR),
    _override("exempt-T3", "T-3", "11-04 11:45", "exempt", "response"),
    _review("exempt-T3", "11-04 12:30", "approved"),
    _ev(32, "T-3", "11-04 14:00", "resolved"),
    # T-4: resolution 10h > 8h; the extension asked for was rejected, so it stays breached.
    _created(40, "T-4", "11-05 10:00", "P2"),
    _ev(41, "T-4", "11-05 10:20", "reply", author=OPERATOR),
    _override("extend-T4", "T-4", "11-05 15:00", "extend", "resolution", by_s=4 * 3600.0),
    _review("extend-T4", "11-05 16:30", "rejected", "No evidence of the supplier delay."),
    _ev(42, "T-4", "11-05 20:00", "resolved"),
    # T-6: 4h waiting on the customer; resolution 9h wall, 5h counted: met.
    _created(60, "T-6", "11-06 09:00", "P2"),
    _ev(61, "T-6", "11-06 09:20", "reply", author=OPERATOR),
    _ev(62, "T-6", "11-06 09:30", "status", status="waiting"),
    _ev(63, "T-6", "11-06 13:30", "status", status="open"),
    _ev(64, "T-6", "11-06 18:00", "resolved"),
    # T-7: resolution 6h raw (breached); a pending hold of 3h makes it 3h adjusted (met).
    _created(70, "T-7", "11-07 10:00", "P1"),
    _ev(71, "T-7", "11-07 10:05", "reply", author=OPERATOR),
    _override("hold-T7", "T-7", "11-07 11:00", "hold", "resolution", until=ts("11-07 14:00")),
    _ev(72, "T-7", "11-07 16:00", "resolved"),
    # T-8 (another agreement): response met, still open.
    _created(80, "T-8", "11-08 10:00", "P3", customer="beta", service="crm"),
    _ev(81, "T-8", "11-08 11:00", "reply", author=OPERATOR),
    # Outages: erp 1h, email 30m, crm (not one of acme-gold's services) 2h.
    _ev(90, None, "11-10 10:00", "outage_start", service="erp"),
    _ev(91, None, "11-10 11:00", "outage_end", service="erp"),
    _ev(92, None, "11-20 00:00", "outage_start", service="email"),
    _ev(93, None, "11-20 00:30", "outage_end", service="email"),
    _ev(94, None, "11-21 08:00", "outage_start", service="crm"),
    _ev(95, None, "11-21 10:00", "outage_end", service="crm"),
    # T-9: opened late in the month, still open (response running).
    _created(100, "T-9", "11-28 10:00", "P2"),
)

# The instant `--at` tests look back to: after T-4's rejection, before its resolution.
EARLIER = ts("11-05 17:00")


def build(path: Path, *, until: float | None = None, toml: Path | None = None) -> Path:
    """Write the history (up to `until`, inclusive) into a new database at `path` (a
    PostgreSQL URL too, then with the agreements file at `toml`)."""
    with agreements_db(path, AGREEMENTS, actor=LEAD, toml=toml) as conn:
        ids: dict[str, int] = {}
        for batch in _batches(s for s in STEPS if until is None or s.at <= until):
            if isinstance(batch, list):
                ingest(conn, batch, actor=OPERATOR, source="test")
            elif batch.override is not None:
                ids[batch.key] = record_override(conn, batch.override, before={}, after={}, actor=OPERATOR)
            else:
                key, decision, comment = batch.review
                record_review(conn, ids[key], decision, reviewer=LEAD, comment=comment, at=batch.at)
    return path


def _batches(steps: Iterator[Step]) -> Iterator[list[Event] | Step]:
    """Consecutive events as one import (numbered as lines), overrides and reviews one by one."""
    pending: list[Event] = []
    for s in steps:
        if s.event is not None:
            pending.append(dataclasses.replace(s.event, seq=len(pending) + 1))
            continue
        if pending:
            yield pending
            pending = []
        yield s
    if pending:
        yield pending


# ---- the November 2026 report, by hand --------------------------------------------------
# (agreement, priority, clock): (tickets, raw met, raw breached, met, breached, exempt,
#                                penalty raw, penalty adjusted) -- penalties before the cap.
NOVEMBER: dict[tuple[str, str, str], tuple[int, int, int, int, int, int, float | None, float | None]] = {
    # T-1 met, T-2 breached (30m > 15m), T-7 met; T-5's response stopped in October.
    ("acme-gold", "P1", "response"): (3, 2, 1, 2, 1, 0, 500.0, 500.0),
    # T-1's one update cycle: 30m of 1h.
    ("acme-gold", "P1", "update"): (1, 1, 0, 1, 0, 0, 0.0, 0.0),
    # T-1 3h met, T-2 5h breached, T-5 3h met, T-7 6h raw breached / 3h held: adjusted met.
    ("acme-gold", "P1", "resolution"): (4, 2, 2, 3, 1, 0, 1000.0, 500.0),
    # T-3 90m breached raw, exempt adjusted; T-4 20m met; T-6 20m met.
    ("acme-gold", "P2", "response"): (3, 2, 1, 2, 0, 1, 200.0, 0.0),
    # T-3 4h met; T-4 10h breached (extension rejected); T-6 5h counted, met.
    ("acme-gold", "P2", "resolution"): (3, 2, 1, 2, 1, 0, 200.0, 200.0),
    # T-8's response, 1h of 4h. No penalty terms.
    ("beta-basic", "P3", "response"): (1, 1, 0, 1, 0, 0, None, None),
}
# acme-gold, November: raw 1900 uncapped -> 1300 (the cap); adjusted 1200 (under the cap).
PENALTY = {"raw_uncapped": 1900.0, "raw": 1300.0, "adjusted_uncapped": 1200.0, "adjusted": 1200.0}
# 30 days = 2,592,000 s; 99.9% allows 2,592 s of downtime.
AVAILABILITY = {
    "erp": {"downtime_s": 3600.0, "availability": 99.8611, "budget_left_s": -1008.0, "met": False},
    "email": {"downtime_s": 1800.0, "availability": 99.9306, "budget_left_s": 792.0, "met": True},
}
# As of the end of November, acme-gold's last day (2026-12-15) is 15 days away.
END_OF_NOVEMBER = ts("11-30 12:00")
