"""The alert outbox: intents, messages, items and attempts, all append-only and audited.

Exactly-once delivery is a sequence of transactions (docs/alerts.md):

1. `record_crossings`: the intent, one row per alert key and recipient, before
   anything is sent. The key is unique, so a restart never alerts twice.
2. `claim`: one message folding a recipient's pending alerts, with the idempotency
   key that travels with it (Message-ID, Idempotency-Key header), again before
   sending.
3. The channel sends; then `record_attempt` writes the outcome.

A crash between 2 and 3 leaves a message without an attempt: `unfinished` finds it
and the notifier resends it with the same key, so at most that one message goes
twice and the receiver can drop the duplicate. Each step appends one audit row
covering the rows it added; nothing is ever updated, state is derived.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sladesk_tui.store.audit import RowRange, append_audit, row_ranges
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import snapshot, write_tx
from sladesk_tui.store.instants import iso_utc

if TYPE_CHECKING:
    from sladesk_tui.core.alerts import Crossing

SOURCE = "notify"


@dataclass(frozen=True, slots=True)
class NewAlert:
    """A crossing for one recipient, as `record_crossings` takes it."""

    crossing: Crossing
    recipient: str
    assignee: str | None


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert row with what a message shows of its ticket."""

    id: int
    key: str
    recipient: str
    ticket: str
    clock: str
    cycle: int
    level: str
    threshold_ts: float
    due_ts: float
    assignee: str | None
    off_shift: bool
    ts: float
    title: str
    customer: str
    priority: str


@dataclass(frozen=True, slots=True)
class OutMessage:
    """A claimed message; `attempts`/`last_ts` count its failed tries so far."""

    id: int
    recipient: str
    channel: str
    address: str | None
    idem_key: str
    ts: float
    attempts: int = 0
    last_ts: float | None = None


@dataclass(frozen=True, slots=True)
class AlertLogRow:
    """One alert for one recipient with its delivery state, for `sladesk alerts`."""

    id: int
    ticket: str
    clock: str
    cycle: int
    level: str
    recipient: str
    threshold_ts: float
    ts: float
    off_shift: bool
    state: str  # pending | sending | sent | retrying | failed
    attempts: int
    error: str | None
    sent_ts: float | None
    channel: str | None
    idem_key: str | None


_ALERT_COLS = (
    "a.id, a.key, a.recipient, a.ticket, a.clock, a.cycle, a.level, a.threshold_ts, a.due_ts,"
    " a.assignee, a.off_shift, a.ts, COALESCE(t.title, ''), COALESCE(t.customer, ''), COALESCE(t.priority, '')"
)


def known_keys(conn: Connection, tickets: Iterable[str] | None = None) -> set[str]:
    """The alert keys recorded for `tickets` (default: the open ones), any recipient.

    A cache for the notifier; `record_crossings` checks the table itself, so a key
    missing here is never written twice either.
    """
    if tickets is None:
        rows = conn.execute(
            "SELECT DISTINCT a.key FROM alerts a WHERE a.ticket IN (SELECT id FROM tickets WHERE is_open = 1)"
        )
        return {r[0] for r in rows}
    wanted = list(tickets)
    out: set[str] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        out.update(
            r[0]
            for r in conn.execute(
                f"SELECT DISTINCT key FROM alerts WHERE ticket IN ({','.join('?' * len(chunk))})", chunk
            )
        )
    return out


