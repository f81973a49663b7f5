"""The override dialog (key `o` on the queue and the ticket screen): SPEC §6 on one screen.

The agent picks the kind, the clock, the kind's parameter and a reason code, and
writes why. Every keystroke re-runs the same rules the command line and the store
apply (`core.override_effects.draft`) on the ticket loaded once when the dialog
opened: the justification counter, the first problem, and the clock figures before
and after, straight from the engine. Confirming writes through
`store.overrides.place_override`, which checks everything again under the write
lock, so a ticket that changed meanwhile is refused rather than overridden blind.

Dismisses with the recorded `Placed` override, or None when cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from sladesk_tui.core.clocks import CLOCKS
from sladesk_tui.core.errors import InputError
from sladesk_tui.core.override_effects import figure_text
from sladesk_tui.core.override_rules import CLOCK_KINDS, PARAMETER, parse_parameter
from sladesk_tui.core.overrides import KINDS, MIN_JUSTIFICATION, REASONS, Override
from sladesk_tui.core.text import safe_text

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import AgreementSet
    from sladesk_tui.core.override_effects import Draft
    from sladesk_tui.core.tickets import TicketRecord
    from sladesk_tui.store.overrides import Placed
    from sladesk_tui.tui.app import SladeskApp

KIND_HELP: dict[str, str] = {
    "hold": "stop a clock (or all) from now until an instant",
    "extend": "add business time to a clock's target",
    "exempt": "exclude a clock from compliance",
    "responded": "the response was given out of band",
    "reprioritize": "change the priority, under the agreement's policy",
    "out_of_order": "worked ahead of a more urgent ticket (no clock effect)",
}
PARAM_LABELS: dict[str, str] = {
    "until": "Until",
    "by_s": "By",
    "responded_at": "At",
    "to_priority": "To",
    "ahead_of": "Ahead of",
}
PARAM_HINTS: dict[str, str] = {
    "until": "+2h, now, or an instant such as 2027-01-15T12:00Z",
    "by_s": "business time, e.g. 2h or 1h30m",
    "responded_at": "-20m, or an instant (empty: now)",
    "ahead_of": "the more urgent ticket's id",
}
ALL_CLOCKS = "all"


class OverrideDialog(ModalScreen["Placed | None"]):
    """Kind, clock, parameter, reason, justification; preview; confirm (see the module docstring)."""

    CSS_PATH = "override_dialog.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "confirm", "Confirm", priority=True),
    ]

    class ContextLoaded(Message):
        def __init__(
            self, record: TicketRecord | None, books: Mapping[int, AgreementSet], error: str | None
        ) -> None:
            super().__init__()
            self.record = record
            self.books = books
            self.error = error

    class Done(Message):
        def __init__(self, placed: Placed | None, error: str | None) -> None:
            super().__init__()
            self.placed = placed
            self.error = error

    def __init__(self, ticket_id: str, *, kind: str = "hold") -> None:
        super().__init__()
        self.ticket_id = ticket_id
        self._initial_kind = kind if kind in KINDS else "hold"
        self.record: TicketRecord | None = None
        self._books: Mapping[int, AgreementSet] = {}
        self.draft: Draft | None = None
        self.input_problem: str | None = None  # a parameter that does not parse
        self.loaded = False
        self._busy = False

    @property
    def sladesk(self) -> SladeskApp:
        return cast("SladeskApp", self.app)

    # ---- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="override-box"):
            yield Static(
                Content.assemble(("Override ", "bold"), (safe_text(self.ticket_id), "bold")), id="ov-title"
            )
            with Horizontal(classes="ov-row"):
                yield Static("Kind", classes="ov-label")
                yield Select(
                    [(Content(k), k) for k in KINDS],
                    value=self._initial_kind,
                    allow_blank=False,
                    compact=True,
                    id="ov-kind",
                )
                yield Static("Clock", classes="ov-label ov-label-2")
                yield Select(
                    [(Content(c), c) for c in (ALL_CLOCKS, *CLOCKS)],
                    value=ALL_CLOCKS,
                    allow_blank=False,
                    compact=True,
                    id="ov-clock",
                )
            yield Static("", id="ov-kind-help")
            with Horizontal(classes="ov-row", id="ov-param-row"):
                yield Static("", classes="ov-label", id="ov-param-label")
                yield Input(compact=True, id="ov-param")
            with Horizontal(classes="ov-row"):
                yield Static("Reason", classes="ov-label")
                yield Select(
                    [(Content(r), r) for r in REASONS],
                    prompt="choose a reason code",
                    compact=True,
                    id="ov-reason",
                )
            with Horizontal(classes="ov-row"):
                yield Static("Why", classes="ov-label")
                yield Input(
                    placeholder=f"justification: at least {MIN_JUSTIFICATION} non-blank characters",
                    max_length=4000,
                    compact=True,
                    id="ov-why",
                )
            yield Static("", id="ov-count")
            yield Static("", id="ov-preview")
            yield Static("", id="ov-problem")
            with Horizontal(id="ov-buttons"):
                yield Button(
                    "Confirm (ctrl+s)", variant="primary", compact=True, id="ov-confirm", disabled=True
                )
                yield Button("Cancel (esc)", compact=True, id="ov-cancel")

    def on_mount(self) -> None:
        self._show_kind(self._initial_kind)
        self._revalidate()
        self.query_one("#ov-kind", Select).focus()
        self._load(self.sladesk.desk.now())

    @work(thread=True, exclusive=True, group="override-context", exit_on_error=False)
    def _load(self, now: float) -> None:
        from sladesk_tui.store.overrides import override_context

        try:
            conn = self.sladesk.desk.open()
            try:
                record, books = override_context(conn, self.ticket_id, now)
            finally:
                conn.close()
        except Exception as exc:  # noqa: BLE001 - shown in the dialog; nothing is written
            self.post_message(self.ContextLoaded(None, {}, f"{exc}"))
            return
        self.post_message(self.ContextLoaded(record, books, None))

    def on_override_dialog_context_loaded(self, message: ContextLoaded) -> None:
        self.record, self._books = message.record, message.books
        self.loaded = True
        if message.record is not None:
            self.query_one("#ov-title", Static).update(
                Content.assemble(
                    ("Override ", "bold"),
                    (safe_text(message.record.id), "bold"),
                    " · ",
                    safe_text(message.record.title),
                )
            )
            if message.record.agreement_id is not None:
                self._hint_priorities()
        self._revalidate(load_error=message.error)

    # ---- what was typed ---------------------------------------------------------------

    @property
    def kind(self) -> str:
        return cast(str, self.query_one("#ov-kind", Select).value)

    def _show_kind(self, kind: str) -> None:
        field = PARAMETER[kind]
        row = self.query_one("#ov-param-row")
        row.display = field is not None
        if field is not None:
            self.query_one("#ov-param-label", Static).update(Content(PARAM_LABELS[field]))
            self.query_one("#ov-param", Input).placeholder = self._param_hint(field)
        self.query_one("#ov-clock", Select).disabled = kind not in CLOCK_KINDS
        self.query_one("#ov-kind-help", Static).update(Content(KIND_HELP[kind]))

    def _param_hint(self, field: str) -> str:
        if field == "to_priority":
            priorities = self._priorities()
            return "the new priority" + (f": one of {', '.join(priorities)}" if priorities else "")
        return PARAM_HINTS[field]

    def _priorities(self) -> list[str]:
        if self.record is None or self.record.agreement_version is None or self.record.agreement_id is None:
            return []
        aset = self._books.get(self.record.agreement_version)
        agreement = aset.get(self.record.agreement_id) if aset is not None else None
        return [safe_text(p) for p in agreement.targets] if agreement is not None else []

    def _hint_priorities(self) -> None:
        if PARAMETER[self.kind] == "to_priority":
            self.query_one("#ov-param", Input).placeholder = self._param_hint("to_priority")

    def candidate(self, now: float) -> Override:
        """The override as typed; raises InputError when the parameter does not parse."""
        kind = self.kind
        clock = self.query_one("#ov-clock", Select).value
        reason = self.query_one("#ov-reason", Select).value
        params: dict[str, Any] = parse_parameter(kind, self.query_one("#ov-param", Input).value, now)
        return Override(
            id=0,
            ticket=self.ticket_id,
            kind=kind,
            at=now,
            operator=self.sladesk.desk.operator,
            reason=reason if isinstance(reason, str) else "",
            justification=self.query_one("#ov-why", Input).value,
            clock=clock if kind in CLOCK_KINDS and clock != ALL_CLOCKS and isinstance(clock, str) else None,
            **params,
        )

    @on(Select.Changed, "#ov-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        self._show_kind(self.kind)
        self._revalidate()

    @on(Select.Changed, "#ov-clock")
    @on(Select.Changed, "#ov-reason")
    def _changed(self, event: Message) -> None:
        self._revalidate()

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        if keep_printable(event.input):
            self._revalidate()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "ov-why":
            self.action_confirm()
        else:
            self.focus_next()

    # ---- validating and previewing -------------------------------------------------------

    def _revalidate(self, *, load_error: str | None = None) -> None:
        """Counter, preview and first problem for what is typed now."""
        from sladesk_tui.core.override_effects import draft
        from sladesk_tui.core.overrides import justification_problem

        why = self.query_one("#ov-why", Input).value
        n = sum(1 for ch in why if not ch.isspace())
        count = self.query_one("#ov-count", Static)
        ok = justification_problem(why) is None
        count.set_class(ok, "-ok")
        if ok:
            count.update(Content(f"justification: {n} non-blank characters ✓"))
        else:
            count.update(Content(f"justification: {n} of {MIN_JUSTIFICATION} non-blank characters needed"))
        self.draft = None
        self.input_problem = None
        problem: str | None
        if load_error is not None:
            problem = load_error
        elif not self.loaded:
            problem = "loading the ticket…"
        elif self.record is None:
            problem = f"unknown ticket {self.ticket_id!r}"
        else:
            now = self.sladesk.desk.now()
            try:
                cand = self.candidate(now)
            except InputError as exc:
                self.input_problem = problem = (
                    f"{PARAM_LABELS.get(PARAMETER[self.kind] or '', 'parameter')}: {exc}"
                )
            else:
                self.draft = draft(self.record, self._books, cand, now)
                problem = self.draft.effect_problem or ("choose a reason code" if not cand.reason else None)
        self._show_preview()
        self.query_one("#ov-problem", Static).update(
            Content("✗ " + safe_text(problem)) if problem else Content("")
        )
        self.query_one("#ov-confirm", Button).disabled = not self.can_confirm

    @property
    def can_confirm(self) -> bool:
        return self.draft is not None and self.draft.problem is None and not self._busy

    def _show_preview(self) -> None:
        box = self.query_one("#ov-preview", Static)
        d = self.draft
        if d is None or d.preview is None:
            box.update(
                Content.styled("preview: the clock figures appear once the override can take effect", "dim")
            )
            return
        box.update(preview_table(d.preview.before_figures, d.preview.after_figures))

    # ---- confirming ------------------------------------------------------------------------

    @on(Button.Pressed, "#ov-confirm")
    def _confirm_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_confirm()

    @on(Button.Pressed, "#ov-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_confirm(self) -> None:
        self._revalidate()
        if not self.can_confirm or self.draft is None:
            d = self.draft
            problem = (
                (d.problem if d is not None else None) or self.input_problem or "the override is not complete"
            )
            self.notify(safe_text(f"Not recorded: {problem}"), severity="warning", markup=False)
            return
        self._busy = True
        self.query_one("#ov-confirm", Button).disabled = True
        self._place(self.draft.override, self.sladesk.desk.now())

    @work(thread=True, exclusive=True, group="override-write", exit_on_error=False)
    def _place(self, candidate: Override, now: float) -> None:
        from sladesk_tui.store.overrides import place_override

        try:
            conn = self.sladesk.desk.open()
            try:
                placed = place_override(conn, candidate, now=now)
            finally:
                conn.close()
        except InputError as exc:
            self.post_message(self.Done(None, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a locked or missing file: say so, stay open
            self.post_message(self.Done(None, f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(self.Done(placed, None))

    def on_override_dialog_done(self, message: Done) -> None:
        self._busy = False
        if message.placed is None:
            self.query_one("#ov-problem", Static).update(
                Content("✗ not recorded: " + safe_text(message.error))
            )
            self.notify(safe_text(f"Not recorded: {message.error}"), severity="error", markup=False)
            self.query_one("#ov-confirm", Button).disabled = not self.can_confirm
            return
        p = message.placed
        self.notify(
            safe_text(
                f"Override {p.id} recorded on {p.override.ticket} ({p.override.kind}), pending review."
            ),
            markup=False,
        )
        self.sladesk.refresh_queue()
        self.dismiss(p)


def preview_table(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]) -> Content:
    """`clock  before  after  (changed)`, one line per clock with figures, as the agent reads them.

    A clock is marked changed only when the words shown differ: an override can move
    a figure the line does not show (a due instant, a target a few seconds longer), and
    "changed" beside two identical texts reads as a bug. The columns are as wide as
    their longest text, so the marker stays on its clock's line in the 80-column dialog.
    """
    rows: list[tuple[str, str, str]] = []
    for name in CLOCKS:
        b, a = before.get(name), after.get(name)
        if b is None or a is None or (b["state"] == "n/a" and a["state"] == "n/a"):
            continue
        rows.append((name, figure_text(b), figure_text(a)))
    bw = max((len(bt) for _n, bt, _a in rows), default=0)
    aw = max((len(at) for _n, _b, at in rows), default=0)
    bw, aw = max(bw, len("before")) + 2, max(aw, len("after")) + 2
    lines = [Content.styled(f"{'clock':<11} {'before':<{bw}}{'after':<{aw}}", "bold")]
    for name, bt, at in rows:
        changed = at != bt
        lines.append(
            Content.assemble(
                f"{name:<11} {bt:<{bw}}",
                (f"{at:<{aw}}", "bold" if changed else "dim"),
                ("(changed)" if changed else "", "bold"),
            )
        )
    if not any(a != b for _n, b, a in rows):
        lines.append(Content.styled("nothing shown here changes (the override is on the record)", "dim"))
    return Content("\n").join(lines)


def keep_printable(box: Input) -> bool:
    """Drop control, bidi-control and separator characters from what was typed or pasted.

    An escape sequence pasted into a field would otherwise reach the terminal as the
    field redraws it (NOTES: escape sequences pass through every widget), and would
    be stored in the justification. Returns False when the value was changed (a new
    Changed message follows).
    """
    value = box.value
    cleaned = "".join(ch for ch, safe in zip(value, safe_text(value), strict=True) if ch == safe)
    if cleaned == value:
        return True
    box.value = cleaned
    return False
