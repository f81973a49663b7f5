"""The compliance screen (key `c`): how each agreement did in a month, raw beside adjusted.

Per agreement, each clock's met share as a plain Unicode bar, without overrides
(raw) and with them (adjusted), then the penalties owed, the availability of its
services and a warning when the agreement is about to expire. `[`/`]` (or the
arrow keys) step through the months.

No plotting widget: a bar per clock is one line of text, which any terminal over
SSH draws, a screen reader reads and a snapshot test pins; a chart library would
add a dependency for less. The bars use two glyphs (█ met, ░ breached) so they
read without colour; the colours come from theme variables.

The report is the one `sladesk report` prints (`store.reports.compliance_report`,
the stored daily rollup), computed in a thread worker on its own read-only
connection. Each load carries a generation number, so paging quickly through
months never shows an older month's figures under a newer title.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Static

from sladesk_tui.core.durations import format_clock_duration
from sladesk_tui.core.report import Counts, Period, Report, format_money
from sladesk_tui.core.text import safe_text
from sladesk_tui.tui.background import BackgroundScreen

if TYPE_CHECKING:
    from sladesk_tui.core.report import AgreementSummary

BAR_WIDTH = 24
MET, BREACHED = "█", "░"


def bar(met: int, breached: int, width: int = BAR_WIDTH) -> tuple[str, str]:
    """(met part, breached part) of a bar `width` cells long; nothing decided: all blank.

    Rounded so that any breach shows at least one cell: a lead must see it.
    """
    total = met + breached
    if total == 0:
        return "", ""
    n_breached = max(1, round(width * breached / total)) if breached else 0
    return MET * (width - n_breached), BREACHED * n_breached


def bar_line(
    label: str, view: str, met: int, breached: int, exempt: int | None, rate: float | None
) -> Content:
    filled, missed = bar(met, breached)
    pad = " " * (BAR_WIDTH - len(filled) - len(missed))
    rate_text = "   -  " if rate is None else f"{rate * 100:5.1f}%"
    tail = f"{met} met · {breached} breached" + (f" · {exempt} exempt" if exempt else "")
    return Content.from_markup(
        "$label $view [$success]$filled[/][$error]$missed[/]$pad $rate  [$text-muted]$tail[/]",
        label=f"{label:<11}",
        view=view,
        filled=filled,
        missed=missed,
        pad=pad,
        rate=rate_text,
        tail=tail,
    )


def clock_lines(clock: str, c: Counts) -> list[Content]:
    return [
        bar_line(clock, "raw", c.raw_met, c.raw_breached, None, c.raw_rate),
        bar_line("", "adj", c.met, c.breached, c.exempt, c.rate),
    ]


def summary_lines(a: AgreementSummary) -> list[Content]:
    """Penalties, availability and expiry, as words (colour only repeats them)."""
    out: list[Content] = []
    p = a.penalty
    if p is not None:
        cap = f" · cap {format_money(p.monthly_cap)}/month" if p.monthly_cap is not None else ""
        out.append(
            Content.from_markup(
                "penalty [bold]$cur $adj[/] adjusted · $raw raw$cap",
                cur=p.currency,
                adj=format_money(p.adjusted),
                raw=format_money(p.raw),
                cap=cap,
            )
        )
    for v in a.availability:
        left = v.budget_left_s or 0.0
        left_text = format_clock_duration(left) if left >= 0 else "-" + format_clock_duration(left)
        verdict = "[$success]MET[/]" if v.met else "[$error]MISSED[/]"
        out.append(
            Content.from_markup(
                "availability $service $pct of $target% · budget left $left  " + verdict,
                service=safe_text(v.service),
                pct=f"{v.ratio * 100:.3f}%",
                target=f"{v.target:g}",
                left=left_text,
            )
        )
    if a.availability_target is not None and not a.availability:
        out.append(Content(f"availability target {a.availability_target:g}%: no outage recorded"))
    if a.expired and a.valid_until is not None:
        out.append(Content.from_markup("[$error]EXPIRED[/] on $d", d=a.valid_until.isoformat()))
    elif a.expiring and a.valid_until is not None:
        out.append(
            Content.from_markup(
                "[$warning]EXPIRES SOON[/]: last day $d (in $n days)",
                d=a.valid_until.isoformat(),
                n=str(a.days_left),
            )
        )
    return out


def period_title(period: Period) -> str:
    if period.is_month:
        return period.first.strftime("%B %Y")
    return f"{period.first} to {period.last}"


class AgreementBlock(Vertical):
    """One agreement's figures; every text is built from plain values (`Content`, never markup of data)."""

    def __init__(
        self, summary: AgreementSummary | None, agreement_id: str, rows: list[tuple[str, Counts]]
    ) -> None:
        super().__init__(classes="agreement")
        self._summary = summary
        self._id = agreement_id
        self._rows = rows

    def compose(self) -> ComposeResult:
        s = self._summary
        name = f" · {safe_text(s.name)}" if s is not None and s.name != s.id else ""
        total = sum(c.tickets for _clock, c in self._rows)
        yield Static(
            Content.assemble((safe_text(self._id), "bold"), name, f" · {total} clocks stopped"),
            classes="agreement-title",
        )
        if not self._rows:
            yield Static(Content("no clock stopped in this period"), classes="muted")
        for clock, counts in self._rows:
            yield Static(Content("\n").join(clock_lines(clock, counts)), classes="bars")
        if s is not None:
            lines = summary_lines(s)
            if lines:
                yield Static(Content("\n").join(lines), classes="terms")


