"""Roles named in the database (docs/roles.md): who holds them, granting and revoking.

`role_grants` is append-only; a user's latest row for a role decides. Each change
runs the core rule (`sladesk_tui.core.roles.check_change`) on the state read inside
its own write transaction, so two admins revoking each other at once cannot leave
the desk without one.

The stable entry point for every writer that needs a role (`load`, `import`, the
receiver, the puller) is `require_role(conn, operator, role)`: it raises a one-line
`Refused` (an `InputError`) when the operator does not hold the role.
"""

from __future__ import annotations

import sqlite3

from sladesk_tui.core.errors import Refused
from sladesk_tui.core.roles import GRANTED_BY, ROLES, check_change, missing_role, role_problem
from sladesk_tui.store.audit import RowRange, append_audit
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import snapshot, write_tx
from sladesk_tui.store.instants import iso_utc, now_ts

ROLE = "lead"
"""The lead role (kept for the callers written before the other roles)."""

_HOLDERS = (
    'SELECT g."user" FROM role_grants g WHERE g.role = ? AND g.id = ('
    ' SELECT MAX(h.id) FROM role_grants h WHERE h."user" = g."user" AND h.role = g.role) AND g.action = \'grant\''
    ' ORDER BY g."user"'
)
_LATEST = 'SELECT action FROM role_grants WHERE "user" = ? AND role = ? ORDER BY id DESC LIMIT 1'


def holders(conn: Connection, role: str) -> list[str]:
    """The users who hold `role` now, by name."""
    return [r[0] for r in conn.execute(_HOLDERS, (role,))]


def has_role(conn: Connection, user: str, role: str) -> bool:
    """Whether `user` holds `role` now (an unknown role is held by nobody)."""
    row = conn.execute(_LATEST, (user, role)).fetchone()
    return row is not None and row[0] == "grant"


def roles_of(conn: Connection, user: str) -> list[str]:
    """The roles `user` holds now, in `ROLES` order (empty: an agent)."""
    with snapshot(conn):
        return [r for r in ROLES if has_role(conn, user, r)]


def require_role(conn: Connection, operator: str, role: str) -> None:
    """Refuse (one line, `Refused`) unless `operator` holds `role` now.

    Called by every entry point that writes what the clocks are measured against
    (`load`: admin) or on (`import`, the receiver, the puller: feed).
    """
    problem = role_problem(role)
    if problem:
        raise ValueError(problem)  # a programming error, not the caller's input
    if not has_role(conn, operator, role):
        raise Refused(missing_role(operator, role))


def name_first(conn: Connection, role: str, user: str, *, actor: str, source: str | None = None) -> int:
    """`sladesk init --admin USER` / `--lead USER`: only while nobody holds the role."""
    return _change(conn, "init", role, user, actor=actor, source=source)


def grant_role(conn: Connection, role: str, user: str, *, actor: str, source: str | None = None) -> int:
    """`sladesk role grant ROLE USER`: only a holder of the granting role (`GRANTED_BY`)."""
    return _change(conn, "grant", role, user, actor=actor, source=source)


def revoke_role(conn: Connection, role: str, user: str, *, actor: str, source: str | None = None) -> int:
    """`sladesk role revoke ROLE USER`: as granting, and never from the last admin or lead."""
    return _change(conn, "revoke", role, user, actor=actor, source=source)


# ---- the lead role, as the callers written before the other roles name it ---------------


def leads(conn: Connection) -> list[str]:
    """The users who hold the lead role now, by name."""
    return holders(conn, "lead")


def is_lead(conn: Connection, user: str) -> bool:
    return has_role(conn, user, "lead")


def name_first_lead(conn: Connection, user: str, *, actor: str, source: str | None = None) -> int:
    """`sladesk init --lead USER`: only while the database has no lead at all."""
    return name_first(conn, "lead", user, actor=actor, source=source)


def grant_lead(conn: Connection, user: str, *, actor: str, source: str | None = None) -> int:
    """`sladesk lead grant USER`: only a lead grants the role."""
    return grant_role(conn, "lead", user, actor=actor, source=source)


