"""The agreements file (docs/agreements.md): parsing, every refusal message, defaults, matching."""

from __future__ import annotations

import datetime as dt
import pathlib
import tomllib
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sladesk_tui.core.agreements import (
    AgreementError,
    AgreementSet,
    AtRisk,
    CalendarDef,
    build_calendar,
    load_agreements,
    match_agreement,
)
from sladesk_tui.core.calendar import BusinessCalendar, HolidaySnapshot
from sladesk_tui.core.durations import format_duration, parse_duration
from sladesk_tui.core.errors import InputError

ROOT = pathlib.Path(__file__).resolve().parents[2]
BERLIN = ZoneInfo("Europe/Berlin")

CALENDAR = """
[[calendar]]
id = "berlin"
tz = "Europe/Berlin"
holidays = ["2026-12-25"]
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-16:00"] }
"""
TARGETS = (
    'P1 = { response = "15m", update = "1h", resolution = "4h" }\nP2 = { response = "1h", resolution = "8h" }'
)


def agreement(
    extra: str = "", *, id: str = "acme-gold", targets: str = TARGETS, head: str | None = None
) -> str:
    head = head if head is not None else f'id = "{id}"\ncustomer = "acme"\ncalendar = "berlin"\n'
    return f"\n[[agreement]]\n{head}{extra}\n[agreement.targets]\n{targets}\n"


def load(text: str) -> AgreementSet:
    return load_agreements(text, "sla.toml")


def refused(text: str) -> AgreementError:
    with pytest.raises(AgreementError) as info:
        load(text)
    return info.value


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, tz: dt.tzinfo = dt.UTC) -> float:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=tz).timestamp()


