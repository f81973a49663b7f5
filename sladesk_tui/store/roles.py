"""Team leads, named in the database (SPEC §7): who they are, and granting or revoking the role.

`role_grants` is append-only; a user's latest row decides. Each change runs the
core rule (`check_role_change`) on the state read inside its own write transaction,
so two leads revoking each other at once cannot leave the desk without a lead.
"""

from __future__ import annotations

import sqlite3

from sladesk_tui.core.override_rules import check_role_change
from sladesk_tui.store.audit import RowRange, append_audit
from sladesk_tui.store.db import write_tx
from sladesk_tui.store.instants import iso_utc, now_ts

ROLE = "lead"

_LEADS = (
    "SELECT g.user FROM role_grants g WHERE g.role = 'lead' AND g.id = ("
    " SELECT MAX(h.id) FROM role_grants h WHERE h.user = g.user AND h.role = 'lead') AND g.action = 'grant'"
    " ORDER BY g.user"
)


def leads(conn: sqlite3.Connection) -> list[str]:
    """The users who hold the lead role now, by name."""
    return [r[0] for r in conn.execute(_LEADS)]


def is_lead(conn: sqlite3.Connection, user: str) -> bool:
    row = conn.execute(
        "SELECT action FROM role_grants WHERE user = ? AND role = 'lead' ORDER BY id DESC LIMIT 1", (user,)
    ).fetchone()
    return row is not None and row[0] == "grant"


def name_first_lead(conn: sqlite3.Connection, user: str, *, actor: str, source: str | None = None) -> int:
    """`sladesk init --lead USER`: only while the database has no lead at all."""
    return _change(conn, "init", user, actor=actor, source=source)


def grant_lead(conn: sqlite3.Connection, user: str, *, actor: str, source: str | None = None) -> int:
    """`sladesk lead grant USER`: only a lead grants the role."""
    return _change(conn, "grant", user, actor=actor, source=source)


def revoke_lead(conn: sqlite3.Connection, user: str, *, actor: str, source: str | None = None) -> int:
    """`sladesk lead revoke USER`: only a lead revokes it, never from the last lead."""
    return _change(conn, "revoke", user, actor=actor, source=source)


def _insert(
    conn: sqlite3.Connection, user: str, action: str, *, by_user: str, source: str | None, audit_action: str
) -> int:
    """Append one role row and its audit row inside the caller's write transaction."""
    ts = now_ts()
    cur = conn.execute(
        "INSERT INTO role_grants (user, role, action, by_user, ts, at) VALUES (?, ?, ?, ?, ?, ?)",
        (user, ROLE, action, by_user, ts, iso_utc(ts)),
    )
    gid = int(cur.lastrowid)  # type: ignore[arg-type]  # an INSERT always sets lastrowid
    append_audit(
        conn,
        actor=by_user,
        action=audit_action,
        subject=f"user {user}",
        after={"user": user, "role": ROLE, "action": action},
        source=source,
        covers=[RowRange("role_grants", gid, gid)],
    )
    return gid


def _change(conn: sqlite3.Connection, what: str, user: str, *, actor: str, source: str | None) -> int:
    with write_tx(conn):
        current = leads(conn)
        check_role_change(
            what,
            actor=actor,
            actor_is_lead=actor in current,
            user=user,
            user_is_lead=user in current,
            leads=len(current),
        )
        action = "revoke" if what == "revoke" else "grant"
        return _insert(conn, user, action, by_user=actor, source=source, audit_action=f"role.{what}")
