"""A writer process for the reliability suite: ``python rel_writer.py MODE DB ...``.

Modes (each writes through the store's public, rule-checked API, as the TUI and the
command line do, with its own operator name):

- ``mixed DB N WRITES GO [OPERATOR]``: operator ``opNN`` (or OPERATOR: on PostgreSQL
  the role DB connects as) writes WRITES times, one transaction
  each, alternating an event (`ingest`: first the `created` events of its five
  tickets ``WN-T0..4``, then notes on them) and an override (`place_override`:
  `extend` the resolution clock, or `out_of_order` ahead of ticket ``SHARED``).
  It waits for the file GO to exist first, so all writers start together.
  A write that gives up on the lock (`DatabaseBusy`: nothing written) is printed as
  ``gave up: MESSAGE`` and tried again, as a person would; every write ends committed
  exactly once. Prints ``done EVENTS OVERRIDES GAVE_UP`` at the end.
- ``overrides DB TICKET...``: places `extend` overrides on the tickets in turn until
  killed, printing ``ack ID`` (flushed) after each commit; ``ready`` once open.

Any exception propagates: a traceback on stderr and exit 1 is what the tests look for.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.store.db import DatabaseBusy, open_db
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.overrides import place_override

TICKETS = 5
JUSTIFICATION = "customer asked us to wait for their vendor"


def _extend(ticket: str, operator: str) -> Override:
    return Override(
        id=0,
        ticket=ticket,
        kind="extend",
        at=0.0,
        operator=operator,
        reason="third_party",
        justification=JUSTIFICATION,
        clock="resolution",
        by_s=60.0,
    )


T = TypeVar("T")
GIVE_UPS_PER_WRITE = 20  # past this the writer fails: the lock was never fair to it


def _patiently(write: Callable[[], T], gave_up: list[str]) -> T:
    """Run `write`; after a clean give-up (nothing written), note it and try again."""
    for _ in range(GIVE_UPS_PER_WRITE):
        try:
            return write()
        except DatabaseBusy as exc:
            gave_up.append(str(exc))
            print(f"gave up: {exc}", flush=True)
    raise SystemExit(f"gave up {GIVE_UPS_PER_WRITE} times on one write")


def mixed(db: str, n: int, writes: int, go: str, operator: str | None = None) -> None:
    operator = operator or f"op{n:02d}"
    conn = open_db(db)
    deadline = time.monotonic() + 60
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise SystemExit("no go signal within 60 s")
        time.sleep(0.005)
    base = time.time() - 3600
    events = overrides = 0
    gave_up: list[str] = []
    for i in range(writes):
        k = i // 2
        if i % 2 == 0:
            ticket = f"W{n}-T{k % TICKETS}"
            if k < TICKETS:
                ev = Event(
                    id=f"W{n}-e{k}",
                    type="created",
                    at=base + k,
                    ticket=ticket,
                    seq=1,
                    customer="acme",
                    priority="P2",
                    title=f"ticket {k} of writer {n}",
                )
            else:
                ev = Event(id=f"W{n}-e{k}", type="note", at=base + k, ticket=ticket, seq=1, body=f"note {k}")
            result = _patiently(
                lambda ev=ev: ingest(conn, [ev], actor=operator, source=f"writer:{n}", name=f"writer{n}"),
                gave_up,
            )
            assert result.inserted == 1, result
            events += 1
        else:
            ticket = f"W{n}-T{k % min(k + 1, TICKETS)}"
            if k % 2:
                candidate = Override(
                    id=0,
                    ticket=ticket,
                    kind="out_of_order",
                    at=0.0,
                    operator=operator,
                    reason="major_incident",
                    justification=JUSTIFICATION,
                    ahead_of="SHARED",
                )
            else:
                candidate = _extend(ticket, operator)
            _patiently(lambda candidate=candidate: place_override(conn, candidate), gave_up)
            overrides += 1
    conn.close()
    print(f"done {events} {overrides} {len(gave_up)}")


def overrides_loop(db: str, tickets: list[str]) -> None:
    conn = open_db(db)
    print("ready", flush=True)
    for i in range(1_000_000):  # bounded; the test kills it long before
        placed = place_override(conn, _extend(tickets[i % len(tickets)], "looper"))
        print(f"ack {placed.id}", flush=True)


def main(argv: list[str]) -> None:
    mode, db, *rest = argv
    if mode == "mixed":
        mixed(db, int(rest[0]), int(rest[1]), rest[2], *rest[3:4])
    elif mode == "overrides":
        overrides_loop(db, rest)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
