"""Hostile ticket text on every screen and in every export (docs/formats.md, "Untrusted text").

One real database, written through the store's own APIs (agreements file, event
ingest, override rules, reviews), whose titles, customer, service and agreement
names, assignees, authors, notes, justifications and review comments carry Textual
markup (`[/]`, `[@click=...]`, `[link=...]`, upper-case tags, nested brackets),
terminal escape sequences (OSC 0 title, OSC 52 clipboard write, OSC 8 hyperlink,
CSI colour and clear-screen, a C1 CSI) and bidi overrides.

What is checked is what reaches the terminal: each screen is rendered by the
compositor exactly as the app would paint it (`render_update(full=True)`), and

- every character of every segment is printable (no ESC, BEL, C1, bidi control);
- the bytes the driver would write carry only the escape sequences Textual makes
  itself (SGR, cursor moves), no title, clipboard, hyperlink or clear-screen one;
- no segment carries a link or an action that came from the data;
- the markup is on screen as text, brackets and all;
- clicking on the would-be `@click` text runs nothing, and the app keeps running.

The app's `Trap` subclass defines `action_pwned`: markup that were obeyed would call it.
Exports: `table` and `csv` come out neutralised with the brackets literal, `json`
keeps the original strings (the database stores them as written).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from support import agreements_db
from textual.pilot import Pilot
from textual.widgets import Input

from sladesk_tui.cli import main
from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.core.text import safe_text
from sladesk_tui.store.db import open_db
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.overrides import place_override, review_override
from sladesk_tui.store.roles import name_first_lead
from sladesk_tui.tui.app import SladeskApp
from sladesk_tui.tui.messages import OpenOverride, OpenTicket

NOW = 1_800_000_000.0  # Friday 2027-01-15 08:00:00 UTC
H = 3600.0
LEAD = "lee"

# ---- the hostile strings ------------------------------------------------------------
# No spaces inside a marker, so word wrapping never splits one across two lines.
MARKUP = (
    "[bold]x[/bold]",
    "[/]",
    "[P1]",
    "[@click=app.pwned]click[/]",
    "[@click=app.quit]quit[/]",
    "[link=https://evil.example]x[/link]",
    "[BOLD]up[/BOLD]",
    "[[b]]",
)
OSC0 = "\x1b]0;pwned\x07"
OSC52 = "\x1b]52;c;aGk=\x07"
OSC8 = "\x1b]8;;https://evil.example\x07here\x1b]8;;\x07"
CSI = "\x1b[31mred\x1b[2J"
C1 = "\x9b31m"
BIDI = "\u202eevil\u202c\u2066iso\u2069"
ESCAPES = (OSC0, OSC52, OSC8, CSI, C1, BIDI)
EVERYTHING = " ".join((*MARKUP, *ESCAPES))

# Names as an agreements file allows them (no control characters, but markup and bidi).
AGREEMENT_NAME = "[@click=app.pwned]Gold[/] [BOLD]plan[/BOLD] \u202eevil"
CUSTOMER = "[b]acme[/b]\u2066"
SERVICE = "[i]erp[/i]\u2069"
# Names as another writer of the event log could store them: escapes too.
ASSIGNEE = f"[@click=app.pwned]kim[/]{OSC52}"
AUTHOR = f"{OSC0}[b]sam[/b]\u202e"
STRANGER = f"{CSI}[red]evil[/red]"  # a customer no agreement covers
NOTE = f"first line {MARKUP[3]}\nsecond {OSC52} {MARKUP[1]}\r\nthird {BIDI} {MARKUP[7]}"
JUSTIFICATION = f"Phoned twice, no answer {MARKUP[3]} {MARKUP[5]} {OSC52} {BIDI}"
COMMENT = f"Not convinced {MARKUP[4]} {CSI} {MARKUP[6]}"
OPERATOR = "[b]eve[/b]\u202e"  # an override's operator (a login name, so no escapes)
HOSTILE_ID = "[@click=app.pwned]X[/]"

# One ticket per hostile string, so each is visible in the queue even at 80 columns.
TITLES: dict[str, str] = {
    f"T-{i:02d}": s
    for i, s in enumerate(
        (
            "[bold]x[/bold] bold",
            "[/] closes",
            "[P1] urgent",
            "[@click=app.pwned]click[/]",
            "[@click=app.quit]quit[/]",
            "[link=https://evil.example]x[/link]",
            "[BOLD]up[/BOLD]",
            "[[b]] nested",
            f"a{OSC0}osc0",
            f"b{OSC52}osc52",
            f"{OSC8}",
            f"{CSI}csi",
            f"{C1}c1",
            f"{BIDI}",
        ),
        start=1,
    )
}

AGREEMENTS = f"""
[[agreement]]
id = "gold"
name = {json.dumps(AGREEMENT_NAME)}
customer = {json.dumps(CUSTOMER)}
services = [{json.dumps(SERVICE)}]
calendar = "24x7"
availability = 99.9

