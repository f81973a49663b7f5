"""A Jira REST API (v2) stand-in on loopback: search, changelog and comments, with faults.

Shapes as Jira documents them: `GET /rest/api/2/search` (`startAt`, `maxResults`,
`total`, `issues`), `GET /rest/api/2/issue/KEY/changelog` (`values`, `isLast`) and
`GET /rest/api/2/issue/KEY/comment` (`comments`, `total`). The JQL understood is
what the puller sends: an optional `project in (...)`, `updated >= "YYYY-MM-DD HH:MM"`
(UTC here) and `ORDER BY updated ASC, key ASC`. Faults as every stand-in (fake_http):
`rate_limit`, `cut` (request numbers), `down`, `down_after`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from fake_http import FakeServer
from source_fixtures import jira_comment, jira_created, jira_updated

T0 = dt.datetime(2026, 11, 19, 8, 0, tzinfo=dt.UTC)
_SINCE = re.compile(r'updated >= "(\d{4}-\d{2}-\d{2} \d{2}:\d{2})"')


def jtime(t: dt.datetime) -> str:
    """Jira's spelling of an instant: milliseconds and a +0000 offset."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class JiraDesk:
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    next_id: int = 1000

    def issue(
        self,
        key: str,
        at: dt.datetime,
        *,
        status: str = "Open",
        priority: str = "High",
        org: str = "acme",
        reporter: str = "cust-9",
        summary: str | None = None,
    ) -> None:
        self.issues[key] = {
            "id": str(len(self.issues) + 10000),
            "key": key,
            "fields": {
                "summary": summary or f"Issue {key}",
                "created": jtime(at),
                "updated": jtime(at),
                "status": {"name": status},
                "priority": {"name": priority},
                "reporter": {
                    "accountId": reporter,
                    "displayName": "Pat Customer",
                    "emailAddress": "pat@acme.example",
                },
                "assignee": None,
                "customfield_10500": [{"id": "3", "name": org}],
            },
        }
        self.histories[key] = []
        self.comments[key] = []

    def change(
        self, key: str, at: dt.datetime, field_name: str, before: str, after: str, cid: str | None = None
    ) -> str:
        self.next_id += 1
        hid = cid or str(self.next_id)
        self.histories[key].append(
            {
                "id": hid,
                "created": jtime(at),
                "author": {"accountId": "agent-1"},
                "items": [
                    {"field": field_name, "fieldtype": "jira", "fromString": before, "toString": after}
                ],
            }
        )
        f = self.issues[key]["fields"]
        if field_name in ("status", "priority"):
            f[field_name] = {"name": after}
        f["updated"] = jtime(at)
        return hid

    def comment(
        self, key: str, at: dt.datetime, *, public: bool, by: str = "agent-1", cid: str | None = None
    ) -> str:
        self.next_id += 1
        c = cid or str(self.next_id)
        self.comments[key].append(
            {
                "id": c,
                "created": jtime(at),
                "body": "Could you send the VPN client log?",
                "jsdPublic": public,
                "author": {"accountId": by, "displayName": "Pat Customer" if by == "cust-9" else "Sam Agent"},
            }
        )
        self.issues[key]["fields"]["updated"] = jtime(at)
        return c


