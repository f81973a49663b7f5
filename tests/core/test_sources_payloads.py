"""Signatures and payload mapping per provider (docs/sources.md), on documented shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from source_fixtures import (
    SECRETS,
    SOURCES_TOML,
    glpi_followup,
    glpi_ticket,
    jira_comment,
    jira_created,
    jira_updated,
    zammad_article,
    zammad_snapshot,
    zendesk_comment,
    zendesk_created,
    zendesk_status,
)

from sladesk_tui.core.sources.mapping import Source, Unmapped, parse_sources_text
from sladesk_tui.core.sources.payloads import TicketState, decode, to_events
from sladesk_tui.core.sources.refusals import BadSignature, Malformed, Refusal, UnknownEvent
from sladesk_tui.core.sources.signatures import sign, verify

SOURCES = parse_sources_text(SOURCES_TOML, "sources.toml")
NOW = 1795075200.0  # 2026-11-19T08:00:00Z


def src(name: str) -> Source:
    s = SOURCES.get(name)
    assert s is not None
    return s


def body(doc: object) -> bytes:
    return json.dumps(doc).encode()


# ---- signatures ------------------------------------------------------------------------------


def test_zendesk_signature_is_base64_hmac_sha256_over_timestamp_then_body() -> None:
    raw = b'{"type":"zen:event-type:ticket.created"}'
    ts = "2026-11-19T08:00:30Z"
    mac = base64.b64encode(hmac.new(SECRETS["zd"], ts.encode() + raw, hashlib.sha256).digest()).decode()
    headers = {"X-Zendesk-Webhook-Signature": mac, "X-Zendesk-Webhook-Signature-Timestamp": ts}
    assert headers == sign("zendesk", SECRETS["zd"], raw, timestamp=ts)
    v = verify("zendesk", SECRETS["zd"], headers, raw, now=NOW, window_s=300)
    assert v.stamped_at == NOW + 30 and v.delivery_id.startswith("zendesk:sig:")
    with_id = {**headers, "x-zendesk-webhook-invocation-id": "8350205582"}
    assert (
        verify("zendesk", SECRETS["zd"], with_id, raw, now=NOW, window_s=300).delivery_id
        == "zendesk:8350205582"
    )
    with pytest.raises(BadSignature, match="does not match"):
        verify("zendesk", SECRETS["zd"], headers, raw + b" ", now=NOW, window_s=300)
    with pytest.raises(BadSignature, match="outside the replay window"):
        verify("zendesk", SECRETS["zd"], headers, raw, now=NOW + 331, window_s=300)


def test_jira_signature_and_its_stable_delivery_identifier() -> None:
    raw = b'{"webhookEvent":"jira:issue_created"}'
    mac = hmac.new(SECRETS["jsm"], raw, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature": f"sha256={mac}", "X-Atlassian-Webhook-Identifier": "e3f1-77"}
    v = verify("jira", SECRETS["jsm"], headers, raw, now=NOW, window_s=300)
    assert v.delivery_id == "jira:e3f1-77" and v.stamped_at is None
    with pytest.raises(BadSignature, match="does not start with 'sha256='"):
        verify("jira", SECRETS["jsm"], {"X-Hub-Signature": mac}, raw, now=NOW, window_s=300)
    with pytest.raises(BadSignature, match="missing header x-hub-signature"):
        verify("jira", SECRETS["jsm"], {}, raw, now=NOW, window_s=300)


def test_zammad_signature_is_hmac_sha1() -> None:
    raw = b'{"ticket":{"id":81}}'
    mac = hmac.new(SECRETS["zammad"], raw, hashlib.sha1).hexdigest()
    headers = {
        "X-Hub-Signature": f"sha1={mac}",
        "X-Zammad-Delivery": "c0ffee12",
        "X-Zammad-Trigger": "to sladesk",
    }
    assert (
        verify("zammad", SECRETS["zammad"], headers, raw, now=NOW, window_s=300).delivery_id
        == "zammad:c0ffee12"
    )
    sha256 = hmac.new(SECRETS["zammad"], raw, hashlib.sha256).hexdigest()
    with pytest.raises(BadSignature):
        verify("zammad", SECRETS["zammad"], {"X-Hub-Signature": f"sha1={sha256}"}, raw, now=NOW, window_s=300)


def test_glpi_signature_is_over_body_then_timestamp() -> None:
    raw = b'{"event":"new","item":{"id":310}}'
    ts = str(int(NOW) - 3600)  # queued an hour ago, sent by the next cron run
    right = hmac.new(SECRETS["glpi"], raw + ts.encode(), hashlib.sha256).hexdigest()
    wrong_order = hmac.new(SECRETS["glpi"], ts.encode() + raw, hashlib.sha256).hexdigest()
    ok = {"X-GLPI-signature": right, "X-GLPI-timestamp": ts}
    assert ok == sign("glpi", SECRETS["glpi"], raw, timestamp=ts)
    v = verify("glpi", SECRETS["glpi"], ok, raw, now=NOW, window_s=86400)
    assert v.delivery_id == verify("glpi", SECRETS["glpi"], ok, raw, now=NOW + 5, window_s=86400).delivery_id
    with pytest.raises(BadSignature, match="does not match"):
        verify("glpi", SECRETS["glpi"], {**ok, "X-GLPI-signature": wrong_order}, raw, now=NOW, window_s=86400)
    with pytest.raises(BadSignature, match="replay window"):
        verify("glpi", SECRETS["glpi"], ok, raw, now=NOW, window_s=300)
    with pytest.raises(BadSignature, match="not epoch seconds"):
        verify(
            "glpi",
            SECRETS["glpi"],
            sign("glpi", SECRETS["glpi"], raw, timestamp="soon"),
            raw,
            now=NOW,
            window_s=300,
        )


def test_our_own_signature() -> None:
    raw = b'{"id":"e1"}'
    headers = {
        **sign("sladesk", SECRETS["feed"], raw, timestamp=str(int(NOW))),
        "X-Sladesk-Delivery": "batch-7",
    }
    assert (
        verify("sladesk", SECRETS["feed"], headers, raw, now=NOW, window_s=300).delivery_id
        == "sladesk:batch-7"
    )
    with pytest.raises(BadSignature):
        verify("sladesk", b"another secret", headers, raw, now=NOW, window_s=300)


# ---- zendesk ---------------------------------------------------------------------------------


def test_zendesk_ticket_life() -> None:
    zd = src("zd")
    d = decode(zd, body(zendesk_created(4711)), "application/json")
    assert d.tickets == ("ZD-4711",)
    (created,) = to_events(zd, d, {"ZD-4711": None})
    assert (created.id, created.type, created.priority, created.customer) == (
        "zd:4711:created:4711",
        "created",
        "P1",
        "acme",
    )
    assert created.title == "Printer on floor 3 prints only blank pages"
    state = TicketState("open", "P1", None, True)
    doc = zendesk_status(4711, "PENDING", "OPEN", eid="01ZDS1", time="2026-11-27T09:00:00Z")
    (ev,) = to_events(zd, decode(zd, body(doc), "application/json"), {"ZD-4711": state})
    assert (ev.id, ev.type, ev.status) == ("zd:4711:status:pending@2026-11-27T09:00:00Z", "status", "waiting")
    doc = zendesk_status(4711, "SOLVED", "PENDING", eid="01ZDS2", time="2026-11-27T10:00:00Z")
    (ev,) = to_events(zd, decode(zd, body(doc), "application/json"), {"ZD-4711": state})
    assert ev.type == "resolved"
    ended = TicketState("open", "P1", None, False)
    doc = zendesk_status(4711, "OPEN", "SOLVED", eid="01ZDS3", time="2026-11-27T11:00:00Z")
    (ev,) = to_events(zd, decode(zd, body(doc), "application/json"), {"ZD-4711": ended})
    assert ev.type == "reopened"


@pytest.mark.parametrize(
    ("public", "staff", "expected"),
    [(True, True, "reply"), (False, True, "note"), (True, False, "customer_reply")],
)
def test_zendesk_comments(public: bool, staff: bool, expected: str) -> None:
    zd = src("zd")
    doc = zendesk_comment(4711, comment_id=901, public=public, staff=staff, time="2026-11-27T08:30:00Z")
    (ev,) = to_events(
        zd, decode(zd, body(doc), "application/json"), {"ZD-4711": TicketState("open", "P1", None, True)}
    )
    assert (ev.id, ev.type) == ("zd:4711:comment:901", expected)


def test_zendesk_unknown_and_ignored_events_and_unmapped_values() -> None:
    zd = src("zd")
    doc = zendesk_created(1)
    doc["type"] = "zen:event-type:ticket.tags_changed"
    assert decode(zd, body(doc), "application/json").ignored
    doc["type"] = "zen:event-type:ticket.teleported"
    with pytest.raises(UnknownEvent, match="teleported"):
        decode(zd, body(doc), "application/json")
    with pytest.raises(UnknownEvent):
        decode(zd, body({"type": "something else"}), "application/json")
    bad = zendesk_created(2, priority="CRITICAL")
    with pytest.raises(Unmapped, match="priority 'CRITICAL'"):
        to_events(zd, decode(zd, body(bad), "application/json"), {"ZD-2": None})
    with pytest.raises(Malformed, match="invalid JSON"):
        decode(zd, b"{not json", "application/json")
    with pytest.raises(Malformed, match="content type"):
        decode(zd, body(zendesk_created()), "text/plain")


# ---- jira --------------------------------------------------------------------------------------


def test_jira_created_updated_and_comments() -> None:
    jsm = src("jsm")
    (created,) = to_events(jsm, decode(jsm, body(jira_created()), "application/json"), {"SUP-12": None})
    assert (created.ticket, created.customer, created.priority, created.at) == ("SUP-12", "acme", "P1", NOW)
    state = TicketState("open", "P1", None, True)
    doc = jira_updated(
        "SUP-12",
        changelog_id="20100",
        items=[
            {"field": "status", "fromString": "Open", "toString": "Waiting for customer"},
            {"field": "priority", "fromString": "High", "toString": "Medium"},
            {"field": "assignee", "fromString": None, "toString": "Sam Agent"},
            {"field": "labels", "fromString": "", "toString": "vpn"},
        ],
        ts_ms=1795078800000,
    )
    evs = to_events(jsm, decode(jsm, body(doc), "application/json"), {"SUP-12": state})
    assert [(e.id, e.type) for e in evs] == [
        ("jsm:SUP-12:status:20100", "status"),
        ("jsm:SUP-12:priority:20100", "priority"),
        ("jsm:SUP-12:assign:20100", "assign"),
    ]
    assert evs[0].status == "waiting" and evs[1].priority == "P2" and evs[0].at == NOW + 3600
    kinds = []
    for public, by in ((True, "agent-1"), (False, "agent-1"), (True, "cust-9")):
        doc = jira_comment("SUP-12", comment_id=f"c{len(kinds)}", public=public, by=by, ts_ms=1795078800000)
        (ev,) = to_events(jsm, decode(jsm, body(doc), "application/json"), {"SUP-12": state})
        kinds.append(ev.type)
    assert kinds == ["reply", "note", "customer_reply"]


def test_jira_update_for_an_issue_never_seen_creates_it_first() -> None:
    jsm = src("jsm")
    doc = jira_updated(
        "SUP-99",
        changelog_id="20200",
        items=[{"field": "status", "fromString": "Open", "toString": "Resolved"}],
        ts_ms=1795082400000,
    )
    evs = to_events(jsm, decode(jsm, body(doc), "application/json"), {"SUP-99": None})
    assert [e.type for e in evs] == ["created", "resolved"]
    assert evs[0].at == NOW and evs[1].at == NOW + 7200


def test_jira_unknown_event_and_unmapped_status() -> None:
    jsm = src("jsm")
    with pytest.raises(UnknownEvent, match="sprint_started"):
        decode(jsm, body({"webhookEvent": "sprint_started"}), "application/json")
    assert decode(jsm, body({"webhookEvent": "comment_deleted"}), "application/json").ignored
    doc = jira_updated(
        "SUP-12", changelog_id="1", items=[{"field": "status", "toString": "Triage"}], ts_ms=1795078800000
    )
    with pytest.raises(Unmapped, match="status 'Triage'"):
        to_events(
            jsm, decode(jsm, body(doc), "application/json"), {"SUP-12": TicketState("open", "P1", None, True)}
        )


# ---- zammad ------------------------------------------------------------------------------------


def test_zammad_snapshot_creates_then_diffs_against_the_stored_state() -> None:
    zm = src("zammad")
    first = zammad_snapshot(
        article=zammad_article(104, sender="Customer", internal=False, at="2026-11-20T09:30:00.000Z")
    )
    evs = to_events(zm, decode(zm, body(first), "application/json"), {"ZM-81": None})
    assert [(e.type, e.customer) for e in evs] == [("created", "acme"), ("customer_reply", None)]
    assert evs[0].at == NOW + 86400 + 5400  # its own created_at, not the delivery's
    assert evs[1].id == "zammad:81:comment:104"
    state = TicketState("open", "P2", None, True)
    later = zammad_snapshot(
        state="pending reminder",
        priority="3 high",
        owner="emma",
        updated_at="2026-11-20T11:00:00.000Z",
        article=zammad_article(105, sender="Agent", internal=True, at="2026-11-20T11:00:00.000Z"),
    )
    evs = to_events(zm, decode(zm, body(later), "application/json"), {"ZM-81": state})
    assert [(e.type, e.status or e.priority or e.assignee) for e in evs] == [
        ("status", "waiting"),
        ("priority", "P1"),
        ("assign", "emma"),
        ("note", None),
    ]
    again = to_events(zm, decode(zm, body(later), "application/json"), {"ZM-81": state})
    assert [e.id for e in again] == [e.id for e in evs]  # the same snapshot, the same ids
    same = TicketState("waiting", "P1", "emma", True)
    assert [e.type for e in to_events(zm, decode(zm, body(later), "application/json"), {"ZM-81": same})] == [
        "note"
    ]


def test_zammad_refusals() -> None:
    zm = src("zammad")
    with pytest.raises(UnknownEvent):
        decode(zm, body({"hello": "world"}), "application/json")
    with pytest.raises(Unmapped, match="status 'pending close'"):
        to_events(
            zm, decode(zm, body(zammad_snapshot(state="pending close")), "application/json"), {"ZM-81": None}
        )
    orphan = zammad_snapshot()
    del orphan["ticket"]["customer"]
    del orphan["ticket"]["organization"]
    with pytest.raises(Unmapped, match="no customer"):
        to_events(zm, decode(zm, body(orphan), "application/json"), {"ZM-81": None})


# ---- glpi --------------------------------------------------------------------------------------


def test_glpi_ticket_snapshot_and_followups_in_local_time() -> None:
    gl = src("glpi")
    evs = to_events(gl, decode(gl, body(glpi_ticket()), "application/json"), {"GLPI-310": None})
    assert [e.type for e in evs] == ["created"]
    assert evs[0].at == NOW + 4 * 86400  # 09:00 Paris is 08:00Z on 2026-11-23
    state = TicketState("open", "P2", None, True)
    upd = glpi_ticket(event="update", status=4, priority=5, date_mod="2026-11-23 10:15:00")
    evs = to_events(gl, decode(gl, body(upd), "application/json"), {"GLPI-310": state})
    assert [(e.type, e.status or e.priority) for e in evs] == [("status", "waiting"), ("priority", "P1")]
    fu = glpi_followup(310, 77, private=True, date="2026-11-23 10:20:00")
    d = decode(gl, body(fu), "application/json")
    assert d.tickets == ("GLPI-310",)
    (ev,) = to_events(gl, d, {"GLPI-310": state})
    assert (ev.id, ev.type) == ("glpi:310:comment:f77", "note")
    with pytest.raises(Malformed, match="never seen"):
        to_events(gl, d, {"GLPI-310": None})
    assert decode(gl, body(glpi_ticket(event="delete")), "application/json").ignored
    with pytest.raises(UnknownEvent):
        decode(gl, body({"event": "purge", "item": {"id": 1}}), "application/json")
    with pytest.raises(Unmapped, match="status 7"):
        to_events(gl, decode(gl, body(glpi_ticket(status=7)), "application/json"), {"GLPI-310": None})


# ---- sladesk -----------------------------------------------------------------------------------


def test_our_own_format_as_json_array_object_and_lines() -> None:
    feed = src("feed")
    e1 = {
        "id": "e1",
        "ticket": "T-1",
        "at": "2026-11-27T08:05:00Z",
        "type": "created",
        "customer": "acme",
        "priority": "P1",
        "title": "x",
    }
    e2 = {"id": "e2", "ticket": "T-1", "at": "2026-11-27T08:06:00Z", "type": "reply"}
    one = decode(feed, body(e1), "application/json")
    arr = decode(feed, body([e1, e2]), "application/json")
    lines = decode(feed, b"\n".join([body(e1), b"", body(e2), b""]), "application/x-ndjson")
    assert [e.id for e in to_events(feed, one, {})] == ["e1"]
    assert (
        [e.id for e in to_events(feed, arr, {})] == [e.id for e in to_events(feed, lines, {})] == ["e1", "e2"]
    )
    assert arr.tickets == ("T-1",)
    with pytest.raises(Malformed, match=r"event 2: unknown field 'bogus'"):
        decode(feed, body([e1, {**e2, "bogus": "1"}]), "application/json")
    with pytest.raises(Malformed, match="body:2"):
        decode(feed, body(e1) + b"\n{", "application/x-ndjson")
    with pytest.raises(Malformed, match="no event"):
        decode(feed, b"[]", "application/json")
    with pytest.raises(Malformed, match="content type"):
        decode(feed, body(e1), "text/csv")


def test_glpi_11_high_level_api_shapes() -> None:
    gl = src("glpi")
    doc = glpi_ticket(311)
    item = doc["item"]
    item["status"] = {"id": 4, "name": "Pending"}
    item["priority"] = {"id": 5, "name": "Very high"}
    item["entity"] = {"id": 0, "name": "Root entity"}
    item["date_creation"] = item.pop("date")
    evs = to_events(gl, decode(gl, body(doc), "application/json"), {"GLPI-311": None})
    assert [(e.type, e.priority or e.status) for e in evs] == [("created", "P1"), ("status", "waiting")]
    assert evs[0].customer == "acme"


@given(
    provider=st.sampled_from(["zendesk", "jira", "zammad", "glpi", "sladesk"]),
    raw=st.binary(max_size=300),
    secret=st.binary(min_size=8, max_size=40),
    flip=st.integers(min_value=0, max_value=299),
)
def test_any_body_verifies_with_its_signature_and_no_altered_byte_does(
    provider: str, raw: bytes, secret: bytes, flip: int
) -> None:
    ts = "2026-11-19T08:00:00Z" if provider == "zendesk" else str(int(NOW))
    headers = sign(provider, secret, raw, timestamp=ts)
    assert verify(provider, secret, headers, raw, now=NOW, window_s=300).delivery_id
    if raw:
        i = flip % len(raw)
        altered = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        with pytest.raises(BadSignature):
            verify(provider, secret, headers, altered, now=NOW, window_s=300)
    with pytest.raises(BadSignature):
        verify(provider, secret + b"x", headers, raw, now=NOW, window_s=300)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


def _shaped(provider: str, junk: dict) -> dict:
    """A provider's documented top-level keys with junk under them."""
    keys = {
        "zendesk": {
            "type": "zen:event-type:ticket.status_changed",
            "detail": {"id": "1", **junk},
            "event": junk,
        },
        "jira": {
            "webhookEvent": "jira:issue_updated",
            "issue": {"key": "K-1", "fields": junk},
            "changelog": junk,
        },
        "zammad": {"ticket": {"id": 1, **junk}, "article": junk},
        "glpi": {"event": "update", "item": {"id": 1, **junk}},
    }
    return keys[provider]


@given(
    provider=st.sampled_from(["zd", "jsm", "zammad", "glpi"]),
    junk=st.dictionaries(
        st.sampled_from(
            [
                "status",
                "priority",
                "state",
                "created_at",
                "updated_at",
                "date_mod",
                "time",
                "comment",
                "items",
                "owner",
                "customer",
                "organization_id",
                "summary",
                "current",
                "itemtype",
                "items_id",
                "date",
                "created",
                "reporter",
                "name",
                "subject",
            ]
        ),
        _JSON,
        max_size=8,
    ),
    known=st.booleans(),
)
def test_hostile_payloads_are_refused_never_crash(provider: str, junk: dict, known: bool) -> None:
    """Whatever a signed sender puts under the documented keys, the answer is events or a refusal."""
    s = src(provider)
    doc = _shaped(s.provider, junk)
    try:
        d = decode(s, body(doc), "application/json")
        state = TicketState("open", "P1", None, True) if known else None
        to_events(s, d, dict.fromkeys(d.tickets, state))
    except Refusal:
        pass
