"""Hypothesis fuzz of the importer, end to end: a file on disk, `sladesk import`, the database.

- Garbage (random bytes, random JSON-ish lines, valid files mutated byte by byte or
  field by field) never gets anything out of the command but success or the clean
  refusal: exit 2 with a `FILE[:LINE]: reason` line and the database unchanged.
  Any other exception escapes `main` and fails the test.
- Valid files, however they are spelt (JSON Lines or CSV, key order, spacing, UTC
  offsets, fractional seconds, any text in titles and bodies), import whole, store
  what they say, and import again as all already present.
- Any text at all in a title or body (control characters, bidi overrides, lone
  surrogates) is stored exactly as written, or the file is refused with a reason.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rel_support import AGREEMENTS_TOML, fingerprint

from sladesk_tui.cli import main
from sladesk_tui.core.eventfile import FIELDS
from sladesk_tui.core.events import EVENT_TYPES
from sladesk_tui.store.audit import verify
from sladesk_tui.store.db import connect
from sladesk_tui.store.imports import import_file

BASE = dt.datetime(2026, 11, 27, 8, 5, tzinfo=dt.UTC).timestamp()
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Desk:
    """A template database (agreement acme-std, ticket T-1) and a scratch copy per example."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template.db"
        (root / "agreements.toml").write_text(AGREEMENTS_TOML, encoding="utf-8")
        (root / "base.jsonl").write_text(
            '{"id":"base-1","ticket":"T-1","at":"2026-11-27T08:05:00Z","type":"created","customer":"acme",'
            '"priority":"P2","title":"Invoices fail to post"}\n',
            encoding="utf-8",
        )
        assert main(["init", "--db", str(self.template), "--admin", "admin"], operator="admin") == 0
        for user in ("feed", "fuzz"):
            assert main(["role", "grant", "--db", str(self.template), "feed", user], operator="admin") == 0
        assert (
            main(["load", "--db", str(self.template), str(root / "agreements.toml")], operator="admin") == 0
        )
        assert main(["import", "--db", str(self.template), str(root / "base.jsonl")], operator="feed") == 0
        self.db = root / "work.db"
        self.file = root / "input"

    def fresh(self, data: bytes, suffix: str = ".jsonl") -> Path:
        for extra in ("-wal", "-shm"):
            Path(f"{self.db}{extra}").unlink(missing_ok=True)
        shutil.copy(self.template, self.db)
        path = self.file.with_suffix(suffix)
        path.write_bytes(data)
        return path

    def run_import(self, path: Path) -> tuple[int, str]:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["import", "--db", str(self.db), str(path)], operator="fuzz")
        return code, err.getvalue()

    def events(self) -> int:
        conn = connect(self.db, readonly=True)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        finally:
            conn.close()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    return Desk(tmp_path_factory.mktemp("fuzz"))


def _assert_clean_outcome(desk: Desk, path: Path) -> None:
    """Success with a verifiable log, or the clean refusal with nothing changed."""
    before = fingerprint(desk.db)
    count = desk.events()
    code, err = desk.run_import(path)
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith(f"sladesk: {path}"), err
        assert fingerprint(desk.db) == before
    else:
        assert desk.events() > count
        conn = connect(desk.db, readonly=True)
        try:
            assert verify(conn).ok
        finally:
            conn.close()


# ---- garbage -----------------------------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["2026-11-27T09:00:00Z", "T-1", "acme", "P1", "created", "reply", "waiting"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
JSONISH_OBJECTS = st.dictionaries(
    st.sampled_from([*FIELDS, "extra", ""]) | st.text(max_size=10),
    st.one_of(JSON_VALUES, st.sampled_from(sorted(EVENT_TYPES))),
    max_size=8,
)


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_are_refused_cleanly(desk: Desk, data: bytes) -> None:
    _assert_clean_outcome(desk, desk.fresh(data))


@FUZZ
@given(lines=st.lists(st.one_of(JSONISH_OBJECTS.map(json.dumps), JSON_VALUES.map(json.dumps)), max_size=6))
def test_random_json_lines_are_refused_cleanly(desk: Desk, lines: list[str]) -> None:
    _assert_clean_outcome(desk, desk.fresh("\n".join(lines).encode("utf-8")))


# ---- valid files, and mutations of them ----------------------------------------------------

TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), min_size=1, max_size=40
)
TITLES = TEXT.filter(lambda s: s.strip() != "")
NAMES = st.from_regex(r"[A-Za-z][A-Za-z .'-]{0,18}[a-z]", fullmatch=True)
STATUSES = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda s: s not in ("resolved", "closed")
)