[agreement.targets]
P1 = {{ response = "15m", update = "1h", resolution = "4h" }}
P2 = {{ response = "1h", resolution = "8h" }}

[agreement.penalty]
currency = "EUR"
per_breach = {{ P1 = 500, P2 = 200 }}
"""


def _events() -> list[Event]:
    def created(tid: str, at: float, title: str, **more: str | None) -> Event:
        more.setdefault("customer", CUSTOMER)
        more.setdefault("service", SERVICE)
        more.setdefault("priority", "P2")
        return Event(f"{tid}-c", "created", at, tid, title=title, **more)

    evs = [
        # T-00: everything at once, with a history, a note and overrides (the ticket screen's subject).
        created("T-00", NOW - 2 * H, EVERYTHING, assignee=ASSIGNEE, priority="P1"),
        Event("T-00-n", "note", NOW - 1.9 * H, "T-00", author=AUTHOR, body=NOTE),
        Event("T-00-r", "reply", NOW - 1.8 * H, "T-00", author=AUTHOR, body=EVERYTHING),
        Event("T-00-q", "customer_reply", NOW - 1.5 * H, "T-00", author=STRANGER, body=EVERYTHING),
        *(
            created(tid, NOW - 300 * i, title, assignee=ASSIGNEE if i % 2 else AUTHOR)
            for i, (tid, title) in enumerate(TITLES.items(), start=1)
        ),
        created(HOSTILE_ID, NOW - 1800, "a ticket whose id is markup"),
        created("T-50", NOW - 600, "a customer nobody covers", customer=STRANGER, service=None),
        # Stopped clocks in January (the compliance screen and the report have figures).
        created("T-60", NOW - 6 * H, "resolved already", assignee=ASSIGNEE),
        Event("T-60-r", "reply", NOW - 5.9 * H, "T-60", author=AUTHOR),
        Event("T-60-x", "resolved", NOW - 1 * H, "T-60", author=AUTHOR),
        Event("o-1", "outage_start", NOW - 10 * H, service=SERVICE),
        Event("o-2", "outage_end", NOW - 9.5 * H, service=SERVICE),
    ]
    return [dataclasses.replace(e, seq=i + 1) for i, e in enumerate(evs)]


def build(path: Path) -> Path:
    with agreements_db(path, AGREEMENTS, actor=LEAD) as conn:
        ingest(conn, _events(), actor="importer", source="test")
        name_first_lead(conn, LEAD, actor=LEAD)

        def place(ticket: str, kind: str, operator: str, at: float, **params: object) -> int:
            o = Override(0, ticket, kind, 0.0, operator, "customer_unreachable", JUSTIFICATION, **params)
            return place_override(conn, o, now=at).id

        held = place("T-00", "hold", OPERATOR, NOW - 600, until=NOW + H)
        place("T-00", "extend", "sam", NOW - 500, clock="resolution", by_s=2 * H)
        place("T-02", "extend", OPERATOR, NOW - 400, clock="resolution", by_s=H)
        review_override(conn, held, "reject", reviewer=LEAD, comment=COMMENT, now=NOW - 300)
    return path


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once for the module; every test only reads it."""
    return build(tmp_path_factory.mktemp("hostile") / "hostile.db")


# ---- what reaches the terminal -------------------------------------------------------

# Characters that must never be drawn: C0 (a screen's lines are separate strips, so not
# even a newline), DEL, C1, bidi embeddings/overrides/isolates/marks, line and paragraph
# separators, lone surrogates.
FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ud800-\udfff]"
)
# The sequences Textual itself writes around the text: SGR colours and cursor moves.
OWN_SEQUENCES = re.compile(r"\x1b\[[0-9;]*[mHABCDG]")