# ---- durations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15m", 900),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("40h", 144000),
        ("90s", 90),
        ("1h0m5s", 3605),
        (" 2h ", 7200),
        ("120m", 7200),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("3d", "a business day has no fixed length; write hours"),
        ("1w", "a business day has no fixed length"),
        ("2 days", "a business day has no fixed length"),
        ("1d4h", "a business day has no fixed length"),
        ("0m", "must be longer than zero"),
        ("0h0m0s", "must be longer than zero"),
        ("-5m", "must be positive"),
        ("15x", "'15x' is not a duration"),
        ("", "'' is not a duration"),
        ("1.5h", "is not a duration"),
        ("30m1h", "is not a duration"),
        ("15M", "is not a duration"),
        ("h", "is not a duration"),
        ("10001h", "too long"),
    ],
)
def test_bad_durations(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        parse_duration(text)
    assert needle in str(info.value)
    assert str(info.value).startswith(repr(text))


def test_a_number_is_not_a_duration() -> None:
    with pytest.raises(ValueError, match="900 is not a duration"):
        parse_duration(900)


@given(st.integers(0, 9999), st.integers(0, 59), st.integers(0, 59))
def test_duration_round_trip(h: int, m: int, s: int) -> None:
    total = h * 3600 + m * 60 + s
    if total == 0:
        return
    assert parse_duration(f"{h}h{m}m{s}s") == total
    assert parse_duration(format_duration(total)) == total


# ---- a whole file ----------------------------------------------------------------

SPEC_EXAMPLE = """
[[calendar]]
id = "berlin"
tz = "Europe/Berlin"
holidays = ["2026-12-25"]
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-16:00"] }

[[agreement]]
id = "acme-gold"
name = "ACME Gold support"
customer = "acme"
services = ["email", "erp"]
calendar = "berlin"
valid_from = "2026-01-01"
valid_until = "2026-12-31"
pause_statuses = ["waiting"]
at_risk = { ratio = 0.75, remaining = "30m" }
on_priority_change = "keep"
on_reopen = "resume"
availability = 99.9

[agreement.targets]
P1 = { response = "15m", update = "1h", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
P3 = { response = "4h", resolution = "40h" }

[agreement.penalty]
currency = "EUR"
per_breach = { P1 = 500, P2 = 200 }
monthly_cap = 5000
"""


def test_the_spec_example_loads() -> None:
    s = load(SPEC_EXAMPLE)
    assert s.warnings == ()
    (a,) = s.agreements
    assert (a.id, a.name, a.customer, a.services, a.calendar) == (
        "acme-gold",
        "ACME Gold support",
        "acme",
        ("email", "erp"),
        "berlin",
    )
    assert (a.valid_from, a.valid_until) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert a.pause_statuses == frozenset({"waiting"})
    assert a.at_risk == AtRisk(ratio=0.75, remaining_s=1800.0)
    assert (a.on_priority_change, a.on_reopen, a.availability) == ("keep", "resume", 99.9)
    assert a.target("P1", "response") == 900 and a.target("P1", "update") == 3600
    assert a.target("P3", "resolution") == 40 * 3600
    assert (
        a.target("P2", "update") is None
        and a.target("P9", "response") is None
        and a.target(None, "response") is None
    )
    assert a.penalty is not None
    assert (a.penalty.currency, dict(a.penalty.per_breach), a.penalty.monthly_cap) == (
        "EUR",
        {"P1": 500, "P2": 200},
        5000,
    )
    cal = s.calendars["berlin"]
    assert cal.tz == "Europe/Berlin" and cal.holidays == ("2026-12-25",)
    assert dict(cal.hours)["fri"] == ("09:00-16:00",) and "sat" not in dict(cal.hours)


def test_defaults_of_the_spec() -> None:
    (a,) = load(CALENDAR + agreement()).agreements
    assert a.name == "acme-gold"
    assert a.pause_statuses == frozenset({"waiting"})
    assert a.at_risk == AtRisk(ratio=0.75, remaining_s=None)
    assert (a.on_priority_change, a.on_reopen) == ("keep", "resume")
    assert (a.services, a.valid_from, a.valid_until, a.availability, a.penalty) == (
        (),
        None,
        None,
        None,
        None,
    )


def test_a_written_at_risk_table_replaces_the_default() -> None:
    (a,) = load(CALENDAR + agreement('at_risk = { remaining = "30m" }')).agreements
    assert a.at_risk == AtRisk(ratio=None, remaining_s=1800.0)
    (b,) = load(CALENDAR + agreement("at_risk = {}")).agreements
    assert b.at_risk == AtRisk(ratio=None, remaining_s=None)


def test_dates_may_be_bare_toml_dates_and_empty_priorities_are_known() -> None:
    (a,) = load(
        CALENDAR + agreement("valid_from = 2026-01-01", targets='P1 = { response = "1h" }\nP4 = {}')
    ).agreements
    assert a.valid_from == dt.date(2026, 1, 1)
    assert "P4" in a.targets and a.target("P4", "response") is None


def test_the_annotated_example_loads_and_covers_every_key() -> None:
    path = ROOT / "docs" / "agreements.example.toml"
    text = path.read_text(encoding="utf-8")
    s = load_agreements(text, str(path))
    assert len(s.agreements) == 5 and s.warnings == ()
    doc = tomllib.loads(text)
    used = set().union(*(a.keys() for a in doc["agreement"]))
    assert used == {
        "id",
        "name",
        "customer",
        "services",
        "calendar",
        "valid_from",
        "valid_until",
        "pause_statuses",
        "at_risk",
        "on_priority_change",
        "on_reopen",
        "availability",
        "targets",
        "penalty",
        "max_hold",
    }
    assert set().union(*(c.keys() for c in doc["calendar"])) == {"id", "tz", "hours", "holidays"}
    assert set().union(*(a.get("at_risk", {}).keys() for a in doc["agreement"])) == {"ratio", "remaining"}
    assert set().union(*(a.get("penalty", {}).keys() for a in doc["agreement"])) == {
        "currency",
        "per_breach",
        "monthly_cap",
    }
    holidays = [c["holidays"] for c in doc["calendar"] if isinstance(c.get("holidays"), dict)]
    assert set().union(*(h.keys() for h in holidays)) == {"country", "subdiv", "extra"}
    clocks = set().union(*(t.keys() for a in doc["agreement"] for t in a["targets"].values()))
    assert clocks == {"response", "update", "resolution"}
    forms = {a["calendar"] for a in doc["agreement"]}
    assert any(f.startswith("24x7:") for f in forms)
    policies = {(a.on_priority_change, a.on_reopen) for a in s.agreements}
    assert {("keep", "resume"), ("restart", "restart")} <= policies


# ---- refusals: agreement, key and value named -----------------------------------

AGREEMENT_ERRORS = [
    ("", 'P1 = { response = "15x" }', "agreement 'acme-gold': targets.P1.response: '15x' is not a duration"),
    (
        "",
        'P3 = { response = "4h", resolution = "3d" }',
        "agreement 'acme-gold': targets.P3.resolution: '3d' is not a duration: days and weeks are refused because a business day has no fixed length; write hours",
    ),
    (
        "",
        'P1 = { response = "0m" }',
        "agreement 'acme-gold': targets.P1.response: '0m' is not a duration: it must be longer than zero",
    ),
    ("", "P1 = { response = 900 }", "agreement 'acme-gold': targets.P1.response: 900 is not a duration"),
    (
        "",
        'P1 = { respone = "15m" }',
        "agreement 'acme-gold': targets.P1: unknown clock 'respone' (response | update | resolution) (did you mean 'response'?)",
    ),
    ("", 'P1 = "15m"', "agreement 'acme-gold': targets.P1: '15m' must be a table"),
    ("", '"P 1" = { response = "15m" }', "agreement 'acme-gold': targets.P 1: 'P 1' is not a priority name"),
    (
        'valid_untill = "2026-12-31"',
        TARGETS,
        "agreement 'acme-gold': unknown key 'valid_untill' (did you mean 'valid_until'?)",
    ),
    (
        'on_priority_change = "reset"',
        TARGETS,
        "agreement 'acme-gold': on_priority_change: 'reset' is not a policy (keep | restart)",
    ),
    (
        'on_reopen = "resum"',
        TARGETS,
        "agreement 'acme-gold': on_reopen: 'resum' is not a policy (resume | restart)",
    ),
    (
        "at_risk = { ratio = 0 }",
        TARGETS,
        "agreement 'acme-gold': at_risk.ratio: 0 must be a number greater than 0 and at most 1",
    ),
    ("at_risk = { ratio = 1.5 }", TARGETS, "agreement 'acme-gold': at_risk.ratio: 1.5 must be a number"),
    (
        'at_risk = { ratio = "0.75" }',
        TARGETS,
        "agreement 'acme-gold': at_risk.ratio: '0.75' must be a number",
    ),
    ("at_risk = { ratio = true }", TARGETS, "agreement 'acme-gold': at_risk.ratio: true must be a number"),
    (
        'at_risk = { remaining = "1x" }',
        TARGETS,
        "agreement 'acme-gold': at_risk.remaining: '1x' is not a duration",
    ),
    (
        "at_risk = { ratoi = 0.5 }",
        TARGETS,
        "agreement 'acme-gold': unknown key 'at_risk.ratoi' (did you mean 'ratio'?)",
    ),
    ("at_risk = 0.75", TARGETS, "agreement 'acme-gold': at_risk: 0.75 must be a table"),
    (
        'pause_statuses = ["Waiting"]',
        TARGETS,
        "agreement 'acme-gold': pause_statuses[0]: 'Waiting' is not a status",
    ),
    (
        'pause_statuses = "waiting"',
        TARGETS,
        "agreement 'acme-gold': pause_statuses: 'waiting' must be a list",
    ),
    ('valid_from = "2026-13-01"', TARGETS, "agreement 'acme-gold': valid_from: '2026-13-01' is not a date"),
    (
        "valid_from = 2026-01-01T00:00:00",
        TARGETS,
        "agreement 'acme-gold': valid_from: 2026-01-01T00:00:00 is not a date",
    ),
    (
        'valid_from = "2026-07-01"\nvalid_until = "2026-06-30"',
        TARGETS,
        "agreement 'acme-gold': valid_until: 2026-06-30 is before valid_from 2026-07-01",
    ),
    (
        "availability = 0",
        TARGETS,
        "agreement 'acme-gold': availability: 0 must be a percentage greater than 0 and at most 100",
    ),
    ("availability = 100.5", TARGETS, "agreement 'acme-gold': availability: 100.5 must be a percentage"),
    ('availability = "99.9"', TARGETS, "agreement 'acme-gold': availability: '99.9' must be a percentage"),
    ('services = "erp"', TARGETS, "agreement 'acme-gold': services: 'erp' must be a list"),
    (
        'services = ["erp", "erp"]',
        TARGETS,
        "agreement 'acme-gold': services: ['erp', 'erp'] names a service twice",
    ),
    ('services = [""]', TARGETS, "agreement 'acme-gold': services[0]: '' must be a non-empty name"),
    ('name = ""', TARGETS, "agreement 'acme-gold': name: '' must be a non-blank line"),
    (
        'penalty = { currency = "EURO", per_breach = { P1 = 1 } }',
        TARGETS,
        "agreement 'acme-gold': penalty.currency: 'EURO' must be a three-letter currency code",
    ),
    (
        'penalty = { currency = "eur", per_breach = { P1 = 1 } }',
        TARGETS,
        "agreement 'acme-gold': penalty.currency: 'eur' must be a three-letter",
    ),
    (
        'penalty = { currency = "EUR", per_breach = { P9 = 1 } }',
        TARGETS,
        "agreement 'acme-gold': penalty.per_breach.P9: 'P9' is not a priority of targets (P1, P2)",
    ),
    (
        'penalty = { currency = "EUR", per_breach = { P1 = -1 } }',
        TARGETS,
        "agreement 'acme-gold': penalty.per_breach.P1: -1 must be a number at least 0",
    ),
    (
        'penalty = { currency = "EUR", per_breach = { P1 = "500" } }',
        TARGETS,
        "agreement 'acme-gold': penalty.per_breach.P1: '500' must be a number",
    ),
    (
        'penalty = { currency = "EUR", per_breach = {}, monthly_cap = -5 }',
        TARGETS,
        "agreement 'acme-gold': penalty.monthly_cap: -5 must be a number at least 0",
    ),
    ("penalty = { per_breach = {} }", TARGETS, "agreement 'acme-gold': penalty.currency: missing (required)"),
    (
        'penalty = { currency = "EUR", per_breach = {}, cap = 1 }',
        TARGETS,
        "agreement 'acme-gold': unknown key 'penalty.cap'",
    ),
]


@pytest.mark.parametrize(("extra", "targets", "message"), AGREEMENT_ERRORS)
def test_agreement_errors_name_agreement_key_and_value(extra: str, targets: str, message: str) -> None:
    err = refused(CALENDAR + agreement(extra, targets=targets))
    assert message in str(err)
    assert str(err).startswith("sla.toml:")
    assert isinstance(err, InputError) and err.where is not None and err.where.startswith("sla.toml")


def test_the_line_of_the_offending_key_is_given() -> None:
    text = CALENDAR + agreement(id="first") + agreement('on_reopen = "never"', id="second")
    err = refused(text.replace('customer = "acme"', 'customer = "other"', 1))
    line = [n for n, ln in enumerate(text.splitlines(), 1) if ln == 'on_reopen = "never"'][0]
    header = [n for n, ln in enumerate(text.splitlines(), 1) if ln == "[[agreement]]"][1]
    assert header < line
    assert err.line == line
    assert str(err).startswith(f"sla.toml:{line}: agreement 'second': on_reopen: 'never'")


KEY_LINES = """\
[[calendar]]
id = "berlin"
tz = "Europe/Berlin"
hours = {
  mon = ["09:00-17:00"],
  tue = ["09:00-12:00", "13:00-17:00"],
}

[[agreement]]
id = "gold"
customer = "acme"
calendar = "berlin"
valid_from = 2026-01-01
at_risk = { ratio = 0.75 }

[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h",
       resolution = "3h" }
"""


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        # a key inside an inline table spread over lines, under a sub-table header
        ('"3h" }', '"3d" }', 19),
        # a dotted path into an inline table on one line
        ("ratio = 0.75", "ratio = 7.5", 14),
        # a plain key
        ("valid_from = 2026-01-01", 'valid_from = "soon"', 13),
        # a problem the calendar itself finds: overlapping segments of one day
        ('"09:00-12:00", "13:00-17:00"', '"09:00-12:00", "11:00-17:00"', 6),
        # an unknown key
        ('calendar = "berlin"\n', 'calendar = "berlin"\non_reopn = "resume"\n', 13),
        # a missing key has no line of its own: its section's header
        ('customer = "acme"\n', "", 9),
    ],
)
def test_errors_point_at_the_line_of_the_bad_key(old: str, new: str, line: int) -> None:
    load_agreements(KEY_LINES, source="sla.toml")  # the file as written is valid
    text = KEY_LINES.replace(old, new, 1)
    assert text != KEY_LINES
    err = refused(text)
    assert err.line == line, (str(err), text.splitlines()[line - 1])


