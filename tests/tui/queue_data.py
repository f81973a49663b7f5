"""Rows and a row feed for the queue widget tests that do not need the store.

`ListSource` stands in for the store feed (the `QueueSource` protocol), not for the
database: the live tests in test_queue_live.py run the real feed on SQLite files.
"""

from __future__ import annotations

import re
import threading

from sladesk_tui.core.clocks import Clock
from sladesk_tui.core.queue import QueueRow, build_row
from sladesk_tui.core.tickets import TicketRecord

H = 3600.0
NOW = 1_800_000_000.0  # Friday 2027-01-15 08:00:00 UTC

OSC52 = "\x1b]52;c;b3duZWQ=\x07"
NASTY_TITLES = ("[@click=app.quit]x[/]", "[/]", "[P1] urgent", f"clip{OSC52}board")


def running(name: str, due: float, at_risk: float | None = None) -> Clock:
    return Clock(
        name=name,
        state="ok",
        target_s=4 * H,
        remaining_s=due - NOW,
        due_at=due,
        at_risk_at=at_risk,
        running=True,
    )


def paused(name: str, remaining: float) -> Clock:
    return Clock(name=name, state="paused", target_s=4 * H, remaining_s=remaining, running=False)


class _ClosedDesk:
    """A desk that is never staffed: every future breach is off shift."""

    def is_open_ts(self, at: float) -> bool:
        return False

    def elapsed_ts(self, start: float, end: float) -> float:
        return 0.0


def make_row(
    tid: str,
    due_in: float,
    *,
    title: str | None = None,
    assignee: str | None = "sam",
    priority: str = "P2",
    agreement: str = "acme-gold",
    customer: str = "acme",
    status: str = "open",
    pause: bool = False,
    at_risk_in: float | None = None,
    off_shift: bool = False,
) -> QueueRow:
    record = TicketRecord(
        id=tid,
        customer=customer,
        service=None,
        title=title or f"Ticket {tid}",
        priority=priority,
        status=status,
        assignee=assignee,
        agreement_id=agreement,
        agreement_version=1,
        no_agreement_reason=None,
        is_open=True,
        created_ts=NOW - H,
        updated_ts=NOW - H,
        ended_ts=None,
    )
    if pause:
        clocks = {"resolution": paused("resolution", due_in)}
    else:
        at_risk = NOW + at_risk_in if at_risk_in is not None else NOW + due_in - 1800
        clocks = {
            "response": running("response", NOW + due_in, at_risk=at_risk),
            "resolution": running("resolution", NOW + due_in + 4 * H, at_risk=NOW + due_in + 3 * H),
        }
    return build_row(record, clocks, NOW, desk_calendar=_ClosedDesk() if off_shift else None)


TITLES = (
    "Invoices fail to post to the ledger",
    "VPN drops every 10 minutes",
    "Password reset loop",
    "[@click=app.quit]x[/] printer jam",
    "Payroll export missing May",
    "[P1] shipping labels print blank",
    "Mailbox full",
    "CRM sync stuck since Monday",
    "Laptop won't boot after update",
    f"clip{OSC52}board title",
)


def sample_rows(n: int = 30) -> list[QueueRow]:
    """A mixed queue: a few breached, some at risk, some paused, two assignees, three priorities."""
    rows = []
    for i in range(n):
        tid = f"T-{1000 + i}"
        due_in = (i - 3) * 900.0  # T-1000..T-1002 breached, then every 15 minutes
        rows.append(
            make_row(
                tid,
                due_in,
                pause=(i % 7 == 6),
                assignee="sam" if i % 2 else "kim",
                priority=f"P{1 + i % 3}",
                agreement="acme-gold" if i % 4 else "beta-std",
                customer="acme" if i % 4 else "beta",
                off_shift=(i % 9 == 8),
                title=TITLES[i % len(TITLES)],
                status="waiting" if i % 7 == 6 else "open",
            )
        )
    return rows


class ListSource:
    """A feed whose rows a test replaces; the worker picks them up at its next poll."""

    rows: list[QueueRow] = []
    _version = 0
    _lock = threading.Lock()

    def __init__(self, desk: object) -> None:
        self._seen = -1

    @classmethod
    def publish(cls, rows: list[QueueRow]) -> None:
        with cls._lock:
            cls.rows = list(rows)
            cls._version += 1

    def poll(self, now: float, *, force: bool = False) -> list[QueueRow] | None:
        with self._lock:
            if self._version == self._seen and not force:
                return None
            self._seen = self._version
            return list(self.rows)

    def search(self, text: str) -> frozenset[str] | None:
        """What the store's index answers, for these rows: every word a word beginning
        of the title or the customer (case folded; the store folds accents too)."""
        words = re.findall(r"\w+", text.casefold())
        if not words:
            return None
        found = set()
        for r in self.rows:
            have = re.findall(r"\w+", f"{r.title} {r.customer}".casefold())
            if all(any(h.startswith(w) for h in have) for w in words):
                found.add(r.id)
        return frozenset(found)

    def close(self) -> None:
        pass


def source_with(rows: list[QueueRow]) -> type[ListSource]:
    """A fresh ListSource class (its own rows) so tests never share state."""
    cls = type("Source", (ListSource,), {"rows": list(rows), "_version": 0, "_lock": threading.Lock()})
    return cls
