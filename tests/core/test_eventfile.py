"""Event files (docs/formats.md): instants, per-event validation, JSON Lines and CSV, bad bytes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import pathlib
import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.eventfile import (
    ALLOWED_FIELDS,
    FIELD_RULES,
    FIELDS,
    INSTANT_PATTERN,
    MAX_LINE_BYTES,
    EventReader,
    decode_line,
    event_from_mapping,
    parse_instant,
    read_events,
)
from sladesk_tui.core.events import EVENT_TYPES, REQUIRED_FIELDS, TICKET_EVENT_TYPES, Event, event_digest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schema" / "events.schema.json").read_text(encoding="utf-8"))

SPEC_LINES = [
    '{"id":"e1","ticket":"T-1001","at":"2026-11-27T08:05:00Z","type":"created","customer":"acme","service":"erp","priority":"P2","title":"Invoices fail to post"}',
    '{"id":"e2","ticket":"T-1001","at":"2026-11-27T08:40:00Z","type":"reply","author":"sam"}',
    '{"id":"e3","ticket":"T-1001","at":"2026-11-27T09:00:00Z","type":"status","status":"waiting"}',
]
T0 = dt.datetime(2026, 11, 27, 8, 5, tzinfo=dt.UTC).timestamp()


def events(lines: list[str] | list[bytes], fmt: str = "auto") -> list[tuple[int, Event | InputError]]:
    return list(read_events(lines, name="ev.jsonl", fmt=fmt))


def ok(lines: list[str] | list[bytes], fmt: str = "auto") -> list[Event]:
    out = events(lines, fmt)
    bad = [str(e) for _, e in out if isinstance(e, InputError)]
    assert bad == []
    return [e for _, e in out]


def errors(lines: list[str] | list[bytes], fmt: str = "auto") -> list[str]:
    return [str(e) for _, e in events(lines, fmt) if isinstance(e, InputError)]


# ---- instants ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-27T08:05:00Z",
        "2026-11-27T09:05:00+01:00",
        "2026-11-27T03:05:00-05:00",
        "2026-11-27 08:05:00Z",
        "2026-11-27T08:05Z",
        "2026-11-27T08:05:00.000Z",
        "2026-11-27T13:50:00+05:45",
    ],
)
def test_instants_with_offsets(text: str) -> None:
    assert parse_instant(text) == T0


def test_fractions_keep_microseconds() -> None:
    assert parse_instant("2026-11-27T08:05:00.25Z") == T0 + 0.25
    assert parse_instant("2026-11-27T08:05:00.123456789Z") == pytest.approx(T0 + 0.123456, abs=1e-7)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-11-27T08:05:00", "instant '2026-11-27T08:05:00' has no UTC offset"),
        ("2026-11-27T08:05", "instant '2026-11-27T08:05' has no UTC offset"),
        ("2026-11-27", "instant '2026-11-27' is not an ISO 8601 date-time"),
        ("2026-11-27T08:05:00+0100", "is not an ISO 8601 date-time"),
        ("2026-W48-5T08:05Z", "is not an ISO 8601 date-time"),
        ("2026-11-27x08:05:00Z", "is not an ISO 8601 date-time"),
        ("2026-11-27t08:05:00z", "is not an ISO 8601 date-time"),
        ("2026-11-27T08:05:00Z\n", "is not an ISO 8601 date-time"),
        (" 2026-11-27T08:05:00Z", "is not an ISO 8601 date-time"),
        ("2026-02-30T08:05:00Z", "instant '2026-02-30T08:05:00Z' is not a valid date-time"),
        ("2026-11-27T24:00:00Z", "is not a valid date-time"),
        ("2026-11-27T08:05:00+24:00", "is not a valid date-time"),
        ("", "is not an ISO 8601 date-time"),
        ("9" * 10_000, "'" + "9" * 57 + "...' is not an ISO 8601 date-time"),
    ],
)
def test_bad_instants(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_instant(text)
    assert message in str(info.value) and info.value.where is None


# ---- one event --------------------------------------------------------------------------

VALID: dict[str, dict[str, str]] = {
    "created": {
        "ticket": "T-1",
        "customer": "acme",
        "priority": "P1",
        "title": "Mail down",
        "service": "email",
        "agreement": "acme-gold",
        "assignee": "sam",
        "author": "portal",
        "body": "All mail bounces.\nSince 8.",
    },
    "reply": {"ticket": "T-1", "author": "sam", "body": "Looking into it"},
    "customer_reply": {"ticket": "T-1", "body": "Thanks"},
    "note": {"ticket": "T-1", "body": "internal"},
    "status": {"ticket": "T-1", "status": "on_hold"},
    "priority": {"ticket": "T-1", "priority": "P2"},
    "assign": {"ticket": "T-1", "assignee": "Ana María"},
    "resolved": {"ticket": "T-1"},
    "reopened": {"ticket": "T-1"},
    "closed": {"ticket": "T-1"},
    "outage_start": {"service": "erp", "author": "noc"},
    "outage_end": {"service": "erp"},
}


def sample(etype: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"id": f"ev-{etype}", "type": etype, "at": "2026-11-27T08:05:00Z", **VALID[etype]}
    for k, v in extra.items():
        if v is ...:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def test_every_type_has_a_valid_sample() -> None:
    assert set(VALID) == EVENT_TYPES


@pytest.mark.parametrize("etype", sorted(EVENT_TYPES))
def test_valid_events(etype: str) -> None:
    ev = event_from_mapping(sample(etype), seq=7)
    assert (ev.id, ev.type, ev.at, ev.seq) == (f"ev-{etype}", etype, T0, 7)
    for k, v in VALID[etype].items():
        assert getattr(ev, k) == v
    assert (ev.ticket is None) == (etype not in TICKET_EVENT_TYPES)


def test_null_and_empty_mean_absent() -> None:
    ev = event_from_mapping(sample("reply", author=None, body=""), seq=1)
    assert (ev.author, ev.body) == (None, None)
    ev = event_from_mapping(sample("outage_start", ticket="", status=None), seq=1)
    assert ev.ticket is None


BAD_EVENTS = [
    (sample("reply", colour="red"), "unknown field 'colour'"),
    (sample("reply", autor="sam"), "unknown field 'autor' (did you mean 'author'?)"),
    (sample("reply", type=...), "missing field 'type'"),
    (sample("reply", type="replied"), "unknown event type 'replied' (known: assign, closed, created,"),
    (sample("reply", type="x" * 5000), "unknown event type '" + "x" * 57 + "...' (known:"),
    (sample("reply", id=...), "missing field 'id'"),
    (sample("reply", id=""), "missing field 'id'"),
    (sample("reply", at=...), "missing field 'at'"),
    (
        sample("reply", at="2026-11-27T08:05:00"),
        "field 'at': instant '2026-11-27T08:05:00' has no UTC offset",
    ),
    (sample("reply", at=1764230700), "field 'at' must be a string, not a number"),
    (sample("reply", ticket=1001), "field 'ticket' must be a string, not a number"),
    (sample("reply", ticket=["T-1"]), "field 'ticket' must be a string, not an array"),
    (sample("reply", body={"text": "x"}), "field 'body' must be a string, not an object"),
    (sample("reply", ticket=True), "field 'ticket' must be a string, not a boolean"),
    (sample("reply", ticket=...), "missing field 'ticket'"),
    (sample("outage_start", ticket="T-1"), "field 'ticket' does not belong to an 'outage_start' event"),
    (sample("outage_end", service=...), "missing field 'service' (an 'outage_end' event needs service)"),
    (
        sample("created", title=...),
        "missing field 'title' (a 'created' event needs customer, priority, title)",
    ),
    (sample("created", customer=""), "missing field 'customer'"),
    (sample("status", status=...), "missing field 'status'"),
    (sample("priority", priority=...), "missing field 'priority'"),
    (sample("assign", assignee=...), "missing field 'assignee'"),
    (sample("reply", status="open"), "field 'status' does not belong to a 'reply' event"),
    (sample("assign", priority="P1"), "field 'priority' does not belong to an 'assign' event"),
    (sample("status", status="Waiting"), "field 'status': 'Waiting' is not a status (a lowercase word"),
    (sample("status", status="on hold"), "field 'status': 'on hold' is not a status"),
    (sample("priority", priority="P 1"), "field 'priority': 'P 1' is not a priority name"),
    (sample("priority", priority="P" * 33), "field 'priority' is too long (33 characters, at most 32)"),
    (
        sample("reply", ticket="T 1"),
        "field 'ticket': 'T 1' is not an id without spaces, control or bidi/format characters",
    ),
    (sample("reply", ticket="T-1\n"), "field 'ticket': 'T-1\\n' is not an id"),
    (sample("reply", id="x" * 101), "field 'id' is too long (101 characters, at most 100)"),
    (
        sample("created", customer=" acme"),
        "field 'customer': ' acme' is not a name without control or bidi/format characters or surrounding spaces",
    ),
    (sample("created", customer="ac\x1bme"), "field 'customer': 'ac\\x1bme' is not a name"),
    (sample("created", title="   "), "field 'title': '   ' is not a title that is not blank"),
    (
        sample("created", title="a\x00b"),
        "field 'title': 'a\\x00b' is not a title that is not blank and has no NUL",
    ),
    (sample("created", title="x" * 501), "field 'title' is too long (501 characters, at most 500)"),
    (sample("note", body="a\x00"), "field 'body': 'a\\x00' is not text without NUL characters"),
    (sample("note", body="x" * 65537), "field 'body' is too long (65537 characters, at most 65536)"),
    (sample("assign", assignee="x" * 201), "field 'assignee' is too long"),
]


@pytest.mark.parametrize(("d", "message"), BAD_EVENTS)
def test_bad_events(d: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as info:
        event_from_mapping(d, seq=1)
    assert message in str(info.value)
    assert info.value.where is None


def test_control_characters_other_than_nul_are_kept_in_text() -> None:
    ev = event_from_mapping(sample("created", title="\x1b]0;pwned\x07 [b]x[/b]"), seq=1)
    assert ev.title == "\x1b]0;pwned\x07 [b]x[/b]"


# ---- files -----------------------------------------------------------------------------------


def test_the_spec_example() -> None:
    evs = ok(SPEC_LINES)
    assert [(e.id, e.type, e.seq) for e in evs] == [
        ("e1", "created", 1),
        ("e2", "reply", 2),
        ("e3", "status", 3),
    ]
    assert evs[0].at == T0 and evs[0].title == "Invoices fail to post" and evs[2].status == "waiting"


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...] = FIELDS, newline: str = "\n") -> list[str]:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r[c] for c in columns])
    return _split(buf.getvalue())


def _split(text: str) -> list[str]:
    """Lines end at \n only: str.splitlines would also cut at \x85 and \u2028."""
    return [ln for ln in re.split(r"(?<=\n)", text) if ln]


def _jsonl(rows: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) + "\n" for r in rows]


def test_csv_and_jsonl_mean_the_same_events() -> None:
    rows = [sample(t) for t in sorted(EVENT_TYPES)]
    rows[0]["body"] = 'quote " and, comma'
    from_json = ok(_jsonl(rows))
    from_csv = ok(_csv(rows))
    assert [event_digest(e) for e in from_json] == [event_digest(e) for e in from_csv]
    assert [replace(e, seq=0) for e in from_json] == [replace(e, seq=0) for e in from_csv]
    assert [e.seq for e in from_json] == list(range(1, len(rows) + 1))
    assert from_csv[0].seq == 2 and from_csv[-1].seq > len(rows) + 1  # a body spanning lines


_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1, max_size=12
)


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, str]:
    etype = draw(st.sampled_from(sorted(EVENT_TYPES)))
    d = {"id": draw(_text), "type": etype, "at": "2026-11-27T08:05:00+01:00"}
    for f in sorted(ALLOWED_FIELDS[etype]):
        if f in REQUIRED_FIELDS.get(etype, ()) or f == "ticket" or draw(st.booleans()):
            if f == "priority":
                d[f] = draw(st.from_regex(r"\A[A-Z][0-9]{1,2}\Z"))
            elif f == "status":
                d[f] = draw(st.from_regex(r"\A[a-z][a-z_]{0,10}\Z"))
            elif f in ("title", "body"):
                d[f] = draw(
                    st.text(
                        st.characters(codec="utf-8", exclude_characters="\x00\r\n"), min_size=1, max_size=30
                    ).filter(str.strip)
                )
            else:
                d[f] = draw(_text)
    return d


@settings(max_examples=60, deadline=None)
@given(st.lists(valid_events(), min_size=1, max_size=6))
def test_csv_and_jsonl_agree_on_any_valid_events(rows: list[dict[str, str]]) -> None:
    a = ok(_jsonl(rows))
    b = ok(_csv(rows))
    assert [event_digest(e) for e in a] == [event_digest(e) for e in b]


def test_csv_columns_may_be_a_subset_in_any_order_and_empty_cells_are_absent() -> None:
    lines = _csv(
        [sample("reply"), sample("status")], columns=("type", "status", "at", "ticket", "id"), newline="\r\n"
    )
    a, b = ok(lines)
    assert (a.type, a.status, a.author, b.status) == ("reply", None, None, "on_hold")


def test_csv_fields_may_span_lines() -> None:
    lines = _csv([sample("note", body="one\ntwo\n\nfour"), sample("reply")])
    assert len(lines) == 6
    a, b = ok(lines)
    assert a.body == "one\ntwo\n\nfour" and (a.seq, b.seq) == (2, 6)


def test_csv_header_problems_stop_the_file_at_line_one() -> None:
    with pytest.raises(InputError) as info:
        events(["type,ticket\n", "reply,T-1\n"])
    assert str(info.value) == "ev.jsonl:1: CSV header: missing required columns 'id', 'at'"
    with pytest.raises(InputError, match=r"^ev.jsonl:2: CSV header: unknown column 'colour'$"):
        events(["\n", "id,type,at,colour\n"])
    with pytest.raises(InputError, match=r"unknown column 'tickt' \(did you mean 'ticket'\?\)"):
        events(["id,type,at,tickt\n"])
    with pytest.raises(InputError, match=r"CSV header: column 'id' appear"):
        events(["id,type,at,id\n"])


def test_csv_row_problems() -> None:
    lines = [
        "id,type,at,ticket\n",
        "e1,reply,2026-11-27T08:05:00Z\n",
        'e2,reply,2026-11-27T08:05:00Z,"T-1"x\n',
        "e3,reply,2026-11-27T08:05:00Z,T-1\n",
        'e4,reply,2026-11-27T08:05:00Z,"T-\n',
    ]
    out = events(lines)
    assert [(n, str(e)) for n, e in out if isinstance(e, InputError)] == [
        (2, "ev.jsonl:2: the row has 3 cells, the header 4"),
        (3, "ev.jsonl:3: invalid CSV: ',' expected after '\"'"),
        (5, "ev.jsonl:5: unterminated quoted CSV field"),
    ]
    assert [e.id for _, e in out if isinstance(e, Event)] == ["e3"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "e1",}', "invalid JSON: Expecting property name enclosed in double quotes (column 13)"),
        ('["e1"]', "a line must be a JSON object, not an array"),
        (
            '{"id":"e1","type":"reply","type":"note","at":"2026-11-27T08:05:00Z","ticket":"T"}',
            "field 'type' appears twice",
        ),
        ('{"id":"e1","type":"reply","at":"2026-11-27T08:05:00Z","ticket":"T","x":1}', "unknown field 'x'"),
    ],
)
def test_jsonl_line_problems(line: str, message: str) -> None:
    assert errors([SPEC_LINES[0], line]) == [f"ev.jsonl:2: {message}"]


def test_a_value_that_is_not_an_object() -> None:
    assert errors(["{}", '"e1"', "42", "null"], fmt="jsonl")[1:] == [
        "ev.jsonl:2: a line must be a JSON object, not a string",
        "ev.jsonl:3: a line must be a JSON object, not a number",
        "ev.jsonl:4: a line must be a JSON object, not null",
    ]


def test_blank_lines_are_skipped_and_counted() -> None:
    evs = ok(["\n", SPEC_LINES[0] + "\r\n", "   \n", SPEC_LINES[1]])
    assert [e.seq for e in evs] == [2, 4]


def test_forcing_a_format() -> None:
    assert errors(["id,type,at\n"], fmt="jsonl") == ["ev.jsonl:1: invalid JSON: Expecting value (column 1)"]
    with pytest.raises(InputError, match="^ev.jsonl:1: CSV header: "):
        events(SPEC_LINES, fmt="csv")
    with pytest.raises(InputError, match="unknown input format 'xml'"):
        EventReader("x", "xml")


def test_a_byte_order_mark_is_skipped() -> None:
    raw = [b"\xef\xbb\xbf" + SPEC_LINES[0].encode() + b"\n", SPEC_LINES[1].encode()]
    assert [e.id for e in ok(raw)] == ["e1", "e2"]
    assert [e.id for e in ok(["\ufeff" + SPEC_LINES[0]])] == ["e1"]
    csv_lines = _csv([sample("reply")])
    csv_lines[0] = "\ufeff" + csv_lines[0]
    assert [e.type for e in ok(csv_lines)] == ["reply"]
    # only at the very start: elsewhere it is a bad line
    assert errors([SPEC_LINES[0], "\ufeff" + SPEC_LINES[1]])[0].startswith("ev.jsonl:2: invalid JSON")


def test_bytes_that_are_not_utf8_make_that_line_bad() -> None:
    raw = [
        SPEC_LINES[0].encode(),
        b'{"id":"e2","ticket":"T-1001","at":"2026-11-27T08:40:00Z","type":"reply","author":"s\xe9b"}',
        SPEC_LINES[2].encode(),
    ]
    out = events(raw)
    assert [n for n, e in out if isinstance(e, Event)] == [1, 3]
    assert (
        str(out[1][1])
        == f"ev.jsonl:2: not valid UTF-8 (byte 0xe9 at byte {raw[1].index(0xE9) + 1} of the line)"
    )
    with pytest.raises(InputError, match=r"^not valid UTF-8 \(byte 0xff at byte 2 of the line\)$"):
        decode_line(b"a\xff")
    assert decode_line("é".encode()) == "é"


@pytest.mark.parametrize("as_bytes", [True, False])
def test_a_ten_megabyte_line_is_reported_not_parsed(as_bytes: bool) -> None:
    huge = '{"id":"big","body":"' + "x" * (10 * MAX_LINE_BYTES) + '"}'
    lines: list[Any] = [SPEC_LINES[0], huge, SPEC_LINES[1]]
    if as_bytes:
        lines = [ln.encode() for ln in lines]
    out = events(lines)
    assert [n for n, e in out if isinstance(e, Event)] == [1, 3]
    assert str(out[1][1]) == f"ev.jsonl:2: line is too long ({len(huge):,} bytes, at most 1,048,576)"


def test_a_long_csv_record_is_refused_too() -> None:
    lines = _csv([sample("note", body=("y" * 1000 + "\n") * 1100), sample("reply")])
    out = events(lines)
    assert isinstance(out[0][1], InputError) and "CSV record is too long" in str(out[0][1])
    assert out[0][0] == 2


@pytest.mark.parametrize("lines", [[], ["\n", "  \n"], ["id,type,at,ticket\n"], [b"\xef\xbb\xbf"]])
def test_no_events_is_an_error(lines: list[Any]) -> None:
    with pytest.raises(InputError) as info:
        events(lines)
    assert str(info.value) == "ev.jsonl: no events"


def test_a_file_of_bad_lines_reports_them_not_no_events() -> None:
    assert errors(["{}"]) == ["ev.jsonl:1: missing field 'type'"]


def test_the_reader_can_be_fed_as_a_file_grows() -> None:
    r = EventReader("live.csv")
    assert r.feed("id,type,at,ticket,body\n") is None
    assert r.feed('e1,note,2026-11-27T08:05:00Z,T-1,"half\n') is None  # record not complete yet
    n, ev = r.feed('done"\n')
    assert n == 2 and isinstance(ev, Event) and ev.body == "half\ndone"
    n, ev = r.feed(b"e2,reply,2026-11-27T08:06:00Z,T-1,\n")
    assert n == 4 and isinstance(ev, Event) and ev.seq == 4
    assert r.finish() is None


# ---- the JSON Schema agrees with the validator -----------------------------------------------------


def test_schema_is_draft_2020_12_and_lists_the_same_fields() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["type"] == "object" and SCHEMA["additionalProperties"] is False
    assert set(SCHEMA["properties"]) == set(FIELDS)
    assert set(SCHEMA["properties"]["type"]["enum"]) == EVENT_TYPES
    assert SCHEMA["required"] == ["id", "type", "at"]
    assert SCHEMA["properties"]["at"]["pattern"] == INSTANT_PATTERN


def test_schema_bounds_and_patterns_match_the_validator() -> None:
    for field, (pattern, limit, _) in FIELD_RULES.items():
        prop = SCHEMA["properties"][field]
        rule = prop if "pattern" in prop else prop["anyOf"][1]
        assert (rule["pattern"], rule["maxLength"]) == (pattern, limit), field


def test_schema_per_type_rules_match_the_validator() -> None:
    rules = {r["if"]["properties"]["type"]["const"]: r["then"] for r in SCHEMA["allOf"]}
    assert set(rules) == EVENT_TYPES
    for etype, then in rules.items():
        expected = (["ticket"] if etype in TICKET_EVENT_TYPES else []) + list(REQUIRED_FIELDS.get(etype, ()))
        assert then.get("required", []) == expected, etype
        refused = {f for f, p in then["properties"].items() if p == {"enum": [None, ""]}}
        assert refused == set(FIELDS) - {"id", "type", "at"} - ALLOWED_FIELDS[etype], etype


def _schema_ok(schema: dict[str, Any], value: Any) -> bool:
    """The subset of JSON Schema the events schema uses, ECMA-262 `$` included."""
    types = {"string": str, "object": dict, "null": type(None)}
    if "type" in schema and not isinstance(value, types[schema["type"]]):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "const" in schema and value != schema["const"]:
        return False
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            return False
        if "pattern" in schema and not re.search(re.sub(r"\$$", r"\\Z", schema["pattern"]), value):
            return False
    if isinstance(value, dict):
        if any(k not in value for k in schema.get("required", ())):
            return False
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False and any(k not in props for k in value):
            return False
        if any(k in value and not _schema_ok(s, value[k]) for k, s in props.items()):
            return False
    if not all(_schema_ok(s, value) for s in schema.get("allOf", ())):
        return False
    if "anyOf" in schema and not any(_schema_ok(s, value) for s in schema["anyOf"]):
        return False
    return not ("if" in schema and _schema_ok(schema["if"], value) and not _schema_ok(schema["then"], value))


def _validator_ok(d: dict[str, Any]) -> bool:
    try:
        event_from_mapping(d, seq=1)
    except InputError:
        return False
    return True


@pytest.mark.parametrize(
    "d",
    [sample(t) for t in sorted(EVENT_TYPES)]
    + [d for d, _ in BAD_EVENTS if d.get("at") == "2026-11-27T08:05:00Z"]
    + [
        sample("reply", status=None),
        sample("outage_start", ticket=""),
        sample("reply", author=None, body=""),
    ],
)
def test_schema_and_validator_agree(d: dict[str, Any]) -> None:
    assert _schema_ok(SCHEMA, d) == _validator_ok(d)


@settings(max_examples=60, deadline=None)
@given(valid_events())
def test_schema_accepts_every_valid_event(d: dict[str, str]) -> None:
    assert _validator_ok(d) and _schema_ok(SCHEMA, d)


@pytest.mark.parametrize("hidden", ["\u202e", "\u2066", "\u200b", "\u200f", "\ufeff", "\x9b"])
def test_ids_and_names_with_invisible_characters_are_refused(hidden: str) -> None:
    # A ticket id that reorders itself on screen could never be opened from the queue.
    with pytest.raises(InputError, match="bidi/format"):
        event_from_mapping(sample("reply", ticket=f"T-1{hidden}7"), seq=1)
    with pytest.raises(InputError, match="bidi/format"):
        event_from_mapping(sample("created", customer=f"ac{hidden}me"), seq=1)


def test_a_line_nested_deeper_than_the_json_parser_recurses_is_a_bad_line() -> None:
    deep = "{" + '"id":' + "[" * 100_000 + "]" * 100_000 + "}\n"
    good = json.dumps({"id": "n1", "type": "note", "ticket": "T-1", "at": "2026-11-27T08:05:00Z"}) + "\n"
    out = list(read_events([deep.encode(), good.encode()], name="deep.jsonl"))
    assert str(out[0][1]) == "deep.jsonl:1: invalid JSON: arrays or objects nested too deeply"
    assert isinstance(out[1][1], Event)