@dataclass(frozen=True)
class Shot:
    """A screen as the driver would paint it: its text lines and the raw terminal output."""

    lines: list[str]
    terminal: str
    links: list[str]
    actions: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def cell_of(self, needle: str) -> tuple[int, int]:
        """(x, y) on screen of the first cell of `needle`."""
        for y, line in enumerate(self.lines):
            i = line.find(needle)
            if i >= 0:
                return cell_len(line[:i]), y
        raise AssertionError(f"{needle!r} is not on screen:\n{self.text}")


def shot(app: SladeskApp) -> Shot:
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
        safe_box=False,
    )
    lines, links, actions = [], [], []
    for chops in update.strips:
        line = []
        for strip in chops:
            for seg in strip:
                assert seg.control is None, f"a control segment in a strip: {seg!r}"
                line.append(seg.text)
                if seg.style is not None:
                    if seg.style.link:
                        links.append(seg.style.link)
                    for key, value in (seg.style.meta or {}).items():
                        if key.startswith("@"):
                            actions.append(f"{key}={value}")
        lines.append("".join(line))
    return Shot(lines, update.render_segments(console), links, actions)


def assert_clean(s: Shot) -> None:
    """Nothing from the data acts on the terminal or in the app."""
    for y, line in enumerate(s.lines):
        bad = FORBIDDEN.search(line)
        assert bad is None, f"{bad.group()!r} drawn on line {y}: {line!r}"
    rest = OWN_SEQUENCES.sub("", s.terminal).replace("\n", "")
    bad = FORBIDDEN.search(rest)
    assert bad is None, (
        f"{bad.group()!r} written to the terminal: ...{rest[max(0, bad.start() - 40) : bad.end() + 40]!r}"
    )
    assert "\x1b[2J" not in s.terminal and "\x1b]" not in s.terminal
    assert not [link for link in s.links if "evil" in link], s.links
    assert not [a for a in s.actions if "pwned" in a or "evil" in a], s.actions


def assert_shows(s: Shot, *texts: str) -> None:
    """Each of `texts`, as `safe_text` shows it, is on screen (each word: lines may wrap)."""
    screen = s.text
    for t in texts:
        for word in safe_text(t, multiline=True).split():
            assert word in screen, f"{word!r} (of {t!r}) is not on screen:\n{screen}"


class Trap(SladeskApp):
    """The app with one more action: markup that were obeyed would call it."""

    obeyed = 0

    def action_pwned(self) -> None:
        self.obeyed += 1


def trap(db: Path, operator: str = LEAD) -> Trap:
    return Trap(db, operator, clock=lambda: NOW, poll_interval=0.05, display_tz=dt.UTC)