@st.composite
def instants(draw: st.DrawFn, ts: float) -> str:
    """`ts` spelt any way the format allows: offset, separator, fractional digits."""
    minutes = draw(st.integers(-12 * 60, 14 * 60))
    tz = dt.timezone(dt.timedelta(minutes=minutes))
    local = dt.datetime.fromtimestamp(ts, tz)
    sep = draw(st.sampled_from(["T", " "]))
    digits = draw(st.integers(0, 9))
    text = local.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if digits:
        text += "." + f"{local.microsecond:06d}000"[:digits]
    if minutes == 0 and draw(st.booleans()):
        return text + "Z"
    sign = "+" if minutes >= 0 else "-"
    return text + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@st.composite
def valid_files(draw: st.DrawFn) -> list[dict[str, str]]:
    """New tickets with histories (and T-1's), every event valid for the importer."""
    events: list[dict[str, str]] = []
    tickets = ["T-1"]
    for k in range(draw(st.integers(0, 3))):
        tid = f"N-{k}"
        at = BASE + draw(st.integers(0, 10**6))
        acme = draw(st.booleans())
        ev = {
            "id": f"c{k}",
            "type": "created",
            "ticket": tid,
            "at": draw(instants(at)),
            "customer": "acme" if acme else draw(NAMES),
            "title": draw(TITLES),
            "priority": draw(
                st.sampled_from(["P1", "P2", "P3"]) if acme else st.from_regex(r"[A-Z][0-9]", fullmatch=True)
            ),
        }
        if draw(st.booleans()):
            ev["assignee"] = draw(NAMES)
        events.append(ev)
        tickets.append(tid)
    for i in range(draw(st.integers(0 if events else 1, 8))):
        etype = draw(
            st.sampled_from(
                [
                    "reply",
                    "customer_reply",
                    "note",
                    "status",
                    "priority",
                    "assign",
                    "resolved",
                    "reopened",
                    "closed",
                    "outage_start",
                    "outage_end",
                ]
            )
        )
        at = BASE + 10**6 + draw(st.integers(0, 10**6)) + draw(st.floats(0, 1, exclude_max=True))
        ev = {"id": f"e{i}", "type": etype, "at": draw(instants(at))}
        if etype.startswith("outage"):
            ev["service"] = draw(NAMES)
        else:
            ev["ticket"] = draw(st.sampled_from(tickets))
            if etype == "status":
                ev["status"] = draw(STATUSES)
            elif etype == "priority":
                ev["priority"] = draw(st.sampled_from(["P1", "P2", "P3"]))
            elif etype == "assign":
                ev["assignee"] = draw(NAMES)
        if draw(st.booleans()):
            ev["body"] = draw(TEXT)
        events.append(ev)
    # Tickets whose customer is not acme take any priority; one that is acme must keep P1-P3.
    for ev in events:
        if ev["type"] == "priority" and ev["ticket"].startswith("N-"):
            ev["priority"] = "P1"
    return events


def _spell(draw: st.DrawFn, events: list[dict[str, str]]) -> tuple[bytes, str]:
    """The events as JSON Lines (keys shuffled, spacing varied) or CSV; (bytes, suffix).
    A lone surrogate (only mutations put one in) is written as JSON's escape, or as the
    bytes a careless encoder would write."""
    if draw(st.booleans()):
        buf = io.StringIO()
        columns = draw(st.permutations(sorted({k for ev in events for k in ev})))
        out = csv.writer(buf, lineterminator="\n")
        out.writerow(columns)
        out.writerows([[ev.get(c, "") for c in columns] for ev in events])
        return buf.getvalue().encode("utf-8", "surrogatepass"), ".csv"
    lines = []
    for ev in events:
        keys = draw(st.permutations(list(ev)))
        seps = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]))
        lines.append(json.dumps({k: ev[k] for k in keys}, separators=seps, ensure_ascii=draw(st.booleans())))
    blank = draw(st.sampled_from(["", "\n", "  \n"]))
    return ("\n".join(lines) + "\n" + blank).encode("utf-8", "surrogatepass"), ".jsonl"


def _stored(desk: Desk) -> dict[str, tuple[Any, ...]]:
    conn = sqlite3.connect(f"{desk.db.as_uri()}?mode=ro", uri=True)
    try:
        return {r[0]: r[1:] for r in conn.execute("SELECT id, type, ts, title, body, customer FROM events")}
    finally:
        conn.close()


