"""Alert thresholds: when each open clock crosses each level, from the clock engine's figures.

The notifier sleeps until the earliest threshold instant of all open clocks, so the
instants must be exact and cheap (docs/alerts.md). A clock computed at `now` knows
its elapsed business time and its target; a running clock has no pause after `now`,
so the instant it reaches `amount` is one `add_ts(now, amount - elapsed)` on its
business calendar. Only the nearest uncrossed level is asked for (levels are ordered
by amount, so later ones cannot come first): one calendar lookup per running clock.

Decisions recorded here:

- Only a running clock crosses levels: a paused, stopped, exempt or n/a clock
  gives no threshold and no alert, so a clock paused one second before its
  threshold sends nothing, and a hold or extend moves the next instant (the
  engine's figures already include them; a rejected override no longer counts).
- The instant of a share or time-left level is the *latest* instant with that
  much elapsed (as `add_ts` answers): on a 09-17 calendar a level reached at
  17:00 sharp is announced at the next opening, never overnight. The breach is
  `due_at`, crossed once `now` is past it (the engine's rule).
- When several levels of one clock are crossed at once (a service restart, an
  imported backlog), only the highest is alerted; the lower ones are never sent
  later. The key of an alert is (ticket, clock, cycle, level); the cycle is the
  whole second the clock's current count began, so an update cycle or a
  restarted clock alerts again while a recount of the same cycle never does.
- A breach instant outside the desk's own hours (calendar `desk`) is routed to
  the on-call channel instead of people's mail; named channels still get it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sladesk_tui.core.override_effects import iso_z
from sladesk_tui.core.text import safe_text

if TYPE_CHECKING:
    from sladesk_tui.core.alert_rules import AlertRules, Level
    from sladesk_tui.core.clocks import Clock

BREACH_EPSILON_S = 0.001  # a breach is crossed once now > due_at: wake just after it


class AddCalendar(Protocol):
    """The calendar questions thresholds ask (epoch seconds)."""

    def add_ts(self, start: float, seconds: float) -> float: ...


class OpenCalendar(Protocol):
    def is_open_ts(self, t: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class Crossing:
    """A level a running clock has crossed: one alert, before its recipients."""

    ticket: str
    clock: str
    cycle: int
    level: str
    at: float  # the threshold instant (for the breach, due_at)
    due_at: float  # the clock's breach instant
    off_shift: bool
    notify: tuple[str, ...]  # the level's notify list ("assignee", "leads", channel ids)

    @property
    def key(self) -> str:
        return alert_key(self.ticket, self.clock, self.cycle, self.level)


@dataclass(frozen=True, slots=True)
class TicketPlan:
    """What the notifier needs of one ticket: crossings now, and when to look again."""

    crossings: tuple[Crossing, ...]
    next_at: float | None  # the earliest uncrossed threshold, or a hold's release
    upcoming: Mapping[tuple[str, int, str], float] = field(
        default_factory=dict
    )  # (clock, cycle, level) -> instant


def alert_key(ticket: str, clock: str, cycle: int, level: str) -> str:
    """The one identity of an alert (never two sends): `ticket|clock|cycle|level`."""
    return f"{ticket}|{clock}|{cycle}|{level}"


def plan_ticket(
    ticket: str,
    clocks: Mapping[str, Clock],
    calendar: AddCalendar,
    levels: Sequence[Level],
    now: float,
    *,
    desk: OpenCalendar | None = None,
    scheduled: Mapping[tuple[str, int, str], float] | None = None,
) -> TicketPlan:
    """Crossed levels (the highest per clock) and the next threshold instant of a ticket.

    `clocks` are the adjusted clocks computed at `now`; `calendar` the governing
    agreement's business calendar. `scheduled` is the previous plan's `upcoming`:
    a level found crossed at the instant it was planned for is dated to that
    instant (else to `now`, when it was found: a restart, a backdated change).
    """
    crossings: list[Crossing] = []
    next_at: float | None = None
    upcoming_at: dict[tuple[str, int, str], float] = {}
    by_clock = _prepared(levels)
    for name, c in clocks.items():
        resumes = c.resumes_at
        if resumes is not None and (next_at is None or resumes < next_at):
            next_at = resumes  # a hold releases it: recompute then
        if not c.running or c.state == "exempt":
            continue
        due = c.due_at
        target = c.target_s
        if due is None or target is None:
            continue
        mine = by_clock.get(name)
        if mine is None:
            continue
        steps, breach = mine
        elapsed = c.elapsed_s or 0.0
        best: Level | None = None  # the highest crossed
        best_amount = -1.0
        upcoming: Level | None = None  # the nearest uncrossed (breach aside)
        up_amount = math.inf
        for is_share, value, lv in steps:
            amount = value * target if is_share else target - value
            if amount <= 0 or amount >= target:
                continue
            if amount <= elapsed:
                if amount > best_amount:
                    best, best_amount = lv, amount
            elif amount < up_amount:
                upcoming, up_amount = lv, amount
        at = now
        if breach is not None and now > due:
            best, at = breach, due
        cycle = int(c.started_at or 0)
        if best is not None:
            if best is not breach and scheduled:
                planned = scheduled.get((name, cycle, best.name))
                if planned is not None and planned <= now:
                    at = planned
            off = best is breach and desk is not None and not desk.is_open_ts(due)
            crossings.append(Crossing(ticket, name, cycle, best.name, at, due, off, best.notify))
        if upcoming is not None:
            nxt = calendar.add_ts(now, up_amount - elapsed)
            upcoming_at[(name, cycle, upcoming.name)] = nxt
        elif breach is not None and now <= due:
            nxt = due + BREACH_EPSILON_S
        else:
            continue
        if next_at is None or nxt < next_at:
            next_at = nxt
    return TicketPlan(tuple(crossings), next_at, upcoming_at)


_Prepared = dict[str, tuple[tuple[tuple[bool, float, "Level"], ...], "Level | None"]]
_PREPARED: dict[int, tuple[Sequence[Level], _Prepared]] = {}


def _prepared(levels: Sequence[Level]) -> _Prepared:
    """Per clock: its share and time-left levels as (is_share, value, level), and its
    breach level. Kept by the identity of `levels` (one rules object serves every
    ticket of an agreement), so a replan of 100k tickets sorts the rules once."""
    entry = _PREPARED.get(id(levels))
    if entry is not None and entry[0] is levels:
        return entry[1]
    from sladesk_tui.core.clocks import CLOCKS

    out: _Prepared = {}
    for name in CLOCKS:
        mine = [lv for lv in levels if lv.applies_to(name)]
        steps = tuple((lv.kind == "share", lv.value, lv) for lv in mine if lv.kind != "breach")
        breach = next((lv for lv in mine if lv.kind == "breach"), None)
        if steps or breach is not None:
            out[name] = (steps, breach)
    if len(_PREPARED) > 256:
        _PREPARED.clear()
    _PREPARED[id(levels)] = (levels, out)
    return out


def recipients(
    crossing: Crossing, rules: AlertRules, assignee: str | None, leads: Iterable[str]
) -> tuple[str, ...]:
    """Who gets a crossing: `person:LOGIN` (by mail) and `channel:ID`, each once.

    An off-shift breach goes to the on-call channel instead of people (when one is
    configured); an unassigned ticket's "assignee" reaches nobody.
    """
    out: list[str] = []
    people_off = crossing.off_shift and rules.on_call is not None
    for who in crossing.notify:
        if who == "assignee":
            if assignee and not people_off:
                out.append(f"person:{assignee}")
        elif who == "leads":
            if not people_off:
                out.extend(f"person:{lead}" for lead in leads)
        else:
            out.append(f"channel:{who}")
    if people_off:
        out.append(f"channel:{rules.on_call}")
    return tuple(dict.fromkeys(out))  # each once, in order


# ---- messages ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertItem:
    """One alert as a message shows it (titles and names are untrusted text)."""

    ticket: str
    title: str
    customer: str
    priority: str
    clock: str
    level: str
    at: float
    due_at: float
    assignee: str | None
    off_shift: bool


def level_phrase(item: AlertItem) -> str:
    if item.level == "breach":
        return "BREACHED"
    if item.level.endswith("left"):
        return item.level
    return f"{item.level} of target used"


def subject(items: Sequence[AlertItem]) -> str:
    if len(items) == 1:
        it = items[0]
        return f"[sladesk] {safe_text(it.ticket)} {it.clock} {level_phrase(it)}: {safe_text(it.title)}"[:200]
    breached = sum(1 for it in items if it.level == "breach")
    return f"[sladesk] {len(items)} alerts ({breached} breached)"


def render_text(items: Sequence[AlertItem], zone: str = "UTC") -> str:
    """The plain-text body of a mail (and the command channel's `text`)."""
    lines: list[str] = []
    if len(items) > 1:
        lines.append(f"{len(items)} SLA alerts:")
        lines.append("")
    for it in items:
        lines.extend(_item_lines(it, zone))
        lines.append("")
    lines.append("-- sladesk notify (sladesk alerts --ticket ID shows the record)")
    return "\n".join(lines) + "\n"


def _item_lines(it: AlertItem, zone: str) -> list[str]:
    head = f"{safe_text(it.ticket)} [{safe_text(it.priority)}] {safe_text(it.title)}"
    due = format_instant(it.due_at, zone)
    detail = (
        f"  {it.clock} clock: {level_phrase(it)}; breach {'was' if it.level == 'breach' else 'is'} at {due}"
    )
    who = f"  customer {safe_text(it.customer)}, assignee {safe_text(it.assignee) or '(unassigned)'}"
    out = [head, detail, who]
    if it.off_shift:
        out.append("  OFF SHIFT: the breach falls outside the desk's hours (sent to on-call)")
    return out


def chat_text(items: Sequence[AlertItem], zone: str = "UTC") -> str:
    """Slack/Mattermost `text`: mrkdwn, with `& < >` escaped as Slack documents."""
    if len(items) == 1:
        it = items[0]
        return _slack(
            f"*{it.ticket}* {it.clock} {level_phrase(it)} ({it.priority}): {it.title}"
            f" | breach {format_instant(it.due_at, zone)} | assignee {it.assignee or '(unassigned)'}"
            + (" | OFF SHIFT" if it.off_shift else "")
        )
    rows = [f"*{len(items)} SLA alerts*"]
    shown = items[:50]
    for it in shown:
        rows.append(_slack(f"- {it.ticket} {it.clock} {level_phrase(it)} ({it.priority}): {it.title}"))
    if len(items) > len(shown):
        rows.append(f"... and {len(items) - len(shown)} more (sladesk alerts)")
    return "\n".join(rows)


def teams_card(items: Sequence[AlertItem], zone: str = "UTC") -> dict[str, object]:
    """A Teams Workflows message: one Adaptive Card attachment."""
    body: list[dict[str, object]] = [
        {
            "type": "TextBlock",
            "text": _plain(subject(items).removeprefix("[sladesk] ")),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    for it in items[:50]:
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Ticket", "value": _plain(f"{it.ticket} [{it.priority}] {it.title}")},
                    {"title": "Clock", "value": f"{it.clock}: {level_phrase(it)}"},
                    {"title": "Breach", "value": format_instant(it.due_at, zone)},
                    {"title": "Assignee", "value": _plain(it.assignee or "(unassigned)")},
                ],
            }
        )
    if len(items) > 50:
        body.append({"type": "TextBlock", "text": f"... and {len(items) - 50} more", "wrap": True})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def item_dict(it: AlertItem) -> dict[str, object]:
    """The JSON form of an alert (the command channel's stdin, `sladesk alerts --format json`)."""
    return {
        "ticket": it.ticket,
        "title": it.title,
        "customer": it.customer,
        "priority": it.priority,
        "clock": it.clock,
        "level": it.level,
        "at": iso_z(it.at),
        "due_at": iso_z(it.due_at),
        "assignee": it.assignee,
        "off_shift": it.off_shift,
    }


def format_instant(ts: float, zone: str = "UTC") -> str:
    from zoneinfo import ZoneInfo

    local = dt.datetime.fromtimestamp(ts, ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z")


def _slack(text: str) -> str:
    return safe_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str) -> str:
    return safe_text(text)
