"""The parser's fast path only ever accepts what the full path accepts, with the same result."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sladesk_tui.core import eventfile
from sladesk_tui.core.errors import InputError

VALUES = st.one_of(
    st.sampled_from(
        ["T-1", "acme", "P1", "waiting", "sam", "a title", "", " lead", "x\u202ey", "\x00", "WAITING"]
    ),
    st.sampled_from(
        [
            "2026-11-27T08:05:00Z",
            "2026-11-27T08:05:60Z",
            "2026-11-27T08:05:0\u00b2Z",
            "2226-11-27T08:05:00Z",
            "2026-02-30T08:05:00Z",
            "2026-11-27T08:05:00+01:00",
            "2026-11-27 08:05:00Z",
            "1969-12-31T23:59:59Z",
        ]
    ),
    st.text(max_size=8),
    st.integers(),
    st.none(),
)
KEYS = st.sampled_from([*eventfile.FIELDS, "bogus"])


def full_path(d: dict[str, object]) -> object:
    saved = eventfile._fast_event
    eventfile._fast_event = lambda _d, _s: None  # type: ignore[assignment]  # the full path alone, for comparison
    try:
        return eventfile.event_from_mapping(d, seq=1)
    except InputError as exc:
        return exc
    finally:
        eventfile._fast_event = saved


@settings(max_examples=3000)
@given(d=st.dictionaries(KEYS, VALUES, max_size=9), etype=st.sampled_from(sorted(eventfile.EVENT_TYPES)))
def test_fast_path_agrees_with_the_full_path(d: dict[str, object], etype: str) -> None:
    d = {"type": etype, "id": "e1", "ticket": "T-1", "at": "2026-11-27T08:05:00Z", **d}
    fast = eventfile._fast_event(d, 1)
    full = full_path(d)
    if fast is not None:
        assert fast == full
    # the full answer is what event_from_mapping gives either way
    try:
        assert eventfile.event_from_mapping(d, seq=1) == full
    except InputError as exc:
        assert isinstance(full, InputError) and str(exc) == str(full)


@pytest.mark.parametrize(
    "at", ["2026-11-27T08:05:60Z", "2199-12-31T23:59:59Z", "2200-01-01T00:00:00Z", "1970-01-01T00:00:00Z"]
)
def test_fast_instants_at_the_edges(at: str) -> None:
    d = {"type": "reply", "id": "e", "ticket": "T", "at": at}
    fast = eventfile._fast_event(d, 1)
    full = full_path(d)
    assert (fast is None) or fast == full
    if isinstance(full, InputError):
        assert fast is None
