"""A clock's explanation as lines of text: the answer to "why is this due then?".

The ticket screen and `sladesk ticket` print the same lines, so an agent and a
script reading the lookup see the same reasons in the same words. Times are in the
zone given (the agreement calendar's: business hours are local to it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sladesk_tui.core.durations import format_clock_duration
from sladesk_tui.core.text import safe_text

if TYPE_CHECKING:
    from sladesk_tui.core.clocks import Segment

_KIND_WORDS = {"counted": "counted", "closed": "closed hours"}
_TICK = 1e-6  # the engine counts whole microseconds; anything shorter is float noise


def visible_segments(segments: Sequence[Segment]) -> list[Segment]:
    """The segments worth a line: rule markers, and stretches that last at least a microsecond.

    The engine cuts a clock's window at every instant it knows (`now`, openings,
    pauses) and the calendar rounds those to microseconds, so a float `now` can
    leave a sliver of "closed hours" a fraction of a microsecond long between the
    last open interval and `now`. Printed, it reads `11:52-11:52 closed hours 0s`,
    even on a 24x7 agreement. Markers are zero-length by nature and always stay.
    """
    return [s for s in segments if s.kind == "rule" or s.end - s.start >= _TICK]


def segment_words(seg: Segment) -> str:
    """What a stretch was: `counted`, `closed hours`, `paused: waiting`, `held: override #3`."""
    if seg.kind == "paused":
        return f"paused: {safe_text(seg.note)}" if seg.note else "paused"
    if seg.kind == "held":
        return f"held: override #{safe_text(seg.note)}" if seg.note else "held by an override"
    return _KIND_WORDS.get(seg.kind, seg.kind)


def timeline_lines(segments: Sequence[Segment], tz: dt.tzinfo, *, limit: int | None = None) -> list[str]:
    """`Fri 27 Nov 09:00-12:30  counted  3h 30m`, the date only where it changes.

    Rule markers (priority change, reopen, breach...) are instants: `◆ 10:15 note`.
    With `limit`, only the newest `limit` stretches, after a line saying how many
    were left out (a ticket open for months has two stretches a day). Zero-length
    stretches are left out first (`visible_segments`).
    """
    segments = visible_segments(segments)
    shown = segments if limit is None else segments[-limit:]
    lines: list[str] = []
    if len(segments) > len(shown):
        lines.append(f"… {len(segments) - len(shown)} earlier stretches not shown")
    last_day = ""
    for seg in shown:
        start = dt.datetime.fromtimestamp(seg.start, tz)
        day = start.strftime("%a %d %b")
        prefix = day if day != last_day else " " * len(day)
        last_day = day
        if seg.kind == "rule":
            lines.append(f"{prefix} {start:%H:%M}{'':<10} ◆ {safe_text(seg.note)}")
            continue
        end = dt.datetime.fromtimestamp(seg.end, tz)
        end_text = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %H:%M}"
        span = f"{start:%H:%M}-{end_text}"
        lines.append(
            f"{prefix} {span:<15} {segment_words(seg)}  {format_clock_duration(seg.end - seg.start)}"
        )
    return lines
