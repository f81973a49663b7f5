"""Untrusted text made safe to put on a terminal or into an export.

Ticket titles, customer names and justifications come from other systems and other
people. A terminal obeys escape sequences byte for byte whatever widget draws them
(docs/formats.md: an OSC 52 sequence in a title writes the reader's clipboard), and bidi
overrides reorder what the reader sees ("Trojan Source"). So every screen and every
table export passes such text through `safe_text`, which replaces each dangerous
character with a visible stand-in; the database keeps the original.

Markup is a separate danger handled where text is drawn (`Text(s)`, `Content(s)`,
never a markup string): this module only deals with characters.
"""

from __future__ import annotations

import unicodedata

REPLACEMENT = "\ufffd"

# Bidi embeddings/overrides (LRE RLE PDF LRO RLO), isolates (LRI RLI FSI PDI), the
# implicit marks (LRM RLM ALM) and the line/paragraph separators that some terminals
# treat as a line break inside a one-line cell.
BIDI_AND_SEPARATORS: frozenset[int] = frozenset(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C, 0x2028, 0x2029]
)


def _table(keep_newlines: bool) -> dict[int, str]:
    # C0 and DEL have "control pictures" (U+2400 + code, U+2421): the reader sees that
    # an ESC or a BEL was there. C1 has none, and lone surrogates (from undecodable
    # bytes) cannot even be encoded: both become U+FFFD.
    table: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20)}
    table[0x7F] = "\u2421"
    table.update({c: REPLACEMENT for c in range(0x80, 0xA0)})
    table.update({c: REPLACEMENT for c in BIDI_AND_SEPARATORS})
    table.update({c: REPLACEMENT for c in range(0xD800, 0xE000)})
    if keep_newlines:
        del table[0x0A]
        del table[0x09]
    return table


_SINGLE_LINE = _table(keep_newlines=False)
_MULTI_LINE = _table(keep_newlines=True)


def safe_text(s: str | None, *, multiline: bool = False) -> str:
    """`s` with control, bidi-control and separator characters made visible.

    Single-line (the default, for table cells): nothing that moves the cursor
    survives, a newline shows as U+240A. `multiline=True` (notes, justifications)
    keeps `\\n` and `\\t` and reads `\\r\\n` as a newline.
    """
    if not s:
        return ""
    if s.isprintable():
        # Fast path, and exact: every character replaced below is a control (Cc),
        # format (Cf), separator (Zl/Zp) or surrogate (Cs), none of them printable.
        return s
    if multiline:
        return s.replace("\r\n", "\n").translate(_MULTI_LINE)
    return s.translate(_SINGLE_LINE)


# ---- width on a terminal ------------------------------------------------------------

ELLIPSIS = "\u2026"


def cells(s: str) -> int:
    """Terminal cells `s` takes: wide (East Asian) characters two; combining marks and
    format characters (zero-width joiners and spaces) none; everything else one.

    The one measure of text width, for the command line's tables and the TUI's queue
    lines alike, so both cut a title at the same place.
    """
    if s.isascii():
        return len(s)
    n = 0
    for ch in s:
        if unicodedata.combining(ch) or unicodedata.category(ch) == "Cf":
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return n


def fit(s: str, width: int, *, right: bool = False) -> str:
    """`s` cut (ending in an ellipsis) or padded to exactly `width` cells.

    A wide character that would straddle the cut is dropped and the gap padded, so
    the result is never wider than `width`.
    """
    n = cells(s)
    if n > width:
        if width <= 0:
            return ""
        out, used = [], 0
        for ch in s:
            w = cells(ch)
            if used + w > width - 1:
                break
            out.append(ch)
            used += w
        s = "".join(out) + ELLIPSIS
        n = used + 1
    pad = " " * (width - n)
    return pad + s if right else s + pad
