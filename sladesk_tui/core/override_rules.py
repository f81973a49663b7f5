"""The rules an override, a review and a role change must pass (docs/overrides.md, docs/roles.md).

The same rules guard the dialog, the review screen and the command line, so they
live here, pure: each check returns the reason a request is refused (the screens
show it as you type) or raises `Refused` (the writers call it inside the write
transaction, on the state they just read, so two operators cannot both slip past).

Decisions recorded here (docs/overrides.md, "What is refused, and why"):

- An ended ticket (resolved or closed) takes no override of any kind: its clocks
  are settled, and a late exemption would rewrite compliance after the fact.
- `hold` and `extend` need a clock still counting or paused; with no clock named
  they touch every clock, and at least one must still be counting. `exempt` may
  name a stopped clock (a breach the customer caused) but not an exempt one.
- A hold needs its end (`until`, after now, at most the agreement's `max_hold`
  ahead, 90 days unless it says): an open-ended hold, or one until 2100, is a clock
  nobody remembers to restart.
- `responded` touches the response clock only, at an instant between the ticket's
  creation and now (default: now), and only while that clock still runs.
- `reprioritize` needs a priority of the governing agreement other than the one in
  force; `out_of_order` names another ticket (the store checks that it exists).
- A review needs a lead who is not the override's operator; a rejection needs a
  comment. A later review replaces the earlier one (a lead may change their mind)
  but repeating the current decision is refused as a no-op.
- The last lead cannot be revoked: with no lead left, `sladesk init --lead` would
  let anyone name themselves.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sladesk_tui.core.errors import InputError, Refused
from sladesk_tui.core.overrides import KINDS, REASONS, Override, justification_problem
from sladesk_tui.core.roles import check_change

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import Agreement
    from sladesk_tui.core.clocks import Clock
    from sladesk_tui.core.tickets import TicketRecord

CLOCK_KINDS: frozenset[str] = frozenset({"hold", "extend", "exempt"})
"""Kinds that touch a clock the operator chooses (None: every clock)."""

PARAMETER: dict[str, str | None] = {
    "hold": "until",
    "extend": "by_s",
    "exempt": None,
    "responded": "responded_at",
    "reprioritize": "to_priority",
    "out_of_order": "ahead_of",
}
"""The one parameter field each kind takes."""

PARAMETER_FIELDS: tuple[str, ...] = ("until", "by_s", "responded_at", "to_priority", "ahead_of")
DECISIONS: dict[str, str] = {"approve": "approved", "reject": "rejected"}
MAX_JUSTIFICATION = 4000
MAX_COMMENT = 2000
MAX_EXTENSION_S = 10_000 * 3600.0


def text_problem(o: Override) -> str | None:
    """What is wrong with the reason code or the justification (the agent's words)."""
    if o.reason not in REASONS:
        return f"unknown reason {o.reason!r} (one of {', '.join(REASONS)})"
    problem = justification_problem(o.justification)
    if problem:
        return problem
    if len(o.justification) > MAX_JUSTIFICATION:
        return f"justification is longer than {MAX_JUSTIFICATION} characters"
    return None


def effect_problem(
    o: Override,
    record: TicketRecord,
    agreement: Agreement | None,
    clocks: Mapping[str, Clock],
    now: float,
) -> str | None:
    """What stops `o` from taking effect on the ticket (kind, parameters, ticket, clocks).

    Separate from `text_problem` so the dialog can preview the effect while the
    justification is still being typed.
    """
    if o.kind not in KINDS:
        return f"unknown kind {o.kind!r} (one of {', '.join(KINDS)})"
    if o.ticket != record.id:
        return f"override names ticket {o.ticket!r}, not {record.id!r}"
    wanted = PARAMETER[o.kind]
    for name in PARAMETER_FIELDS:
        if name != wanted and getattr(o, name) is not None:
            return f"{_PARAM_LABEL[name]} does not apply to {o.kind}"
    if (
        o.clock is not None
        and o.kind not in CLOCK_KINDS
        and not (o.kind == "responded" and o.clock == "response")
    ):
        return f"{o.kind} takes no clock (it has its own effect)"
    if not record.is_open:
        ended = "" if record.ended_ts is None else f" at {iso(record.ended_ts)}"
        return f"ticket {record.id} ended ({record.status}){ended}: an override cannot affect it"
    if o.kind == "out_of_order":
        if not o.ahead_of or not o.ahead_of.strip():
            return "out_of_order needs the ticket it was worked ahead of"
        if o.ahead_of == record.id:
            return "a ticket cannot be worked ahead of itself"
        return None
    if agreement is None:
        return f"no agreement in force for {record.id}: an override cannot affect its clocks"
    if o.kind == "reprioritize":
        return _reprioritize_problem(o, record, agreement, now)
    if o.kind == "responded":
        return _responded_problem(o, record, clocks, now)
    if o.kind == "hold":
        if o.until is None:
            return "hold needs the instant it ends (until)"
        if o.until <= now:
            return f"hold must end after now ({iso(now)}), not at {iso(o.until)}"
        if o.until - now > agreement.max_hold_s:
            from sladesk_tui.core.durations import format_duration

            return (
                f"hold until {iso(o.until)} is longer than agreement {agreement.id}'s max_hold"
                f" ({format_duration(agreement.max_hold_s)} from now): hold for less, and again later if need be"
            )
    if o.kind == "extend":
        if o.by_s is None or o.by_s <= 0:
            return "extend needs a positive duration (by)"
        if o.by_s > MAX_EXTENSION_S:
            return f"extend is longer than {int(MAX_EXTENSION_S // 3600)}h"
    return _clock_problem(o, clocks)


def review_problem(
    o: Override,
    *,
    reviewer: str,
    reviewer_is_lead: bool,
    decision: str,
    comment: str | None,
) -> str | None:
    """Why `reviewer` may not decide `decision` ("approve"/"reject") on `o`, or None."""
    if decision not in DECISIONS:
        return f"unknown decision {decision!r} (approve or reject)"
    if not reviewer_is_lead:
        return f"only a team lead reviews overrides, and {reviewer} is not a lead"
    if reviewer == o.operator:
        return f"nobody reviews their own override ({o.id} is {reviewer}'s)"
    if decision == "reject" and (comment is None or not comment.strip()):
        return "a rejection needs a comment saying why"
    if comment is not None and len(comment) > MAX_COMMENT:
        return f"comment is longer than {MAX_COMMENT} characters"
    if o.status == DECISIONS[decision]:
        return f"override {o.id} is already {o.status}"
    return None


def check_review(
    o: Override,
    *,
    reviewer: str,
    reviewer_is_lead: bool,
    decision: str,
    comment: str | None,
) -> str:
    """The stored decision ("approved"/"rejected"), or `Refused` with the reason."""
    problem = review_problem(
        o, reviewer=reviewer, reviewer_is_lead=reviewer_is_lead, decision=decision, comment=comment
    )
    if problem:
        raise Refused(problem)
    return DECISIONS[decision]


def check_role_change(
    action: str,
    *,
    actor: str,
    actor_is_lead: bool,
    user: str,
    user_is_lead: bool,
    leads: int,
) -> None:
    """`init` (name the first lead), `grant` or `revoke` the lead role; `Refused` if not allowed.

    `leads` is how many leads the database records now. The rules of every role are
    `sladesk_tui.core.roles.check_change`.
    """
    check_change(
        action,
        role="lead",
        actor=actor,
        actor_may_grant=actor_is_lead,
        user=user,
        user_holds=user_is_lead,
        holders=leads,
    )


def effective_priority(record: TicketRecord, now: float) -> str:
    """The priority in force at `now`: the events' changes and the counting reprioritize overrides."""
    changes: list[tuple[float, int, str]] = [
        (e.at, 0, e.priority)
        for e in record.events
        if e.type in ("created", "priority") and e.priority and e.at <= now
    ]
    changes += [
        (o.at, 1, o.to_priority)
        for o in record.overrides
        if o.kind == "reprioritize" and o.counts and o.to_priority and o.at <= now
    ]
    if not changes:
        return record.priority
    return max(changes, key=lambda c: (c[0], c[1]))[2]


def parse_when(text: str, now: float) -> float:
    """An instant typed by a person: ISO 8601 with an offset, a UTC date (`2026-11-27`),
    `now`, or `+DURATION` / `-DURATION` from now (`+2h`, `-20m`), inside the accepted
    window (`core.instants`). `InputError` otherwise. The one parser of typed instants:
    `--at`, `--until`, `--since` and the dialogs all use it (docs/instants.md)."""
    from sladesk_tui.core.durations import parse_duration
    from sladesk_tui.core.eventfile import parse_instant
    from sladesk_tui.core.instants import check_instant

    t = text.strip()
    if t == "now":
        return now
    try:
        if t[:1] in ("+", "-"):
            return check_instant(now + (1 if t[0] == "+" else -1) * parse_duration(t[1:]), t)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
            return check_instant(dt.datetime.fromisoformat(t).replace(tzinfo=dt.UTC).timestamp(), t)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(str(exc)) from None
    return parse_instant(t)


def parse_parameter(kind: str, text: str, now: float) -> dict[str, object]:
    """The kind's parameter field from what was typed (`Override` keyword arguments).

    Empty text gives no field (the rules then say what is missing; `responded`
    defaults to now). Durations are business time (`2h`, `1h30m`).
    """
    from sladesk_tui.core.durations import parse_duration

    field = PARAMETER.get(kind)
    t = text.strip()
    if field is None or not t:
        return {}
    if field in ("until", "responded_at"):
        return {field: parse_when(t, now)}
    if field == "by_s":
        try:
            return {field: parse_duration(t)}
        except ValueError as exc:
            raise InputError(str(exc)) from None
    return {field: t}


def iso(ts: float) -> str:
    """An instant in messages: ISO 8601 UTC to the second."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the kinds --------------------------------------------------------------------

_PARAM_LABEL = {
    "until": "until (an end instant)",
    "by_s": "by (a duration)",
    "responded_at": "at (a response instant)",
    "to_priority": "to (a priority)",
    "ahead_of": "ahead-of (a ticket)",
}


def _reprioritize_problem(o: Override, record: TicketRecord, agreement: Agreement, now: float) -> str | None:
    if not o.to_priority:
        return "reprioritize needs the new priority (to)"
    if o.to_priority not in agreement.targets:
        known = ", ".join(agreement.targets)
        return f"priority {o.to_priority!r} is not one of agreement {agreement.id}'s ({known})"
    current = effective_priority(record, now)
    if o.to_priority == current:
        return f"ticket {record.id} is already {current}"
    return None


def _responded_problem(
    o: Override, record: TicketRecord, clocks: Mapping[str, Clock], now: float
) -> str | None:
    at = o.responded_at if o.responded_at is not None else o.at
    if at < record.created_ts:
        return f"the response instant {iso(at)} is before the ticket was created ({iso(record.created_ts)})"
    if at > now:
        return f"the response instant {iso(at)} is in the future"
    return _one_clock_problem("responded", "response", clocks)


def _clock_problem(o: Override, clocks: Mapping[str, Clock]) -> str | None:
    if o.clock is not None:
        return _one_clock_problem(o.kind, o.clock, clocks)
    problems = [_one_clock_problem(o.kind, name, clocks) for name in clocks]
    if all(problems):
        return f"{o.kind} cannot affect any clock: " + "; ".join(p for p in problems if p)
    return None


def _one_clock_problem(kind: str, name: str, clocks: Mapping[str, Clock]) -> str | None:
    c = clocks.get(name)
    if c is None:
        return f"unknown clock {name!r} (response, update or resolution)"
    if c.state == "n/a":
        return f"the {name} clock is n/a ({c.reason}): {kind} cannot affect it"
    if c.state == "exempt":
        return f"the {name} clock is already exempt"
    if kind != "exempt" and c.stopped_at is not None:
        return f"the {name} clock already stopped at {iso(c.stopped_at)} ({c.state}): {kind} cannot affect it"
    return None