async def until(pilot: Pilot, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    waited = 0.0
    while not cond():
        assert waited < timeout, "condition not reached"
        await pilot.pause(0.02)
        waited += 0.02


async def click_each(pilot: Pilot, needles: Iterable[str], *, stays: bool = True) -> None:
    """Click on each would-be action on screen: nothing runs, the app stays (on the same
    screen, unless a click on that spot has a meaning of its own)."""
    app = pilot.app
    assert isinstance(app, Trap)
    before = app.screen
    clicked = 0
    for needle in needles:
        s = shot(app)
        if needle not in s.text:
            continue
        x, y = s.cell_of(needle)
        for dx in (1, len(needle) // 2):
            await pilot.click(offset=(x + dx, y))
            await pilot.pause()
            clicked += 1
    assert clicked, "nothing hostile to click on"
    assert app.is_running and app.return_code is None
    assert app.obeyed == 0
    assert app.screen is before or not stays


CLICKABLE = ("[@click=app.pwned]", "[@click=app.quit]", "[link=https://evil", "]8;;https://evil")


# ---- the screens ---------------------------------------------------------------------


async def queue_loaded(pilot: Pilot) -> None:
    from sladesk_tui.tui.screens.queue import QueueScreen

    screen = pilot.app.screen
    assert isinstance(screen, QueueScreen)
    await until(pilot, lambda: screen.ready)
    await pilot.pause()


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_queue(hostile_db: Path, size: tuple[int, int]) -> None:
    async with trap(hostile_db).run_test(size=size, notifications=True) as pilot:
        await queue_loaded(pilot)
        s = shot(pilot.app)
        assert_clean(s)
        rows = {line.split()[0]: line for line in s.lines[2:] if line.strip()}
        shown = [tid for tid in TITLES if tid in rows]
        assert len(shown) >= 10, s.text  # most rows fit even at 80x24
        for tid in shown:
            assert safe_text(TITLES[tid])[:12] in rows[tid], (tid, rows[tid])
        assert "[@click=app.p" in s.text  # the ticket whose id is markup
        if size[0] >= 120:  # wide enough for the customer and assignee columns
            assert safe_text(CUSTOMER) in s.text and safe_text(STRANGER)[:8] in s.text
            assert safe_text(ASSIGNEE)[:7] in s.text and safe_text(AUTHOR)[:7] in s.text
        await click_each(pilot, CLICKABLE)
        assert_clean(shot(pilot.app))

        # The filter line echoes what was typed: a pasted escape and markup stay text.
        await pilot.press("slash")
        await pilot.pause()
        box = pilot.app.screen.query_one(Input)
        box.value = f"[@click=app.pwned]x[/]{OSC0}"
        await pilot.press("enter")
        await pilot.pause(0.2)
        s = shot(pilot.app)
        assert_clean(s)
        await click_each(pilot, ["[@click=app.pwned]"])


async def ticket_opened(pilot: Pilot, ticket_id: str, *, missing: bool = False):
    from sladesk_tui.tui.screens.ticket import TicketScreen

    await queue_loaded(pilot)
    pilot.app.post_message(OpenTicket(ticket_id))
    await until(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, TicketScreen)
            and ("No ticket" in shot(pilot.app).text if missing else pilot.app.screen.ready)
        ),
    )
    await pilot.pause()
    return pilot.app.screen


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_ticket_screen_every_tab(hostile_db: Path, size: tuple[int, int]) -> None:
    async with trap(hostile_db).run_test(size=size, notifications=True) as pilot:
        await ticket_opened(pilot, "T-00")
        s = shot(pilot.app)
        assert_clean(s)
        if size[0] >= 120:
            assert_shows(s, EVERYTHING, CUSTOMER, ASSIGNEE, SERVICE, AGREEMENT_NAME)
        else:
            assert_shows(s, *MARKUP[:4])
        await click_each(pilot, CLICKABLE)

        await pilot.press("e")  # every clock's explanation unfolded
        await pilot.pause()
        assert_clean(shot(pilot.app))

        await pilot.press("2")  # history: titles, notes, authors
        await pilot.pause()
        s = shot(pilot.app)
        assert_clean(s)
        assert safe_text(AUTHOR)[:6] in s.text and "[@click=app.pwned]" in s.text
        await click_each(pilot, CLICKABLE)

        await pilot.press("3")  # overrides: operators, justifications
        await pilot.pause()
        s = shot(pilot.app)
        assert_clean(s)
        assert safe_text(OPERATOR) in s.text
        if size[0] >= 120:
            assert "[@click=app.pwned]click[/]" in s.text
        await click_each(pilot, ("[@click=app.pwned]", "[b]eve[/b]"))

        await pilot.press("question_mark")  # help over the ticket screen
        await pilot.pause()
        assert_clean(shot(pilot.app))


async def test_ticket_whose_id_is_markup(hostile_db: Path) -> None:
    async with trap(hostile_db).run_test(size=(100, 30), notifications=True) as pilot:
        await ticket_opened(pilot, HOSTILE_ID)
        s = shot(pilot.app)
        assert_clean(s)
        assert_shows(s, HOSTILE_ID, "a ticket whose id is markup")
        await click_each(pilot, CLICKABLE)
        await pilot.app.pop_screen()
        await ticket_opened(
            pilot, f"{HOSTILE_ID}{OSC52}-missing", missing=True
        )  # "No ticket ... in this database."
        s = shot(pilot.app)
        assert_clean(s)
        assert "No ticket" in s.text and "[@click=app.pwned]X[/]␛]52;c;aGk=␇-missing" in s.text


async def test_help_over_the_queue(hostile_db: Path) -> None:
    async with trap(hostile_db).run_test(size=(80, 24), notifications=True) as pilot:
        await queue_loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        s = shot(pilot.app)
        assert_clean(s)
        assert "Keys" in s.text


