"""Hostile ticket text on every screen and in every export (issue 7, "Hostile text").

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
from textual.pilot import Pilot
from textual.widgets import Input

from sladesk_tui.cli import main
from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override
from sladesk_tui.core.text import safe_text
from sladesk_tui.store.agreements import load_agreements_file
from sladesk_tui.store.db import open_db
from sladesk_tui.store.imports import ingest
from sladesk_tui.store.overrides import place_override, review_override
from sladesk_tui.store.roles import name_first_lead
from sladesk_tui.tui import app as sladesk_app
from sladesk_tui.tui.app import SladeskApp

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
TITLES: dict[str, str] = {f"T-{i:02d}": s for i, s in enumerate((
    "[bold]x[/bold] bold", "[/] closes", "[P1] urgent", "[@click=app.pwned]click[/]", "[@click=app.quit]quit[/]",
    "[link=https://evil.example]x[/link]", "[BOLD]up[/BOLD]", "[[b]] nested", f"a{OSC0}osc0", f"b{OSC52}osc52",
    f"{OSC8}", f"{CSI}csi", f"{C1}c1", f"{BIDI}",
), start=1)}

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
    def created(tid: str, at: float, title: str, **more: str) -> Event:
        more.setdefault("customer", CUSTOMER)
        more.setdefault("service", SERVICE)
        return Event(f"{tid}-c", "created", at, tid, priority=more.pop("priority", "P2"), title=title, **more)

    evs = [
        # T-00: everything at once, with a history, a note and overrides (the ticket screen's subject).
        created("T-00", NOW - 2 * H, EVERYTHING, assignee=ASSIGNEE, priority="P1"),
        Event("T-00-n", "note", NOW - 1.9 * H, "T-00", author=AUTHOR, body=NOTE),
        Event("T-00-r", "reply", NOW - 1.8 * H, "T-00", author=AUTHOR, body=EVERYTHING),
        Event("T-00-q", "customer_reply", NOW - 1.5 * H, "T-00", author=STRANGER, body=EVERYTHING),
        *(created(tid, NOW - 300 * i, title, assignee=ASSIGNEE if i % 2 else AUTHOR)
          for i, (tid, title) in enumerate(TITLES.items(), start=1)),
        created(HOSTILE_ID, NOW - 1800, "a ticket whose id is markup"),
        created("T-50", NOW - 600, "a customer nobody covers", customer=STRANGER, service=None),  # type: ignore[arg-type]
        # Stopped clocks in January (the compliance screen and the report have figures).
        created("T-60", NOW - 6 * H, "resolved already", assignee=ASSIGNEE),
        Event("T-60-r", "reply", NOW - 5.9 * H, "T-60", author=AUTHOR),
        Event("T-60-x", "resolved", NOW - 1 * H, "T-60", author=AUTHOR),
        Event("o-1", "outage_start", NOW - 10 * H, service=SERVICE),
        Event("o-2", "outage_end", NOW - 9.5 * H, service=SERVICE),
    ]
    return [dataclasses.replace(e, seq=i + 1) for i, e in enumerate(evs)]


def build(path: Path) -> Path:
    toml = path.with_suffix(".toml")
    toml.write_text(AGREEMENTS, encoding="utf-8")
    conn = open_db(path)
    try:
        load_agreements_file(conn, toml, actor=LEAD)
        ingest(conn, _events(), actor="importer", source="test")
        name_first_lead(conn, LEAD, actor=LEAD)

        def place(ticket: str, kind: str, operator: str, at: float, **params: object) -> int:
            o = Override(0, ticket, kind, 0.0, operator, "customer_unreachable", JUSTIFICATION, **params)  # type: ignore[arg-type]
            return place_override(conn, o, now=at).id

        held = place("T-00", "hold", OPERATOR, NOW - 600, until=NOW + H)
        place("T-00", "extend", "sam", NOW - 500, clock="resolution", by_s=2 * H)
        place("T-02", "extend", OPERATOR, NOW - 400, clock="resolution", by_s=H)
        review_override(conn, held, "reject", reviewer=LEAD, comment=COMMENT, now=NOW - 300)
    finally:
        conn.close()
    return path


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once for the module; every test only reads it."""
    return build(tmp_path_factory.mktemp("hostile") / "hostile.db")


# ---- what reaches the terminal -------------------------------------------------------

