"""Pulls a Jira (Service Management) source: issues updated since the cursor, each
with its whole changelog and comments (docs/pull.md). The mapping is pure
(`core.sources.jira_history`).
"""

from __future__ import annotations

import json
import zoneinfo
from typing import Any

from sladesk_tui.core.sources import jira_history
from sladesk_tui.core.sources.batch import TicketBatch
from sladesk_tui.services.pull.base import Puller, since_epoch
from sladesk_tui.services.pull.stats import PullStats


class JiraPuller(Puller[float]):
    """Pulls one Jira (Service Management) source: issues updated since the cursor, each
    with its whole changelog and comments, mapped as the webhooks would have been.

    JQL compares whole minutes, and page offsets shift when issues change during a
    scan, so each page asks again from the cursor's minute (`updated >= ...`, oldest
    first) and leaves out the issues this round already stored: no offset is trusted
    except to step over one minute that holds more than a page of issues.
    """

    MAX_PER_PAGE = 100

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zoneinfo.ZoneInfo(self.source.timezone)
        projects = (self.source.pull or {}).get("projects")
        self.project_clause = (
            "project in (" + ", ".join(json.dumps(str(p)) for p in projects) + ") AND " if projects else ""
        )

    def start(self, stored: str | None, since: str | None) -> float:
        """Milliseconds since the epoch of the newest issue update stored."""
        if stored:
            return float(stored)
        if since is not None:
            return since_epoch(since) * 1000 + 60_000  # jql_since steps a minute back
        return 60_000.0

    async def run_once(self) -> PullStats:
        processed: set[str] = set()
        start_at = 0
        while True:
            jql = (
                f'{self.project_clause}updated >= "{jira_history.jql_since(self.cursor, self.zone)}"'
                " ORDER BY updated ASC, key ASC"
            )
            page = await self.http.request(
                "GET",
                "/rest/api/2/search",
                params={
                    "jql": jql,
                    "startAt": str(start_at),
                    "maxResults": str(self.per_page),
                    "fields": "*all",
                },
            )
            issues = (
                [i for i in (page.get("issues") or []) if isinstance(i, dict)]
                if isinstance(page, dict)
                else []
            )
            fresh = [i for i in issues if i.get("key") not in processed]
            if not fresh:
                if len(issues) < self.per_page:
                    return self.stats
                start_at += len(issues)  # a minute with more than a page of issues
                continue
            batches: list[TicketBatch] = []
            seq = 1
            newest = self.cursor
            for issue in fresh:
                key = str(issue["key"])
                histories = await self._all(f"/rest/api/2/issue/{key}/changelog", "values")
                comments = await self._all(f"/rest/api/2/issue/{key}/comment", "comments", orderBy="created")
                b = jira_history.map_issue(self.source, issue, histories, comments, seq=seq)
                seq += len(b.events)
                batches.append(b)
                updated = jira_history._when((issue.get("fields") or {}).get("updated")) * 1000
                newest = max(newest, updated)
            self.store_page(batches, len(fresh), f"{newest:.0f}")
            processed.update(str(i["key"]) for i in fresh)
            if int(newest // 60_000) != int(self.cursor // 60_000):
                start_at = 0
            self.cursor = newest
            if len(issues) < self.per_page:
                return self.stats

    async def _all(self, path: str, items_key: str, **extra: str) -> list[dict[str, Any]]:
        """Every page of an issue's changelog or comments: both only grow at their end."""
        out: list[dict[str, Any]] = []
        while True:
            doc = await self.http.request(
                "GET", path, params={"startAt": str(len(out)), "maxResults": "100", **extra}
            )
            items = doc.get(items_key) or [] if isinstance(doc, dict) else []
            out.extend(i for i in items if isinstance(i, dict))
            total = doc.get("total") if isinstance(doc, dict) else None
            last = doc.get("isLast") if isinstance(doc, dict) else None
            if not items or last is True or (isinstance(total, int) and len(out) >= total):
                return out