def revoke_lead(conn: Connection, user: str, *, actor: str, source: str | None = None) -> int:
    """`sladesk lead revoke USER`: only a lead revokes it, never from the last lead."""
    return revoke_role(conn, "lead", user, actor=actor, source=source)


# ---- writing ------------------------------------------------------------------------------


def _insert(
    conn: Connection,
    role: str,
    user: str,
    action: str,
    *,
    by_user: str,
    source: str | None,
    audit_action: str,
) -> int:
    """Append one role row and its audit row inside the caller's write transaction."""
    ts = now_ts()
    cur = conn.execute(
        'INSERT INTO role_grants ("user", role, action, by_user, ts, at) VALUES (?, ?, ?, ?, ?, ?)',
        (user, role, action, by_user, ts, iso_utc(ts)),
    )
    gid = int(cur.lastrowid)  # type: ignore[arg-type]  # an INSERT always sets lastrowid
    append_audit(
        conn,
        actor=by_user,
        action=audit_action,
        subject=f"user {user}",
        after={"user": user, "role": role, "action": action},
        source=source,
        covers=[RowRange("role_grants", gid, gid)],
    )
    return gid


def _change(conn: Connection, what: str, role: str, user: str, *, actor: str, source: str | None) -> int:
    with write_tx(conn):
        current = holders(conn, role) if role in ROLES else []
        granter = GRANTED_BY.get(role, "admin")
        check_change(
            what,
            role=role,
            actor=actor,
            actor_may_grant=has_role(conn, actor, granter),
            user=user,
            user_holds=user in current,
            holders=len(current),
        )
        action = "revoke" if what == "revoke" else "grant"
        # The lead role's audit actions predate the other roles: role.init/grant/revoke.
        audit_action = f"role.{what}" if role == "lead" else f"role.{role}.{what}"
        try:
            return _insert(conn, role, user, action, by_user=actor, source=source, audit_action=audit_action)
        except sqlite3.DatabaseError as exc:
            # PostgreSQL's own rules on the grantee (a group role, a NOLOGIN role, no
            # role at all: docs/postgresql.md) say no: the user's mistake, not the store's.
            if getattr(exc, "sqlstate", None) == _REFUSED_BY_RULE and str(exc).startswith("role_grants:"):
                raise Refused(str(exc)) from exc
            raise


# SQLSTATE insufficient_privilege: what the PostgreSQL rule triggers raise.
_REFUSED_BY_RULE = "42501"


def first_admin_after_migration(conn: Connection) -> None:
    """Run inside the migration that adds the admin role: name the database's first admin.

    A database made before the role existed gets as admin its first lead, else the
    account of its first audit row (whoever created it); an empty one gets none
    (`sladesk init --admin USER` names one). The grant is recorded and audited
    like any other, its actor the account running the migration.
    """
    if holders(conn, "admin"):
        return
    row = conn.execute(
        """SELECT "user" FROM role_grants WHERE role = 'lead' AND action = 'grant' ORDER BY id LIMIT 1"""
    ).fetchone()
    why = "first lead"
    if row is None:
        row = conn.execute("SELECT actor FROM audit_log ORDER BY seq LIMIT 1").fetchone()
        why = "creator"
    if row is None:
        return
    from sladesk_tui.store.identity import login_user

    user = str(row[0])
    ts = now_ts()
    cur = conn.execute(
        'INSERT INTO role_grants ("user", role, action, by_user, ts, at)'
        " VALUES (?, 'admin', 'grant', ?, ?, ?)",
        (user, login_user(), ts, iso_utc(ts)),
    )
    gid = int(cur.lastrowid)  # type: ignore[arg-type]  # an INSERT always sets it
    append_audit(
        conn,
        actor=login_user(),
        action="role.admin.migrate",
        subject=f"user {user}",
        after={"user": user, "role": "admin", "action": "grant", "as": why},
        covers=[RowRange("role_grants", gid, gid)],
    )