@pytest.mark.parametrize(
    ("head", "message"),
    [
        ('customer = "acme"\ncalendar = "berlin"\n', "agreement #1: id: missing (required)"),
        ('id = "a"\ncalendar = "berlin"\n', "agreement 'a': customer: missing (required)"),
        ('id = "a"\ncustomer = "acme"\n', "agreement 'a': calendar: missing (required)"),
        ('id = "a b"\ncustomer = "acme"\ncalendar = "berlin"\n', "agreement 'a b': id: 'a b' must be a name"),
        ('id = 7\ncustomer = "acme"\ncalendar = "berlin"\n', "agreement #1: id: 7 must be a name"),
        (
            'id = "a"\ncustomer = " acme"\ncalendar = "berlin"\n',
            "agreement 'a': customer: ' acme' must be a non-empty name",
        ),
        (
            'id = "a"\ncustomer = "acme"\ncalendar = "nowhere"\n',
            "agreement 'a': calendar: 'nowhere' is not a defined calendar (defined: 'berlin'; or '24x7', '24x7:Zone/Name')",
        ),
        (
            'id = "a"\ncustomer = "acme"\ncalendar = "24x7:Mars/Base"\n',
            "agreement 'a': calendar: '24x7:Mars/Base' names an unknown time zone",
        ),
        ('id = "a"\ncustomer = "acme"\ncalendar = 24\n', "agreement 'a': calendar: 24 must be a calendar id"),
    ],
)
def test_required_keys_and_calendar_references(head: str, message: str) -> None:
    assert message in str(refused(CALENDAR + agreement(head=head)))


