"""`sladesk demo`: a realistic database to try every screen on, with times relative to now.

Deterministic for a (seed, now) pair: one `random.Random(seed)` draws everything and
every instant is computed from `now`, so a test can rebuild it and get the same
rows (the audit log's own `at` stamps are the wall clock, as for any write).

Everything goes through the store's real writers (agreements load, event import,
overrides, reviews, role grants), so the audit chain covers every row and
`sladesk audit verify` holds, and every override passes the rules an operator
would face at the instant it was made (`core.override_rules`).

The queue should show its interesting states at any hour, so open tickets are not
created at random instants: each gets a chosen fraction of its target already
consumed (in its agreement's business time), and the creation instant is found by
bisecting the calendar's `elapsed` backwards from now. A business-hours ticket seen
on a Sunday therefore shows the same at-risk figure it had on Friday evening.

The demo never replaces a database holding anything it did not create: a file is a
demo database only if its first audit row is the demo's agreements load and *every*
audit row is the demo's own or what trying the demo in the app adds to its tickets
(`is_demo_db`). A team database that began as a demo and then got a real load or
import is no longer one, for good (docs/database.md).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, TypedDict

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.events import Event
from sladesk_tui.store.backend import Connection

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import Agreement, AgreementSet
    from sladesk_tui.core.calendar import BusinessCalendar

DEMO_SOURCE = "demo"
AGREEMENTS_RESOURCE = "demo_agreements.toml"
AGENTS: tuple[str, ...] = ("dana", "lee", "sam", "priya", "jonas", "alex")
LEAD = "morgan"
OPEN_TICKETS = 300
RESOLVED_TICKETS = 3000
HISTORY_DAYS = 90

M = 60.0
H = 3600.0
D = 86400.0


class _Counts(TypedDict):
    """What `_Builder.run` counted: the part of `DemoSummary` the build itself knows."""

    agreements_version: int
    open_tickets: int
    resolved_tickets: int
    events: int
    overrides: Mapping[str, int]
    leads: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What `build_demo` wrote, for the command line and the tests."""

    path: str
    now: float
    seed: int
    agreements_version: int
    open_tickets: int
    resolved_tickets: int
    events: int
    overrides: Mapping[str, int]  # pending / approved / rejected -> count
    leads: tuple[str, ...]
    seconds: float


def build_demo(
    path: str | os.PathLike[str], *, now: float, seed: int = 7, operator: str | None = None
) -> DemoSummary:
    """Write the demo database to `path`, replacing an earlier demo there.

    `operator` (default: the login user) is the actor of the bulk writes and is made
    a lead, so the person trying the demo can review the pending overrides. A file
    at `path` that is neither empty nor a demo database is an `InputError`. The
    database is built beside `path` and moved into place only when complete.
    """
    from sladesk_tui.store.db import open_db
    from sladesk_tui.store.identity import login_user

    started = time.perf_counter()
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{target}: is a directory; give the demo a file (for example {target / 'demo.db'})")
    if target.exists() and target.stat().st_size > 0 and not is_demo_db(target):
        raise InputError(
            f"{target}: exists and is not a demo database; refusing to overwrite it (choose another --db)"
        )
    operator = operator or login_user()
    building = target.with_name(f".{target.name}.{os.getpid()}.building")
    _remove(building)
    try:
        conn = open_db(building, create=True)
        try:
            counts = _Builder(conn, now=now, seed=seed, operator=operator).run()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        _remove(target, only_sidecars=True)
        os.replace(building, target)
    finally:
        _remove(building)
    return DemoSummary(path=str(target), now=now, seed=seed, seconds=time.perf_counter() - started, **counts)


# What trying the demo adds to it: overrides and reviews (app or command line), and
# the app's replies and status changes, which only ever touch existing (demo) tickets.
_TRIAL_ACTIONS = frozenset({"override.record", "override.review"})
_TRIAL_IMPORTS = frozenset({DEMO_SOURCE, "tui"})  # events.import subjects: the demo's, the app's


