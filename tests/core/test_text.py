"""safe_text: nothing that drives a terminal or reorders text gets through."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sladesk_tui.core.text import safe_text

OSC52 = "\x1b]52;c;aGVsbG8=\x07"


def _dangerous(ch: str) -> bool:
    c = ord(ch)
    return (
        c < 0x20
        or 0x7F <= c < 0xA0
        or 0x202A <= c <= 0x202E
        or 0x2066 <= c <= 0x2069
        or c in (0x200E, 0x200F, 0x061C, 0x2028, 0x2029)
        or 0xD800 <= c < 0xE000
    )


def test_osc52_clipboard_write_is_shown_not_obeyed() -> None:
    out = safe_text(f"Printer broken{OSC52}")
    assert "\x1b" not in out and "\x07" not in out
    assert out == "Printer broken\u241b]52;c;aGVsbG8=\u2407"


def test_csi_colour_and_title_sequences_are_neutralised() -> None:
    assert safe_text("\x1b[31mred\x1b[0m") == "\u241b[31mred\u241b[0m"
    assert safe_text("\x1b]0;owned\x1b\\") == "\u241b]0;owned\u241b\\"


def test_c1_controls_and_del_are_replaced() -> None:
    # U+009B is a one-character CSI and U+009D an OSC on 8-bit terminals.
    assert safe_text("a\x9b31mb\x9dc\x7f") == "a\ufffd31mb\ufffdc\u2421"


def test_bidi_overrides_and_isolates_cannot_reorder_text() -> None:
    trojan = "invoice \u202egnp.exe\u202c \u2066x\u2069 \u200f"
    out = safe_text(trojan)
    assert out == "invoice \ufffdgnp.exe\ufffd \ufffdx\ufffd \ufffd"


def test_single_line_cells_keep_no_newline_or_tab() -> None:
    assert safe_text("a\nb\tc\rd") == "a\u240ab\u2409c\u240dd"
    assert safe_text("line\u2028sep") == "line\ufffdsep"


def test_multiline_keeps_newlines_and_tabs_but_not_escapes() -> None:
    assert safe_text("a\r\nb\tc\x1b[2J", multiline=True) == "a\nb\tc\u241b[2J"
    assert safe_text("lone\rcr", multiline=True) == "lone\u240dcr"


def test_ordinary_text_is_untouched() -> None:
    s = "Rechnung für Müller — 请求 [P1] [/] [@click=app.quit]x[/] émoji 🎉"
    assert safe_text(s) == s
    assert safe_text(None) == ""
    assert safe_text("") == ""


def test_lone_surrogates_become_encodable() -> None:
    out = safe_text("bad\udcffbyte")
    assert out == "bad\ufffdbyte"
    out.encode("utf-8")


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40))
def test_no_dangerous_character_survives(s: str) -> None:
    out = safe_text(s)
    assert not any(_dangerous(ch) for ch in out)
    assert len(out) == len(s)  # one visible stand-in per character: columns stay put
    kept = safe_text(s, multiline=True)
    assert not any(_dangerous(ch) and ch not in "\n\t" for ch in kept)