def test_missing_targets() -> None:
    text = CALENDAR + '[[agreement]]\nid = "a"\ncustomer = "acme"\ncalendar = "berlin"\n'
    assert "agreement 'a': targets: missing (required)" in str(refused(text))
    assert "agreement 'a': targets: {} must be a table of priorities" in str(refused(text + "targets = {}\n"))


@pytest.mark.parametrize(
    ("calendar", "message", "value"),
    [
        (
            'id = "b"\ntz = "Europe/Berln"\nhours = { mon = ["09:00-17:00"] }',
            "calendar 'b': tz: 'Europe/Berln' is not a known time zone",
            "",
        ),
        ('id = "b"\ntz = "UTC"\nhours = { mon = ["9-17"] }', "calendar 'b': hours", "'9-17'"),
        (
            'id = "b"\ntz = "UTC"\nhours = { mon = ["09:00-12:00", "11:00-13:00"] }',
            "calendar 'b': hours",
            "overlaps",
        ),
        ('id = "b"\ntz = "UTC"\nhours = { mon = ["25:00-26:00"] }', "calendar 'b': hours", "'25:00'"),
        (
            'id = "b"\ntz = "UTC"\nhours = { monday = ["09:00-17:00"] }',
            "calendar 'b': hours.monday: 'monday' is not a weekday (mon..sun)",
            "",
        ),
        (
            'id = "b"\ntz = "UTC"\nhours = { mon = "09:00-17:00" }',
            "calendar 'b': hours.mon: '09:00-17:00' must be a list",
            "",
        ),
        ('id = "b"\ntz = "UTC"\nhours = {}', "calendar 'b': hours: the calendar is never open", ""),
        ('id = "b"\ntz = "UTC"', "calendar 'b': hours: missing (required)", ""),
        ('tz = "UTC"\nhours = { mon = ["09:00-17:00"] }', "calendar #2: id: missing (required)", ""),
        (
            'id = "24x7"\ntz = "UTC"\nhours = { mon = ["09:00-17:00"] }',
            "calendar '24x7': id: '24x7' is reserved",
            "",
        ),
        (
            'id = "berlin"\ntz = "UTC"\nhours = { mon = ["09:00-17:00"] }',
            "calendar 'berlin': id: 'berlin' is defined twice",
            "",
        ),
        (
            'id = "b"\ntz = "UTC"\nhours = { mon = ["09:00-17:00"] }\nholidays = ["2026-02-30"]',
            "calendar 'b': holidays[0]: '2026-02-30' is not a date",
            "",
        ),
        (
            'id = "b"\ntz = "UTC"\nhours = { mon = ["09:00-17:00"] }\nholidays = "2026-12-25"',
            "calendar 'b': holidays: '2026-12-25' must be a list of dates",
            "",
        ),
        (
            'id = "b"\ntz = "UTC"\nhours = { mon = ["09:00-17:00"] }\nholidays = { country = "XX" }',
            "calendar 'b': holidays",
            "'XX'",
        ),
        (
            'id = "b"\ntz = "UTC"\nhours = { mon = ["09:00-17:00"] }\nholidays = { country = "DE", subdiv = "ZZ" }',
            "calendar 'b': holidays",
            "'ZZ'",
        ),
        (
            'id = "b"\ntz = "UTC"\nhours = { mon = ["09:00-17:00"] }\nholidays = { land = "DE" }',
            "calendar 'b': unknown key 'holidays.land'",
            "",
        ),
        (
            'id = "b"\ntz = "UTC"\nhours = { mon = ["09:00-17:00"] }\nzone = "UTC"',
            "calendar 'b': unknown key 'zone'",
            "",
        ),
    ],
)
def test_calendar_errors_name_the_calendar(calendar: str, message: str, value: str) -> None:
    err = refused(CALENDAR + f"\n[[calendar]]\n{calendar}\n" + agreement())
    assert message in str(err) and value in str(err)