async def test_compliance_screen(hostile_db: Path) -> None:
    from sladesk_tui.tui.screens.compliance import ComplianceScreen

    async with trap(hostile_db).run_test(size=(120, 40), notifications=True) as pilot:
        await queue_loaded(pilot)
        await pilot.press("c")
        await until(
            pilot,
            lambda: isinstance(pilot.app.screen, ComplianceScreen) and pilot.app.screen.report is not None,
        )
        await pilot.pause()
        s = shot(pilot.app)
        assert_clean(s)
        assert_shows(s, AGREEMENT_NAME, SERVICE)  # the agreement's name and its service's availability
        await click_each(pilot, CLICKABLE)


async def test_command_palette_lists_titles_as_text(hostile_db: Path) -> None:
    async with trap(hostile_db).run_test(size=(120, 40), notifications=True) as pilot:
        await queue_loaded(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"T-0")
        await until(pilot, lambda: "[bold]x[/bold]" in shot(pilot.app).text)
        assert_clean(shot(pilot.app))
        await pilot.press(*"0")
        await pilot.pause(0.3)
        s = shot(pilot.app)
        assert_clean(s)
        assert "[@click=app.quit]quit[/]" in s.text
        await click_each(pilot, ["[@click=app.quit]"], stays=False)  # a hit opens its ticket, nothing else
        assert getattr(pilot.app.screen, "ticket_id", None) == "T-00"


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_override_dialog(hostile_db: Path, size: tuple[int, int]) -> None:
    from sladesk_tui.tui.screens.override_dialog import OverrideDialog

    async with trap(hostile_db, operator="sam").run_test(size=size, notifications=True) as pilot:
        await queue_loaded(pilot)
        pilot.app.post_message(OpenOverride("T-00"))
        await until(pilot, lambda: isinstance(pilot.app.screen, OverrideDialog) and pilot.app.screen.ready)
        await pilot.pause()
        s = shot(pilot.app)
        assert_clean(s)
        assert "[bold]x[/bold]" in s.text and "[/]" in s.text
        dialog = pilot.app.screen
        why = dialog.query_one("#ov-why", Input)
        why.value = JUSTIFICATION  # as pasted: markup, an OSC 52 write and bidi overrides
        dialog.query_one("#ov-param", Input).value = f"2h{CSI}"
        await pilot.pause(0.2)
        s = shot(pilot.app)
        assert_clean(s)
        assert "[@click=app.pwned]click[/]" in s.text
        assert why.value == JUSTIFICATION.replace(OSC52, "]52;c;aGk=").replace(BIDI, "eviliso")
        await click_each(pilot, CLICKABLE)


async def review_opened(pilot: Pilot):
    from sladesk_tui.tui.screens.review import ReviewScreen

    await queue_loaded(pilot)
    await pilot.press("L")
    await until(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen) and pilot.app.screen.ready)
    await pilot.pause()
    return pilot.app.screen


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_review_screen_list_detail_figures_filters(hostile_db: Path, size: tuple[int, int]) -> None:
    async with trap(hostile_db).run_test(size=size, notifications=True) as pilot:
        screen = await review_opened(pilot)
        seen: list[str] = []
        for _ in range(3):  # every override's detail: title, justification, review comment, timeline
            s = shot(pilot.app)
            assert_clean(s)
            seen.append(s.text)
            await click_each(pilot, CLICKABLE)
            screen.query_one("#review-list").focus()  # the click focused the detail pane
            await pilot.press("down")
            await pilot.pause(0.2)
        everything = "\n".join(seen)
        assert safe_text(OPERATOR) in everything
        assert "[@click=app.pwned]click[/]" in everything  # the justification (and the title)
        assert "[BOLD]up[/BOLD]" in everything  # the rejection's comment
        if size[0] >= 120:
            assert_shows(Shot(everything.splitlines(), "", [], []), JUSTIFICATION, COMMENT)

        await pilot.press("t")  # per-operator figures
        await until(pilot, lambda: bool(screen.stats))
        await pilot.pause()
        s = shot(pilot.app)
        assert_clean(s)
        assert safe_text(OPERATOR) in s.text
        await click_each(pilot, ["[b]eve[/b]"])
        await pilot.press("t")

        await pilot.press("f")  # the filters, the operator list open
        await pilot.pause()
        await pilot.press("tab", "enter")
        await pilot.pause(0.2)
        s = shot(pilot.app)
        assert_clean(s)
        assert "operator: sam" in s.text and safe_text(OPERATOR) in s.text  # the list is open
        await pilot.press("down", "enter")  # filter on the hostile operator
        await until(pilot, lambda: screen.view is not None and len(screen.view.entries) == 2)
        await pilot.pause()
        s = shot(pilot.app)
        assert_clean(s)
        assert "(filtered)" in s.text


