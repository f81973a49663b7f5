"""The queue's status bar worded to fit (tui.widgets.status_bar): the markers that change
what the rows mean stay on screen however many filters are on."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from sladesk_tui.core.queue import SORTS, QueueCounts, QueueFilter
from sladesk_tui.tui.widgets.status_bar import ViewState, fit_status, status_levels

COUNTS = QueueCounts(open=1234, at_risk=56, breached=78, paused=90)
EVERYTHING = QueueFilter(
    text="invoice posting fails",
    mine="maximiliane",
    urgent_only=True,
    agreement="acme-gold-premium",
    priority="P1",
)


def state(
    f: QueueFilter = EVERYTHING, *, raw: bool = True, sort: str = "age", operator: str = "sam"
) -> ViewState:
    return ViewState(operator=operator, counts=COUNTS, filter=f, shown=3, sort=sort, raw=raw)


def said(s: ViewState, width: int) -> str:
    return "".join(text for text, _ in fit_status(s, width))


def test_the_full_wording_when_it_fits() -> None:
    plain = ViewState(
        operator="sam",
        counts=QueueCounts(30, 3, 3, 4),
        filter=QueueFilter(),
        shown=30,
        sort="urgency",
        raw=False,
    )
    assert said(plain, 80) == "sladesk sam  30 open  3 at risk  3 breached  4 paused  sort: time to breach"
    assert said(state(), 500) == (
        "sladesk sam  1234 open  56 at risk  78 breached  90 paused  showing 3 · “invoice posting fails”"
        " · mine · at risk · agreement acme-gold-premium · priority P1 · sort: oldest first"
        " · RAW clocks (overrides ignored)"
    )


def test_each_level_is_no_longer_than_the_one_before() -> None:
    lengths = [sum(cell_len(t) for t, _ in items) for items in status_levels(state())]
    assert lengths == sorted(lengths, reverse=True) and lengths[0] > lengths[-1]


@settings(max_examples=80, deadline=None)
@given(
    width=st.integers(50, 240),
    sort=st.sampled_from(SORTS),
    raw=st.booleans(),
    operator=st.text(alphabet="abcdefghijklmnopqrstuvwxyz.-", min_size=1, max_size=40),
)
def test_what_matters_most_always_fits(width: int, sort: str, raw: bool, operator: str) -> None:
    text = said(state(raw=raw, sort=sort, operator=operator), width)
    assert cell_len(text) <= width
    assert "78 breached" in text and "56 at risk" in text and "showing 3" in text
    assert ("RAW" in text) == raw
    if width >= 80:  # an 80-column terminal: the sort stays, and RAW is spelled out
        assert "sort: " in text and (not raw or "RAW clocks" in text), text


def test_the_bar_gets_terser_step_by_step() -> None:
    s = state()
    assert said(s, 145) == (
        "sam  1234 open  56 at risk  78 breached  90 paused  showing 3 · “invoice pos…” · mine"
        " · at risk · acme-gold-premium · P1 · sort: age · RAW clocks"
    )
    assert (
        said(s, 144)
        == "sam  1234 open  56 at risk  78 breached  90 paused  showing 3 · 5 filters · sort: age · RAW clocks"
    )
    assert said(s, 80) == "56 at risk  78 breached  showing 3 · 5 filters · sort: age · RAW clocks"
    assert said(s, 52) == "56 at risk  78 breached  showing 3 · 5 filters · RAW"
    assert said(s, 51) == "56 at risk  78 breached  showing 3 · RAW"