def test_file_level_errors() -> None:
    assert "unknown top-level key 'agreements' (did you mean 'agreement'?)" in str(
        refused("agreements = 1\n" + CALENDAR + agreement())
    )
    assert "the file defines no agreement" in str(refused(CALENDAR))
    assert "agreement: must be an array of tables, written [[agreement]]" in str(
        refused('[agreement]\nid = "x"\n')
    )
    err = refused(CALENDAR + agreement() + agreement())
    assert "agreement 'acme-gold': id: 'acme-gold' is defined twice" in str(err)


def test_malformed_toml_names_the_file_and_line() -> None:
    err = refused('[[calendar]]\nid = "b"\ntz = \n')
    assert err.line == 3 and err.where == "sla.toml:3"
    assert str(err).startswith("sla.toml:3: invalid TOML: Invalid value")
    err = refused("a = [1,\n")
    assert err.line == 1 and "invalid TOML" in str(err)


def test_the_spec_example_with_a_multiline_inline_table_loads() -> None:
    # The contract's example spreads `hours = { ... }` over two lines: valid TOML 1.1 (docs/agreements.md).
    text = (
        '[[calendar]]\nid = "b"\ntz = "UTC"\nhours = { mon = ["09:00-17:00"],\n'
        '  tue = ["09:00-17:00"] }\n'
        '[[agreement]]\nid = "a"\nname = "A"\ncustomer = "acme"\ncalendar = "b"\n'
        '[agreement.targets]\nP1 = { response = "15m", resolution = "4h" }\n'
    )
    cal = load_agreements(text, source="sla.toml").calendars["b"]
    assert dict(cal.hours)["tue"] == ("09:00-17:00",)


