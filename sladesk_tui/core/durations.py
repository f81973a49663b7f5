"""Durations: how they are written in files and commands, and how they are shown.

Two spellings, each for one job (docs/formats.md, "Durations"):

- `parse_duration` / `format_duration`: the exact spelling of agreements files and
  `--by` options (`1h30m`, `45m`, `90s`). `format_duration` writes what
  `parse_duration` reads back, to the second; messages, explanation notes and the
  override log quote configured amounts with it.
- `format_clock_duration` / `format_countdown`: business time as a clock figure shows
  it (`1h 05m`, `45s`), rounded *down*, so a countdown never promises time that is
  not there, with zero-padded minutes so a column of them lines up.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_DURATION_S = 10_000 * 3600

_DURATION = re.compile(r"(?:(\d+)h)? *(?:(\d+)m)? *(?:(\d+)s)?")
_DAYS = re.compile(r"\d+(?:\.\d+)? *(?:days?|weeks?|d|w)(?![a-z])")


def parse_duration(text: Any) -> float:
    """Seconds of a duration such as "15m", "1h30m", "1h 30m", "40h" or "90s".

    Whole numbers, each unit at most once and in that order. Days and weeks are
    refused: a business day has no fixed length. Raises ValueError whose message
    starts with the value as written, so callers can prefix the agreement and key.
    """
    if not isinstance(text, str):
        shown = ("true" if text else "false") if isinstance(text, bool) else repr(text)
        raise ValueError(f"{shown} is not a duration: write a string such as '15m' or '1h30m'")
    s = text.strip()
    if _DAYS.search(s):
        raise ValueError(
            f"{text!r} is not a duration: days and weeks are refused because a business day "
            "has no fixed length; write hours (e.g. '24h')"
        )
    if s.startswith("-"):
        raise ValueError(f"{text!r} is not a duration: it must be positive")
    m = _DURATION.fullmatch(s)
    if not s or m is None:
        raise ValueError(f"{text!r} is not a duration (write e.g. '15m', '1h30m', '40h', '90s')")
    h, mi, se = (int(g) if g else 0 for g in m.groups())
    seconds = float(h * 3600 + mi * 60 + se)
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a duration: it must be longer than zero")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{text!r} is too long: at most {MAX_DURATION_S // 3600}h")
    return seconds


def format_duration(seconds: float) -> str:
    """The exact spelling `parse_duration` reads back: `1h30m`, `45m`, `20s`, `-1h`.

    Rounded to the second (targets and extensions are whole seconds); negative
    amounts keep their sign.
    """
    s = round(abs(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    text = "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (sec, "s")) if v) or "0s"
    return "-" + text if seconds < 0 and text != "0s" else text


def format_clock_duration(seconds: float) -> str:
    """A clock figure, unsigned and rounded down: `45s`, `25m`, `1h 12m`, `52h 05m`.

    Business hours have no days, so hours run on. Rounded down so a countdown never
    promises time that is not there.
    """
    s = int(math.floor(abs(seconds)))
    if s < 60:
        return f"{s}s"
    m = s // 60
    if m < 60:
        return f"{m}m"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m"


def format_countdown(seconds: float | None, *, paused: bool = False, compact: bool = False) -> str:
    """A clock cell: `1h 12m` left, `-25m` overdue, `paused 3h 00m left` (`compact`: no `left`)."""
    if seconds is None:
        return ""
    text = format_clock_duration(seconds)
    if seconds < 0 and text != "0s":
        text = "-" + text
    if paused:
        return f"paused {text}" if compact or seconds < 0 else f"paused {text} left"
    return text
