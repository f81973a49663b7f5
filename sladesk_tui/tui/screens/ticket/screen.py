"""The ticket screen: one ticket's clocks with their explanation, its history, its
overrides, and the agent's actions on it.

Reads and writes run in thread workers, each opening its own connection (sqlite3
connections belong to their thread). Loads go through one exclusive worker group
and carry a generation number, so a slow old load can never overwrite a newer one.
The screen reloads after its own writes, when another connection commits (`PRAGMA
data_version` on the UI thread's connection, microseconds) and every
`REEVALUATE_S` seconds so remaining times follow the clock.

Every action is an event written through `store.imports.ingest`, exactly as an
import would write it: actor and author are the login user (`desk.operator`),
source "tui", the instant the app's injected clock. Nothing about a ticket is
changed any other way, so the history, the projection and the audit chain stay
one story.

Keys: r reply, s status, p priority (with a what-if preview), a assign to me,
x resolve, O reopen, e explanations, 1/2/3 tabs, escape back; o opens the override
dialog (its own module).
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import uuid4

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Collapsible, DataTable, Footer, Static, TabbedContent, TabPane

from sladesk_tui.core.events import Event
from sladesk_tui.core.text import safe_text
from sladesk_tui.core.what_if import what_if_priority
from sladesk_tui.store.backend import Connection
from sladesk_tui.tui.background import LiveScreen
from sladesk_tui.tui.helpers import event_detail, operator_zone
from sladesk_tui.tui.messages import AlertsSeen, OpenOverride
from sladesk_tui.tui.screens.ticket.dialogs import PriorityDialog, StatusDialog
from sladesk_tui.tui.ticket_commands import OpenTicketCommands
from sladesk_tui.tui.widgets.clock_panel import ClockPanel, Zones, fmt_instant

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import Agreement, AgreementSet
    from sladesk_tui.core.evaluate import TicketClocks
    from sladesk_tui.core.overrides import Override
    from sladesk_tui.core.tickets import TicketRecord
    from sladesk_tui.store.alerts import AlertLogRow

CLOCK_ORDER: tuple[str, ...] = ("response", "update", "resolution")
BASE_STATUSES: tuple[str, ...] = ("new", "open")
REEVALUATE_S = 30.0
DEFAULT_PAUSE_STATUSES = frozenset({"waiting"})


@dataclass(frozen=True, slots=True)
class TicketView:
    """Everything the screen shows, computed off the UI thread at `now`.

    `books` are the agreement versions the clocks were computed with, kept for the
    what-if preview; `customer_zone` is the governing calendar's zone (UTC without
    an agreement).
    """

    record: TicketRecord
    clocks: TicketClocks
    books: Mapping[int, AgreementSet]
    customer_zone: str
    now: float
    local_off: str | None = None  # why the desk refuses clock-moving local actions (docs/roles.md)
    alerts: tuple[AlertLogRow, ...] = ()  # what sladesk notify sent about it

    @property
    def agreement(self) -> Agreement | None:
        return self.clocks.agreement

    @property
    def ended(self) -> bool:
        return not self.record.is_open

    def priorities(self) -> list[str]:
        return list(self.agreement.targets) if self.agreement is not None else []

    def statuses(self) -> tuple[list[str], frozenset[str]]:
        """The statuses offered (base ones, the agreement's pause statuses, on_hold) and which pause."""
        pauses = self.agreement.pause_statuses if self.agreement is not None else DEFAULT_PAUSE_STATUSES
        out: list[str] = []
        for s in (*BASE_STATUSES, *sorted(pauses), "on_hold"):
            if s not in out:
                out.append(s)
        return out, frozenset(pauses)


def load_view(conn: Connection, ticket_id: str, now: float) -> TicketView | None:
    """Read and evaluate one ticket on the worker's connection; None if unknown."""
    from sladesk_tui.core.evaluate import evaluate, governing
    from sladesk_tui.store.alerts import alert_log
    from sladesk_tui.store.queries import agreements_for_versions, load_ticket
    from sladesk_tui.store.settings import local_actions_refusal

    record = load_ticket(conn, ticket_id)
    if record is None:
        return None
    books = agreements_for_versions(conn, [record.agreement_version])
    local_off = local_actions_refusal(conn)
    alerts = tuple(alert_log(conn, ticket=ticket_id))
    clocks = evaluate(record, books, now, explain=True)
    _, aset, _ = governing(record, books)
    zone = (
        aset.zone_of(clocks.agreement.calendar)
        if aset is not None and clocks.agreement is not None
        else "UTC"
    )
    return TicketView(record, clocks, books, zone, now, local_off, alerts)


class TicketScreen(LiveScreen):
    """One ticket: clocks, history, overrides; actions written as events."""

    COMMANDS = {OpenTicketCommands}  # ctrl+p, then another ticket's id

    CSS_PATH = "ticket.tcss"
    AUTO_FOCUS = "#clocks"
    BINDINGS = [
        # The footer fits 80 columns (compact, no palette key) with `?` first and
        # `o` Override in it: overriding a clock is what the desk comes here for.
        # `a` and the tabs are for the help screen and the palette, which list every key.
        Binding("question_mark", "app.help", "Help", tooltip="List every key", id="app.help"),
        Binding("escape", "back", "Back", tooltip="Back to the queue", id="ticket.back"),
        Binding(
            "r",
            "reply",
            "Reply",
            tooltip="Record a public reply (stops the response clock)",
            id="ticket.reply",
        ),
        Binding(
            "s", "status", "Status", tooltip="Set the status (waiting pauses the clocks)", id="ticket.status"
        ),
        Binding(
            "p",
            "priority",
            "Priority",
            tooltip="Change the priority, with a preview of the clocks",
            id="ticket.priority",
        ),
        Binding(
            "o",
            "override",
            "Override",
            tooltip="Override a clock, with a justification",
            id="ticket.override",
        ),
        Binding("a", "assign", "Take", show=False, tooltip="Assign the ticket to me", id="ticket.assign"),
        Binding(
            "x", "resolve", "Resolve", tooltip="Resolve the ticket (stops its clocks)", id="ticket.resolve"
        ),
        Binding("O", "reopen", "Reopen", tooltip="Reopen a resolved or closed ticket", id="ticket.reopen"),
        Binding(
            "e",
            "explain",
            "Why",
            tooltip="Show or hide why each clock is due when it is",
            id="ticket.explain",
        ),
        Binding("1", "tab('tab-clocks')", "Clocks tab", show=False, id="ticket.clocks-tab"),
        Binding("2", "tab('tab-history')", "History tab", show=False, id="ticket.history-tab"),
        Binding("3", "tab('tab-overrides')", "Overrides tab", show=False, id="ticket.overrides-tab"),
        Binding("4", "tab('tab-alerts')", "Alerts tab", show=False, id="ticket.alerts-tab"),
    ]

    POLL_NAME = "ticket-poll"

    def __init__(self, ticket_id: str) -> None:
        super().__init__()
        self.ticket_id = ticket_id
        self.view: TicketView | None = None

    # ---- layout -----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(
            Content.assemble(("Loading ", "dim"), (safe_text(self.ticket_id), "bold"), "…"), id="ticket-head"
        )
        with TabbedContent(id="ticket-tabs", initial="tab-clocks"):
            with TabPane("Clocks", id="tab-clocks"), VerticalScroll(id="clocks"):
                for name in CLOCK_ORDER:
                    yield ClockPanel(name, id=f"clock-{name}")
            with TabPane("History", id="tab-history"):
                yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
            with TabPane("Overrides", id="tab-overrides"):
                yield Static("", id="overrides-none")
                yield DataTable(id="overrides", cursor_type="row", zebra_stripes=True)
            with TabPane("Alerts", id="tab-alerts"):
                yield DataTable(id="alerts", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        history = self.query_one("#history", DataTable)
        history.add_columns("when (you)", "event", "detail", "by", "recorded by")
        overrides = self.query_one("#overrides", DataTable)
        overrides.add_columns(
            "#", "kind", "clock", "when (you)", "by", "reason", "status", "effect", "justification"
        )
        self.query_one("#alerts", DataTable).add_columns(
            "level", "clock", "threshold (you)", "to", "state", "error"
        )
        for panel in self.query(ClockPanel):
            panel.display = False
        self.follow()

    # ---- loading ------------------------------------------------------------------

    def reading(self) -> str:
        return self.ticket_id

    def reader(self, now: float) -> Callable[[Connection], TicketView | None]:
        ticket_id = self.ticket_id
        return lambda conn: load_view(conn, ticket_id, now)

    def stale(self) -> bool:
        """The figures have aged: clocks run on although nobody committed."""
        return self.view is not None and self.desk.now() - self.view.now >= REEVALUATE_S

    def show(self, view: TicketView | None) -> None:
        if view is None:
            self.query_one("#ticket-head", Static).update(
                Content.assemble("No ticket ", (safe_text(self.ticket_id), "bold"), " in this database.")
            )
            return
        self.view = view
        self._show(view)

    # ---- showing ------------------------------------------------------------------

    def _zones(self, view: TicketView) -> Zones:
        from zoneinfo import ZoneInfo

        mine = operator_zone(self.sladesk)
        year = dt.datetime.fromtimestamp(view.now, mine).year
        return Zones(mine, ZoneInfo(view.customer_zone), view.customer_zone, year)

    def _show(self, view: TicketView) -> None:
        zones = self._zones(view)
        self.query_one("#ticket-head", Static).update(self._head(view, zones))
        tc = view.clocks
        for name in CLOCK_ORDER:
            panel = self.query_one(f"#clock-{name}", ClockPanel)
            clock = tc.adjusted.get(name)
            if clock is None:
                panel.display = False
                continue
            if name == "update":
                # Shown where the priority has an update target, or the clock ran anyway
                # (a cycle under an earlier priority).
                targeted = (
                    view.agreement is not None
                    and view.agreement.target(view.record.priority, name) is not None
                )
                panel.display = targeted or clock.state != "n/a"
            else:
                panel.display = True
            raw = tc.raw.get(name)
            panel.show(clock, raw if raw is not None and raw != clock else None, zones)
        self._fill_history(view, zones)
        self._fill_overrides(view, zones)
        self._fill_alerts(view, zones)
        self.post_message(AlertsSeen(self.ticket_id))

    def _head(self, view: TicketView, zones: Zones) -> Content:
        r = view.record
        a = view.agreement
        if a is not None:
            agreement = Content.assemble(safe_text(a.name), " (", safe_text(a.id), ")")
        else:
            agreement = Content.styled(safe_text(view.clocks.reason) or "none", "bold")
        status_style = "bold reverse" if view.ended else "bold"

        def field(label: str, value: str | Content, style: str = "bold") -> Content:
            shown = value if isinstance(value, Content) else Content.styled(value or "-", style)
            return Content.assemble((label + " ", "dim"), shown)

        line1 = Content.assemble((safe_text(r.id), "bold"), "  ", safe_text(r.title))
        parts = [
            field("customer", safe_text(r.customer)),
            *([field("service", safe_text(r.service))] if r.service else []),
            field("priority", safe_text(r.priority)),
            field("status", safe_text(r.status), status_style),
            field("assignee", safe_text(r.assignee) or "unassigned"),  # "nobody" is an account on most hosts
        ]
        line2 = Content(" · ").join(parts)
        line3 = Content.assemble(
            ("agreement ", "dim"), agreement, ("  as of ", "dim"), fmt_instant(view.now, zones.operator)
        )
        return Content("\n").join([line1, line2, line3])

    def _fill_history(self, view: TicketView, zones: Zones) -> None:
        table = self.query_one("#history", DataTable)
        table.clear()
        for ev in view.record.events:
            table.add_row(
                Text(fmt_instant(ev.at, zones.operator, year=zones.year)),
                # A clock moved by hand in the app is never indistinguishable from the feed's.
                Text(safe_text(ev.type) + (" (local)" if ev.moves_clock_by_hand else "")),
                Text(safe_text(event_detail(ev))),
                Text(safe_text(ev.author or "")),
                Text(safe_text(ev.recorded_by or "")),
                key=ev.id,
            )

    def _fill_overrides(self, view: TicketView, zones: Zones) -> None:
        table = self.query_one("#overrides", DataTable)
        table.clear()
        overrides = view.record.overrides
        none = self.query_one("#overrides-none", Static)
        none.display = not overrides
        table.display = bool(overrides)
        none.update(Content("No overrides on this ticket."))
        for o in overrides:
            table.add_row(
                Text(str(o.id)),
                Text(safe_text(o.kind)),
                Text(safe_text(o.clock or "all")),
                Text(fmt_instant(o.at, zones.operator, year=zones.year)),
                Text(safe_text(o.operator)),
                Text(safe_text(o.reason)),
                Text(safe_text(o.status).upper()),
                Text(override_effect(o, zones.operator)),
                # Whole, on as many lines as it takes: the justification is the point of the record.
                Text("\n".join(textwrap.wrap(safe_text(o.justification), _JUSTIFICATION_CELLS)) or "-"),
                key=str(o.id),
                height=None,
            )

    def _fill_alerts(self, view: TicketView, zones: Zones) -> None:
        table = self.query_one("#alerts", DataTable)
        table.clear()
        for a in view.alerts:
            table.add_row(
                Text(safe_text(a.level)),
                Text(safe_text(a.clock)),
                Text(fmt_instant(a.threshold_ts, zones.operator)),
                Text(safe_text(a.recipient)),
                Text(a.state.upper() + (" OFF SHIFT" if a.off_shift else "")),
                Text(safe_text(a.error or "")),
                key=str(a.id),
            )

    # ---- actions --------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_explain(self) -> None:
        shown = [c for c in self.query(Collapsible) if c.display]
        expand = any(c.collapsed for c in shown)
        for c in shown:
            c.collapsed = not expand
        self.action_tab("tab-clocks")

    def _ready(self, *, open_only: str | None = None, moves_clock: bool = True) -> TicketView | None:
        """The loaded view, or None after telling the agent why the action cannot run."""
        view = self.view
        if view is None:
            self.say("The ticket is still loading.", "warning")
            return None
        if moves_clock and view.local_off:
            self.say(f"Nothing recorded: {view.local_off}.", "warning")
            return None
        if open_only is not None and view.ended:
            self.say(f"{view.record.id} is {view.record.status}: {open_only}", "warning")
            return None
        return view

    def action_reply(self) -> None:
        view = self._ready(open_only="reopen it before replying.")
        if view is not None:
            self._record("reply", f"Reply recorded on {view.record.id}.")

    def action_status(self) -> None:
        view = self._ready(open_only="reopen it to change its status.")
        if view is None:
            return
        statuses, pauses = view.statuses()

        def chosen(status: str | None) -> None:
            if status is None:
                return
            if status == view.record.status:
                self.say(f"{view.record.id} is already {status}.")
                return
            paused = " (its clocks pause)" if status in pauses else ""
            self._record("status", f"{view.record.id} is now {status}{paused}.", status=status)

        self.app.push_screen(StatusDialog(view.record.id, view.record.status, statuses, pauses), chosen)

    def action_priority(self) -> None:
        view = self._ready(open_only="reopen it to change its priority.")
        if view is None:
            return
        priorities = view.priorities()
        if not priorities:
            self.say(
                f"{view.record.id} has no agreement in force: there are no priorities to choose from.",
                "warning",
            )
            return
        now = self.desk.now()
        before = view.clocks.adjusted
        after = {
            p: what_if_priority(view.record, view.books, p, now)
            for p in priorities
            if p != view.record.priority
        }

        def chosen(priority: str | None) -> None:
            if priority is None:
                return
            if priority == view.record.priority:
                self.say(f"{view.record.id} is already {priority}.")
                return
            self._record("priority", f"{view.record.id} is now {priority}.", priority=priority)

        dialog = PriorityDialog(
            view.record.id, view.record.priority, priorities, before, after, self._zones(view)
        )
        self.app.push_screen(dialog, chosen)

    def action_override(self) -> None:
        self.post_message(OpenOverride(self.ticket_id))

    def action_assign(self) -> None:
        view = self._ready(moves_clock=False)
        if view is None:
            return
        me = self.desk.operator
        if view.record.assignee == me:
            self.say(f"{view.record.id} is already assigned to you.")
            return
        self._record("assign", f"{view.record.id} is assigned to you.", assignee=me)

    def action_resolve(self) -> None:
        view = self._ready(open_only="it has ended already.")
        if view is not None:
            self._record("resolved", f"{view.record.id} resolved.")

    def action_reopen(self) -> None:
        view = self._ready()
        if view is None:
            return
        if not view.ended:
            self.say(f"{view.record.id} is open: there is nothing to reopen.", "warning")
            return
        self._record("reopened", f"{view.record.id} reopened.")

    # ---- writing ----------------------------------------------------------------------

    def _record(self, etype: str, done: str, **fields: str) -> None:
        now = self.desk.now()
        if not math.isfinite(now):
            self.say("The clock gives no usable time; nothing recorded.", "error")
            return
        # The author is the operator on every event, not only replies: the history
        # then says who changed what (the events table's actor says it too).
        event = Event(
            id=f"tui-{uuid4().hex}",
            type=etype,
            at=now,
            ticket=self.ticket_id,
            author=self.desk.operator,
            **fields,  # type: ignore[arg-type]  # the event type's own fields, by name
        )
        self._write(event, done)

    def _write(self, event: Event, done: str) -> None:
        from sladesk_tui.store.imports import ingest

        operator = self.desk.operator
        self.write(
            lambda conn: ingest(conn, [event], actor=operator, source="tui"), done=done, failed="Not recorded"
        )


_JUSTIFICATION_CELLS = 40


def override_effect(o: Override, tz: dt.tzinfo) -> str:
    """What an override does, in a few words: a hold shows when it ends."""
    from sladesk_tui.core.durations import format_clock_duration

    if o.kind == "hold" and o.until is not None:
        return f"until {fmt_instant(o.until, tz)}"
    if o.kind == "extend" and o.by_s is not None:
        return f"+{format_clock_duration(o.by_s)}"
    if o.kind == "responded" and o.responded_at is not None:
        return f"at {fmt_instant(o.responded_at, tz)}"
    if o.kind == "reprioritize" and o.to_priority:
        return f"to {safe_text(o.to_priority)}"
    if o.kind == "out_of_order" and o.ahead_of:
        return f"ahead of {safe_text(o.ahead_of)}"
    return ""