def test_every_problem_is_collected_and_the_first_reported() -> None:
    text = CALENDAR + agreement('on_reopen = "x"', id="a") + agreement('on_priority_change = "y"', id="b")
    err = refused(text.replace('customer = "acme"', 'customer = "c2"', 1))
    assert [p.reason for p in err.problems] == [
        "agreement 'a': on_reopen: 'x' is not a policy (resume | restart)",
        "agreement 'b': on_priority_change: 'y' is not a policy (keep | restart)",
    ]
    assert str(err).endswith("(and 1 more problem)")


def test_an_agreement_on_a_broken_calendar_adds_no_second_problem() -> None:
    text = CALENDAR.replace("Europe/Berlin", "Europe/Nowhere") + agreement()
    err = refused(text)
    assert [p.reason for p in err.problems] == [
        "calendar 'berlin': tz: 'Europe/Nowhere' is not a known time zone (write e.g. 'Europe/Berlin')"
    ]


# ---- cross-checks -----------------------------------------------------------------


def _two(extra_a: str, extra_b: str, cal_b: str = "berlin") -> str:
    head = 'customer = "acme"\ncalendar = "{cal}"\n'
    return (
        CALENDAR
        + agreement(head=f'id = "a"\n{head.format(cal="berlin")}', extra=extra_a)
        + agreement(head=f'id = "b"\n{head.format(cal=cal_b)}', extra=extra_b)
    )


def test_two_agreements_for_the_same_tickets_are_refused_naming_both() -> None:
    err = refused(_two("", ""))
    assert str(err) == (
        f"sla.toml:{err.line}: agreements 'a' and 'b' could both govern the same ticket: same customer 'acme', "
        "both cover every service, validity overlaps (always / always); narrow their services or validity dates"
    )
    err = refused(
        _two(
            'services = ["erp"]\nvalid_from = "2026-01-01"',
            'services = ["web", "erp"]\nvalid_until = "2026-01-01"',
        )
    )
    assert "both cover service 'erp', validity overlaps (from 2026-01-01 / until 2026-01-01)" in str(err)
    err = refused(_two('services = ["erp"]', 'valid_from = "2026-12-31"'))  # b has no services: all
    assert "'a' and 'b'" in str(err)
    err = refused(_two('valid_until = "2026-06-30"', 'valid_from = "2026-06-30"'))  # both cover June 30
    assert "'a' and 'b'" in str(err)


def test_agreements_that_cannot_meet_are_fine() -> None:
    load(_two('services = ["erp"]', 'services = ["web"]'))
    load(_two('valid_until = "2026-06-30"', 'valid_from = "2026-07-01"'))
    load(_two('valid_until = "2026-06-30"', 'valid_from = "2026-07-01"', cal_b="24x7:Europe/Berlin"))
    load(_two("", "").replace('id = "b"\ncustomer = "acme"', 'id = "b"\ncustomer = "globex"'))


def test_validity_overlap_is_judged_in_each_agreements_zone() -> None:
    # a ends June 30 in New York (04:00Z July 1), b starts July 1 in Berlin (22:00Z June 30)
    text = _two('valid_until = "2026-06-30"', 'valid_from = "2026-07-01"', cal_b="24x7:Europe/Berlin")
    err = refused(text.replace('calendar = "berlin"', 'calendar = "24x7:America/New_York"', 1))
    assert "'a' and 'b' could both govern" in str(err)


def test_warnings_are_not_errors() -> None:
    extra_cal = '\n[[calendar]]\nid = "spare"\ntz = "UTC"\nhours = { sat = ["10:00-14:00"] }\n'
    s = load(CALENDAR + extra_cal + agreement(targets='P1 = { response = "4h", resolution = "1h" }'))
    assert s.warnings == (
        "agreement 'acme-gold': targets.P1: response target 4h is longer than resolution target 1h",
        "calendar 'spare' is not used by any agreement",
    )


# ---- calendars ----------------------------------------------------------------------


