"""The sources file (docs/sources.md): the model, every refusal, and derived ids."""

from __future__ import annotations

import pathlib

import pytest

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.eventfile import event_from_mapping
from sladesk_tui.core.sources.ids import event_id, snapshot_key, ticket_id
from sladesk_tui.core.sources.mapping import (
    CommentRule,
    Source,
    Unmapped,
    load_sources,
    parse_sources_text,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]

MINIMAL = """
[[source]]
name = "zd"
provider = "zendesk"
secret_file = "zd.secret"
statuses = { Open = "open", pending = "waiting", solved = "resolved" }
priorities = { urgent = "P1", normal = "P3" }
"""


def _one(text: str = MINIMAL, base_dir: str | None = None) -> Source:
    return parse_sources_text(text, "sources.toml", base_dir=base_dir).sources[0]


def test_the_documented_example_loads_whole() -> None:
    text = (ROOT / "docs" / "sources.example.toml").read_text(encoding="utf-8")
    sset = parse_sources_text(text, "sources.example.toml", base_dir="/etc/sladesk")
    assert sset.names == ("zendesk", "jsm", "zammad", "glpi", "scripts", "rt")
    zd = sset.get("zendesk")
    assert zd is not None and zd.secret_file == "/etc/sladesk/secrets/zendesk"
    assert zd.status("Pending") == "waiting" and zd.priority("URGENT") == "P1"
    glpi = sset.get("glpi")
    assert glpi is not None and glpi.status(4) == "waiting" and glpi.priority(5) == "P1"
    assert glpi.replay_window_s == 86400
    rt = sset.get("rt")
    assert rt is not None and not rt.receives and rt.secret_file is None
    assert [rt.priority(p) for p in (99, "80", 79, 50, 49, 20, 0)] == [
        "P1",
        "P1",
        "P2",
        "P2",
        "P3",
        "P3",
        "P4",
    ]


def test_statuses_and_priorities_compare_case_insensitively_and_refuse_the_unmapped() -> None:
    s = _one()
    assert s.status("open") == s.status(" OPEN ") == "open"
    with pytest.raises(
        Unmapped, match=r"source 'zd': status 'hold' is not in its mapping \(mapped: open, pending, solved\)"
    ):
        s.status("hold")
    with pytest.raises(Unmapped, match=r"priority 'low' is not in its mapping"):
        s.priority("low")
    with pytest.raises(Unmapped, match=r"priority 7 "):
        s.priority(7)  # no ranges: a number is not guessed at


