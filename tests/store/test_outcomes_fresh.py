"""Outcomes of tickets an import creates come from memory, not a read-back: they must be
exactly what a rebuild from the stored log gives."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from support import agreements_db

from sladesk_tui.core.eventfile import event_from_mapping
from sladesk_tui.core.events import Event
from sladesk_tui.store import imports
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.outcomes import rebuild_outcomes

TERMS = """
[[agreement]]
id = "gold"
customer = "acme"
calendar = "24x7"
on_reopen = "restart"
on_priority_change = "restart"
[agreement.targets]
P1 = { response = "15m", update = "30m", resolution = "1h" }
P2 = { response = "1h", update = "2h", resolution = "8h" }
"""


def history(seed: int, tickets: int) -> list[Event]:
    """Tickets with same-instant events, replies, waits, priority changes, reopens; lines shuffled
    within a ticket's day so the importer re-sorts."""
    rnd = random.Random(seed)
    out: list[dict[str, str]] = []
    for n in range(tickets):
        tid = f"T-{n}"
        t0 = 1767600000 + n * 600
        out.append(
            {
                "id": f"{tid}-c",
                "type": "created",
                "ticket": tid,
                "at": t0,
                "customer": rnd.choice(["acme", "other"]),
                "priority": rnd.choice(["P1", "P2"]),
                "title": "x",
            }
        )
        t = t0
        for k in range(rnd.randint(1, 9)):
            t += rnd.choice([0, 0, 60, 900, 4000])
            kind = rnd.choice(
                ["reply", "customer_reply", "note", "wait", "open", "prio", "resolved", "reopened"]
            )
            ev: dict[str, object] = {"id": f"{tid}-{k}", "ticket": tid, "at": t}
            if kind == "wait":
                ev |= {"type": "status", "status": "waiting"}
            elif kind == "open":
                ev |= {"type": "status", "status": "open"}
            elif kind == "prio":
                ev |= {"type": "priority", "priority": rnd.choice(["P1", "P2"])}
            else:
                ev["type"] = kind
            out.append(ev)  # type: ignore[arg-type]  # ints become text below
    rnd.shuffle(out[len(out) // 2 :])  # late lines out of order: the importer sorts by (at, line)
    events = []
    for line, d in enumerate(out, 1):
        import datetime as dt

        d = {**d, "at": dt.datetime.fromtimestamp(int(d["at"]), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        events.append(event_from_mapping(d, seq=line))
    return events


@pytest.mark.parametrize("chunk", [7, 50_000])
def test_outcomes_from_memory_equal_a_rebuild_from_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(imports, "CHUNK", chunk)  # tickets spanning chunks too
    events = [e for e in history(3, 300) if e.type == "created"]
    rest = [e for e in history(3, 300) if e.type != "created"]
    with agreements_db(tmp_path / "s.db", TERMS, actor="admin") as conn:
        # one import creating tickets, then one adding to tickets already stored
        ingest(conn, events + rest[: len(rest) // 2], actor="a", source="t", skip_invalid=True)
        ingest(conn, rest[len(rest) // 2 :], actor="a", source="t", skip_invalid=True)
        stored = rows(conn)
        assert len(stored) > 100
        rebuild_outcomes(conn, 1767600000.0)
        assert rows(conn) == stored


def rows(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute("SELECT * FROM outcomes ORDER BY ticket, clock, cycle")]
