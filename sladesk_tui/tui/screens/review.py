"""The leads' review screen (key `L`): the override log, pending first, and the decision.

A lead walks the list (pending overrides first, oldest first: they have waited
longest), reads the detail (justification, the clock figures stored before and
after, earlier reviews, the ticket's timeline) and approves (`a`) or rejects (`x`,
with a required comment). `/` searches the words of justifications, review comments,
ticket titles and customers (the text index). Filters (`f`) narrow by status, operator, kind, reason,
agreement and a date range; `t` switches to per-operator figures (overrides by
kind and reason, approval rate, breaches turned into met clocks); `l` grants or
revokes the lead role.

Anyone may open it (the log is no secret on a desk) but the rules are the store's:
a non-lead, or the override's own operator, is told why and nothing is written.
The same `core.override_rules.review_problem` answers at once on screen, and
`store.overrides.review_override` answers again under the write lock.

Reads and writes run in thread workers with their own connections; a generation
number drops a slow old load. The screen reloads after its own writes and when
another connection commits (`PRAGMA data_version`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Select, Static

from sladesk_tui.core.clocks import CLOCKS
from sladesk_tui.core.errors import InputError
from sladesk_tui.core.override_effects import figure_text
from sladesk_tui.core.override_log import LogEntry, LogFilter, OperatorStats, operator_stats, parameter_text
from sladesk_tui.core.override_rules import DECISIONS, review_problem
from sladesk_tui.core.overrides import KINDS, REASONS, STATUSES
from sladesk_tui.core.text import safe_text
from sladesk_tui.store.backend import Connection
from sladesk_tui.tui.background import BackgroundScreen, LiveScreen
from sladesk_tui.tui.helpers import event_detail, keep_printable, operator_zone
from sladesk_tui.tui.messages import OpenTicket
from sladesk_tui.tui.widgets.clock_panel import fmt_instant

if TYPE_CHECKING:
    from sladesk_tui.core.tickets import Review, TicketRecord

ANY = "any"
TIMELINE_EVENTS = 12
FIGURE_COLUMNS = (
    "operator",
    "overrides",
    "pending",
    "approved",
    "rejected",
    "rate",
    "→met",
    "→exempt",
    "local",
)


@dataclass(frozen=True, slots=True)
class LogView:
    """One load: the filtered entries in review order, the reader's role, the filter choices."""

    entries: tuple[LogEntry, ...]
    is_lead: bool
    choices: dict[str, list[str]]
    counts: dict[str, int]
    local: Mapping[str, int] = field(default_factory=dict)  # clocks moved by hand in the app, per agent


def load_log_view(
    conn: Connection,
    operator: str,
    filt: LogFilter,
    *,
    effects: bool,
    now: float,
    search: str = "",
) -> LogView:
    """Read the log on the worker's connection, as `operator` sees it; `search` keeps the
    overrides the text index finds (justification, review comments, ticket title and
    customer: `store.search`)."""
    from collections import Counter

    from sladesk_tui.core.override_log import review_order
    from sladesk_tui.store.overrides import load_log, log_choices
    from sladesk_tui.store.queries import local_action_counts
    from sladesk_tui.store.roles import is_lead

    entries = load_log(conn, filt, effects=effects, now=now, search=search or None)
    lead = is_lead(conn, operator)
    choices = log_choices(conn)
    local = (
        local_action_counts(
            conn, operator=filt.operator, ticket=filt.ticket, since=filt.since, until=filt.until
        )
        if effects
        else {}
    )
    counts = Counter(e.status for e in entries)
    return LogView(tuple(review_order(entries)), lead, choices, {s: counts[s] for s in STATUSES}, local)