def test_calendar_defs_are_hashable_and_feed_business_calendar() -> None:
    s = load(CALENDAR + agreement())
    cdef = s.calendars["berlin"]
    assert hash(cdef) == hash(load(CALENDAR + agreement()).calendars["berlin"])
    assert cdef.to_dict() == {
        "tz": "Europe/Berlin",
        "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu")} | {"fri": ["09:00-16:00"]},
        "holidays": ["2026-12-25"],
    }
    cal = build_calendar(s, "berlin")
    assert cal is build_calendar(load(CALENDAR + agreement()), "berlin")  # cached by value
    assert not cal.is_open(dt.datetime(2026, 12, 25, 10, tzinfo=BERLIN))
    assert cal.is_open(dt.datetime(2026, 12, 24, 10, tzinfo=BERLIN))
    assert cal.add(dt.datetime(2026, 11, 30, 9, tzinfo=BERLIN), 8 * 3600) == dt.datetime(
        2026, 12, 1, 9, tzinfo=BERLIN
    )


def test_country_holidays_form() -> None:
    text = '[[calendar]]\nid = "ny"\ntz = "America/New_York"\nholidays = { country = "US", subdiv = "NY", extra = ["2026-12-24"] }\nhours = { mon = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-17:00"] }\n'
    s = load(text + agreement(head='id = "a"\ncustomer = "x"\ncalendar = "ny"\n'))
    cdef = s.calendars["ny"]
    assert cdef == CalendarDef(
        id="ny",
        tz="America/New_York",
        hours=(("mon", ("09:00-17:00",)), ("thu", ("09:00-17:00",)), ("fri", ("09:00-17:00",))),
        holidays=("2026-12-24",),
        holiday_country="US",
        holiday_subdiv="NY",
    )
    assert cdef.to_dict()["holidays"] == {"country": "US", "subdiv": "NY", "extra": ["2026-12-24"]}
    cal = build_calendar(s, "ny")
    ny = ZoneInfo("America/New_York")
    assert not cal.is_open(dt.datetime(2026, 11, 26, 10, tzinfo=ny))  # Thanksgiving
    assert not cal.is_open(dt.datetime(2026, 12, 24, 10, tzinfo=ny))  # extra
    assert cal.is_open(dt.datetime(2026, 12, 21, 10, tzinfo=ny))


def test_calendars_are_built_with_the_sets_holiday_snapshot() -> None:
    """Two databases in one process, each with its own snapshot: their calendars never
    mix, while equal snapshots share one calendar (and its grown index)."""
    text = (
        '[[calendar]]\nid = "be"\ntz = "Europe/Berlin"\nholidays = { country = "DE", subdiv = "BE" }\n'
        'hours = { tue = ["09:00-17:00"] }\n'
    ) + agreement(head='id = "a"\ncustomer = "x"\ncalendar = "be"\n')
    march_10 = dt.datetime(2026, 3, 10, 10, tzinfo=BERLIN)  # a Tuesday, no holiday anywhere
    odd = HolidaySnapshot.of([("DE", "BE", 2026, [dt.date(2026, 3, 10)])])
    first, second = load_agreements(text, "a.toml", holidays=odd), load_agreements(text, "b.toml")
    assert first.holidays is odd and second.holidays is None
    assert not build_calendar(first, "be").is_open(march_10)
    assert build_calendar(second, "be").is_open(march_10)
    same = load_agreements(
        text, "c.toml", holidays=HolidaySnapshot.of([("DE", "BE", 2026, [dt.date(2026, 3, 10)])])
    )
    assert build_calendar(same, "be") is build_calendar(first, "be")
    plain = load(CALENDAR + agreement())  # no country: the snapshot plays no part
    assert build_calendar(plain, "berlin") is build_calendar(
        load_agreements(CALENDAR + agreement(), holidays=odd), "berlin"
    )


@pytest.mark.parametrize(("ref", "zone"), [("24x7", "UTC"), ("24x7:Europe/Berlin", "Europe/Berlin")])
def test_round_the_clock_forms(ref: str, zone: str) -> None:
    s = load(CALENDAR + agreement(head=f'id = "a"\ncustomer = "acme"\ncalendar = "{ref}"\n'))
    assert s.zone_of(ref) == zone
    cal = build_calendar(s, ref)
    assert isinstance(cal, BusinessCalendar) and cal is build_calendar(s, ref)
    sunday_night = dt.datetime(2026, 11, 29, 3, tzinfo=dt.UTC)
    assert cal.is_open(sunday_night)
    assert cal.add(sunday_night, 3600) == sunday_night + dt.timedelta(hours=1)


def test_building_an_unknown_calendar_is_refused() -> None:
    with pytest.raises(AgreementError, match="unknown calendar 'nope'"):
        build_calendar(load(CALENDAR + agreement()), "nope")


# ---- which agreement governs a ticket --------------------------------------------------