async def test_writes_from_the_screens_notify_in_plain_text(tmp_path: Path) -> None:
    """Taking the markup-named ticket and overriding it: the toasts name it literally."""
    from sladesk_tui.tui.screens.override_dialog import OverrideDialog
    from sladesk_tui.tui.screens.ticket import TicketScreen

    db = build(tmp_path / "writes.db")
    async with trap(db, operator="sam").run_test(size=(120, 40), notifications=True) as pilot:
        screen = await ticket_opened(pilot, HOSTILE_ID)
        assert isinstance(screen, TicketScreen)
        await pilot.press("a")  # take it: "[@click=app.pwned]X[/] is assigned to you."
        await until(pilot, lambda: "assigned to you" in shot(pilot.app).text)
        s = shot(pilot.app)
        assert_clean(s)
        assert f"{HOSTILE_ID} is assigned to you." in s.text
        await click_each(pilot, ["[@click=app.pwned]X[/] is"])

        await pilot.press("o")
        await until(pilot, lambda: isinstance(pilot.app.screen, OverrideDialog) and pilot.app.screen.ready)
        dialog = pilot.app.screen
        dialog.query_one("#ov-reason").value = "customer_unreachable"
        dialog.query_one("#ov-param", Input).value = "2027-01-15T09:00:00Z"  # a hold until then
        dialog.query_one("#ov-why", Input).value = JUSTIFICATION
        await pilot.pause(0.2)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: pilot.app.screen is screen and "recorded on" in shot(pilot.app).text)
        s = shot(pilot.app)
        assert_clean(s)
        assert f"recorded on {HOSTILE_ID} (hold)" in s.text
        await click_each(pilot, CLICKABLE)
    conn = open_db(db)
    try:
        stored = conn.execute(
            "SELECT justification FROM overrides WHERE ticket = ?", (HOSTILE_ID,)
        ).fetchone()[0]
    finally:
        conn.close()
    assert stored.startswith(
        "Phoned twice, no answer [@click=app.pwned]click[/] [link="
    )  # markup kept as typed


# ---- the exports -----------------------------------------------------------------------

AT = "2027-01-15T08:00:00Z"  # NOW, so the lookups replay the same state the screens show
LOOKUPS = {
    "queue": ("queue", "--at", AT),
    "ticket": ("ticket", "T-00", "--at", AT),
    "ticket-id": ("ticket", HOSTILE_ID, "--at", AT),
    "report": ("report", "--month", "2027-01", "--at", AT),
    "report-by-operator": ("report", "--month", "2027-01", "--at", AT, "--by", "operator"),
    "overrides": ("overrides",),
    "overrides-stats": ("overrides", "--stats"),
}
# As FORBIDDEN, but a newline ends each line of an export.
EXPORT_FORBIDDEN = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ud800-\udfff]"
)


def lookup(capsys: pytest.CaptureFixture[str], db: Path, argv: tuple[str, ...], fmt: str) -> str:
    rc = main([*argv, "--format", fmt, "--db", str(db)], operator=LEAD)
    out, err = capsys.readouterr()
    assert (rc, err) == (0, ""), err
    return out


def assert_neutral(text: str) -> None:
    bad = EXPORT_FORBIDDEN.search(text)
    assert bad is None, (
        f"{bad.group()!r} in the export: ...{text[max(0, bad.start() - 60) : bad.end() + 20]!r}"
    )


