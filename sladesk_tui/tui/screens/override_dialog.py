"""The override dialog (key `o` on the queue and the ticket screen): docs/overrides.md on one screen.

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

from textual import on
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
from sladesk_tui.tui.background import BackgroundScreen
from sladesk_tui.tui.helpers import keep_printable
from sladesk_tui.tui.messages import QueueStale

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import AgreementSet
    from sladesk_tui.core.override_effects import Draft
    from sladesk_tui.core.tickets import TicketRecord
    from sladesk_tui.store.overrides import Placed

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


class OverrideDialog(BackgroundScreen["Placed | None"], ModalScreen["Placed | None"]):
    """Kind, clock, parameter, reason, justification; preview; confirm (see the module docstring)."""

    CSS_PATH = "override_dialog.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="override.cancel"),
        Binding("ctrl+s", "confirm", "Confirm", priority=True, id="override.confirm"),
    ]

    def __init__(self, ticket_id: str, *, kind: str = "hold") -> None:
        super().__init__()
        self.ticket_id = ticket_id
        self._initial_kind = kind if kind in KINDS else "hold"
        self.record: TicketRecord | None = None
        self._books: Mapping[int, AgreementSet] = {}
        self.draft: Draft | None = None
        self.input_problem: str | None = None  # a parameter that does not parse
        self.load_error: str | None = None
        self._busy = False

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
        self._load(self.desk.now())

    def _load(self, now: float) -> None:
        from sladesk_tui.store.overrides import override_context

        ticket_id = self.ticket_id
        self.load(lambda conn: override_context(conn, ticket_id, now), failed=f"Cannot read {ticket_id}")

    def failed(self, reason: str) -> None:
        """Shown in the dialog: nothing can be written without the ticket."""
        self.load_error = reason
        self._revalidate()

    def show(self, view: tuple[TicketRecord | None, Mapping[int, AgreementSet]]) -> None:
        record, self._books = view
        self.record = record
        if record is not None:
            self.query_one("#ov-title", Static).update(
                Content.assemble(
                    ("Override ", "bold"),
                    (safe_text(record.id), "bold"),
                    " · ",
                    safe_text(record.title),
                )
            )
            if record.agreement_id is not None:
                self._hint_priorities()
        self._revalidate()

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
            operator=self.desk.operator,
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

    def _revalidate(self) -> None:
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
        if self.load_error is not None:
            problem = self.load_error
        elif not self.ready:
            problem = "loading the ticket…"
        elif self.record is None:
            problem = f"unknown ticket {self.ticket_id!r}"
        else:
            now = self.desk.now()
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
        self._place(self.draft.override, self.desk.now())

    def _place(self, candidate: Override, now: float) -> None:
        from sladesk_tui.store.overrides import place_override

        self.run_in_background(
            lambda conn: place_override(conn, candidate, now=now),
            self._placed,
            failed="Not recorded",
            otherwise=self._not_placed,
            group="override-write",
        )

    def _not_placed(self, reason: str) -> None:
        self._busy = False
        self.query_one("#ov-problem", Static).update(Content("✗ " + safe_text(reason)))
        self.say(reason, "error")
        self.query_one("#ov-confirm", Button).disabled = not self.can_confirm

    def _placed(self, p: Placed) -> None:
        self._busy = False
        self.say(f"Override {p.id} recorded on {p.override.ticket} ({p.override.kind}), pending review.")
        self.app.post_message(QueueStale())  # the dialog closes now: not one to bubble through
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
    for name, was, will in rows:
        changed = will != was
        lines.append(
            Content.assemble(
                f"{name:<11} {was:<{bw}}",
                (f"{will:<{aw}}", "bold" if changed else "dim"),
                ("(changed)" if changed else "", "bold"),
            )
        )
    if not any(a != b for _n, b, a in rows):
        lines.append(Content.styled("nothing shown here changes (the override is on the record)", "dim"))
    return Content("\n").join(lines)
