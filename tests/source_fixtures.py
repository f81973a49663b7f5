"""Webhook bodies as each provider documents them, written for these tests.

Shapes follow each vendor's documentation (docs/sources.md names the pages); the
values are ours. Each function returns the decoded JSON document: tests serialise
it and sign the exact bytes they send.
"""

from __future__ import annotations

from typing import Any

SOURCES_TOML = """
[[source]]
name = "zd"
provider = "zendesk"
secret_file = "zd.secret"
ticket_prefix = "ZD-"
statuses = { new = "open", open = "open", pending = "waiting", hold = "on_hold", solved = "resolved", closed = "closed" }
priorities = { urgent = "P1", high = "P1", normal = "P2", low = "P2" }
customer = { from = "organization", default = "acme" }
customers = { "9001" = "acme" }

[[source]]
name = "jsm"
provider = "jira"
secret_file = "jsm.secret"
ticket_prefix = ""
statuses = { "Open" = "open", "In Progress" = "open", "Waiting for customer" = "waiting", "Resolved" = "resolved", "Closed" = "closed" }
priorities = { Highest = "P1", High = "P1", Medium = "P2", Low = "P2" }
customer = { from = "field", field = "customfield_10500", default = "acme" }

[[source]]
name = "zammad"
provider = "zammad"
secret_file = "zammad.secret"
ticket_prefix = "ZM-"
statuses = { new = "open", open = "open", "pending reminder" = "waiting", closed = "resolved", merged = "closed" }
priorities = { "1 low" = "P2", "2 normal" = "P2", "3 high" = "P1" }
customer = { from = "requester_domain" }
customers = { "acme.example" = "acme" }

[[source]]
name = "glpi"
provider = "glpi"
secret_file = "glpi.secret"
ticket_prefix = "GLPI-"
timezone = "Europe/Paris"
statuses = { 1 = "open", 2 = "open", 3 = "open", 4 = "waiting", 5 = "resolved", 6 = "closed" }
priority_ranges = [{ from = 4, to = 6, priority = "P1" }, { from = 1, to = 3, priority = "P2" }]
customer = { from = "fixed", value = "acme" }

[[source]]
name = "feed"
provider = "sladesk"
secret_file = "feed.secret"
"""

SECRETS = {
    "zd": b"zd-signing-secret-for-tests",
    "jsm": b"jsm secret 1234567890",
    "zammad": b"zammad-token",
    "glpi": b"glpi40characterlongrandomsecretabcdefgh",
    "feed": b"feed-secret",
}


def zendesk_created(ticket: int = 4711, *, status: str = "OPEN", priority: str = "HIGH") -> dict[str, Any]:
    return {
        "type": "zen:event-type:ticket.created",
        "account_id": 31337,
        "id": f"01ZDCREATE{ticket}",
        "time": "2026-11-27T08:05:00Z",
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket}",
        "detail": {
            "id": str(ticket),
            "subject": "Printer on floor 3 prints only blank pages",
            "status": status,
            "priority": priority,
            "organization_id": "9001",
            "requester_id": "555",
            "assignee_id": None,
            "created_at": "2026-11-27T08:05:00Z",
            "updated_at": "2026-11-27T08:05:00Z",
        },
        "event": {},
    }


def zendesk_status(ticket: int, current: str, previous: str, *, eid: str, time: str) -> dict[str, Any]:
    doc = zendesk_created(ticket)
    doc.update(type="zen:event-type:ticket.status_changed", id=eid, time=time)
    doc["detail"] = {**doc["detail"], "status": current, "updated_at": time}
    doc["event"] = {"current": current, "previous": previous}
    return doc


def zendesk_comment(ticket: int, *, comment_id: int, public: bool, staff: bool, time: str) -> dict[str, Any]:
    doc = zendesk_created(ticket)
    doc.update(type="zen:event-type:ticket.comment_added", id=f"01ZDC{comment_id}", time=time)
    doc["event"] = {
        "comment": {
            "id": str(comment_id),
            "body": "Swapped the toner cartridge, please try again.",
            "is_public": public,
            "author": {"id": "77", "is_staff": staff, "name": "Sam Agent" if staff else "Pat Customer"},
        }
    }
    return doc


