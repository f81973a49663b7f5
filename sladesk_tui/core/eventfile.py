"""Event files (docs/formats.md: JSON Lines or CSV) into `Event` values, line by line.

Pure parsing: the store reads the bytes, feeds them here one line at a time (which
is also how `import --follow` works on a growing file) and decides what to do with
each result. Bad input is a value (an `InputError` naming FILE:LINE), not an
exception, so `--skip-invalid` can list every bad line; only a problem that makes the
rest of the file meaningless (a bad CSV header) or an empty input raises.

Decisions recorded here (docs/formats.md, "Event files"):

- Instants are RFC 3339: `YYYY-MM-DDTHH:MM[:SS[.fraction]]` then `Z` or `±HH:MM`
  (a space may replace the `T`). No offset, no instant: a local time in an export is
  a guess about the exporter's zone. Fractions beyond microseconds are truncated.
  Instants outside 1970..2199 (UTC) are refused (`core.instants`, docs/instants.md).
- An absent field, JSON `null` and an empty string (an empty CSV cell) are the same
  thing, so a JSON Lines file and its CSV twin always mean the same events.
- Fields are strings; a JSON number is refused rather than guessed at (`1001` vs
  `1001.0` as a ticket id). Each type accepts only its own fields (a `status` on a
  `reply` would be silently ignored by the clocks, so it is refused); every ticket
  event may carry `author` and `body`.
- Bounds: ids (`id`, `ticket`, `agreement`) at most 100 characters without spaces,
  control characters or invisible format characters (bidi controls, zero-width
  marks); names (`customer`, `service`, `assignee`, `author`) at most 200 without
  those or surrounding spaces; `title` at most 500, not blank;
  `body` at most 65536. NUL is refused everywhere. Other control characters in a
  title or body are kept as written (screens and exports neutralise them).
- A line is at most 1 MiB; a longer one is reported, not parsed.
- A UTF-8 byte order mark at the very start of the input is skipped (spreadsheet
  exports write one); bytes that are not UTF-8 make that line bad. A first line
  with a UTF-16 byte order mark or a NUL byte refuses the whole input as "not
  UTF-8" (every line of a UTF-16 file would otherwise be reported as garbage).
- Blank lines are skipped. An input with no event at all (empty, only blank lines or
  only a CSV header) is an error: it is almost always the wrong file or a failed
  export, and importing nothing "successfully" would hide that.
- Format `auto`: JSON Lines when the first non-blank line starts with `{` or `[`,
  else CSV with a header row naming the fields (`id`, `type` and `at` required,
  unknown columns refused). CSV records may span lines inside quotes; the record is
  reported at the line where it starts.
- An event's `seq` is the line where its record starts (its file order).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

from sladesk_tui.core.agreements import PRIORITY_PATTERN
from sladesk_tui.core.errors import InputError
from sladesk_tui.core.events import (
    DIGEST_FIELDS,
    EVENT_TYPES,
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    SERVICE_EVENT_TYPES,
    STATUS_PATTERN,
    TICKET_EVENT_TYPES,
    Event,
    event_maker,
)
from sladesk_tui.core.instants import check_instant

FORMATS: tuple[str, ...] = ("auto", "jsonl", "csv")
MAX_LINE_BYTES = 1 << 20
FIELDS: tuple[str, ...] = DIGEST_FIELDS

# Patterns shared verbatim with schema/events.schema.json (ECMA-262 reads them too).
_DATE_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
INSTANT_PATTERN = _DATE_TIME + r"(Z|[+-]\d{2}:\d{2})$"
# Control characters, and the invisible format characters that reorder or hide text
# (bidi embeddings, overrides and isolates, zero-width marks, BOM): an id or a name
# must look on screen like what it is, or `T-1\u202e7` opens nothing from the queue.
_HIDDEN = r"\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
TOKEN_PATTERN = r"^[^\s" + _HIDDEN + r"]+$"
NAME_PATTERN = r"^[^\s" + _HIDDEN + r"]([^" + _HIDDEN + r"]*[^\s" + _HIDDEN + r"])?$"
TEXT_PATTERN = r"^[^\x00]*$"
TITLE_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"

# field -> (pattern, max length, what it must be, for messages)
FIELD_RULES: dict[str, tuple[str, int, str]] = {
    "id": (TOKEN_PATTERN, 100, "an id without spaces, control or bidi/format characters"),
    "ticket": (TOKEN_PATTERN, 100, "an id without spaces, control or bidi/format characters"),
    "agreement": (TOKEN_PATTERN, 100, "an id without spaces, control or bidi/format characters"),
    "customer": (NAME_PATTERN, 200, "a name without control or bidi/format characters or surrounding spaces"),
    "service": (NAME_PATTERN, 200, "a name without control or bidi/format characters or surrounding spaces"),
    "assignee": (NAME_PATTERN, 200, "a name without control or bidi/format characters or surrounding spaces"),
    "author": (NAME_PATTERN, 200, "a name without control or bidi/format characters or surrounding spaces"),
    "priority": (PRIORITY_PATTERN, 32, "a priority name (letters, digits, '_', '.', '-')"),
    "status": (STATUS_PATTERN, 32, "a status (a lowercase word such as 'open' or 'waiting')"),
    "title": (TITLE_PATTERN, 500, "a title that is not blank and has no NUL character"),
    "body": (TEXT_PATTERN, 65536, "text without NUL characters"),
}

# Fields each type accepts beyond id/type/at.
_TICKET_COMMON = ("ticket", "author", "body")
ALLOWED_FIELDS: dict[str, frozenset[str]] = {
    **{t: frozenset(_TICKET_COMMON) for t in TICKET_EVENT_TYPES},
    "created": frozenset(
        _TICKET_COMMON + ("customer", "service", "priority", "title", "agreement", "assignee")
    ),
    "status": frozenset(_TICKET_COMMON + ("status",)),
    "priority": frozenset(_TICKET_COMMON + ("priority",)),
    "assign": frozenset(_TICKET_COMMON + ("assignee",)),
    **{t: frozenset(("service", "author", "body")) for t in SERVICE_EVENT_TYPES},
}

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_INSTANT = re.compile(INSTANT_PATTERN)
_NAIVE = re.compile(_DATE_TIME + "$")
_CHECKS = {f: (re.compile(p).fullmatch, n, what) for f, (p, n, what) in FIELD_RULES.items()}
_KNOWN = frozenset(FIELDS)
_TYPES_TEXT = ", ".join(sorted(EVENT_TYPES))
_JSON_KINDS = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def parse_instant(text: str) -> float:
    """Epoch seconds of an ISO 8601 instant that carries its UTC offset, inside the
    accepted window (`core.instants`): anything else is an InputError."""
    if not isinstance(text, str):
        raise InputError(f"instant {text!r} is not an ISO 8601 date-time")
    if _INSTANT.fullmatch(text) is None:
        if _NAIVE.fullmatch(text):
            raise InputError(f"instant {text!r} has no UTC offset (add Z or an offset such as +01:00)")
        raise InputError(
            f"instant {_clip(text)} is not an ISO 8601 date-time (write e.g. 2026-11-27T08:05:00Z)"
        )
    try:
        ts = dt.datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError):
        raise InputError(f"instant {text!r} is not a valid date-time") from None
    return check_instant(ts, text)


def event_from_mapping(d: Mapping[str, object], *, seq: int) -> Event:
    """Validate one event (a JSON object or a CSV row) into an Event.

    Raises InputError with the reason only; the caller knows FILE:LINE.
    """
    fast = _fast_event(d, seq)
    if fast is not None:
        return fast
    values: dict[str, Any] = {}
    for key, value in d.items():
        if key not in _KNOWN:
            raise InputError(f"unknown field {key!r}{_hint(key)}")
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise InputError(f"field {key!r} must be a string, not {_kind(value)}")
        if not value.isascii() and not _is_unicode_text(value):
            raise InputError(
                f"field {key!r} has an unpaired surrogate (a JSON escape such as \\ud800): not text"
            )
        values[key] = value
    etype = values.get("type")
    if etype is None:
        raise InputError("missing field 'type'")
    if etype not in EVENT_TYPES:
        raise InputError(f"unknown event type {_clip(etype)} (known: {_TYPES_TEXT})")
    if "id" not in values:
        raise InputError("missing field 'id'")
    if "at" not in values:
        raise InputError("missing field 'at'")
    try:
        at = parse_instant(values["at"])
    except InputError as exc:
        raise InputError(f"field 'at': {exc}") from None
    allowed = ALLOWED_FIELDS[etype]
    for key in values:
        if key in allowed or key in ("id", "type", "at"):
            continue
        if key == "ticket":
            raise InputError(
                f"field 'ticket' does not belong to {_a(etype)} event (outages concern a service)"
            )
        raise InputError(f"field {key!r} does not belong to {_a(etype)} event")
    if etype in TICKET_EVENT_TYPES and "ticket" not in values:
        raise InputError("missing field 'ticket'")
    for key in REQUIRED_FIELDS.get(etype, ()):
        if key not in values:
            need = ", ".join(REQUIRED_FIELDS[etype])
            raise InputError(f"missing field {key!r} ({_a(etype)} event needs {need})")
    for key, value in values.items():
        rule = _CHECKS.get(key)
        if rule is None:
            continue
        match, limit, what = rule
        if len(value) > limit:
            raise InputError(f"field {key!r} is too long ({len(value)} characters, at most {limit})")
        if not match(value):
            raise InputError(f"field {key!r}: {_clip(value)} is not {what}")
    values["at"] = at
    return Event(seq=seq, **values)


# ---- the fast path ----------------------------------------------------------------------
# A million-event import spends most of its parsing here, on events that are plainly
# valid. `_fast_event` accepts exactly such an event with fewer, cheaper steps and
# returns None for anything else, which then takes the full path above: that path
# alone words every refusal, so the two can never disagree on a message, and the fast
# path may only ever be stricter. Its savings: one pass over the fields, instants in
# the common `YYYY-MM-DDTHH:MM:SSZ` spelling from a per-minute cache (each minute
# validated once by `parse_instant`, window included), and values that repeat
# (tickets, customers, priorities, statuses, authors) checked once.

_FAST_ALLOWED: dict[str, frozenset[str]] = {t: fs | {"id", "type", "at"} for t, fs in ALLOWED_FIELDS.items()}
_FAST_REQUIRED: dict[str, frozenset[str]] = {
    t: frozenset(("id", "at", *REQUIRED_FIELDS.get(t, ()), *(("ticket",) if t in TICKET_EVENT_TYPES else ())))
    for t in EVENT_TYPES
}
_REPEATING = frozenset(
    {"ticket", "customer", "service", "priority", "status", "assignee", "author", "agreement"}
)
_FAST_CACHE_MAX = 200_000
_valid_values: set[tuple[str, str]] = set()
_minutes: dict[str, float] = {}
_DIGITS = frozenset("0123456789")


def _fast_event(d: Mapping[str, object], seq: int) -> Event | None:
    etype = d.get("type")
    if type(etype) is not str:
        return None
    allowed = _FAST_ALLOWED.get(etype)
    if allowed is None:
        return None
    for key, value in d.items():
        if key not in allowed or type(value) is not str or not value:
            return None
    if not _FAST_REQUIRED[etype].issubset(d.keys()):
        return None
    at = _fast_instant(d["at"])  # type: ignore[arg-type]  # a str, checked above
    if at is None:
        return None
    valid = _valid_values
    for key, raw in d.items():
        if key == "type" or key == "at":
            continue
        value = cast("str", raw)  # every value is a str: checked above
        repeating = key in _REPEATING
        if repeating and (key, value) in valid:
            continue
        match, limit, _what = _CHECKS[key]
        if len(value) > limit or not match(value) or not (value.isascii() or _is_unicode_text(value)):
            return None
        if repeating:
            if len(valid) >= _FAST_CACHE_MAX:
                valid.clear()
            valid.add((key, value))
    return _event_of(d, at, seq)


# `Event(seq=seq, **{**d, "at": at})` for a checked mapping `d` (no other keys).
_event_of = event_maker(
    {"id": 'd["id"]', "type": 'd["type"]', "at": "at", "seq": "seq"}
    | {name: f"d.get({name!r})" for name in ("ticket", *OPTIONAL_FIELDS)},
    "d, at, seq",
)


def _fast_instant(text: str) -> float | None:
    """`YYYY-MM-DDTHH:MM:SSZ` from the minute cache; None for any other spelling."""
    if (
        len(text) != 20
        or text[19] != "Z"
        or text[16] != ":"
        or text[17] not in "012345"
        or text[18] not in _DIGITS
    ):
        return None
    minute = text[:16]
    base = _minutes.get(minute)
    if base is None:
        try:
            base = parse_instant(minute + ":00Z")
        except InputError:
            return None
        if len(_minutes) >= _FAST_CACHE_MAX:
            _minutes.clear()
        _minutes[minute] = base
    return base + int(text[17:19])


def _pairs_decoder() -> Any:
    """A C scanner that returns a JSON object as its list of (key, value) pairs: no
    Python call per object, and a key written twice is seen by comparing lengths."""
    from json import scanner

    decoder = json.JSONDecoder(object_pairs_hook=list)
    return scanner.make_scanner(decoder)  # type: ignore[arg-type]  # typeshed: a class; at run time it takes the decoder


_SCAN_PAIRS = _pairs_decoder()


def decode_line(raw: bytes) -> str:
    """A line of bytes as text; InputError (no `where`) when it is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        raise InputError(f"not valid UTF-8 (byte 0x{bad} at byte {exc.start + 1} of the line)") from None