_INSERT_ALERT = (
    "INSERT INTO alerts (key, recipient, ticket, clock, cycle, level, threshold_ts, threshold_at,"
    " due_ts, assignee, off_shift, ts, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def record_crossings(conn: Connection, alerts: Sequence[NewAlert], *, now: float, actor: str) -> int:
    """Write the intents of `alerts` not yet recorded, in one transaction; return how many."""
    if not alerts:
        return 0
    with write_tx(conn):
        keys = sorted({a.crossing.key for a in alerts})
        have: set[tuple[str, str]] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            have.update(
                (r[0], r[1])
                for r in conn.execute(
                    f"SELECT key, recipient FROM alerts WHERE key IN ({','.join('?' * len(chunk))})", chunk
                )
            )
        rows = []
        for a in alerts:
            c = a.crossing
            if (c.key, a.recipient) in have:
                continue
            have.add((c.key, a.recipient))
            rows.append(
                (
                    c.key,
                    a.recipient,
                    c.ticket,
                    c.clock,
                    c.cycle,
                    c.level,
                    c.at,
                    iso_utc(c.at),
                    c.due_at,
                    a.assignee,
                    int(c.off_shift),
                    now,
                    iso_utc(now),
                )
            )
        if not rows:
            return 0
        conn.executemany(_INSERT_ALERT, rows)
        # The audit row covers exactly the ids these rows were given (store.audit.row_ranges):
        # on PostgreSQL the sequence interleaves concurrent sessions, and a range up to
        # MAX(id) could take in another session's row. A key and recipient name one row.
        mine = {(r[0], r[1]) for r in rows}
        ids: list[int] = []
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            ids += (
                int(r[0])
                for r in conn.execute(
                    f"SELECT id, key, recipient FROM alerts WHERE key IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                if (r[1], r[2]) in mine
            )
        append_audit(
            conn,
            actor=actor,
            action="alerts.due",
            subject=rows[0][2] if len({r[2] for r in rows}) == 1 else f"{len(rows)} alerts",
            after={"alerts": len(rows), "keys": sorted({r[0] for r in rows})[:100]},
            source=SOURCE,
            covers=row_ranges("alerts", ids),
        )
    return len(rows)


def pending_alerts(conn: Connection, *, from_id: int = 0) -> list[StoredAlert]:
    """Alerts no message has taken yet (of ids from `from_id`: the caller knows every
    older one was taken, so a year of history is not scanned each time), oldest first."""
    with snapshot(conn):
        cur = conn.cursor()
        cur.row_factory = None
        rows = cur.execute(
            f"SELECT {_ALERT_COLS} FROM alerts a LEFT JOIN tickets t ON t.id = a.ticket"
            " WHERE a.id >= ? AND NOT EXISTS (SELECT 1 FROM alert_items i WHERE i.alert_id = a.id)"
            " ORDER BY a.id",
            (from_id,),
        ).fetchall()
    return [_stored(r) for r in rows]


def last_message_ts(conn: Connection, recipient: str) -> float | None:
    """When the newest message to `recipient` was claimed (its digest window starts there)."""
    row = conn.execute("SELECT MAX(ts) FROM alert_messages WHERE recipient = ?", (recipient,)).fetchone()
    return None if row[0] is None else float(row[0])


def next_ids(conn: Connection) -> tuple[int, int]:
    """(next alert id, next message id): the floors once nothing older is open."""
    row = conn.execute(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM alerts), (SELECT COALESCE(MAX(id), 0) FROM alert_messages)"
    ).fetchone()
    return int(row[0]) + 1, int(row[1]) + 1


def claim(
    conn: Connection,
    recipient: str,
    channel: str,
    address: str | None,
    alert_ids: Sequence[int],
    *,
    now: float,
    actor: str,
) -> OutMessage:
    """Fold `alert_ids` into one new message for `recipient` (before it is sent)."""
    idem = uuid.uuid4().hex
    with write_tx(conn):
        cur = conn.execute(
            "INSERT INTO alert_messages (recipient, channel, address, idem_key, alerts, ts, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (recipient, channel, address, idem, len(alert_ids), now, iso_utc(now)),
        )
        mid = int(cur.lastrowid)  # type: ignore[arg-type]  # an INSERT always sets it
        conn.executemany(
            "INSERT INTO alert_items (message_id, alert_id) VALUES (?, ?)", [(mid, a) for a in alert_ids]
        )
        append_audit(
            conn,
            actor=actor,
            action="alerts.message",
            subject=recipient,
            after={"message": mid, "channel": channel, "idempotency_key": idem, "alerts": len(alert_ids)},
            source=SOURCE,
            covers=[RowRange("alert_messages", mid, mid), RowRange("alert_items", mid, mid)],
        )
    return OutMessage(mid, recipient, channel, address, idem, now)


def record_attempt(
    conn: Connection, message: OutMessage, outcome: str, error: str | None, *, now: float, actor: str
) -> None:
    """The outcome of one delivery try: sent, failed (retried) or gave_up."""
    with write_tx(conn):
        cur = conn.execute(
            "INSERT INTO alert_attempts (message_id, outcome, error, ts, at) VALUES (?, ?, ?, ?, ?)",
            (message.id, outcome, error, now, iso_utc(now)),
        )
        aid = int(cur.lastrowid)  # type: ignore[arg-type]  # an INSERT always sets it
        append_audit(
            conn,
            actor=actor,
            action=f"alerts.{outcome}",
            subject=message.recipient,
            after={"message": message.id, "idempotency_key": message.idem_key, "error": error},
            source=SOURCE,
            covers=[RowRange("alert_attempts", aid, aid)],
        )


def unfinished(conn: Connection, *, from_id: int = 0) -> list[OutMessage]:
    """Messages (of ids from `from_id`) neither sent nor given up: retries, and any a
    crash left unrecorded."""
    rows = conn.execute(
        "SELECT m.id, m.recipient, m.channel, m.address, m.idem_key, m.ts,"
        " (SELECT COUNT(*) FROM alert_attempts x WHERE x.message_id = m.id),"
        " (SELECT MAX(x.ts) FROM alert_attempts x WHERE x.message_id = m.id)"
        " FROM alert_messages m WHERE m.id >= ? AND NOT EXISTS (SELECT 1 FROM alert_attempts x"
        " WHERE x.message_id = m.id AND x.outcome IN ('sent', 'gave_up')) ORDER BY m.id",
        (from_id,),
    ).fetchall()
    return [OutMessage(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6]), r[7]) for r in rows]