def jira_created(key: str = "SUP-12") -> dict[str, Any]:
    return {
        "timestamp": 1795075200000,  # 2026-11-19T08:00:00Z in milliseconds
        "webhookEvent": "jira:issue_created",
        "issue_event_type_name": "issue_created",
        "user": {"accountId": "agent-1", "displayName": "Sam Agent"},
        "issue": {
            "id": "10012",
            "key": key,
            "fields": {
                "summary": "VPN drops every ten minutes",
                "created": "2026-11-19T08:00:00.000+0000",
                "updated": "2026-11-19T08:00:00.000+0000",
                "status": {"name": "Open", "id": "1"},
                "priority": {"name": "High", "id": "2"},
                "reporter": {
                    "accountId": "cust-9",
                    "displayName": "Pat Customer",
                    "emailAddress": "pat@acme.example",
                },
                "assignee": None,
                "customfield_10500": [{"id": "3", "name": "acme"}],
            },
        },
    }


def jira_updated(key: str, *, changelog_id: str, items: list[dict[str, Any]], ts_ms: int) -> dict[str, Any]:
    doc = jira_created(key)
    doc.update(webhookEvent="jira:issue_updated", issue_event_type_name="issue_generic", timestamp=ts_ms)
    doc["changelog"] = {"id": changelog_id, "items": items}
    return doc


def jira_comment(key: str, *, comment_id: str, public: bool, by: str, ts_ms: int) -> dict[str, Any]:
    doc = jira_created(key)
    doc.update(webhookEvent="comment_created", timestamp=ts_ms)
    doc["comment"] = {
        "id": comment_id,
        "body": "Could you send the VPN client log?",
        "author": {"accountId": by, "displayName": "Pat Customer" if by == "cust-9" else "Sam Agent"},
        "created": "2026-11-19T09:00:00.000+0000",
        "jsdPublic": public,
    }
    return doc


def zammad_snapshot(
    ticket: int = 81,
    *,
    state: str = "open",
    priority: str = "2 normal",
    updated_at: str = "2026-11-20T10:00:00.000Z",
    owner: str | None = None,
    article: dict[str, Any] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "ticket": {
            "id": ticket,
            "number": f"3{ticket:05d}",
            "title": "Mailbox over quota",
            "state": state,
            "state_id": 2,
            "priority": {"id": 2, "name": priority},
            "priority_id": 2,
            "created_at": "2026-11-20T09:30:00.000Z",
            "updated_at": updated_at,
            "customer": {"id": 8, "email": "lee@acme.example", "organization": "ACME"},
            "organization": {"id": 3, "name": "ACME"},
            "owner": {"id": 5, "login": owner} if owner else {"id": 1, "login": "-"},
        }
    }
    if article is not None:
        doc["article"] = article
    return doc


def zammad_article(article_id: int, *, sender: str, internal: bool, at: str) -> dict[str, Any]:
    return {
        "id": article_id,
        "ticket_id": 81,
        "sender": sender,
        "internal": internal,
        "type": "note" if internal else "email",
        "from": "Lee Customer <lee@acme.example>" if sender == "Customer" else "Emma Agent",
        "body": "Please raise the quota to 50 GB.",
        "created_at": at,
        "created_by": {"login": "lee@acme.example" if sender == "Customer" else "emma"},
    }


def glpi_ticket(
    ticket: int = 310,
    *,
    event: str = "new",
    status: int = 1,
    priority: int = 3,
    date_mod: str = "2026-11-23 10:15:00",
) -> dict[str, Any]:
    return {
        "event": event,
        "item": {
            "id": ticket,
            "name": "Badge reader at the north door is offline",
            "content": "It shows a red light since this morning.",
            "date": "2026-11-23 09:00:00",  # Paris local time, as GLPI writes it
            "date_mod": date_mod,
            "status": status,
            "urgency": 3,
            "impact": 3,
            "priority": priority,
            "entities_id": 0,
        },
    }


def glpi_followup(ticket: int, followup: int, *, private: bool, date: str) -> dict[str, Any]:
    return {
        "event": "new",
        "item": {
            "id": followup,
            "itemtype": "Ticket",
            "items_id": ticket,
            "content": "Technician on the way.",
            "is_private": 1 if private else 0,
            "date": date,
            "users_id": 4,
        },
    }