class ComplianceScreen(BackgroundScreen[None]):
    """Compliance per agreement for one month, raw and adjusted side by side."""

    CSS_PATH = "compliance.tcss"

    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Back to the queue", id="compliance.back"),
        Binding(
            "left_square_bracket,left",
            "previous",
            "Previous month",
            tooltip="The month before",
            id="compliance.previous",
        ),
        Binding(
            "right_square_bracket,right",
            "next",
            "Next month",
            tooltip="The month after",
            id="compliance.next",
        ),
        Binding(
            "t", "this_month", "This month", tooltip="Back to the current month", id="compliance.this-month"
        ),
    ]

    def __init__(self, period: Period | None = None) -> None:
        super().__init__()
        self._period = period
        self.report: Report | None = None

    @property
    def period(self) -> Period:
        if self._period is None:
            self._period = Period.containing(self.desk.now())
        return self._period

    def compose(self) -> ComposeResult:
        yield Static("", id="period-bar")
        yield Static("", id="basis")
        yield VerticalScroll(id="compliance-body")
        yield Footer()

    def on_mount(self) -> None:
        self._show_period()
        self._load()

    # ---- periods ----------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss()

    def action_previous(self) -> None:
        self._period = self.period.shifted(-1)
        self._reload()

    def action_next(self) -> None:
        self._period = self.period.shifted(1)
        self._reload()

    def action_this_month(self) -> None:
        self._period = Period.containing(self.desk.now())
        self._reload()

    def _reload(self) -> None:
        self._load()
        self._show_period()

    def _show_period(self) -> None:
        p = self.period
        state = " · loading…" if self.load_pending or self.report is None else ""
        self.query_one("#period-bar", Static).update(
            Content(f"Compliance · {period_title(p)} · {p.first} to {p.last}{state}")
        )

    # ---- loading ----------------------------------------------------------------------

    def _load(self) -> None:
        from sladesk_tui.store.reports import compliance_report

        period, now = self.period, self.desk.now()
        self.load(
            lambda conn: compliance_report(conn, period, now, by="agreement"),
            failed="Cannot compute the report",
            readonly=True,
        )

    async def show(self, report: Report) -> None:
        self.report = report
        self._show_period()
        self.query_one("#basis", Static).update(
            Content(
                f"{report.basis[0].upper()}{report.basis[1:]}. Bars: █ met, ░ breached;"
                " adj applies pending and approved overrides, exempt clocks left out."
            )
        )
        body = self.query_one("#compliance-body", VerticalScroll)
        await body.remove_children()
        await body.mount_all(blocks(report))

    def failed(self, reason: str) -> None:
        """Said in place of the figures: an empty page must not read as a clean month."""
        self.query_one("#basis", Static).update(Content(safe_text(reason)))
        self.query_one("#compliance-body", VerticalScroll).remove_children()


def blocks(report: Report) -> list[Vertical | Static]:
    """One block per agreement: those summarised first (the newest version), then any other with figures."""
    per: dict[str, list[tuple[str, Counts]]] = {}
    for r in report.rows:
        per.setdefault(r.agreement, []).append((r.clock, r.counts))
    ids = [a.id for a in report.agreements] + [a for a in per if report.for_agreement(a) is None]
    if not ids:
        return [Static(Content("No agreement loaded, and no clock stopped in this period."), classes="muted")]
    return [AgreementBlock(report.for_agreement(aid), aid, per.get(aid, [])) for aid in ids]