class FakeJira(FakeServer):
    def __init__(self, desk: JiraDesk) -> None:
        super().__init__()
        self.desk = desk

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/rest/api/2/search", self._search)
        app.router.add_get("/rest/api/2/issue/{key}/changelog", self._changelog)
        app.router.add_get("/rest/api/2/issue/{key}/comment", self._comments)

    async def _search(self, request: web.Request) -> web.StreamResponse:
        refused = self.gate(request)
        if refused is not None:
            return refused
        jql = request.query["jql"]
        m = _SINCE.search(jql)
        assert m and jql.endswith("ORDER BY updated ASC, key ASC"), jql
        since = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
        projects = re.search(r"project in \(([^)]*)\)", jql)
        wanted = {p.strip().strip('"') for p in projects.group(1).split(",")} if projects else None
        hits = [
            i
            for i in self.desk.issues.values()
            if dt.datetime.fromisoformat(i["fields"]["updated"]) >= since
            and (wanted is None or i["key"].split("-")[0] in wanted)
        ]
        hits.sort(key=lambda i: (i["fields"]["updated"], i["key"]))
        start, size = int(request.query.get("startAt", "0")), int(request.query.get("maxResults", "50"))
        return await self.answer(
            request,
            {"startAt": start, "maxResults": size, "total": len(hits), "issues": hits[start : start + size]},
        )

    async def _changelog(self, request: web.Request) -> web.StreamResponse:
        refused = self.gate(request)
        if refused is not None:
            return refused
        items = self.desk.histories[request.match_info["key"]]
        start, size = int(request.query.get("startAt", "0")), int(request.query.get("maxResults", "100"))
        chunk = items[start : start + size]
        return await self.answer(
            request,
            {
                "startAt": start,
                "maxResults": size,
                "total": len(items),
                "isLast": start + size >= len(items),
                "values": chunk,
            },
        )

    async def _comments(self, request: web.Request) -> web.StreamResponse:
        refused = self.gate(request)
        if refused is not None:
            return refused
        items = self.desk.comments[request.match_info["key"]]
        start, size = int(request.query.get("startAt", "0")), int(request.query.get("maxResults", "100"))
        return await self.answer(
            request,
            {
                "startAt": start,
                "maxResults": size,
                "total": len(items),
                "comments": items[start : start + size],
            },
        )


def ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


_SUP_12 = [T0 + dt.timedelta(minutes=m) for m in (0, 10, 20, 30, 45, 50, 70, 90)]
_SUP_12_COMMENT = dt.datetime(2026, 11, 19, 9, 0, tzinfo=dt.UTC)  # the fixture's comment time


def sup_12() -> JiraDesk:
    """The life of SUP-12 as Jira's REST API tells it: what `sup_12_hooks` tell by webhook."""
    t = _SUP_12
    desk = JiraDesk()
    desk.issue("SUP-12", T0, summary="VPN drops every ten minutes")
    desk.change("SUP-12", t[1], "status", "Open", "In Progress", cid="100")
    desk.comment("SUP-12", _SUP_12_COMMENT, public=True, cid="200")
    desk.change("SUP-12", t[6], "status", "In Progress", "Waiting for customer", cid="101")
    desk.change("SUP-12", t[7], "priority", "High", "Medium", cid="102")
    desk.change(
        "SUP-12", t[7] + dt.timedelta(minutes=5), "status", "Waiting for customer", "Resolved", cid="103"
    )
    return desk


def sup_12_hooks() -> list[dict[str, Any]]:
    """SUP-12's webhooks, as the receiver's fixtures spell them."""
    t = _SUP_12
    return [
        jira_created("SUP-12"),
        jira_updated(
            "SUP-12",
            changelog_id="100",
            ts_ms=ms(t[1]),
            items=[{"field": "status", "fromString": "Open", "toString": "In Progress"}],
        ),
        jira_comment("SUP-12", comment_id="200", public=True, by="agent-1", ts_ms=ms(_SUP_12_COMMENT)),
        jira_updated(
            "SUP-12",
            changelog_id="101",
            ts_ms=ms(t[6]),
            items=[{"field": "status", "fromString": "In Progress", "toString": "Waiting for customer"}],
        ),
        jira_updated(
            "SUP-12",
            changelog_id="102",
            ts_ms=ms(t[7]),
            items=[{"field": "priority", "fromString": "High", "toString": "Medium"}],
        ),
        jira_updated(
            "SUP-12",
            changelog_id="103",
            ts_ms=ms(t[7] + dt.timedelta(minutes=5)),
            items=[{"field": "status", "fromString": "Waiting for customer", "toString": "Resolved"}],
        ),
    ]
