"""What the lookups print: tables for people, JSON and CSV for scripts (README, "JSON"; docs/formats.md).

Lookups run over SSH in one-second budgets, so this module imports nothing heavy
(no Textual, no rich): the tables are fixed-width text laid out here.

- Tables fit 80 columns (wider only on a wider terminal) and measure text in
  terminal cells, so a wide character never pushes a column out of line. Colour
  is added only on a terminal, never when `NO_COLOR` is set (no-color.org) or
  `TERM=dumb`; every state is also written as a word.
- Untrusted text (titles, names, justifications) passes `safe_text` in tables and
  CSV: escape sequences and bidi controls never reach the reader's terminal.
  CSV free-text cells starting with `= + - @` get a leading `'`, so a spreadsheet
  never runs a ticket title as a formula.
- JSON keeps the original text (scripts want it); C1 controls and bidi controls
  are written as `\\uXXXX` escapes, so the JSON is safe to print to a terminal too.
- Instants are ISO 8601 UTC (`...Z`) in JSON and CSV, `YYYY-MM-DD HH:MMZ` in tables.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sladesk_tui.core.clocks import CLOCKS
from sladesk_tui.core.durations import format_clock_duration, format_countdown
from sladesk_tui.core.events import OPTIONAL_FIELDS
from sladesk_tui.core.override_effects import FIGURE_KEYS, clock_figures, iso_z
from sladesk_tui.core.queue import BADGES, cell_text, counts
from sladesk_tui.core.text import BIDI_AND_SEPARATORS, cells, counted, fit, safe_text
from sladesk_tui.core.timeline import timeline_lines, visible_segments

if TYPE_CHECKING:
    from sladesk_tui.core.availability import Availability
    from sladesk_tui.core.clocks import Clock
    from sladesk_tui.core.evaluate import TicketClocks
    from sladesk_tui.core.override_log import LogEntry, OperatorStats
    from sladesk_tui.core.queue import QueueRow
    from sladesk_tui.core.report import AgreementSummary, Report, ReportRow
    from sladesk_tui.core.tickets import TicketRecord

MIN_WIDTH = 80
_SHORT_CELL = 8  # values this short (ids, times, counts) are never cut to fit a table
QueueItem = tuple["QueueRow", "TicketRecord", "TicketClocks"]

_SGR = {
    "breached": "1;31",
    "at_risk": "33",
    "paused": "36",
    "ok": "32",
    "met": "32",
    "exempt": "35",
    "dim": "2",
    "bold": "1",
}
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_JSON_UNSAFE = re.compile("[\u007f-\u009f" + "".join(chr(c) for c in sorted(BIDI_AND_SEPARATORS)) + "]")


# ---- the terminal ---------------------------------------------------------------------


class Style:
    """Colour on or off, decided once per command from the stream and the environment."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour

    @classmethod
    def for_stream(cls, stream: IO[str]) -> Style:
        isatty = getattr(stream, "isatty", None)
        on = bool(isatty and isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        return cls(on)

    def __call__(self, text: str, what: str) -> str:
        code = _SGR.get(what)
        if not self.colour or not code or not text:
            return text
        return f"\x1b[{code}m{text}\x1b[0m"


def table_width(stream: IO[str]) -> int:
    """The terminal's width on a terminal, at least 80; 80 when piped."""
    isatty = getattr(stream, "isatty", None)
    if isatty and isatty():
        return max(MIN_WIDTH, shutil.get_terminal_size((MIN_WIDTH, 24)).columns)
    return MIN_WIDTH


def instant(ts: float | None) -> str:
    if ts is None:
        return ""
    d = dt.datetime.fromtimestamp(ts, dt.UTC)
    return f"{d.year:04d}-{d:%m-%d %H:%M}Z"  # %Y is not zero-padded: year 1 read "1-01-01"


def dump_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def csv_text(s: str | None) -> str:
    """A free-text CSV cell: control characters neutralised, never a spreadsheet formula."""
    t = safe_text(s)
    return "'" + t if t.startswith(_CSV_FORMULA) else t


def _pct(r: float | None, digits: int = 1) -> str:
    return "" if r is None else f"{r * 100:.{digits}f}%"


def _round(x: float | None, n: int = 6) -> float | None:
    return None if x is None else round(x, n)


# ---- sladesk queue ---------------------------------------------------------------------


def queue_json(items: Sequence[QueueItem], now: float) -> list[dict[str, Any]]:
    """The queue list of the README's "JSON" section; text as recorded (the row's is made safe for tables)."""
    return [
        {
            "id": rec.id,
            "title": rec.title,
            "priority": rec.priority,
            "status": rec.status,
            "agreement": rec.agreement_id,
            "customer": rec.customer,
            "assignee": rec.assignee,
            "state": row.state_at(now),
            "clocks": clock_figures(tc.adjusted),
        }
        for row, rec, tc in items
    ]


def queue_csv(items: Sequence[QueueItem], now: float) -> str:
    header = ["id", "priority", "state", "status", "agreement", "customer", "assignee", "title"]
    for name in CLOCKS:
        header += [f"{name}_state", f"{name}_due_at", f"{name}_remaining_s"]
    out = []
    for r, _rec, tc in items:
        line: list[Any] = [
            csv_text(r.id),
            r.priority,
            r.state_at(now),
            r.status,
            r.agreement_id or "",
            csv_text(r.customer),
            csv_text(r.assignee),
            csv_text(r.title),
        ]
        figs = clock_figures(tc.adjusted)
        for name in CLOCKS:
            f = figs.get(name, {})
            line += [
                f.get("state", ""),
                f.get("due_at") or "",
                "" if f.get("remaining_s") is None else f["remaining_s"],
            ]
        out.append(line)
    return _csv(header, out)


_TITLE_KEEPS = 12  # cells of title the queue table keeps before it widens a clock column


def queue_table(
    items: Sequence[QueueItem],
    now: float,
    *,
    style: Style,
    width: int = MIN_WIDTH,
    as_of: float | None = None,
) -> str:
    """`ticket pri state reply resolution customer title`, most urgent first.

    The clock columns widen to their longest cell (`upd paused 138h 50m`) while the
    title keeps at least `_TITLE_KEEPS` cells: a cut countdown is worse than a
    shorter title, which the ticket lookup shows whole.
    """
    rows = []
    for r, _rec, _tc in items:
        reply, label = r.reply_cell
        reply_text = cell_text(r, reply, now, compact=True)
        if label and reply_text:
            reply_text = f"{label} {reply_text}"
        state = r.state_at(now)
        word = BADGES.get(state, "ok" if state == "ok" else "")
        cols = [r.id, r.priority, word, reply_text, cell_text(r, r.resolution, now, compact=True)]
        rows.append((state, [*cols, r.customer, r.title]))
    widths = [10, 3, 9, 13, 13, 10]
    title_w = max(10, width - sum(widths) - len(widths))
    for i in (3, 4):  # reply, resolution
        longest = max((cells(cols[i]) for _s, cols in rows), default=0)
        grow = max(0, min(longest - widths[i], title_w - _TITLE_KEEPS))
        widths[i] += grow
        title_w -= grow
    all_w = (*widths, title_w)
    head = ["ticket", "pri", "state", "reply", "resolution", "customer", "title"]
    lines = [style(" ".join(fit(h, w) for h, w in zip(head, all_w, strict=False)).rstrip(), "bold")]
    for state, cols in rows:
        text = [fit(c, w) for c, w in zip(cols, all_w, strict=False)]
        text[2] = style(text[2], state)
        lines.append(" ".join(text).rstrip())
    n = counts((r for r, _rec, _tc in items), now)
    summary = f"{n.open} open · {n.breached} breached · {n.at_risk} at risk · {n.paused} paused"
    when = f" · as of {instant(as_of)}" if as_of is not None else ""
    lines.append(style(summary + when, "dim"))
    return "\n".join(lines) + "\n"


# ---- sladesk ticket --------------------------------------------------------------------


def ticket_json(record: TicketRecord, tc: TicketClocks, *, as_of: float | None = None) -> dict[str, Any]:
    zone = _zone_of(tc)
    return {
        "id": record.id,
        "title": record.title,
        "customer": record.customer,
        "service": record.service,
        "agreement": record.agreement_id,
        "agreement_version": record.agreement_version,
        "no_agreement_reason": tc.reason,
        "priority": record.priority,
        "status": record.status,
        "assignee": record.assignee,
        "as_of": None if as_of is None else iso_z(as_of),
        "zone": str(zone),
        "clocks": _clocks_json(tc.adjusted),
        "raw_clocks": _clocks_json(tc.raw),
        "overrides": [_override_json(o, record) for o in record.overrides],
        "events": [_event_json(e) for e in record.events],
    }


def _clocks_json(clocks: Mapping[str, Clock]) -> dict[str, Any]:
    figs = clock_figures(clocks)
    for name, fig in figs.items():
        c = clocks[name]
        fig["reason"] = c.reason
        if c.cycles:
            fig["cycles"] = c.cycles
            fig["breached_cycles"] = c.breached_cycles
        fig["explanation"] = [
            {"from": iso_z(s.start), "to": iso_z(s.end), "kind": s.kind, "note": s.note or None}
            for s in visible_segments(c.explanation)
        ]
    return figs


def _override_json(o: Any, record: TicketRecord) -> dict[str, Any]:
    from sladesk_tui.core.override_log import override_fields  # not on the path of a lookup without overrides

    reviews = [r for r in record.reviews if r.override_id == o.id]
    return {
        "id": o.id,
        **override_fields(o),
        "reviews": [
            {
                "id": r.id,
                "decision": r.decision,
                "reviewer": r.reviewer,
                "at": iso_z(r.at),
                "comment": r.comment,
            }
            for r in reviews
        ],
    }


_EVENT_FIELDS = OPTIONAL_FIELDS


def _event_json(e: Any) -> dict[str, Any]:
    """The event's own fields, then who brought it in: `author` is what the ticketing
    system claims, `recorded_by` the login that stored it (docs/roles.md)."""
    d: dict[str, Any] = {"id": e.id, "type": e.type, "at": iso_z(e.at)}
    for f in _EVENT_FIELDS:
        v = getattr(e, f)
        if v is not None:
            d[f] = v
    if e.recorded_by is not None:
        d["recorded_by"] = e.recorded_by
        d["source"] = e.source
        d["local"] = e.is_local
    return d


def _event_origin(e: Any) -> str:
    """'LOCAL sam ' (an agent in the app) or 'via svc-feed ' (the login that brought it in),
    before the event's fields so that a narrow terminal never cuts it off."""
    if e.recorded_by is None:
        return ""
    return f"{'LOCAL' if e.is_local else 'via'} {safe_text(e.recorded_by)}  "


def ticket_csv(record: TicketRecord, tc: TicketClocks) -> str:
    """One line per clock and view (adjusted, raw): the figures of the JSON clock object (README, "JSON")."""
    out = []
    for view, clocks in (("adjusted", tc.adjusted), ("raw", tc.raw)):
        for name, fig in clock_figures(clocks).items():
            out.append(
                [csv_text(record.id), view, name, *("" if fig[k] is None else fig[k] for k in FIGURE_KEYS)]
            )
    return _csv(["ticket", "view", "clock", *FIGURE_KEYS], out)


def ticket_table(
    record: TicketRecord,
    tc: TicketClocks,
    now: float,
    *,
    style: Style,
    width: int = MIN_WIDTH,
    as_of: float | None = None,
) -> str:
    zone = _zone_of(tc)
    out: list[str] = []
    out.append(style(fit(f"{safe_text(record.id)}  {safe_text(record.title)}", width).rstrip(), "bold"))
    agreement = (
        f"{safe_text(record.agreement_id)} (v{record.agreement_version})"
        if record.agreement_id
        else safe_text(tc.reason or "no agreement in force")
    )
    facts = [
        f"customer {safe_text(record.customer)}",
        f"service {safe_text(record.service) or '-'}",
        f"agreement {agreement}",
        f"priority {safe_text(record.priority)}",
        f"status {safe_text(record.status)}",
        f"assignee {safe_text(record.assignee) or 'unassigned'}",
    ]
    out += textwrap.wrap(" · ".join(facts), width)
    out.append(
        style(f"{'as of' if as_of is not None else 'now'} {instant(now)} · times UTC, timeline {zone}", "dim")
    )
    out.append("")
    out += _clock_table(tc.adjusted, "adjusted (overrides applied)" if tc.differs else "clocks", style)
    if tc.differs:
        out.append("")
        out += _clock_table(tc.raw, "raw (overrides ignored)", style)
    for name in CLOCKS:
        c = tc.adjusted.get(name)
        if c is None or not c.explanation:
            continue
        out.append("")
        out.append(style(f"why: {name}", "bold"))
        out += [fit("  " + line, width).rstrip() for line in timeline_lines(c.explanation, zone)]
    out.append("")
    out.append(style(f"history ({counted(len(record.events), 'event')})", "bold"))
    for e in record.events:
        out.append(fit(f"{instant(e.at)}  {e.type:<14} {_event_origin(e)}{_event_words(e)}", width).rstrip())
    out.append("")
    out.append(style(f"overrides ({len(record.overrides)})", "bold"))
    for o in record.overrides:
        # Wrapped, never cut: a long operator name or reason code must not cost the status.
        # The instant stays whole (NUL holds its space; safe_text leaves none in the text).
        when = instant(o.at).replace(" ", "\0")
        head = (
            f"#{o.id} {o.kind} {o.clock or 'all clocks'} by {safe_text(o.operator)} at {when}"
            f" · {o.reason} · {o.status.upper()}"
        )
        out += [
            fit(line.replace("\0", " "), width).rstrip()
            for line in textwrap.wrap(
                head, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
            )
        ]
        out += textwrap.wrap(
            safe_text(o.justification), width, initial_indent="    ", subsequent_indent="    "
        )
        for r in record.reviews:
            if r.override_id == o.id:
                note = f": {safe_text(r.comment)}" if r.comment else ""
                out += textwrap.wrap(
                    f"{r.decision} by {safe_text(r.reviewer)} at {instant(r.at)}{note}",
                    width,
                    initial_indent="    ",
                    subsequent_indent="      ",
                )
    return "\n".join(out) + "\n"


def _clock_table(clocks: Mapping[str, Clock], title: str, style: Style) -> list[str]:
    widths = (11, 9, 9, 9, 10, 30)
    head = ("clock", "state", "target", "elapsed", "remaining", "due / breached / stopped")
    lines = [style(title, "bold"), " ".join(fit(h, w) for h, w in zip(head, widths, strict=False)).rstrip()]
    for name in CLOCKS:
        c = clocks.get(name)
        if c is None:
            continue
        state = "missed" if c.state == "breached" and c.stopped_at is not None else c.state
        if c.state == "n/a":
            lines.append(
                f"{fit(name, widths[0])} {style(fit('n/a', widths[1]), 'dim')} {safe_text(c.reason or '')}".rstrip()
            )
            continue
        when = ""
        if c.stopped_at is not None:
            when = f"stopped {instant(c.stopped_at)}"
        elif c.due_at is not None:
            when = f"due {instant(c.due_at)}"
        elif c.resumes_at is not None:
            when = f"paused until {instant(c.resumes_at)}"
        if c.breached_at is not None and c.stopped_at is None:
            when = f"breached {instant(c.breached_at)}"
        cols = [
            name,
            state,
            format_countdown(c.target_s),
            format_countdown(c.elapsed_s),
            format_countdown(c.remaining_s),
            when,
        ]
        text = [fit(v, w) for v, w in zip(cols, widths, strict=False)]
        text[1] = style(text[1], c.state)
        lines.append(" ".join(text).rstrip())
    return lines


def _event_words(e: Any) -> str:
    parts = [f"{f}={safe_text(getattr(e, f))}" for f in _EVENT_FIELDS if getattr(e, f) is not None]
    return " ".join(parts)


def _zone_of(tc: TicketClocks) -> dt.tzinfo:
    if tc.calendar is not None:
        return tc.calendar.zone
    return ZoneInfo("UTC")


# ---- sladesk report --------------------------------------------------------------------


def report_json(report: Report) -> dict[str, Any]:
    return {
        "from": report.period.first.isoformat(),
        "to": report.period.last.isoformat(),
        "period": report.period.label,
        "basis": report.basis,
        "source": report.source,
        "as_of": None if report.as_of is None else iso_z(report.as_of),
        "by": report.by,
        "rows": [_row_json(r) for r in report.rows],
        "agreements": [_agreement_json(a) for a in report.agreements],
    }


def _row_json(r: ReportRow) -> dict[str, Any]:
    c = r.counts
    d: dict[str, Any] = {"agreement": r.agreement, "priority": r.priority}
    if r.operator is not None:
        d["operator"] = r.operator or None
    d.update(
        {
            "clock": r.clock,
            "tickets": c.tickets,
            "raw": {"met": c.raw_met, "breached": c.raw_breached, "rate": _round(c.raw_rate)},
            "adjusted": {"met": c.met, "breached": c.breached, "exempt": c.exempt, "rate": _round(c.rate)},
            "penalty": r.penalty,
            "penalty_raw": r.penalty_raw,
            "currency": r.currency,
        }
    )
    return d


def _agreement_json(a: AgreementSummary) -> dict[str, Any]:
    c = a.counts
    p = a.penalty
    return {
        "agreement": a.id,
        "name": a.name,
        "customer": a.customer,
        "version": a.version,
        "tickets": c.tickets,
        "raw": {"met": c.raw_met, "breached": c.raw_breached, "rate": _round(c.raw_rate)},
        "adjusted": {"met": c.met, "breached": c.breached, "exempt": c.exempt, "rate": _round(c.rate)},
        "penalty": None
        if p is None
        else {
            "currency": p.currency,
            "per_breach": dict(p.per_breach),
            "monthly_cap": p.monthly_cap,
            "raw": p.raw,
            "adjusted": p.adjusted,
            "raw_uncapped": p.raw_uncapped,
            "adjusted_uncapped": p.adjusted_uncapped,
        },
        "availability_target": a.availability_target,
        "availability": [_availability_json(v) for v in a.availability],
        "valid_until": None if a.valid_until is None else a.valid_until.isoformat(),
        "days_left": a.days_left,
        "expiring_soon": a.expiring,
        "expired": a.expired,
    }


def _availability_json(v: Availability) -> dict[str, Any]:
    return {
        "service": v.service,
        "target": v.target,
        "availability": round(v.ratio * 100, 4),
        "period_s": v.period_s,
        "downtime_s": _round(v.downtime_s),
        "outages": v.outages,
        "allowed_downtime_s": _round(v.allowed_downtime_s),
        "budget_left_s": _round(v.budget_left_s),
        "met": v.met,
    }


def report_csv(report: Report) -> str:
    header = [
        "period",
        "agreement",
        "priority",
        "operator",
        "clock",
        "tickets",
        "raw_met",
        "raw_breached",
        "raw_rate",
        "met",
        "breached",
        "exempt",
        "rate",
        "penalty_raw",
        "penalty",
        "currency",
    ]
    rows = []
    for r in report.rows:
        c = r.counts
        rows.append(
            [
                report.period.label,
                r.agreement,
                r.priority or "",
                csv_text(r.operator),
                r.clock,
                c.tickets,
                c.raw_met,
                c.raw_breached,
                "" if c.raw_rate is None else round(c.raw_rate, 6),
                c.met,
                c.breached,
                c.exempt,
                "" if c.rate is None else round(c.rate, 6),
                "" if r.penalty_raw is None else r.penalty_raw,
                "" if r.penalty is None else r.penalty,
                r.currency or "",
            ]
        )
    return _csv(header, rows)


_REPORT_COLS = (9, 11, 5, 6, 6, 7, 7, 6, 5, 7, 10)
_NAME_WIDER = 16  # at most this many more cells for the first column on a wide terminal


def report_table(report: Report, *, style: Style, width: int = MIN_WIDTH) -> str:
    p = report.period
    when = (
        f"as of {instant(report.as_of)}, {report.source}"
        if report.as_of is not None
        else f"from {report.source}"
    )
    out = [style(f"Compliance {p.label} ({p.first} to {p.last})", "bold")]
    out += textwrap.wrap(f"{report.basis[0].upper()}{report.basis[1:]}; {when}.", width)
    first = {"priority": "priority", "operator": "operator", "agreement": ""}[report.by]
    # Operator names are long: on a wide terminal their column takes some of the spare cells.
    spare = max(0, width - sum(_REPORT_COLS) - 1) if report.by == "operator" else 0
    cols = (_REPORT_COLS[0] + min(spare, _NAME_WIDER), *_REPORT_COLS[1:])
    by_agreement: dict[str, list[ReportRow]] = {}
    for r in report.rows:
        by_agreement.setdefault(r.agreement, []).append(r)
    shown = [a.id for a in report.agreements] + [a for a in by_agreement if report.for_agreement(a) is None]
    if not shown:
        out.append("")
        out.append("No agreement and no stopped clock in this period.")
    for aid in shown:
        summary = report.for_agreement(aid)
        out.append("")
        title = aid if summary is None else f"{aid} · {safe_text(summary.name)} · v{summary.version}"
        out.append(style(fit(title, width).rstrip(), "bold"))
        rows = by_agreement.get(aid, [])
        if rows:
            lead, raw_w, adj_w = sum(cols[:3]), sum(cols[3:6]), sum(cols[6:10])
            out.append(
                " " * lead
                + fit(" " + "raw".center(raw_w - 1, "-"), raw_w)
                + fit(" " + "adjusted".center(adj_w - 1, "-"), adj_w)
            )
            out.append(
                _cols(
                    [first, "clock", "n", "met", "brch", "rate", "met", "brch", "exmp", "rate", "penalty"],
                    cols,
                ).rstrip()
            )
            for r in rows:
                out.append(_row_line(r, report.by, style, cols))
        else:
            out.append(style("no clock stopped in this period", "dim"))
        if summary is not None:
            out += _summary_lines(summary, style, width)
    return "\n".join(out) + "\n"


def _cols(
    values: Sequence[str],
    widths: Sequence[int],
    colours: Sequence[str | None] = (),
    style: Style | None = None,
) -> str:
    """One line of the report table; every cell keeps a blank cell between it and its neighbour.

    The two text columns (priority or operator, clock) are cut with `…` one cell short
    of their width; figures are right-aligned after a blank and never cut (a wrong
    number is worse than a ragged line).
    """
    parts = []
    for i, (v, w) in enumerate(zip(values, widths, strict=False)):
        text = fit(v, w - 1) + " " if i < 2 else " " + " " * max(0, w - 1 - cells(v)) + v
        if style is not None and i < len(colours) and colours[i]:
            text = style(text, colours[i])  # type: ignore[arg-type]  # colours[i] is a str here (checked just above)
        parts.append(text)
    return "".join(parts)


def _row_line(r: ReportRow, by: str, style: Style, widths: Sequence[int]) -> str:
    from sladesk_tui.core.report import format_money  # here: a queue lookup need not load reports

    c = r.counts
    first = {"priority": r.priority or "", "operator": safe_text(r.operator) or "(none)", "agreement": "all"}[
        by
    ]
    values = [
        first,
        r.clock,
        str(c.tickets),
        str(c.raw_met),
        str(c.raw_breached),
        _pct(c.raw_rate),
        str(c.met),
        str(c.breached),
        str(c.exempt),
        _pct(c.rate),
        format_money(r.penalty),
    ]
    colours: list[str | None] = [None] * 11
    if c.raw_breached:
        colours[4] = "breached"
    if c.breached:
        colours[7] = "breached"
    return _cols(values, widths, colours, style).rstrip()


def _summary_lines(a: AgreementSummary, style: Style, width: int) -> list[str]:
    from sladesk_tui.core.report import format_money  # here: a queue lookup need not load reports

    out: list[str] = []
    c = a.counts
    if c.tickets:
        out.append(
            f"total {c.tickets}: raw {_pct(c.raw_rate) or '-'} met, adjusted {_pct(c.rate) or '-'} met"
            f" ({c.exempt} exempt)"
        )
    p = a.penalty
    if p is not None:
        cap = f", cap {format_money(p.monthly_cap)}/month" if p.monthly_cap is not None else ""
        line = f"penalty {p.currency} {format_money(p.adjusted)} adjusted, {format_money(p.raw)} raw{cap}"
        if p.adjusted_uncapped > p.adjusted or p.raw_uncapped > p.raw:
            line += f" (uncapped {format_money(p.adjusted_uncapped)} / {format_money(p.raw_uncapped)})"
        out += textwrap.wrap(line, width)
    if a.availability_target is not None:
        if not a.availability:
            out.append(f"availability target {a.availability_target:g}%: no outage recorded")
        for v in a.availability:
            out += _availability_lines(v, style, width)
    if a.valid_until is not None and (a.expiring or a.expired):
        if a.expired:
            out.append(style(f"EXPIRED on {a.valid_until}", "breached"))
        else:
            out.append(style(f"EXPIRES SOON: last day {a.valid_until} (in {a.days_left} days)", "at_risk"))
    return out


def _availability_lines(v: Availability, style: Style, width: int) -> list[str]:
    """One line when it fits, else the figures on a second, indented line: a long
    service name may be cut, the percentage, the downtime and the budget never are."""
    word = "MET" if v.met else "MISSED"
    verdict = style(word, "met" if v.met else "breached")
    left = format_countdown(v.budget_left_s or 0.0)
    figures = f"down {format_clock_duration(v.downtime_s)}, budget left {left}"
    ratio = f"{v.ratio * 100:.3f}% (target {v.target:g}%):"
    service = safe_text(v.service)
    if cells(f"availability {service} {ratio} {figures} {word}") <= width:
        return [f"availability {service} {ratio} {figures} {verdict}"]
    room = max(1, width - cells(f"availability  {ratio}"))
    return [f"availability {fit(service, room).rstrip()} {ratio}", f"  {figures} {verdict}"]


# ---- sladesk overrides -----------------------------------------------------------------


def overrides_csv(entries: Sequence[LogEntry]) -> str:
    from sladesk_tui.core.override_log import csv_row

    return rows_csv([csv_row(e) for e in entries])


def overrides_table(entries: Sequence[LogEntry], *, now: float, width: int = MIN_WIDTH) -> str:
    """One line per override; under it the reason and justification, then the latest review.
    Instants show their year when it is not the current one (`now`)."""
    from sladesk_tui.core.override_log import table_row

    below = []
    for e in entries:
        lines = [f"{e.override.reason}: {e.override.justification}"]
        if e.review is not None:
            said = f": {e.review.comment}" if e.review.comment else ""
            lines.append(f"{e.review.decision} by {e.review.reviewer}{said}")
        below.append(lines)
    return rows_table([table_row(e, now) for e in entries], width=width, below=below)


def stats_csv(stats: Sequence[OperatorStats]) -> str:
    from sladesk_tui.core.override_log import stats_row

    return rows_csv([stats_row(s) for s in stats])


def stats_table(stats: Sequence[OperatorStats], *, width: int = MIN_WIDTH) -> str:
    """One line of figures per operator; the kinds and reasons they used below it."""
    from sladesk_tui.core.override_log import stats_row

    rows = [stats_row(s) for s in stats]
    # Clocks moved by hand in the app (docs/roles.md): a column only when someone did,
    # so that the usual table keeps its width for the operator's name.
    hidden = ("by_",) if any(s.local_actions for s in stats) else ("by_", "local")
    return rows_table(
        [{k: v for k, v in r.items() if not k.startswith(hidden)} for r in rows],
        width=width,
        below=[[f"kinds: {r['by_kind']}", f"reasons: {r['by_reason']}"] for r in rows],
    )


def rows_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of one shape as CSV with a header (nothing at all for no rows); free text via `csv_text`."""
    if not rows:
        return ""
    return _csv(
        list(rows[0]), ([v if isinstance(v, int | float) else csv_text(v) for v in r.values()] for r in rows)
    )


def rows_table(
    rows: Sequence[Mapping[str, Any]], *, width: int = MIN_WIDTH, below: Sequence[Sequence[str]] | None = None
) -> str:
    """Rows of one shape as aligned columns, every cell `safe_text`. `below` gives each row
    indented lines of free text under it, white space folded and cut to `width`."""
    if not rows:
        return "(none)\n"
    columns = list(rows[0])
    table = [[safe_text("" if v is None else str(v)) for v in r.values()] for r in rows]
    natural = [max(cells(c), *(cells(row[i]) for row in table)) for i, c in enumerate(columns)]
    floors = [max(cells(c), min(n, _SHORT_CELL)) for c, n in zip(columns, natural, strict=True)]
    widths = _shrink(natural, floors, width - 2 * (len(columns) - 1))
    lines = ["  ".join(fit(c, w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    for i, row in enumerate(table):
        lines.append("  ".join(fit(v, w) for v, w in zip(row, widths, strict=True)).rstrip())
        for text in below[i] if below else ():
            lines.append("    " + fit(safe_text(" ".join(text.split())), width - 4).rstrip())
    return "\n".join(lines) + "\n"


def _shrink(widths: list[int], floors: Sequence[int], room: int) -> list[int]:
    """Column widths that fit `room` cells: the column with the most to spare gives a cell at a time.

    A long operator name or ticket id is then cut with `…` (by `fit`) instead of
    pushing every column after it past the edge. No column goes below its floor
    (its header, and short values such as ids whole), so a table too wide even then
    stays wide rather than unreadable.
    """
    widths = list(widths)
    while sum(widths) > room:
        i = max(range(len(widths)), key=lambda k: widths[k] - floors[k])
        if widths[i] <= floors[i]:
            break
        widths[i] -= 1
    return widths
