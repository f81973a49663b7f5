"""The roles inside sladesk and who may grant them (docs/roles.md), pure.

Everyone who can open the database is an agent; three roles add powers, each a
row in the append-only grant log:

- ``admin`` loads agreements, grants and revokes the admin and feed roles, and
  changes desk settings: what the clocks are measured against.
- ``feed`` brings the ticketing system's events in (`sladesk import`, the receiver,
  the puller): what the clocks are measured on. An agent importing a backdated reply
  would turn a breach into met with nothing for a lead to review.
- ``lead`` reviews overrides and grants the lead role (unchanged).

A role is granted and revoked only by a holder of its granting role (`GRANTED_BY`),
and the last admin and the last lead cannot be revoked: with nobody left, `sladesk
init` would let anyone name themselves. The feed role may drop to nobody (no feed
runs while the ticketing system is being changed).
"""

from __future__ import annotations

import re

from sladesk_tui.core.errors import Refused

ROLES: tuple[str, ...] = ("admin", "feed", "lead")
GRANTED_BY: dict[str, str] = {"admin": "admin", "feed": "admin", "lead": "lead"}
"""Which role's holders grant and revoke each role."""
KEEP_ONE: frozenset[str] = frozenset({"admin", "lead"})
"""Roles whose last holder cannot be revoked."""
FIRST_NAMED: frozenset[str] = frozenset({"admin", "lead"})
"""Roles `sladesk init` may name while nobody holds them."""

_USER = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}|uid:\d{1,10})")
_TITLE = {"admin": "an admin", "feed": "a feed account", "lead": "a lead"}
_LONG = {"lead": "a team lead"}


def title(role: str) -> str:
    """'an admin', 'a lead': for messages."""
    return _TITLE.get(role, role)


def long_title(role: str) -> str:
    """'an admin', 'a team lead': where the role is introduced."""
    return _LONG.get(role) or title(role)


def user_problem(user: str) -> str | None:
    """Names of login accounts only: no spaces, no control or markup characters."""
    if not _USER.fullmatch(user):
        return f"{user!r} is not a user name (letters, digits, . _ @ -; at most 64 characters)"
    return None


def role_problem(role: str) -> str | None:
    if role not in ROLES:
        return f"unknown role {role!r} (one of {', '.join(ROLES)}; everyone else is an agent)"
    return None


def missing_role(user: str, role: str) -> str:
    """The one-line refusal of a caller without `role`, naming who can grant it."""
    granter = GRANTED_BY.get(role, "admin")
    return (
        f"{user} is not {title(role)}: this needs the {role} role"
        f" ({long_title(granter)} grants it with `sladesk role grant {role} {user}`)"
    )


def check_change(
    action: str,
    *,
    role: str,
    actor: str,
    actor_may_grant: bool,
    user: str,
    user_holds: bool,
    holders: int,
) -> None:
    """`init`, `grant` or `revoke` `role` for `user`; `Refused` if not allowed.

    `actor_may_grant`: the actor holds ``GRANTED_BY[role]``; `user_holds`: the user
    holds `role` now; `holders`: how many users hold `role` now.
    """
    problem = role_problem(role) or user_problem(user)
    if problem:
        raise Refused(problem)
    if action == "init":
        if role not in FIRST_NAMED:
            raise Refused(f"only the first admin and the first lead are named by init, not {role}")
        if holders:
            raise Refused(
                f"{long_title(role)} is already named; {title(GRANTED_BY[role])} grants the role"
                f" with `sladesk role grant {role} USER`"
            )
        return
    if action not in ("grant", "revoke"):
        raise Refused(f"unknown role action {action!r}")
    if not actor_may_grant:
        granter = GRANTED_BY[role]
        raise Refused(
            f"only {long_title(granter)} may {action} the {role} role, and {actor} is not {title(granter)}"
        )
    if action == "grant" and user_holds:
        raise Refused(f"{user} is already {title(role)}")
    if action == "revoke":
        if not user_holds:
            raise Refused(f"{user} is not {title(role)}")
        if role in KEEP_ONE and holders <= 1:
            raise Refused(f"{user} is the last {role}: grant the role to someone else first")