class EventReader:
    """Parses one input fed a line at a time, keeping what spans lines (the format,
    the CSV header, a quoted CSV field running over several lines).

    `feed` every physical line in order (blank ones too, with or without their line
    ending). Lines end at `\n` only: split bytes with `readline()` or a text file in
    universal-newline mode, never with `str.splitlines()`, which also cuts at
    `\x85` and `\u2028` inside JSON strings and CSV fields. It returns `(line_no, Event | InputError)` when a record is complete,
    None otherwise, and raises InputError when the input cannot be read further (a
    bad CSV header). Call `finish` at the end of a finite input.
    """

    def __init__(self, name: str, fmt: str = "auto") -> None:
        if fmt not in FORMATS:
            raise InputError(f"unknown input format {fmt!r} (auto, jsonl or csv)")
        self.name = name
        self.fmt = fmt
        self.line_no = 0
        self.records = 0
        self._header: tuple[str, ...] | None = None
        self._pending: list[str] = []
        self._pending_line = 0
        self._pending_size = 0

    def feed(self, line: str | bytes) -> tuple[int, Event | InputError] | None:
        self.line_no += 1
        n = self.line_no
        size = (
            len(line) if isinstance(line, bytes) or len(line) <= MAX_LINE_BYTES // 4 else len(line.encode())
        )
        if size > MAX_LINE_BYTES:
            self._pending = []
            return self._bad(n, f"line is too long ({size:,} bytes, at most {MAX_LINE_BYTES:,})")
        if isinstance(line, bytes):
            if n == 1 and (line[:2] in _UTF16_BOMS or b"\x00" in line):
                raise self._err(n, "not UTF-8 text (it looks like UTF-16: export or save the file as UTF-8)")
            try:
                line = decode_line(line)
            except InputError as exc:
                self._pending = []
                return self._bad(n, str(exc))
        if n == 1 and line.startswith("\ufeff"):
            line = line[1:]
        line = line.rstrip("\r\n")
        if self._pending:
            return self._csv_more(line, size)
        if not line or line.isspace():
            return None
        if self.fmt == "auto":
            self.fmt = "jsonl" if line.lstrip()[0] in "{[" else "csv"
        if self.fmt == "jsonl":
            self.records += 1
            return n, self._json(line, n)
        if self._header is None:
            self._read_header(line, n)
            return None
        return self._csv_more(line, size)

    def finish(self) -> tuple[int, InputError] | None:
        """The unterminated CSV record, if any; raises InputError when there was no event."""
        if self._pending:
            self._pending = []
            self.records += 1
            return self._pending_line, self._err(self._pending_line, "unterminated quoted CSV field")
        if self.records == 0:
            raise InputError("no events", where=self.name)
        return None

    # -- internals ------------------------------------------------------------

    def _err(self, n: int, reason: str) -> InputError:
        return InputError(reason, where=f"{self.name}:{n}")

    def _bad(self, n: int, reason: str) -> tuple[int, InputError]:
        self.records += 1
        return n, self._err(n, reason)

    def _json(self, line: str, n: int) -> Event | InputError:
        if line[:1] == "{":
            try:
                pairs, end = _SCAN_PAIRS(line, 0)
            except (ValueError, StopIteration, RecursionError):  # the full path below words it
                pairs = None
            if type(pairs) is list and (end == len(line) or line[end:].isspace()):
                d = dict(pairs)
                if len(d) == len(pairs):
                    ev = _fast_event(d, n)
                    if ev is not None:
                        return ev
        try:
            obj = json.loads(line, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            return self._err(n, f"invalid JSON: {exc.msg} (column {exc.colno})")
        except _DuplicateKey as exc:
            return self._err(n, f"field {exc.args[0]!r} appears twice")
        except RecursionError:  # json recurses once per level: a line of 100,000 '['
            return self._err(n, "invalid JSON: arrays or objects nested too deeply")
        if not isinstance(obj, dict):
            return self._err(n, f"a line must be a JSON object, not {_kind(obj)}")
        try:
            return event_from_mapping(obj, seq=n)
        except InputError as exc:
            return self._err(n, str(exc))

    def _read_header(self, line: str, n: int) -> None:
        try:
            names = [c.strip() for c in next(csv.reader([line], strict=True))]
        except csv.Error as exc:
            raise self._err(n, f"CSV header: {exc}") from None
        unknown = [c for c in names if c not in _KNOWN]
        if unknown:
            hints = "".join(_hint(c) for c in unknown[:1])
            raise self._err(
                n,
                f"CSV header: unknown column{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(c) for c in unknown)}{hints}",
            )
        twice = sorted({c for c in names if names.count(c) > 1})
        if twice:
            raise self._err(
                n,
                f"CSV header: column{'s' if len(twice) > 1 else ''} {', '.join(map(repr, twice))} "
                "appear more than once",
            )
        missing = [c for c in ("id", "type", "at") if c not in names]
        if missing:
            raise self._err(
                n,
                f"CSV header: missing required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))}",
            )
        self._header = tuple(names)

    def _csv_more(self, line: str, size: int) -> tuple[int, Event | InputError] | None:
        """Add a physical line to the current record; parse it once its quotes balance."""
        if not self._pending:
            self._pending_line = self.line_no
            self._pending_size = 0
        self._pending.append(line)
        self._pending_size += size
        if self._pending_size > MAX_LINE_BYTES:
            start, self._pending = self._pending_line, []
            return self._bad(start, f"CSV record is too long (more than {MAX_LINE_BYTES:,} bytes)")
        if sum(p.count('"') for p in self._pending) % 2:
            return None  # inside a quoted field: the record goes on
        record, self._pending = "\n".join(self._pending), []
        n = self._pending_line
        self.records += 1
        return n, self._csv_row(record, n)

    def _csv_row(self, record: str, n: int) -> Event | InputError:
        assert self._header is not None
        try:
            cells = next(csv.reader([record], strict=True))
        except csv.Error as exc:
            return self._err(n, f"invalid CSV: {exc}")
        if len(cells) != len(self._header):
            return self._err(n, f"the row has {len(cells)} cells, the header {len(self._header)}")
        try:
            return event_from_mapping(dict(zip(self._header, cells, strict=False)), seq=n)
        except InputError as exc:
            return self._err(n, str(exc))


def read_events(
    lines: Iterable[str | bytes], *, name: str, fmt: str = "auto"
) -> Iterator[tuple[int, Event | InputError]]:
    """Every record of a finite input as `(line_no, Event | InputError)`, in file order.

    Raises InputError (with FILE or FILE:LINE) for a bad CSV header or an input
    with no events.
    """
    reader = EventReader(name, fmt)
    for line in lines:
        out = reader.feed(line)
        if out is not None:
            yield out
    last = reader.finish()
    if last is not None:
        yield last


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object with a key written twice is ambiguous: json.loads would keep the last."""
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _DuplicateKey(k)
            seen.add(k)
    return d


def _is_unicode_text(value: str) -> bool:
    """False for a string holding a lone surrogate: JSON's ``\\ud800`` escape decodes to one,
    and it cannot be stored as UTF-8 (digests and the database need real text)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(v: object) -> str:
    return _JSON_KINDS.get(type(v), type(v).__name__)


def _a(etype: str) -> str:
    return f"{'an' if etype[0] in 'aeiou' else 'a'} {etype!r}"


def _clip(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def _hint(key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, FIELDS, n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""