@FUZZ
@given(st.data())
def test_valid_files_import_whole_and_idempotently(desk: Desk, data: st.DataObject) -> None:
    events = data.draw(valid_files())
    raw, suffix = _spell(data.draw, events)
    path = desk.fresh(raw, suffix)
    report = import_file(desk.db, path, actor="fuzz")
    assert (report.inserted, report.already_present, report.skipped_invalid) == (len(events), 0, ())
    stored = _stored(desk)
    for ev in events:
        etype, ts, title, body, customer = stored[ev["id"]]
        assert etype == ev["type"]
        assert ts == pytest.approx(
            dt.datetime.fromisoformat(ev["at"].replace("Z", "+00:00")).timestamp(), abs=1e-6
        )
        assert (title, body, customer) == (ev.get("title"), ev.get("body"), ev.get("customer"))
    again = import_file(desk.db, path, actor="fuzz")
    assert (again.inserted, again.already_present) == (0, len(events))
    conn = connect(desk.db, readonly=True)
    try:
        assert verify(conn).ok
    finally:
        conn.close()


ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=30)  # surrogates included
HOSTILE = st.one_of(
    ANY_TEXT,
    st.builds(lambda s, c: s + chr(c), ANY_TEXT, st.integers(0xD800, 0xDFFF)),  # a lone surrogate
    st.sampled_from(
        [
            "half \ud83d a smiley",
            "\udc80",
            "a\x00b",
            "\x1b]0;pwned\x07",
            "[/]",
            "\u202eevil",
            "\r\n",
            "\u2028",
            "\x85",
            " ",
            "\ufeff",
            "é" * 600,
        ]
    ),
)


def _acceptable(field: str, text: str) -> bool:
    """What the format admits (docs/formats.md, core.eventfile): real text, no NUL; a title also
    non-blank and at most 500 characters. An empty body is no body."""
    if "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return False
    return field == "body" or (text.strip() != "" and len(text) <= 500)


@FUZZ
@given(st.data())
def test_any_text_is_stored_exactly_or_refused_cleanly(desk: Desk, data: st.DataObject) -> None:
    """Titles and bodies are free text: whatever they hold is stored as written, or the
    file is refused with a reason (never a traceback, never a silently altered text)."""
    events = data.draw(valid_files())
    ev = data.draw(st.sampled_from(events))
    field = "title" if ev["type"] == "created" and data.draw(st.booleans()) else "body"
    text = ev[field] = data.draw(HOSTILE)
    line = json.dumps  # ensure_ascii: a lone surrogate travels as its JSON escape
    path = desk.fresh(
        ("\n".join(line(e, ensure_ascii=data.draw(st.booleans())) for e in events) + "\n").encode(
            "utf-8", "surrogatepass"
        )
    )
    before = fingerprint(desk.db)
    code, err = desk.run_import(path)
    assert "Traceback" not in err
    if _acceptable(field, text):
        assert code == 0, err
        conn = sqlite3.connect(f"{desk.db.as_uri()}?mode=ro", uri=True)
        try:
            stored = conn.execute(f"SELECT {field} FROM events WHERE id = ?", (ev["id"],)).fetchone()[0]
        finally:
            conn.close()
        assert stored == (text or None)
    else:
        assert code == 2 and err.startswith(f"sladesk: {path}:"), err
        assert fingerprint(desk.db) == before


@st.composite
def mutated_files(draw: st.DrawFn) -> tuple[bytes, str]:
    """A valid file with a few edits: bytes flipped, inserted, cut; fields dropped or
    given other values; lines repeated, swapped or truncated."""
    events = draw(valid_files())
    for _ in range(draw(st.integers(0, 2))):  # field-level edits first
        ev = draw(st.sampled_from(events))
        key = draw(st.sampled_from(sorted(ev)))
        if draw(st.booleans()):
            del ev[key]
        else:
            ev[key] = (
                draw(JSON_VALUES)
                if draw(st.booleans())
                else draw(st.sampled_from(["", "T-404", "P9", "c0", "x y", "half \ud83d a smiley"]))
            )
    raw, suffix = _spell(draw, events)  # CSV writes a non-string value as its str()
    buf = bytearray(raw)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "swap", "cut"]))
        lines = bytes(buf).split(b"\n")
        if op == "flip" and buf:
            buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
        elif op == "insert":
            pos = draw(st.integers(0, len(buf)))
            buf[pos:pos] = draw(
                st.binary(min_size=1, max_size=4) | st.sampled_from([b"\n", b'"', b"\xef\xbb\xbf", b"\\"])
            )
        elif op == "delete" and buf:
            pos = draw(st.integers(0, len(buf) - 1))
            del buf[pos : pos + draw(st.integers(1, 8))]
        elif op == "repeat" and lines:
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            buf = bytearray(b"\n".join(lines))
        elif op == "swap" and len(lines) > 1:
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            buf = bytearray(b"\n".join(lines))
        elif op == "cut":
            buf = buf[: draw(st.integers(0, len(buf)))]
    return bytes(buf), suffix


@FUZZ
@given(mutated_files())
def test_mutated_files_import_or_are_refused_cleanly(desk: Desk, mutated: tuple[bytes, str]) -> None:
    raw, suffix = mutated
    _assert_clean_outcome(desk, desk.fresh(raw, suffix))
