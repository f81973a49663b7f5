"""Untrusted text made safe to put on a terminal or into an export.

Ticket titles, customer names and justifications come from other systems and other
people. A terminal obeys escape sequences byte for byte whatever widget draws them
(NOTES: an OSC 52 sequence in a title writes the reader's clipboard), and bidi
overrides reorder what the reader sees ("Trojan Source"). So every screen and every
table export passes such text through `safe_text`, which replaces each dangerous
character with a visible stand-in; the database keeps the original.

Markup is a separate danger handled where text is drawn (`Text(s)`, `Content(s)`,
never a markup string): this module only deals with characters.
"""

from __future__ import annotations

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