class CommentDialog(ModalScreen[str | None]):
    """The comment a rejection needs: enter confirms (not when blank), escape cancels."""

    CSS_PATH = "review.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="comment.cancel")]

    def __init__(self, override_id: int, ticket: str) -> None:
        super().__init__()
        self._heading = f"Reject override {override_id} on {safe_text(ticket)}: why?"

    def compose(self) -> ComposeResult:
        with Vertical(id="comment-box"):
            yield Static(Content(self._heading), id="comment-title")
            yield Input(placeholder="a comment for the operator (required)", max_length=2000, id="comment")
            yield Static(Content("enter reject · escape cancel"), id="comment-hint")

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        keep_printable(event.input)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.query_one("#comment-hint", Static).update(
                Content("✗ a rejection needs a comment saying why")
            )
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class LeadsDialog(BackgroundScreen[None], ModalScreen[None]):
    """Grant or revoke the lead role: `g`/`r` choose, type the user, enter applies.

    The store decides (`store.roles`): only a lead changes the role and the last lead
    stays; a refusal is shown here and nothing is written.
    """

    CSS_PATH = "review.tcss"
    BINDINGS = [Binding("escape", "cancel", "Close", id="leads.close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="leads-box"):
            yield Static(Content.styled("Team leads", "bold"), id="leads-title")
            yield Static("", id="leads-list")
            actions = [
                (Content("grant the lead role to"), "grant"),
                (Content("revoke the lead role from"), "revoke"),
            ]
            yield Select(actions, value="grant", allow_blank=False, compact=True, id="leads-action")
            yield Input(placeholder="login name", max_length=64, compact=True, id="leads-user")
            yield Static(Content("enter apply · escape close"), id="leads-hint")

    def on_mount(self) -> None:
        self.query_one("#leads-user", Input).focus()
        self._apply(None, None)

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        keep_printable(event.input)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        user = event.value.strip()
        if user:
            self._apply(cast(str, self.query_one("#leads-action", Select).value), user)

    def _apply(self, action: str | None, user: str | None) -> None:
        """Grant or revoke (when asked), then read the leads: one job, one connection."""
        from sladesk_tui.store.roles import grant_lead, leads, revoke_lead

        operator = self.desk.operator

        def job(conn: Connection) -> tuple[list[str], str, bool]:
            said, refused = "", False
            if action is not None and user is not None:
                try:
                    (grant_lead if action == "grant" else revoke_lead)(conn, user, actor=operator)
                    said = (
                        f"{user} is now a team lead" if action == "grant" else f"{user} is no longer a lead"
                    )
                except InputError as exc:
                    said, refused = f"Not changed: {exc}", True
            return list(leads(conn)), said, refused

        self.run_in_background(
            job,
            lambda result: self._changed(*result),
            failed="Cannot read the leads",
            otherwise=lambda reason: self._changed([], reason, True),
            group="leads",
        )

    def _changed(self, current: list[str], said: str, refused: bool) -> None:
        names = ", ".join(safe_text(u) for u in current) or "none"
        self.query_one("#leads-list", Static).update(Content(f"now: {names}"))
        if said:
            mark = "✗ " if refused else "✓ "
            self.query_one("#leads-hint", Static).update(Content(mark + safe_text(said)))
            if not refused:
                self.query_one("#leads-user", Input).value = ""

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReviewScreen(LiveScreen):
    """The override log for leads (see the module docstring)."""

    CSS_PATH = "review.tcss"
    AUTO_FOCUS = "#review-list"
    BINDINGS = [
        Binding(
            "a", "approve", "Approve", tooltip="Approve the highlighted override (leads)", id="review.approve"
        ),
        Binding(
            "x",
            "reject",
            "Reject",
            tooltip="Reject the highlighted override, with a comment (leads)",
            id="review.reject",
        ),
        Binding("f", "filters", "Filters", tooltip="Show or hide the filters", id="review.filters"),
        Binding(
            "slash",
            "search",
            "Search",
            show=False,
            tooltip="Search justifications, review comments, ticket titles and customers",
            id="review.search",
        ),
        Binding("t", "figures", "Figures", tooltip="Per-operator figures / the list", id="review.figures"),
        Binding(
            "g",
            "open_ticket",
            "Ticket",
            show=False,
            tooltip="Open the override's ticket",
            id="review.open-ticket",
        ),
        Binding(
            "l",
            "leads",
            "Leads",
            show=False,
            tooltip="Grant or revoke the lead role (leads)",
            id="review.leads",
        ),
        Binding("escape", "back", "Back", tooltip="Close the filters, or go back", id="review.back"),
    ]

    POLL_NAME = "review-poll"

    def __init__(self) -> None:
        super().__init__()
        self.filter = LogFilter()
        self.search = ""  # words for the text index (`store.search`), beside the filter
        self.view: LogView | None = None
        self.figures = False
        self.stats: list[OperatorStats] = []
        self._choices: dict[str, list[str]] = {}

    # ---- layout -----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("Override review", "bold"), id="review-head")
        with Grid(id="review-filters"):
            yield _select("status", STATUSES)
            yield _select("operator", ())
            yield _select("kind", KINDS)
            yield _select("reason", REASONS)
            yield _select("agreement", ())
            yield Input(placeholder="from: 2027-01-01", compact=True, id="filter-since")
            yield Input(placeholder="until: now", compact=True, id="filter-until")
            yield Input(
                placeholder="search: words of a justification, comment, title or customer",
                compact=True,
                id="filter-search",
            )
            yield Static("", id="filter-problem")
        yield DataTable(id="review-list", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="review-figures", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="review-detail"):
            yield Static("", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#review-list", DataTable).add_columns(
            "#", "when", "ticket", "kind", "by", "reason", "status"
        )
        self.query_one("#review-figures", DataTable).add_columns(*FIGURE_COLUMNS)
        self.query_one("#review-filters").display = False
        self.query_one("#review-figures").display = False
        self.follow()

    # ---- loading ----------------------------------------------------------------

    def reading(self) -> str:
        return "the override log"

    def reader(self, now: float) -> Callable[[Connection], LogView]:
        filt, effects, operator, search = self.filter, self.figures, self.desk.operator, self.search
        return lambda conn: load_log_view(conn, operator, filt, effects=effects, now=now, search=search)

    def show(self, view: LogView) -> None:
        self.view = view
        self._show_head(view)
        self._fill_choices(view)
        self._fill_list(view)
        self._fill_figures(view)

    # ---- showing ------------------------------------------------------------------

    def _show_head(self, view: LogView) -> None:
        me = safe_text(self.desk.operator)
        role = "lead" if view.is_lead else "not a lead: read only"
        c = view.counts
        self.query_one("#review-head", Static).update(
            Content.assemble(
                ("Override review", "bold"),
                f" · {me} ({role}) · ",
                (f"{c['pending']} pending", "bold"),
                f" · {c['approved']} approved · {c['rejected']} rejected",
                ("  f filters · t figures" if not self.filter_active else "  (filtered)", "dim"),
            )
        )

    @property
    def filter_active(self) -> bool:
        return self.filter != LogFilter() or bool(self.search)

    def _fill_choices(self, view: LogView) -> None:
        """Operators and agreements on record; the options change only when they do."""
        for name in ("operator", "agreement"):
            values = view.choices.get(name, [])
            if values == self._choices.get(name):
                continue
            self._choices[name] = values
            select = self.query_one(f"#filter-{name}", Select)
            current = getattr(self.filter, name)
            with select.prevent(Select.Changed):
                select.set_options(_options(name, values))
                select.value = current if current in values else ANY

    def _fill_list(self, view: LogView) -> None:
        table = self.query_one("#review-list", DataTable)
        keep = self.selected_id
        table.clear()
        tz = self._tz()
        for e in view.entries:
            o = e.override
            table.add_row(
                Text(str(o.id)),
                Text(_short_time(o.at, tz)),
                Text(safe_text(o.ticket)),
                Text(o.kind),
                Text(safe_text(o.operator)),
                Text(o.reason),
                Text(o.status.upper(), style="bold" if o.status == "pending" else ""),
                key=str(o.id),
            )
        ids = [e.override.id for e in view.entries]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        self._show_detail()

    def _fill_figures(self, view: LogView) -> None:
        table = self.query_one("#review-figures", DataTable)
        table.clear()
        self.stats = operator_stats(view.entries, view.local) if self.figures else []
        for st in self.stats:
            rate = st.approval_rate
            table.add_row(
                Text(safe_text(st.operator)),
                Text(str(st.total)),
                Text(str(st.pending)),
                Text(str(st.approved)),
                Text(str(st.rejected)),
                Text("-" if rate is None else f"{rate:.0%}"),
                Text(str(st.turned_met)),
                Text(str(st.turned_exempt)),
                Text(str(st.local_actions)),
                key=st.operator,
            )
        if self.figures:
            self._show_operator()

    @on(DataTable.RowHighlighted, "#review-figures")
    def _operator_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_operator()

    def _show_operator(self) -> None:
        table = self.query_one("#review-figures", DataTable)
        box = self.query_one("#detail", Static)
        if not self.stats:
            box.update(Content("No overrides match." if self.filter_active else "No overrides on record."))
            return
        st = self.stats[min(max(table.cursor_row, 0), len(self.stats) - 1)]
        box.update(Content("\n").join(operator_stats_lines(st)))

    @property
    def selected(self) -> LogEntry | None:
        """The highlighted override, if any."""
        view = self.view
        table = self.query_one("#review-list", DataTable)
        if view is None or not view.entries or table.row_count == 0:
            return None
        index = min(max(table.cursor_row, 0), len(view.entries) - 1)
        return view.entries[index]

    @property
    def selected_id(self) -> int | None:
        e = self.selected
        return None if e is None else e.override.id

    @on(DataTable.RowHighlighted, "#review-list")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        if self.figures:
            return
        e = self.selected
        box = self.query_one("#detail", Static)
        if e is None:
            box.update(Content("No overrides match." if self.filter_active else "No overrides on record."))
            return
        box.update(Content("\n").join(detail_lines(e, self._tz(), None, None)))
        self._load_detail(e.override.id, e.override.ticket)

    def _load_detail(self, override_id: int, ticket: str) -> None:
        from sladesk_tui.store.overrides import load_reviews
        from sladesk_tui.store.queries import load_ticket

        def job(conn: Connection) -> tuple[TicketRecord | None, list[Review]]:
            return load_ticket(conn, ticket), load_reviews(conn, override_id)

        self.run_in_background(
            job,
            lambda found: self._detail_loaded(override_id, *found),
            failed=f"Cannot read {ticket}",
            group="review-detail",
        )

    def _detail_loaded(self, override_id: int, record: TicketRecord | None, reviews: list[Review]) -> None:
        e = self.selected
        if self.figures or e is None or e.override.id != override_id:
            return
        lines = detail_lines(e, self._tz(), record, reviews)
        self.query_one("#detail", Static).update(Content("\n").join(lines))

    def _tz(self) -> Any:
        return operator_zone(self.sladesk)

    # ---- filters ------------------------------------------------------------------

    def action_filters(self) -> None:
        panel = self.query_one("#review-filters")
        panel.display = not panel.display
        if panel.display:
            self.query_one("#filter-status", Select).focus()
        else:
            self.query_one("#review-list", DataTable).focus()

    def action_search(self) -> None:
        self.query_one("#review-filters").display = True
        self.query_one("#filter-search", Input).focus()

    @on(Input.Changed, "#filter-search")
    def _search_typed(self, event: Input.Changed) -> None:
        if keep_printable(event.input) and event.value.strip() != self.search:
            self.search = event.value.strip()
            self.reload()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        name = (event.select.id or "").removeprefix("filter-")
        if name not in ("status", "operator", "kind", "reason", "agreement"):
            return
        value = event.value if isinstance(event.value, str) and event.value != ANY else None
        changes: dict[str, Any] = {name: value}
        self.set_filter(replace(self.filter, **changes))

    @on(Input.Changed, "#filter-since, #filter-until")
    def _dates_changed(self, event: Input.Changed) -> None:
        from sladesk_tui.core.override_rules import parse_when

        if not keep_printable(event.input):
            return
        now = self.desk.now()
        bounds: dict[str, Any] = {}
        problem = ""
        for name in ("since", "until"):
            text = self.query_one(f"#filter-{name}", Input).value.strip()
            try:
                bounds[name] = parse_when(text, now) if text else None
            except InputError as exc:
                problem = f"{name}: {exc}"
                bounds[name] = getattr(self.filter, name)
        self.query_one("#filter-problem", Static).update(Content(safe_text(problem)))
        self.set_filter(replace(self.filter, **bounds))

    def set_filter(self, filt: LogFilter) -> None:
        if filt != self.filter:
            self.filter = filt
            self.reload()

    def action_figures(self) -> None:
        self.figures = not self.figures
        self.query_one("#review-figures").display = self.figures
        self.query_one("#review-list").display = not self.figures
        (self.query_one("#review-figures") if self.figures else self.query_one("#review-list")).focus()
        self._show_detail()
        self.reload()

    # ---- deciding -----------------------------------------------------------------

    def action_back(self) -> None:
        panel = self.query_one("#review-filters")
        if panel.display:
            panel.display = False
            self.query_one("#review-list", DataTable).focus()
            return
        self.dismiss()

    def action_leads(self) -> None:
        self.app.push_screen(LeadsDialog())

    def action_open_ticket(self) -> None:
        e = self.selected
        if e is not None:
            self.post_message(OpenTicket(e.override.ticket))

    def _may_review(self, decision: str, comment: str | None) -> LogEntry | None:
        """The entry to decide on, or None after saying why the rules refuse it."""
        e = self.selected
        if e is None or self.view is None:
            self.say("No override is selected.", "warning")
            return None
        problem = review_problem(
            e.override,
            reviewer=self.desk.operator,
            reviewer_is_lead=self.view.is_lead,
            decision=decision,
            comment=comment if comment is not None else ("-" if decision == "reject" else None),
        )
        if problem:
            self.say(f"Not reviewed: {problem}", "warning")
            return None
        return e

    def action_approve(self) -> None:
        e = self._may_review("approve", None)
        if e is not None:
            self._review(e.override.id, "approve", None)

    def action_reject(self) -> None:
        e = self._may_review("reject", None)
        if e is None:
            return

        def commented(comment: str | None) -> None:
            if comment is not None:
                self._review(e.override.id, "reject", comment)

        self.app.push_screen(CommentDialog(e.override.id, e.override.ticket), commented)

    def _review(self, override_id: int, decision: str, comment: str | None) -> None:
        from sladesk_tui.store.overrides import review_override

        operator, now = self.desk.operator, self.desk.now()
        self.write(
            lambda conn: review_override(
                conn, override_id, decision, reviewer=operator, comment=comment, now=now
            ),
            done=f"Override {override_id} {DECISIONS[decision]}.",
            failed="Not reviewed",
        )


# ---- text ------------------------------------------------------------------------------


def detail_lines(
    e: LogEntry, tz: Any, record: TicketRecord | None, reviews: list[Review] | None
) -> list[Content]:
    """The detail pane: who, what, why, the figures before and after, the reviews, the timeline."""

    o = e.override
    param = parameter_text(o)
    lines = [
        Content.assemble(
            (f"Override {o.id}", "bold"),
            f" · {o.kind}",
            f" {param}" if param else "",
            f" on {o.clock} clock" if o.clock else "",
            " · ticket ",
            (safe_text(o.ticket), "bold"),
            " ",
            safe_text(e.title),
        ),
        Content(
            f"by {safe_text(o.operator)} at {fmt_instant(o.at, tz)} · reason {o.reason} · "
            f"agreement {safe_text(e.agreement_id or 'none')} · status {o.status.upper()}"
        ),
        Content.styled("Justification", "bold"),
        Content(safe_text(o.justification, multiline=True)),
        Content.styled(f"{'Clocks when made':<16} {'before':<27} after", "bold"),
    ]
    for name in CLOCKS:
        b, a = e.before.get(name), e.after.get(name)
        if b is None or a is None or (b.get("state") == "n/a" and a.get("state") == "n/a"):
            continue
        mark = "  (changed)" if a != b else ""
        lines.append(Content(f"{name:<16} {figure_text(b):<27} {figure_text(a)}{mark}"))
    if e.effect is not None and (e.effect.met or e.effect.exempted):
        lines.append(Content(f"now: turned a breach into {'met' if e.effect.met else 'exempt'}"))
    lines.append(Content.styled("Reviews", "bold"))
    shown = reviews if reviews is not None else ([e.review] if e.review else [])
    if not shown:
        lines.append(Content("none yet" if reviews is not None or e.review is None else ""))
    for r in shown:
        comment = f": {safe_text(r.comment)}" if r.comment else ""
        lines.append(Content(f"{r.decision} by {safe_text(r.reviewer)} at {fmt_instant(r.at, tz)}{comment}"))
    if record is not None:
        lines.append(Content.styled("Ticket timeline", "bold"))
        events = record.events[-TIMELINE_EVENTS:]
        if len(record.events) > len(events):
            lines.append(Content(f"… {len(record.events) - len(events)} earlier events"))
        for ev in events:
            who = f" ({safe_text(ev.author)})" if ev.author else ""
            lines.append(Content(f"{fmt_instant(ev.at, tz)}  {ev.type}  {safe_text(event_detail(ev))}{who}"))
        for other in record.overrides:
            if other.id != o.id:
                lines.append(
                    Content(
                        f"{fmt_instant(other.at, tz)}  override {other.id} {other.kind} by {safe_text(other.operator)}"
                        f" ({other.status})"
                    )
                )
    return lines


def operator_stats_lines(st: OperatorStats) -> list[Content]:
    """One operator's figures in words, for the pane under the figures table."""
    rate = st.approval_rate
    return [
        Content.assemble((safe_text(st.operator), "bold"), f": {st.total} overrides, {st.pending} pending"),
        Content(
            "approval rate: "
            + (
                "no reviews yet"
                if rate is None
                else f"{rate:.0%} ({st.approved} of {st.approved + st.rejected} reviewed)"
            )
        ),
        Content("by kind:   " + (", ".join(f"{k} {n}" for k, n in st.by_kind.items()) or "-")),
        Content("by reason: " + (", ".join(f"{k} {n}" for k, n in st.by_reason.items()) or "-")),
        Content(
            f"turned a breached clock into a met one: {st.turned_met}; into an exempt one: {st.turned_exempt}"
        ),
        Content(
            f"clocks moved by hand in the app (reply, status, priority, resolve, reopen): {st.local_actions}"
        ),
        Content.styled(
            "(each override alone, with the ticket's other counting overrides, evaluated now)", "dim"
        ),
    ]


def _short_time(ts: float, tz: Any) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, tz).strftime("%m-%d %H:%M")


def _options(name: str, values: tuple[str, ...] | list[str]) -> list[tuple[Content, str]]:
    """`status: any`, `status: pending`...: a compact select shows only its value, so the
    value carries the filter's name."""
    return [(Content(f"{name}: {ANY}"), ANY), *((Content(f"{name}: {safe_text(v)}"), v) for v in values)]


def _select(name: str, values: tuple[str, ...] | list[str]) -> Select[str]:
    return Select(
        _options(name, values),
        value=ANY,
        allow_blank=False,
        compact=True,
        id=f"filter-{name}",
        tooltip=f"filter by {name}",
    )