def test_a_range_gap_is_refused_not_rounded() -> None:
    text = MINIMAL.replace(
        'priorities = { urgent = "P1", normal = "P3" }',
        'priority_ranges = [{ from = 0, to = 49, priority = "P3" }, { from = 60, to = 99, priority = "P1" }]',
    )
    s = _one(text)
    assert s.priority("49") == "P3" and s.priority(60) == "P1"
    with pytest.raises(Unmapped, match=r"ranges 0-49, 60-99"):
        s.priority(55)
    with pytest.raises(Unmapped):
        s.priority("high")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('name = "zd"', 'name = "Z D"'), "name: 'Z D' must be 1-40 of a-z"),
        (('provider = "zendesk"', 'provider = "zendsk"'), "did you mean 'zendesk'"),
        (('secret_file = "zd.secret"', ""), "needs the path of the file holding its secret"),
        (('solved = "resolved"', 'solved = "Resolved"'), "'solved' = 'Resolved' is not a status"),
        (('urgent = "P1"', 'urgent = "P 1"'), "is not a priority name"),
        (
            ('provider = "zendesk"', 'provider = "zendesk"\nstatus = {}'),
            "unknown key 'status' (did you mean 'statuses'?)",
        ),
        (
            ('provider = "zendesk"', 'provider = "zendesk"\npauses = ["on_hold"]'),
            "pauses: 'on_hold' is not a target",
        ),
        (('provider = "zendesk"', 'provider = "zendesk"\ncustomer = { from = "field" }'), "needs field ="),
        (
            ('provider = "zendesk"', 'provider = "zendesk"\ncustomer = { from = "email" }'),
            "customer: from: 'email' is not one of",
        ),
        (
            ('provider = "zendesk"', 'provider = "zendesk"\ncomments = { public = "answer" }'),
            "public = 'answer' is not one of",
        ),
        (('provider = "zendesk"', 'provider = "zendesk"\nreplay_window_s = 0'), "replay_window_s: 0 must be"),
        (('provider = "zendesk"', 'provider = "zendesk"\nmax_body_bytes = 10'), "max_body_bytes: 10 must be"),
        (
            (
                'provider = "zendesk"',
                'provider = "zendesk"\npriority_ranges = [{ from = 0, to = 50, priority = "P1" }, { from = 50, to = 60, priority = "P2" }]',
            ),
            "50-60 overlaps 0-50",
        ),
        (
            ('statuses = { Open = "open", pending = "waiting", solved = "resolved" }', ""),
            "needs its statuses mapped",
        ),
        (
            ('statuses = { Open = "open",', 'statuses = { Open = "open", open = "waiting",'),
            "'open' is mapped twice",
        ),
    ],
)
def test_refusals_name_the_file_line_source_key_and_value(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in MINIMAL
    with pytest.raises(InputError) as err:
        parse_sources_text(MINIMAL.replace(old, new), "sources.toml")
    text = str(err.value)
    assert text.startswith("sources.toml:2: source "), text
    assert message in text


def test_file_level_refusals() -> None:
    with pytest.raises(InputError, match=r"^sources.toml:3: invalid TOML"):
        parse_sources_text('[[source]]\nname = "a"\nprovider = \n', "sources.toml")
    with pytest.raises(InputError, match=r"defines no source"):
        parse_sources_text("", "sources.toml")
    with pytest.raises(InputError, match=r"unknown top-level key 'sources' \(did you mean 'source'\?\)"):
        parse_sources_text("[[sources]]\n", "sources.toml")
    with pytest.raises(InputError, match=r"sources.toml:9: source 'zd': name is used twice"):
        parse_sources_text(MINIMAL + MINIMAL, "sources.toml")


def test_load_from_a_dict_keeps_the_pull_table_for_the_puller() -> None:
    doc = {
        "source": [
            {
                "name": "rt",
                "provider": "rt",
                "statuses": {"stalled": "waiting"},
                "priority_ranges": [{"from": 0, "to": 99, "priority": "P3"}],
                "pull": {"url": "http://127.0.0.1:8080/REST/2.0/", "queues": ["General"]},
            }
        ]
    }
    s = load_sources(doc).sources[0]
    assert s.pull == {"url": "http://127.0.0.1:8080/REST/2.0/", "queues": ["General"]}
    assert s.ticket_prefix == "rt-"  # the default prefix keeps two systems' ticket 42 apart


def test_customer_rules() -> None:
    base = MINIMAL + 'customers = { "ACME Corp" = "acme", "acme.example" = "acme" }\n'
    org = _one(base)
    assert org.customer_name(organization="ACME Corp", fields={}, requester_email=None) == "acme"
    assert org.customer_name(organization="acme corp", fields={}, requester_email=None) == "acme"
    assert org.customer_name(organization="Globex", fields={}, requester_email=None) == "Globex"
    with pytest.raises(Unmapped, match="no customer by its rule"):
        org.customer_name(organization=None, fields={}, requester_email="x@acme.example")
    dom = _one(base + 'customer = { from = "requester_domain", default = "walk-in" }\n')
    assert dom.customer_name(organization="X", fields={}, requester_email="Ann@ACME.example") == "acme"
    assert dom.customer_name(organization="X", fields={}, requester_email=None) == "walk-in"
    fld = _one(base + 'customer = { from = "field", field = "Account" }\n')
    assert (
        fld.customer_name(organization=None, fields={"Account": "ACME Corp"}, requester_email=None) == "acme"
    )
    fixed = _one(base + 'customer = { from = "fixed", value = "internal" }\n')
    assert fixed.customer_name(organization="ACME Corp", fields={}, requester_email=None) == "internal"


def test_comment_rule() -> None:
    rule = CommentRule()
    assert rule.event_type(public=True, by_customer=False) == "reply"
    assert rule.event_type(public=False, by_customer=False) == "note"
    assert rule.event_type(public=True, by_customer=True) == "customer_reply"
    quiet = CommentRule(internal="ignore")
    assert quiet.event_type(public=False, by_customer=False) is None


def test_derived_ids_are_deterministic_and_always_valid_event_ids() -> None:
    assert ticket_id("ZD-", 4711) == "ZD-4711"
    a = event_id("zd", 4711, "comment", 99102)
    assert a == event_id("zd", "4711", "comment", "99102") == "zd:4711:comment:99102"
    key = snapshot_key("pending reminder", "2026-11-27T08:05:00Z")
    b = event_id("zammad", 42, "status", key)
    assert b == event_id("zammad", 42, "status", key) and " " not in b
    long = event_id("zd", 1, "change", "x" * 200)
    assert len(long) <= 100 and long.startswith("zd:change:h")
    assert long != event_id("zd", 2, "change", "x" * 200)
    for eid in (a, b, long):
        ev = event_from_mapping(
            {"id": eid, "type": "note", "ticket": "T-1", "at": "2026-11-27T08:05:00Z"}, seq=1
        )
        assert ev.id == eid
    with pytest.raises(ValueError):
        event_id("zd", 1, "comments", 1)