MATCHING = (
    CALENDAR
    + '\n[[calendar]]\nid = "ny"\ntz = "America/New_York"\nhours = { mon = ["09:00-17:00"] }\n'
    + agreement('services = ["erp"]\nvalid_from = "2026-01-01"\nvalid_until = "2026-12-31"', id="acme-erp")
    + agreement('services = ["erp"]\nvalid_from = "2027-03-01"', id="acme-erp-next")
    + agreement('services = ["email"]', id="acme-email")
    + agreement(head='id = "initech"\ncustomer = "initech"\ncalendar = "ny"\nvalid_until = "2026-06-30"\n')
    + agreement(head='id = "globex"\ncustomer = "globex"\ncalendar = "24x7"\nvalid_from = "2026-07-01"\n')
)


@pytest.fixture(scope="module")
def matching() -> AgreementSet:
    return load(MATCHING)


def _m(
    s: AgreementSet, customer: str | None, service: str | None, when: float, agreement_id: str | None = None
) -> tuple[str | None, str | None]:
    a, why = match_agreement(
        s, customer=customer, service=service, created_at=when, agreement_id=agreement_id
    )
    assert (a is None) == (why is not None)
    return (a.id if a else None), why


def test_validity_edges_are_inclusive_local_dates(matching: AgreementSet) -> None:
    first = at(2026, 1, 1, tz=BERLIN)  # 2025-12-31T23:00Z
    assert _m(matching, "acme", "erp", first) == ("acme-erp", None)
    assert _m(matching, "acme", "erp", first - 1) == (
        None,
        "no agreement in force: not yet begun (from 2026-01-01, agreement 'acme-erp')",
    )
    last = at(2027, 1, 1, tz=BERLIN)  # 2026-12-31T23:00Z
    assert _m(matching, "acme", "erp", last - 1) == ("acme-erp", None)
    assert _m(matching, "acme", "erp", last) == (
        None,
        "no agreement in force: expired on 2026-12-31 (agreement 'acme-erp')",
    )
    assert _m(matching, "acme", "erp", at(2027, 3, 1, tz=BERLIN)) == ("acme-erp-next", None)


def test_local_dates_follow_the_agreements_zone(matching: AgreementSet) -> None:
    # 03:00Z on July 1 is still June 30 in New York: initech is in force
    assert _m(matching, "initech", None, at(2026, 7, 1, 3)) == ("initech", None)
    assert _m(matching, "initech", None, at(2026, 7, 1, 4)) == (
        None,
        "no agreement in force: expired on 2026-06-30 (agreement 'initech')",
    )
    # globex is 24x7 in UTC
    assert _m(matching, "globex", "web", at(2026, 6, 30, 23, 59, 59))[0] is None
    assert _m(matching, "globex", "web", at(2026, 7, 1)) == ("globex", None)


def test_services_narrow_an_agreement(matching: AgreementSet) -> None:
    when = at(2026, 5, 5, 12)
    assert _m(matching, "acme", "email", when) == ("acme-email", None)
    assert _m(matching, "acme", "web", when) == (
        None,
        "no agreement of customer 'acme' covers service 'web'".join(["no agreement in force: ", ""]),
    )
    assert _m(matching, "acme", None, when)[0] is None
    assert _m(matching, "globex", None, at(2026, 8, 1)) == ("globex", None)  # no list: every service


def test_unknown_customer(matching: AgreementSet) -> None:
    assert _m(matching, "x", "erp", at(2026, 5, 5)) == (None, "no agreement in force: unknown customer 'x'")


def test_the_agreement_named_in_the_created_event_wins(matching: AgreementSet) -> None:
    when = at(2026, 5, 5, 12)
    assert _m(matching, "acme", "erp", when, "acme-email") == ("acme-email", None)
    assert (
        _m(matching, "someone", None, when, "globex")[1]
        == "no agreement in force: not yet begun (from 2026-07-01, agreement 'globex')"
    )
    assert _m(matching, "acme", "erp", when, "gone") == (
        None,
        "no agreement in force: unknown agreement 'gone'",
    )


def test_a_gap_between_agreements_names_the_expired_one(matching: AgreementSet) -> None:
    assert _m(matching, "acme", "erp", at(2027, 2, 1)) == (
        None,
        "no agreement in force: expired on 2026-12-31 (agreement 'acme-erp')",
    )


def test_the_spec_section_3_example_file_loads_as_written() -> None:
    text = (pathlib.Path(__file__).parents[1] / "data" / "spec_example.toml").read_text()
    aset = load_agreements(text, source="spec_example.toml")
    gold = aset.get("acme-gold")
    assert gold is not None and gold.target("P1", "response") == 900.0
    assert gold.target("P3", "resolution") == 40 * 3600
    assert gold.penalty is not None and gold.penalty.monthly_cap == 5000


def test_a_zone_folder_name_is_refused_not_a_crash() -> None:
    err = refused(CALENDAR.replace("Europe/Berlin", "Europe") + agreement())
    assert "'Europe' is not a known time zone" in str(err)