@pytest.mark.parametrize("what", list(LOOKUPS))
def test_table_export_is_neutralised_with_markup_literal(capsys, hostile_db: Path, what: str) -> None:
    text = lookup(capsys, hostile_db, LOOKUPS[what], "table")
    assert_neutral(text)
    expected = {
        "queue": [
            "[bold]x[/bold]",
            "[/] closes",
            "[P1] urgent",
            "[[b]] nested",
            "[BOLD]up[/BOLD]",
            "␛]0;pwned␇",
            "␛[31mred␛[2Jcsi",
            "[@click=a",
        ],
        "ticket": [
            "[bold]x[/bold] [/] [P1] [@click=app.pwned]click[/]",
            safe_text(CUSTOMER),
            safe_text(ASSIGNEE),
            safe_text(SERVICE),
            "[@click=app.pwned]click[/]",
            "␛]0;pwned␇[b]sam[/b]",
            safe_text(OPERATOR),
        ],
        "ticket-id": [HOSTILE_ID, "a ticket whose id is markup"],
        "report": [safe_text(AGREEMENT_NAME), safe_text(SERVICE)],
        "report-by-operator": [safe_text(AGREEMENT_NAME), "[@click="],
        "overrides": [
            safe_text(OPERATOR),
            "[@click=app.pwned]click[/]",
            "Not convinced [@click=app.quit]quit[/]",
        ],
        "overrides-stats": [safe_text(OPERATOR)],
    }[what]
    for literal in expected:
        assert literal in text, f"{literal!r} not in:\n{text}"


def test_csv_exports_hold_the_neutralised_text(capsys, hostile_db: Path) -> None:
    queue = {
        r["id"]: r for r in csv.DictReader(io.StringIO(lookup(capsys, hostile_db, LOOKUPS["queue"], "csv")))
    }
    for tid, title in TITLES.items():
        assert queue[tid]["title"] == safe_text(title)
    assert queue["T-00"]["title"] == safe_text(EVERYTHING)
    assert safe_text(HOSTILE_ID) in queue
    for what, argv in LOOKUPS.items():
        text = lookup(capsys, hostile_db, argv, "csv")
        assert_neutral(text)
        assert list(csv.reader(io.StringIO(text))), what
    overrides = list(csv.DictReader(io.StringIO(lookup(capsys, hostile_db, LOOKUPS["overrides"], "csv"))))
    assert {r["justification"] for r in overrides} == {safe_text(JUSTIFICATION)}
    assert safe_text(OPERATOR) in {r["operator"] for r in overrides}
    by_operator = csv.DictReader(
        io.StringIO(lookup(capsys, hostile_db, LOOKUPS["report-by-operator"], "csv"))
    )
    assert {r["operator"] for r in by_operator} == {safe_text(ASSIGNEE)}  # the assignee whose clocks stopped


def test_json_exports_keep_the_original_strings(capsys, hostile_db: Path) -> None:
    texts = {what: lookup(capsys, hostile_db, argv, "json") for what, argv in LOOKUPS.items()}
    for text in texts.values():
        assert_neutral(text)  # controls and bidi written as \\uXXXX escapes: safe to print too
    queue = {t["id"]: t for t in json.loads(texts["queue"])}
    assert {tid: queue[tid]["title"] for tid in TITLES} == TITLES
    assert queue["T-00"]["title"] == EVERYTHING and HOSTILE_ID in queue
    ticket = json.loads(texts["ticket"])
    assert (ticket["title"], ticket["customer"]) == (EVERYTHING, CUSTOMER)
    events = {e["id"]: e for e in ticket["events"]}
    assert events["T-00-n"]["body"] == NOTE and events["T-00-n"]["author"] == AUTHOR
    assert {o["justification"] for o in ticket["overrides"]} == {JUSTIFICATION}
    assert json.loads(texts["ticket-id"])["id"] == HOSTILE_ID
    log = json.loads(texts["overrides"])
    assert {o["operator"] for o in log} == {OPERATOR, "sam"}
    assert json.dumps(log, ensure_ascii=False).count(COMMENT.replace("\x1b", "\\u001b")) == 1
    report = json.loads(texts["report"])
    assert AGREEMENT_NAME in json.dumps(report, ensure_ascii=False)


def test_a_missing_hostile_id_is_refused_in_one_clean_line(capsys, hostile_db: Path) -> None:
    rc = main(["ticket", f"{HOSTILE_ID}{OSC52}{BIDI}", "--db", str(hostile_db)], operator=LEAD)
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("sladesk: no ticket")
    assert_neutral(err)
