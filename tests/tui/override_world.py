"""A small desk with overrides to make and review, on a real SQLite file (the `store` fixture).

NOW is Friday 2027-01-15 08:00 UTC (queue_data). On acme-gold (24x7; P1 15m/4h,
P2 1h/8h):

- T-1  P2, created 30 minutes ago, no reply: response ok (30m left).
- T-2  P1, created 2h ago, replied 10 minutes later: response met (stopped).
- T-3  P2, created 3h ago, no reply: response breached 2h ago.
- T-4  P2, resolved an hour ago: ended.
- T-5  P2, created 20 minutes ago, its title is markup and an escape sequence.

sam and kim are agents, lee is the team lead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from queue_data import NOW, OSC52
from tui_store import Ingest, created

from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.store.db import open_db
from sladesk_tui.store.overrides import place_override
from sladesk_tui.store.roles import name_first_lead

H = 3600.0
LEAD = "lee"
NASTY = f"[@click=app.quit]quit[/] {OSC52}"
WHY = "Customer's phone is off until the afternoon; agreed by mail"


def build(store: tuple[Path, Ingest]) -> Path:
    path, add = store
    add(
        [
            created("T-1", NOW - 0.5 * H, title="Invoices fail to post"),
            created("T-2", NOW - 2 * H, priority="P1", title="VPN drops"),
            Event(id="T-2-r", type="reply", at=NOW - 1.8 * H, ticket="T-2", author="sam"),
            created("T-3", NOW - 3 * H, title="Password reset loop"),
            created("T-4", NOW - 5 * H, title="Mailbox full"),
            Event(id="T-4-x", type="resolved", at=NOW - H, ticket="T-4"),
            created("T-5", NOW - 1200, title=NASTY),
        ]
    )
    with connected(path) as conn:
        name_first_lead(conn, LEAD, actor=LEAD)
    return path


@contextmanager
def connected(path: Path) -> Iterator[sqlite3.Connection]:
    conn = open_db(path)
    try:
        yield conn
    finally:
        conn.close()


def override(
    ticket: str,
    kind: str,
    *,
    operator: str = "sam",
    reason: str = "customer_unreachable",
    justification: str = WHY,
    **params: object,
) -> Override:
    return Override(
        id=0,
        ticket=ticket,
        kind=kind,
        at=0.0,
        operator=operator,
        reason=reason,
        justification=justification,
        **params,
    )


def place(path: Path, o: Override, now: float = NOW) -> int:
    with connected(path) as conn:
        return place_override(conn, o, now=now).id


def seed_log(path: Path) -> dict[str, int]:
    """Three overrides to review: two by sam (one already approved), one by kim."""
    ids = {
        "hold": place(path, override("T-1", "hold", until=NOW + H), NOW - 300),
        "responded": place(
            path,
            override(
                "T-3",
                "responded",
                operator="kim",
                reason="other",
                justification=f"Phoned at 05:20 {NASTY}",
                responded_at=NOW - 2.6 * H,
            ),
            NOW - 200,
        ),
        "extend": place(
            path, override("T-5", "extend", clock="resolution", reason="third_party", by_s=2 * H), NOW - 100
        ),
    }
    from sladesk_tui.store.overrides import review_override

    with connected(path) as conn:
        review_override(conn, ids["extend"], "approve", reviewer=LEAD, now=NOW - 50)
    return ids
