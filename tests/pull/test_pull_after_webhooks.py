"""The strongest check of each history pull: a ticket's webhooks are stored the way the
receiver stores them, then a pull of the same history from the provider's API stand-in
stores nothing new and sets nothing aside. The same change seen by webhook and by pull
is one event (docs/pull.md): comment ids, the ticket id, and the value and second of
each status or priority change are common to both, though Zammad stamps a webhook's
`updated_at` and the history entry of the same change a few milliseconds apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fake_http import FakeServer, serving
from fake_jira import FakeJira, sup_12, sup_12_hooks
from fake_zammad import FakeZammad, ticket_81, ticket_81_hooks
from fake_zendesk import FakeZendesk, ticket_4711, ticket_4711_hooks
from pull_support import (
    ACME_TERMS,
    ACME_TERMS_KEEP,
    ACTOR,
    events_of,
    feed_desk,
    jira_text,
    load_source,
    receive,
    write_password,
    zammad_text,
    zendesk_text,
)

from sladesk_tui.services.pull import pull
from sladesk_tui.store.pulls import problems


@dataclass(frozen=True)
class Case:
    terms: str
    server: Callable[[], FakeServer]  # the API stand-in serving the ticket's history
    hooks: Callable[[], list[dict[str, Any]]]  # the same life by webhook
    text: Callable[[str, Path], str]  # the sources file
    name: str
    secret: str
    stored: int  # events the webhooks store
    ids: tuple[str, ...] | None = None  # those events' ids, where spelled out here


CASES = {
    # Ticket 4711: created, a public reply, pending, solved.
    "zendesk": Case(
        ACME_TERMS_KEEP,
        lambda: FakeZendesk(ticket_4711()),
        ticket_4711_hooks,
        zendesk_text,
        "zd",
        "zendesk-api-token",
        4,
        (
            "zd:4711:created:4711",
            "zd:4711:comment:901",
            "zd:4711:status:pending@2026-11-27T09:00:00Z",
            "zd:4711:resolved:solved@2026-11-27T10:00:00Z",
        ),
    ),
    # Ticket 81: created, customer reply, reply, waiting, priority, resolved.
    "zammad": Case(
        ACME_TERMS_KEEP,
        lambda: FakeZammad(ticket_81()),
        ticket_81_hooks,
        zammad_text,
        "zammad",
        "zammad-api-token",
        6,
    ),
    # SUP-12: created, In Progress (new -> open), reply, waiting, priority, resolved.
    "jira": Case(ACME_TERMS, lambda: FakeJira(sup_12()), sup_12_hooks, jira_text, "jsm", "api-token", 6),
}


@pytest.mark.parametrize("provider", list(CASES))
async def test_a_pull_after_the_webhooks_stores_nothing_twice(provider: str, tmp_path: Path) -> None:
    case = CASES[provider]
    with feed_desk(tmp_path / "s.db", case.terms) as conn:
        async with serving(case.server()) as srv:
            pw = write_password(tmp_path / "token", case.secret)
            source, cfg = load_source(case.text(srv.url, pw), case.name)
            receive(conn, source, case.hooks(), f"hook:{case.name}")
            by_hooks = events_of(conn)
            assert len(by_hooks) == case.stored
            if case.ids is not None:
                assert [i for i, _ in by_hooks] == sorted(case.ids)
            stats = await pull(conn, source, cfg, actor=ACTOR)
        assert problems(conn) == []
        assert set(events_of(conn)) - set(by_hooks) == set()
        assert (stats.inserted, stats.already_present) == (0, len(by_hooks))
        assert events_of(conn) == by_hooks
