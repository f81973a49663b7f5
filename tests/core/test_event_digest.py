"""The fast event digest spells exactly the canonical JSON the general encoder does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sladesk_tui.core.events import DIGEST_FIELDS, Event, event_digest, event_digest_reference

TEXT = st.one_of(
    st.none(), st.text(max_size=30), st.sampled_from(['a"b', "x\\y", "\u2028", "é€😀", "\x00\x1f", ""])
)


@settings(max_examples=400)
@given(
    fields=st.fixed_dictionaries({f: TEXT for f in DIGEST_FIELDS if f not in ("id", "type", "at")}),
    at=st.floats(min_value=0, max_value=7e9, allow_nan=False),
    ident=st.text(min_size=1, max_size=20),
)
def test_fast_digest_equals_the_canonical_one(fields: dict[str, str | None], at: float, ident: str) -> None:
    ev = Event(id=ident, type="created", at=at, **fields)
    assert event_digest(ev) == event_digest_reference(ev)


def test_a_known_digest_is_stable() -> None:
    # Stored digests compare across versions: this value (computed before the fast
    # spelling existed) must never change.
    ev = Event(id="e1", type="reply", at=1764230700.0, ticket="T-1001", author="sam")
    assert event_digest(ev) == "c1e3940e1b9fc566d478030661675570f146e14ebc6316da0a8e19db16cca7ae"