def is_demo_db(path: str | os.PathLike[str]) -> bool:
    """Whether everything in `path` is the demo's, so rebuilding it loses nothing real.

    Read-only look; anything unreadable or unexpected is False. Every audit row must
    be the demo builder's (source "demo", or its one events import) or a trial of the
    demo (`_TRIAL_ACTIONS`, app events); the first must be the demo's agreements
    load; and no stored event may come from anywhere but the demo or the app (rows
    slipped in without an audit row count too).
    """
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        first = conn.execute("SELECT source, action FROM audit_log WHERE seq = 1").fetchone()
        if first != (DEMO_SOURCE, "agreements.load"):
            return False
        for source, action, subject in conn.execute("SELECT source, action, subject FROM audit_log"):
            if not (
                source == DEMO_SOURCE
                or action in _TRIAL_ACTIONS
                or (action == "events.import" and subject in _TRIAL_IMPORTS)
            ):
                return False
        marks = ",".join("?" * len(_TRIAL_IMPORTS))
        foreign = conn.execute(
            f"SELECT 1 FROM events WHERE source NOT IN ({marks}) LIMIT 1", tuple(_TRIAL_IMPORTS)
        ).fetchone()
        return foreign is None
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def demo_agreements_text(now: float) -> str:
    """The packaged agreements file with its dates filled in relative to `now` (UTC date)."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()

    def day(offset: int) -> str:
        return (today + dt.timedelta(days=offset)).isoformat()

    template = resources.files("sladesk_tui.store").joinpath(AGREEMENTS_RESOURCE).read_text(encoding="utf-8")
    return Template(template).substitute(
        two_years_ago=day(-730),
        year_ago=day(-365),
        in_a_year=day(365),
        expired_on=day(-21),
        expires_soon=day(20),
        christmas_eve=f"{today.year}-12-24",
        new_years_eve=f"{today.year}-12-31",
    )


def _remove(p: Path, *, only_sidecars: bool = False) -> None:
    names = ("-wal", "-shm", "-journal") if only_sidecars else ("", "-wal", "-shm", "-journal")
    for suffix in names:
        Path(f"{p}{suffix}").unlink(missing_ok=True)


# ---- the cast ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Customer:
    name: str
    agreement: str | None  # the agreement the demo file gives it (None: unknown customer)
    services: tuple[str, ...]
    contacts: tuple[str, ...]
    weight: int


_CUSTOMERS: tuple[_Customer, ...] = (
    _Customer(
        "acme", "acme-premium", ("erp", "email", "vpn"), ("j.doe@acme.example", "it-ops@acme.example"), 34
    ),
    _Customer(
        "northwind",
        "northwind-business",
        ("metering", "portal", "email"),
        ("k.schulz@northwind.example", "leitstelle@northwind.example"),
        30,
    ),
    _Customer(
        "contoso",
        "contoso-us",
        ("portal", "billing", "api"),
        ("m.rivera@contoso.example", "finance-it@contoso.example"),
        22,
    ),
    _Customer("globex", "globex-standard", ("email", "erp"), ("h.scorpio@globex.example",), 9),
    _Customer("initech", None, ("printing", "email"), ("p.gibbons@initech.example",), 5),
)

_PRIORITY_WEIGHTS: dict[str, int] = {"P1": 6, "P2": 24, "P3": 45, "P4": 25}

_TITLES: dict[str, tuple[str, ...]] = {
    "erp": (
        "Invoices fail to post",
        "Month-end close job stuck at 80%",
        "Purchase orders missing approver",
        "ERP login loops back to the start page",
        "Stock levels not syncing from warehouse",
        "Sales report export times out",
        "Cost centre missing in new hire's profile",
        "Batch job 'MRP nightly' failed",
        "Cannot print delivery notes from ERP",
    ),
    "email": (
        "Outgoing mail queued for hours",
        "Shared mailbox not visible in Outlook",
        "Calendar invites arrive twice",
        "Spam filter quarantines supplier mails",
        "Mailbox over quota, cannot send",
        "Out-of-office reply not sent externally",
        "Distribution list bounces for new members",
    ),
    "vpn": (
        "VPN drops every few minutes",
        "MFA prompt never arrives",
        "Cannot reach file share over VPN",
        "VPN client update fails on macOS",
        "Split tunnel routes Teams through office",
    ),
    "metering": (
        "Smart meter readings missing for district 4",
        "Meter import rejects vendor CSV",
        "Duplicate readings after gateway restart",
        "Load profile gaps for commercial customers",
        "Estimated readings flagged as actual",
    ),
    "portal": (
        "Customer portal shows 502 after login",
        "Password reset link expires immediately",
        "Portal slow during evening peak",
        "Uploaded documents not visible to case workers",
        "Consumption chart empty for new contracts",
        "Cookie banner hides the login button on mobile",
    ),
    "billing": (
        "Credit note total off by one cent",
        "Invoice PDF renders blank",
        "Direct debit file rejected by bank",
        "Sales tax wrong for Quebec customers",
        "Dunning run sent twice",
    ),
    "api": (
        "API returns 429 below the rate limit",
        "Webhook deliveries delayed by 20 minutes",
        "OAuth token refresh fails with invalid_grant",
        "Pagination skips records on page boundaries",
        "Sandbox returns production data",
    ),
    "printing": (
        "Label printer prints blank pages",
        "Print queue stuck on floor 3",
        "Scanner emails never arrive",
    ),
}

# Untrusted text the screens must show literally (never as markup).
_HOSTILE_TITLES: tuple[str, ...] = (
    "[bold]URGENT[/bold] customer says [/] breaks their export",
    "Click here: [@click=app.quit]x[/] to see the error",
    "[P1] [red]VPN[/red] down for the whole [b]Hamburg[/b] office",
)

_OUTAGES: tuple[tuple[str, float, float], ...] = (  # service, days ago, minutes down
    ("erp", 52.3, 47),
    ("erp", 9.6, 12),
    ("email", 33.1, 95),
    ("portal", 18.4, 31),
    ("metering", 61.7, 140),
    ("api", 4.2, 8),
    ("vpn", 75.0, 22),
)

# Open-ticket scenarios and their weights; the fractions are of the driving clock's target.
_SCENARIOS: tuple[tuple[str, int], ...] = (
    ("ok", 38),
    ("at_risk", 19),
    ("breached", 4),
    ("waiting", 14),
    ("unanswered", 11),
    ("reopened", 7),
    ("reprioritized", 7),
)


# ---- building ----------------------------------------------------------------------


@dataclass(eq=False)
class _Plan:
    """A ticket being invented: its facts and its history as (at, type, fields)."""

    customer: _Customer
    service: str
    priority: str
    title: str
    agreement: Agreement | None
    calendar: BusinessCalendar | None
    created: float
    scenario: str
    steps: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    id: str = ""
    breached: bool = False  # history: a clock was made to breach
    ends: float | None = None  # history: the resolution instant


class _Builder:
    def __init__(self, conn: Connection, *, now: float, seed: int, operator: str) -> None:
        self.conn = conn
        self.now = float(now)
        self.rng = random.Random(seed)
        self.operator = operator
        self.aset: AgreementSet | None = None
        self.version = 0

    # -- the whole ---------------------------------------------------------------

    def run(self) -> _Counts:
        from sladesk_tui.store.imports import ingest

        self._load_agreements()
        open_plans = [self._open_ticket(i) for i in range(OPEN_TICKETS)]
        history = [self._resolved_ticket() for _ in range(RESOLVED_TICKETS)]
        plans = sorted(open_plans + history, key=lambda p: p.created)
        for n, p in enumerate(plans):
            p.id = f"T-{10001 + n}"
        events = self._events(plans)
        ingest(self.conn, events, actor=self.operator, source=DEMO_SOURCE, name="demo")
        leads = self._roles()
        statuses = self._overrides(open_plans, history)
        return {
            "agreements_version": self.version,
            "open_tickets": len(open_plans),
            "resolved_tickets": len(history),
            "events": len(events),
            "overrides": dict(statuses),
            "leads": leads,
        }

    def _load_agreements(self) -> None:
        from sladesk_tui.store.agreements import current_agreements, load_agreements_text

        loaded = load_agreements_text(
            self.conn,
            demo_agreements_text(self.now),
            name=AGREEMENTS_RESOURCE,
            actor=self.operator,
            source=DEMO_SOURCE,
        )
        self.version, self.aset = current_agreements(self.conn, loaded.version)

    # -- inventing tickets ---------------------------------------------------------

    def _pick_customer(self) -> _Customer:
        return self.rng.choices(_CUSTOMERS, weights=[c.weight for c in _CUSTOMERS])[0]

    def _plan(self, customer: _Customer, scenario: str) -> _Plan:
        from sladesk_tui.core.agreements import build_calendar

        assert self.aset is not None
        agreement = self.aset.get(customer.agreement) if customer.agreement else None
        priorities = [p for p in _PRIORITY_WEIGHTS if agreement is None or p in agreement.targets]
        priority = self.rng.choices(priorities, weights=[_PRIORITY_WEIGHTS[p] for p in priorities])[0]
        service = self.rng.choice(customer.services)
        calendar = build_calendar(self.aset, agreement.calendar) if agreement is not None else None
        title = self.rng.choice(_TITLES[service])
        return _Plan(customer, service, priority, title, agreement, calendar, 0.0, scenario)

    def _target(self, p: _Plan, clock: str, priority: str | None = None) -> float:
        assert p.agreement is not None
        t = p.agreement.target(priority or p.priority, clock)
        assert t is not None, (p.agreement.id, priority or p.priority, clock)
        return t

    def _after(self, p: _Plan, start: float, seconds: float) -> float:
        """`seconds` of the ticket's business time after `start` (wall time without an agreement)."""
        if p.calendar is None:
            return float(round(start + seconds))
        return float(round(p.calendar.add_ts(start, seconds)))

    def _before(self, p: _Plan, end: float, seconds: float) -> float:
        """The instant from which `seconds` of business time elapse until `end` (bisection)."""
        cal = p.calendar
        if cal is None:
            return float(math.floor(end - seconds))
        span = max(seconds, H)
        while cal.elapsed_ts(end - span, end) < seconds:
            span *= 2
        lo, hi = end - span, end  # elapsed(lo) >= seconds > elapsed(hi) (or equal at 0)
        while hi - lo > 0.5:
            mid = (lo + hi) / 2
            if cal.elapsed_ts(mid, end) >= seconds:
                lo = mid
            else:
                hi = mid
        return float(math.floor(lo))  # whole seconds, never after `end`

    def _step(self, p: _Plan, at: float, etype: str, **fields: str) -> bool:
        """Add an event if it happened already (strictly before now); say whether it did."""
        if not p.created <= at < self.now:
            return False
        p.steps.append((at, etype, fields))
        return True

    def _agent(self) -> str:
        return self.rng.choice(AGENTS)

    def _first_reply(self, p: _Plan, limit_s: float, until: float) -> str:
        """Created, assigned, answered within `limit_s` of business time (before `until`); the agent."""
        rng = self.rng
        agent = self._agent()
        p.steps.append((p.created, "created", {}))
        if rng.random() < 0.6:
            p.steps[-1][2]["assignee"] = agent
        else:
            self._step(p, p.created + rng.randint(2, 25) * M, "assign", assignee=agent)
        reply = self._after(p, p.created, limit_s * rng.uniform(0.15, 0.8))
        if reply < until and self._step(p, reply, "reply", author=agent):
            self._step(p, reply + 60, "status", status="open")
        return agent

    def _open_ticket(self, n: int) -> _Plan:
        rng = self.rng
        scenario = rng.choices([s for s, _ in _SCENARIOS], weights=[w for _, w in _SCENARIOS])[0]
        p = self._plan(self._pick_customer(), scenario)
        if not self._governs(p, self.now):  # recent tickets of an expired agreement: none in force
            p.agreement, p.calendar = None, None
        if n < len(_HOSTILE_TITLES):
            p.title = _HOSTILE_TITLES[n]
            p.scenario = scenario = "ok"
        now = self.now
        if p.agreement is None:
            p.created = float(round(now - rng.uniform(1 * H, 5 * D)))
            self._first_reply(p, 4 * H, now)
            if rng.random() < 0.3:
                self._step(p, now - rng.uniform(0.5, 1.0) * (now - p.created), "status", status="waiting")
            return p

        res, resp = self._target(p, "resolution"), self._target(p, "response")
        if scenario in ("ok", "at_risk", "breached"):
            r = {"ok": (0.05, 0.6), "at_risk": (0.8, 0.97), "breached": (1.05, 1.6)}[scenario]
            used = rng.uniform(*r) * res
            p.created = self._before(p, now, used)
            agent = self._first_reply(p, min(resp, used), now)
            if rng.random() < 0.3:
                self._step(
                    p,
                    self._after(p, p.created, used * 0.9),
                    "note",
                    author=agent,
                    body="Checked the logs; see the attached trace.",
                )
        elif scenario == "waiting":
            since = float(round(now - rng.uniform(1 * H, 3 * D)))
            used = rng.uniform(0.2, 0.65) * res
            p.created = self._before(p, since, used)
            agent = self._first_reply(p, min(resp, used), since)
            self._step(p, since, "status", status="waiting", author=agent)
        elif scenario == "unanswered":
            r = rng.choices([(0.1, 0.6), (0.8, 0.97), (1.05, 1.5)], weights=[5, 4, 1])[0]
            p.created = self._before(p, now, rng.uniform(*r) * resp)
            p.steps.append((p.created, "created", {}))
            if rng.random() < 0.7:
                self._step(p, p.created + 60, "assign", assignee=self._agent())
        elif scenario == "reopened":
            reopen = self._before(p, now, rng.uniform(0.05, 0.3) * res)
            resolved = float(round(reopen - rng.uniform(3 * H, 3 * D)))
            used = rng.uniform(0.2, 0.5) * res
            p.created = self._before(p, resolved, used)
            agent = self._first_reply(p, min(resp, used), resolved)
            self._step(p, resolved, "resolved", author=agent)
            self._step(
                p,
                reopen,
                "reopened",
                author=rng.choice(p.customer.contacts),
                body="The problem is back since this morning.",
            )
        else:  # reprioritized: raised or lowered one step partway through
            order = list(p.agreement.targets)
            i = order.index(p.priority)
            new = order[i - 1] if i > 0 and (rng.random() < 0.7 or i == len(order) - 1) else order[i + 1]
            used = rng.uniform(0.2, 0.7) * self._target(p, "resolution", new)
            p.created = self._before(p, now, used)
            change = self._after(p, p.created, used * rng.uniform(0.3, 0.6))
            agent = self._first_reply(p, min(resp, used * 0.25), change)
            self._step(p, change, "priority", priority=new, author=agent)
        return p

    def _resolved_ticket(self) -> _Plan:
        rng = self.rng
        now = self.now
        for _ in range(20):
            p = self._plan(self._pick_customer(), "history")
            p.created = float(round(now - rng.uniform(0.5 * D, HISTORY_DAYS * D)))
            if not self._governs(p, p.created):
                p.agreement, p.calendar = None, None
            resp = self._target(p, "response") if p.agreement else 4 * H
            res = self._target(p, "resolution") if p.agreement else 24 * H
            late_reply = rng.random() < 0.05
            late_fix = rng.random() < 0.08
            rr = rng.uniform(1.1, 2.5) if late_reply else rng.uniform(0.1, 0.9)
            rs = rng.uniform(1.05, 1.8) if late_fix else rng.uniform(0.15, 0.95)
            reply = self._after(p, p.created, rr * resp)
            resolved = max(self._after(p, p.created, rs * res), reply + 10 * M)
            if resolved >= now - 10 * M:
                continue
            p.breached = late_fix and p.agreement is not None
            p.ends = resolved
            agent = self._agent()
            p.steps.append((p.created, "created", {"assignee": agent}))
            self._step(p, reply, "reply", author=agent)
            if rng.random() < 0.2 and resolved - reply > 2 * H:
                wait = reply + rng.uniform(0.1, 0.5) * (resolved - reply)
                back = wait + rng.uniform(0.2, 0.4) * (resolved - wait)
                self._step(p, float(round(wait)), "status", status="waiting", author=agent)
                self._step(p, float(round(back)), "customer_reply", author=rng.choice(p.customer.contacts))
                self._step(p, float(round(back)) + rng.randint(3, 20) * M, "reply", author=agent)
                self._step(p, float(round(back)) + 30 * M, "status", status="open", author=agent)
            self._step(p, resolved, "resolved", author=agent)
            if rng.random() < 0.6:
                self._step(p, resolved + rng.uniform(2, 7) * D, "closed")
            return p
        raise RuntimeError("could not fit a resolved ticket into the history window")

    def _governs(self, p: _Plan, at: float) -> bool:
        """Whether the customer's agreement is in force at `at` (the ticket's creation, or about)."""
        from sladesk_tui.core.agreements import match_agreement

        assert self.aset is not None
        if p.agreement is None:
            return False
        found, _ = match_agreement(self.aset, customer=p.customer.name, service=p.service, created_at=at)
        return found is not None

    def _events(self, plans: list[_Plan]) -> list[Event]:
        """Every ticket's history and the outages, in time order (a ticket's own order kept on ties)."""
        rows: list[tuple[float, int, dict[str, object]]] = []
        for p in plans:
            for k, (at, etype, fields) in enumerate(sorted(p.steps, key=lambda s: s[0]), 1):
                if etype == "created":
                    fields = {
                        **fields,
                        "customer": p.customer.name,
                        "service": p.service,
                        "priority": p.priority,
                        "title": p.title,
                    }
                rows.append(
                    (at, len(rows), {"id": f"{p.id}-{k}", "type": etype, "at": at, "ticket": p.id, **fields})
                )
        for i, (service, days_ago, minutes) in enumerate(_OUTAGES, 1):
            start = float(round(self.now - days_ago * D))
            for etype, at in (("outage_start", start), ("outage_end", start + minutes * M)):
                outage: dict[str, object] = {
                    "id": f"outage-{i}-{etype[7:]}",
                    "type": etype,
                    "at": at,
                    "service": service,
                }
                rows.append((at, len(rows), outage))
        rows.sort(key=lambda r: (r[0], r[1]))
        return [Event(seq=seq, **fields) for seq, (_, _, fields) in enumerate(rows, 1)]  # type: ignore[arg-type]  # each dict holds Event fields by name

    # -- people and their overrides ----------------------------------------------------

    def _roles(self) -> tuple[str, ...]:
        """Morgan leads the desk; the person running the demo is made a lead too (to try reviews)."""
        from sladesk_tui.store.roles import grant_lead, leads, name_first_lead

        name_first_lead(self.conn, LEAD, actor=LEAD, source=DEMO_SOURCE)
        if self.operator != LEAD:
            grant_lead(self.conn, self.operator, actor=LEAD, source=DEMO_SOURCE)
        return tuple(leads(self.conn))

    def _overrides(self, open_plans: list[_Plan], history: list[_Plan]) -> Counter[str]:
        """A few overrides on open tickets (pending, approved, rejected) and exemptions in the history."""
        rng = self.rng
        now = self.now

        def pick(scenario: str, *, customer: str | None = None, skip: tuple[_Plan, ...] = ()) -> _Plan:
            """The first open ticket of `scenario` under an agreement (of `customer`, if there is one)."""
            found = [
                p for p in open_plans if p.scenario == scenario and p.agreement is not None and p not in skip
            ]
            return next((p for p in found if p.customer.name == customer), found[0])

        at_risk = pick("at_risk", customer="acme")
        at_risk2 = pick("at_risk", customer="northwind", skip=(at_risk,))
        unanswered = pick("unanswered")
        ok = pick("ok", customer="acme", skip=(open_plans[0], open_plans[1], open_plans[2]))
        ok2 = pick("ok", customer="contoso")
        breached = pick("breached")
        waiting = pick("waiting")

        # (plan, operator, at, kind, fields, reason, justification, review)
        specs: list[tuple[_Plan, str, float, str, dict[str, object], str, str, tuple[str, str] | None]] = [
            (
                at_risk,
                "dana",
                now - 20 * M,
                "hold",
                {"until": now + 4 * H},
                "customer_unreachable",
                "Site contact is on a flight until this afternoon; called twice and left a voicemail.",
                None,
            ),
            (
                at_risk2,
                "lee",
                now - 45 * M,
                "extend",
                {"clock": "resolution", "by_s": 4 * H},
                "third_party",
                "Waiting on the meter vendor's patch (vendor case 88123), promised for tomorrow morning.",
                None,
            ),
            (
                unanswered,
                "dana",
                now - 5 * M,
                "responded",
                {"clock": "response", "responded_at": unanswered.created + 60},
                "other",
                "Answered by phone at the hotline; the caller confirmed the workaround. See call log.",
                None,
            ),
            (
                ok,
                "lee",
                now - 2 * H,
                "reprioritize",
                {"to_priority": _lower(ok)},
                "misclassified",
                "Reported as urgent, but only one user is affected and a workaround exists.",
                None,
            ),
            (
                ok2,
                "dana",
                now - 15 * M,
                "out_of_order",
                {"ahead_of": at_risk.id},
                "major_incident",
                "Worked this one first: it blocks today's payroll billing run for the whole company.",
                None,
            ),
            (
                breached,
                "lee",
                now - 3 * H,
                "exempt",
                {"clock": "resolution"},
                "customer_request",
                "Customer asked us to keep it open until their own release on Friday; nothing we can do before.",
                ("approve", "Agreed with the account manager; fine."),
            ),
            (
                ok2,
                "priya",
                now - 90 * M,
                "extend",
                {"clock": "resolution", "by_s": 8 * H},
                "third_party",
                "Payment provider has a confirmed incident on their side (status page link in notes).",
                ("approve", "Provider incident confirmed."),
            ),
            (
                waiting,
                "sam",
                now - 30 * M,
                "hold",
                {"until": now + 2 * D},
                "customer_request",
                "Customer is slow to answer, so pausing until they call back next week.",
                ("reject", "Already paused by the waiting status; a hold adds nothing and hides the ticket."),
            ),
        ]
        late = [p for p in history if p.breached and p.customer.name in ("acme", "northwind", "contoso")]
        for i, p in enumerate(late[:7]):
            assert p.ends is not None
            at = float(round(p.created + rng.uniform(0.5, 0.9) * (p.ends - p.created)))
            review = [
                ("approve", "Customer confirmed they caused the delay."),
                ("reject", "That is our own backlog, not the customer's doing."),
                None,
            ][i % 3]
            specs.append(
                (
                    p,
                    ("dana", "lee", "sam")[i % 3],
                    at,
                    "exempt",
                    {"clock": "resolution"},
                    "customer_request",
                    "Customer could not give us access to the affected system for two days.",
                    review,
                )
            )

        statuses: Counter[str] = Counter()
        for plan, who, at, kind, params, reason, why, review in specs:
            statuses[self._override(plan, who, at, kind, params, reason, why, review)] += 1
        return statuses

    def _override(
        self,
        plan: _Plan,
        who: str,
        at: float,
        kind: str,
        params: dict[str, object],
        reason: str,
        why: str,
        review: tuple[str, str] | None,
    ) -> str:
        """Place one override as its operator would at `at` (the rules apply), then its review.

        `at` is kept between two minutes after the ticket's creation and a minute ago.
        """
        from sladesk_tui.core.overrides import Override
        from sladesk_tui.store.overrides import place_override, review_override

        at = float(round(min(max(at, plan.created + 2 * M), self.now - 60)))
        candidate = Override(
            id=0,
            ticket=plan.id,
            kind=kind,
            at=at,
            operator=who,
            reason=reason,
            justification=why,
            **params,  # type: ignore[arg-type]  # the kind's own fields; place_override checks them
        )
        placed = place_override(self.conn, candidate, now=at, source=DEMO_SOURCE)
        if review is None:
            return "pending"
        decision, comment = review
        when = float(round(min(self.now - 60, at + self.rng.uniform(1 * H, 20 * H))))
        review_override(
            self.conn, placed.id, decision, reviewer=LEAD, comment=comment, now=when, source=DEMO_SOURCE
        )
        return {"approve": "approved", "reject": "rejected"}[decision]


def _lower(p: _Plan) -> str:
    """A neighbouring priority for a reprioritize override (the next less urgent, else more)."""
    assert p.agreement is not None
    order = list(p.agreement.targets)
    i = order.index(p.priority)
    return order[i + 1] if i + 1 < len(order) else order[i - 1]
