"""Desk settings in the database (docs/roles.md): read them, and change them as an admin.

`desk_settings` is append-only; a key's latest row decides, a key never set has its
default (`core.settings.SETTINGS`). A change is checked (admin, known key and value)
and written with its audit row in one write transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from sladesk_tui.core.errors import Refused
from sladesk_tui.core.events import LOCAL_CLOCK_TYPES, Event
from sladesk_tui.core.settings import LOCAL_ACTIONS_OFF, SETTINGS, check_setting
from sladesk_tui.store.audit import RowRange, append_audit
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import write_tx
from sladesk_tui.store.instants import iso_utc, now_ts
from sladesk_tui.store.roles import require_role


def setting(conn: Connection, key: str) -> str:
    """The value of `key` now (its default when never set, or on a database older than settings)."""
    default = SETTINGS[key].default
    try:
        row = conn.execute(
            "SELECT value FROM desk_settings WHERE key = ? ORDER BY id DESC LIMIT 1", (key,)
        ).fetchone()
    except sqlite3.OperationalError:  # read-only lookup on a database not yet migrated
        return default
    return default if row is None else str(row[0])


def settings(conn: Connection) -> dict[str, str]:
    """Every setting's value now, in `SETTINGS` order."""
    return {key: setting(conn, key) for key in SETTINGS}


def change_setting(
    conn: Connection, key: str, value: str, *, actor: str, source: str | None = None
) -> int | None:
    """Set `key` to `value` (admins only); None when it already had that value (nothing written)."""
    check_setting(key, value)
    with write_tx(conn):
        require_role(conn, actor, "admin")
        before = setting(conn, key)
        if before == value:
            return None
        ts = now_ts()
        cur = conn.execute(
            "INSERT INTO desk_settings (key, value, by_user, ts, at) VALUES (?, ?, ?, ?, ?)",
            (key, value, actor, ts, iso_utc(ts)),
        )
        sid = int(cur.lastrowid)  # type: ignore[arg-type]  # an INSERT always sets it
        append_audit(
            conn,
            actor=actor,
            action="setting.change",
            subject=f"setting {key}",
            before={key: before},
            after={key: value},
            source=source,
            covers=[RowRange("desk_settings", sid, sid)],
        )
        return sid


def local_actions_refusal(conn: Connection) -> str | None:
    """Why an agent's clock-moving action in the app does nothing, or None when it may."""
    return LOCAL_ACTIONS_OFF if setting(conn, "local-actions") == "off" else None


def refuse_local_if_off(conn: Connection, events: Sequence[Event]) -> None:
    """Called by the importer inside its write transaction for events from the app."""
    if any(e.type in LOCAL_CLOCK_TYPES for e in events):
        why = local_actions_refusal(conn)
        if why:
            raise Refused(why)
