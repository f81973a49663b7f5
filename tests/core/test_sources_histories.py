"""Zendesk audits and Zammad history as events: the pure mappings the puller uses."""

from __future__ import annotations

from typing import Any

from source_fixtures import SOURCES_TOML

from sladesk_tui.core.sources import zammad_history, zendesk_history
from sladesk_tui.core.sources.mapping import Source, parse_sources_text
from sladesk_tui.core.sources.payloads import TicketState


def src(name: str) -> Source:
    s = parse_sources_text(SOURCES_TOML, "sources.toml").get(name)
    assert s is not None
    return s


def export_item(aid: int, at: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": aid,
        "ticket_id": 5,
        "timestamp": 0,
        "created_at": at,
        "event_type": "Audit",
        "child_events": list(children),
    }


def test_both_spellings_of_an_audit_read_the_same() -> None:
    export = zendesk_history.parse_export_item(
        export_item(
            1,
            "2026-11-27T08:00:00Z",
            {"id": 2, "event_type": "Change", "status": "pending", "previous_value": "open"},
            {"id": 3, "event_type": "Comment", "public": False, "author_id": 77, "body": "x"},
        )
    )
    audit = zendesk_history.parse_ticket_audit(
        {
            "id": 1,
            "ticket_id": 5,
            "created_at": "2026-11-27T08:00:00Z",
            "events": [
                {
                    "id": 2,
                    "type": "Change",
                    "field_name": "status",
                    "value": "pending",
                    "previous_value": "open",
                },
                {"id": 3, "type": "Comment", "public": False, "author_id": 77, "body": "x"},
                {"id": 4, "type": "Notification", "subject": "x"},
            ],
        }
    )
    assert (
        (export.changes, export.creates)
        == (audit.changes, audit.creates)
        == ((("status", "pending"),), False)
    )
    assert [c["id"] for c in export.comments] == [c["id"] for c in audit.comments] == [3]


def test_zendesk_audits_map_like_the_webhooks_and_refuse_what_they_cannot() -> None:
    zd = src("zd")
    create = zendesk_history.parse_export_item(
        export_item(
            1,
            "2026-11-27T08:00:00Z",
            {"event_type": "Create", "subject": "Printer"},
            {"event_type": "Create", "status": "new"},
            {"event_type": "Create", "priority": "high"},
            {"event_type": "Create", "organization_id": 9001},
            {"event_type": "Create", "requester_id": 555},
            {"id": 9, "event_type": "Comment", "public": True, "author_id": 555, "body": "It is broken."},
        )
    )
    reply = zendesk_history.parse_export_item(
        export_item(
            2, "2026-11-27T08:10:00Z", {"id": 10, "event_type": "Comment", "public": True, "author_id": 555}
        )
    )
    b = zendesk_history.map_ticket(zd, "5", [reply, create], state=None)
    # the description is no reply; the requester's later comment is the customer's
    assert [(e.id, e.type) for e in b.events] == [
        ("zd:5:created:5", "created"),
        ("zd:5:comment:10", "customer_reply"),
    ]
    assert (b.events[0].customer, b.events[0].priority, b.events[0].title) == ("acme", "P1", "Printer")
    # known authors: by role, with their name (what the webhook's author carries)
    staff = {"555": zendesk_history.Author("Pat Customer", True)}
    b = zendesk_history.map_ticket(zd, "5", [create, reply], state=None, authors=staff)
    assert (b.events[1].type, b.events[1].author) == ("reply", "Pat Customer")
    # a stored ticket takes a later audit alone; a new one must start with its creation
    change = zendesk_history.parse_export_item(
        export_item(3, "2026-11-27T09:00:00Z", {"event_type": "Change", "status": "solved"})
    )
    b = zendesk_history.map_ticket(zd, "5", [change], state=TicketState("open", "P1", None, True))
    assert [(e.id, e.type) for e in b.events] == [("zd:5:resolved:solved@2026-11-27T09:00:00Z", "resolved")]
    assert "not with its creation" in str(zendesk_history.map_ticket(zd, "5", [change], state=None).problem)
    naive = zendesk_history.parse_export_item(export_item(4, "2026-11-27 09:00:00", {"event_type": "Change"}))
    assert "has no UTC offset" in str(
        zendesk_history.map_ticket(zd, "5", [create, naive], state=None).problem
    )
    odd = zendesk_history.parse_export_item(
        export_item(5, "2026-11-27T09:00:00Z", {"event_type": "Change", "status": "escalated"})
    )
    assert "status 'escalated'" in str(zendesk_history.map_ticket(zd, "5", [create, odd], state=None).problem)


def zammad_ticket(**kw: Any) -> dict[str, Any]:
    return {
        "id": 81,
        "title": "Mailbox over quota",
        "state": "closed",
        "priority": "3 high",
        "owner": "emma",
        "customer": "lee@acme.example",
        "organization": "ACME",
        "created_at": "2026-11-20T09:30:00.000Z",
        "updated_at": "2026-11-20T11:00:00.250Z",
        **kw,
    }


def entry(n: int, at: str, kind: str = "updated", **kw: Any) -> dict[str, Any]:
    return {"id": n, "o_id": 81, "object": "Ticket", "type": kind, "created_at": at, **kw}


def test_zammad_history_reads_the_values_at_creation_backwards() -> None:
    zm = src("zammad")
    history = [
        entry(1, "2026-11-20T09:30:00.000Z", "created"),
        entry(
            2, "2026-11-20T10:00:00.412Z", attribute="state", value_from="new", value_to="pending reminder"
        ),
        entry(3, "2026-11-20T11:00:00.190Z", attribute="priority", value_from="2 normal", value_to="3 high"),
        entry(
            4, "2026-11-20T11:00:00.190Z", attribute="state", value_from="pending reminder", value_to="closed"
        ),
    ]
    b = zammad_history.map_ticket(zm, zammad_ticket(), history, [])
    assert b.problem is None
    assert [(e.type, e.priority or e.status) for e in b.events] == [
        ("created", "P2"),  # 2 normal at creation, though 3 high now
        ("status", "waiting"),
        ("priority", "P1"),
        ("resolved", None),
    ]
    assert b.events[0].assignee == "emma"  # no owner change: the owner now is the owner then
    assert b.events[1].at == b.events[1].at // 1  # whole seconds, as the receiver stamps them
    moved = [*history, entry(5, "2026-11-20T10:30:00Z", attribute="owner", value_from="-", value_to="Emma")]
    assert zammad_history.map_ticket(zm, zammad_ticket(), moved, []).events[0].assignee is None


def test_zammad_history_problems() -> None:
    zm = src("zammad")
    created = entry(1, "2026-11-20T09:30:00.000Z", "created")
    assert "not with its creation" in str(zammad_history.map_ticket(zm, zammad_ticket(), [], []).problem)
    early = entry(2, "2026-11-19T09:30:00Z", attribute="state", value_from="new", value_to="open")
    assert "before its creation" in str(
        zammad_history.map_ticket(zm, zammad_ticket(), [created, early], []).problem
    )
    naive = entry(2, "2026-11-20 10:00:00", attribute="state", value_from="new", value_to="open")
    assert "no UTC offset" in str(
        zammad_history.map_ticket(zm, zammad_ticket(), [created, naive], []).problem
    )
    odd = entry(2, "2026-11-20T10:00:00Z", attribute="state", value_from="new", value_to="limbo")
    assert "status 'limbo'" in str(zammad_history.map_ticket(zm, zammad_ticket(), [created, odd], []).problem)