def message_alerts(conn: Connection, message_id: int) -> list[StoredAlert]:
    with snapshot(conn):
        cur = conn.cursor()
        cur.row_factory = None
        rows = cur.execute(
            f"SELECT {_ALERT_COLS} FROM alert_items i JOIN alerts a ON a.id = i.alert_id"
            " LEFT JOIN tickets t ON t.id = a.ticket WHERE i.message_id = ? ORDER BY a.id",
            (message_id,),
        ).fetchall()
    return [_stored(r) for r in rows]


def alert_log(
    conn: Connection,
    *,
    since: float | None = None,
    ticket: str | None = None,
    recipients: Iterable[str] | None = None,
) -> list[AlertLogRow]:
    """Every alert (per recipient) with its delivery state, oldest first."""
    where = ["1 = 1"]
    params: list[object] = []
    if since is not None:
        where.append("a.ts >= ?")
        params.append(since)
    if ticket is not None:
        where.append("a.ticket = ?")
        params.append(ticket)
    if recipients is not None:
        wanted = list(recipients)
        where.append(f"a.recipient IN ({','.join('?' * len(wanted)) or 'NULL'})")
        params.extend(wanted)
    sql = (
        "SELECT a.id, a.ticket, a.clock, a.cycle, a.level, a.recipient, a.threshold_ts, a.ts, a.off_shift,"
        " m.id, m.channel, m.idem_key,"
        " (SELECT COUNT(*) FROM alert_attempts x WHERE x.message_id = m.id AND x.outcome != 'sent'),"
        " (SELECT x.outcome FROM alert_attempts x WHERE x.message_id = m.id ORDER BY x.id DESC LIMIT 1),"
        " (SELECT x.error FROM alert_attempts x WHERE x.message_id = m.id AND x.error IS NOT NULL"
        "  ORDER BY x.id DESC LIMIT 1),"
        " (SELECT x.ts FROM alert_attempts x WHERE x.message_id = m.id AND x.outcome = 'sent')"
        " FROM alerts a LEFT JOIN alert_items i ON i.alert_id = a.id"
        " LEFT JOIN alert_messages m ON m.id = i.message_id"
        f" WHERE {' AND '.join(where)} ORDER BY a.id"
    )
    out = []
    with snapshot(conn):
        for r in conn.execute(sql, params).fetchall():
            mid, last = r[9], r[13]
            if mid is None:
                state = "pending"
            elif last is None:
                state = "sending"
            elif last == "sent":
                state = "sent"
            elif last == "gave_up":
                state = "failed"
            else:
                state = "retrying"
            out.append(
                AlertLogRow(
                    id=r[0],
                    ticket=r[1],
                    clock=r[2],
                    cycle=r[3],
                    level=r[4],
                    recipient=r[5],
                    threshold_ts=r[6],
                    ts=r[7],
                    off_shift=bool(r[8]),
                    state=state,
                    attempts=int(r[12] or 0) + (1 if last == "sent" else 0),
                    error=r[14],
                    sent_ts=r[15],
                    channel=r[10],
                    idem_key=r[11],
                )
            )
    return out


def _stored(r: Any) -> StoredAlert:
    """A row of `_ALERT_COLS`, positionally (sqlite3 rows are untyped)."""
    return StoredAlert(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], bool(r[10]), r[11], r[12], r[13], r[14]
    )


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    """An alert key raised for a ticket (any recipient), for the app's toasts."""

    id: int  # the newest row id of the key
    ticket: str
    clock: str
    level: str
    threshold_ts: float
    title: str


def last_alert_id(conn: Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM alerts").fetchone()[0])


def raised_for(conn: Connection, assignee: str, *, after_id: int) -> list[RaisedAlert]:
    """Alert keys raised after row `after_id` on tickets assigned to `assignee`, oldest first."""
    rows = conn.execute(
        "SELECT MAX(a.id), a.ticket, a.clock, a.level, a.threshold_ts, COALESCE(t.title, '')"
        " FROM alerts a LEFT JOIN tickets t ON t.id = a.ticket"
        " WHERE a.id > ? AND a.assignee = ? GROUP BY a.key ORDER BY MAX(a.id)",
        (after_id, assignee),
    ).fetchall()
    return [RaisedAlert(int(r[0]), r[1], r[2], r[3], float(r[4]), r[5]) for r in rows]