# Characters that must never be drawn: C0 (a screen's lines are separate strips, so not
# even a newline), DEL, C1, bidi embeddings/overrides/isolates/marks, line and paragraph
# separators, lone surrogates.
FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ud800-\udfff]")
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
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", legacy_windows=False, safe_box=False)
    lines, links, actions = [], [], []
    for chops in update.strips:  # type: ignore[attr-defined]
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
    return Shot(lines, update.render_segments(console), links, actions)  # type: ignore[attr-defined]


def assert_clean(s: Shot) -> None:
    """Nothing from the data acts on the terminal or in the app."""
    for y, line in enumerate(s.lines):
        bad = FORBIDDEN.search(line)
        assert bad is None, f"{bad.group()!r} drawn on line {y}: {line!r}"
    rest = OWN_SEQUENCES.sub("", s.terminal).replace("\n", "")
    bad = FORBIDDEN.search(rest)
    assert bad is None, f"{bad.group()!r} written to the terminal: ...{rest[max(0, bad.start() - 40):bad.end() + 40]!r}"
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

    CSS_PATH = Path(sladesk_app.__file__).parent / SladeskApp.CSS_PATH  # relative to the app's module
    obeyed = 0

    def action_pwned(self) -> None:
        self.obeyed += 1


def trap(db: Path, operator: str = LEAD) -> Trap:
    return Trap(db, operator, clock=lambda: NOW, poll_interval=0.05, display_tz=dt.timezone.utc)


async def until(pilot: Pilot, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    waited = 0.0
    while not cond():
        assert waited < timeout, "condition not reached"
        await pilot.pause(0.02)
        waited += 0.02


async def click_each(pilot: Pilot, needles: Iterable[str]) -> None:
    """Click on each would-be action on screen: nothing runs, the app stays, on the same screen."""
    app = pilot.app
    assert isinstance(app, Trap)
    before = app.screen
    clicked = 0
    for needle in needles:
        s = shot(app)
        if needle not in s.text:
            continue
        x, y = s.cell_of(needle)
        for dx in (0, 3, len(needle) // 2):
            await pilot.click(offset=(x + dx, y))
            await pilot.pause()
            clicked += 1
    assert clicked, "nothing hostile to click on"
    assert app.is_running and app.return_code is None
    assert app.obeyed == 0
    assert app.screen is before


CLICKABLE = ("[@click=app.pwned]", "[@click=app.quit]", "[link=https://evil", "]8;;https://evil")


# ---- the screens ---------------------------------------------------------------------


async def queue_loaded(pilot: Pilot) -> None:
    from sladesk_tui.tui.screens.queue import QueueScreen

    screen = pilot.app.screen
    assert isinstance(screen, QueueScreen)
    await until(pilot, screen.loaded.is_set)
    await pilot.pause()


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_queue(hostile_db: Path, size: tuple[int, int]) -> None:
    async with trap(hostile_db).run_test(size=size) as pilot:
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


async def ticket_opened(pilot: Pilot, ticket_id: str, *, missing: bool = False):  # type: ignore[no-untyped-def]
    from sladesk_tui.tui.screens.ticket import TicketScreen

    await queue_loaded(pilot)
    pilot.app.open_ticket(ticket_id)  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(pilot.app.screen, TicketScreen) and (
        "No ticket" in shot(pilot.app).text if missing else pilot.app.screen.loads > 0))
    await pilot.pause()
    return pilot.app.screen


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_ticket_screen_every_tab(hostile_db: Path, size: tuple[int, int]) -> None:
    async with trap(hostile_db).run_test(size=size) as pilot:
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
    async with trap(hostile_db).run_test(size=(100, 30)) as pilot:
        await ticket_opened(pilot, HOSTILE_ID)
        s = shot(pilot.app)
        assert_clean(s)
        assert_shows(s, HOSTILE_ID, "a ticket whose id is markup")
        await click_each(pilot, CLICKABLE)
        await pilot.app.pop_screen()
        await ticket_opened(pilot, f"{HOSTILE_ID}{OSC52}-missing", missing=True)  # "No ticket ... in this database."
        s = shot(pilot.app)
        assert_clean(s)
        assert "No ticket" in s.text and "[@click=app.pwned]X[/]␛]52;c;aGk=␇-missing" in s.text
