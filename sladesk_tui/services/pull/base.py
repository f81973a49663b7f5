"""What every provider's puller shares: its constructor, where its cursor starts,
and storing a page (or, on a dry run, collecting what would be stored) (docs/pull.md).

A page's events, its tickets' problems and the new cursor are one transaction
(`store.pulls.store_batch`): a pull cut off between two pages resumes from the last
stored one, and the events' ids make a page fetched twice harmless.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Generic, TypeVar

from sladesk_tui.core.sources.batch import TicketBatch
from sladesk_tui.core.sources.mapping import Source
from sladesk_tui.services.pull.http import Http
from sladesk_tui.services.pull.stats import PullStats
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.pulls import read_cursor, store_batch

# The role the pulling account must hold: it writes events in its own name (docs/roles.md).
FEED_ROLE = "feed"

C = TypeVar("C")


def since_epoch(since: str) -> float:
    """`--since` as the commands module spells it (UTC `YYYY-MM-DD HH:MM:SS`), in epoch seconds."""
    return dt.datetime.strptime(since, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC).timestamp()


class Puller(Generic[C]):
    """One source's pull: a subclass says where its cursor starts (`start`) and how it
    pages through the provider (`run_once`); storing a page is `store_page`."""

    # The most items a page may ask for (the provider's own cap), None: as configured.
    MAX_PER_PAGE: ClassVar[int | None] = None

    def __init__(
        self,
        http: Http,
        source: Source,
        conn: Connection,
        *,
        actor: str,
        since: str | None = None,
        dry_run: bool = False,
        memo: dict[str, Any] | None = None,
    ) -> None:
        self.http, self.source, self.conn = http, source, conn
        # What a puller remembers from one round of --follow to the next (`pull` keeps it).
        self.memo: dict[str, Any] = memo if memo is not None else {}
        self.actor, self.since, self.dry_run = actor, since, dry_run
        self.stats = http.stats
        per_page = http.cfg.per_page
        self.per_page = per_page if self.MAX_PER_PAGE is None else min(per_page, self.MAX_PER_PAGE)
        self.shown: set[str] = set()  # dry run: event ids collected
        self.mapped: set[str] = set()  # dry run: tickets this run would have created
        self.cursor: C = self.start(read_cursor(conn, source.name), since)

    def start(self, stored: str | None, since: str | None) -> C:
        """The cursor to pull from: the stored one, else one from `--since`, else the beginning."""
        raise NotImplementedError

    async def run_once(self) -> PullStats:
        """Pull until the provider has nothing after the cursor."""
        raise NotImplementedError

    def store_page(self, batches: list[TicketBatch], transactions: int, cursor: str) -> None:
        """Count a page, then store its tickets with the new cursor, or (dry run) collect
        what would be stored: a page's overlap with the last one is collected once."""
        stats = self.stats
        stats.batches += 1
        stats.transactions += transactions
        if self.dry_run:
            for b in batches:
                if b.problem is None:
                    self.mapped.add(b.ticket)
                    fresh = [e for e in b.events if e.id not in self.shown]
                    self.shown.update(e.id for e in fresh)
                    stats.would_store.extend(fresh)
                else:
                    stats.problems.append((b.provider_ticket, b.problem))
            return
        stored = store_batch(
            self.conn, self.source.name, batches, cursor, actor=self.actor, require=FEED_ROLE
        )
        stats.inserted += stored.inserted
        stats.already_present += stored.already_present
        stats.problems.extend(stored.problems)
