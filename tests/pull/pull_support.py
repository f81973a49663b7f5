"""What the pull tests (and benchmarks/pull_*_bench.py) share: the sources' mappings,
the agreements they feed, a desk with a feed account, the receiver's way of storing
webhooks (to check a pull against), and reading back what was stored."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from support import agreements_db, give_roles

from sladesk_tui.core.sources.mapping import Source, parse_sources_text
from sladesk_tui.core.sources.payloads import decode, to_events
from sladesk_tui.core.sources.pull_config import PullConfig, pull_config
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import connect
from sladesk_tui.store.deliveries import ticket_states
from sladesk_tui.store.imports import ingest

# The account pulls write as: it holds the feed role (docs/roles.md).
ACTOR = "feeder"

# Round the clock, P1 and P2, for the customer `acme` (Jira, Zendesk, Zammad sources).
ACME_TERMS = """
[[agreement]]
id = "acme"
customer = "acme"
calendar = "24x7"
[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
"""
# The same, a priority change keeping the clocks' start (Zendesk, Zammad).
ACME_TERMS_KEEP = ACME_TERMS.replace(
    'calendar = "24x7"\n', 'calendar = "24x7"\non_priority_change = "keep"\n'
)

# Round the clock, so expected clocks are plain differences of RT's timestamps.
AGREEMENT = """
[[agreement]]
id = "acme"
customer = "acme.example"
calendar = "24x7"
on_priority_change = "keep"
on_reopen = "resume"
[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
P3 = { response = "4h", resolution = "40h" }
P4 = {}
"""


def sources_text(
    url: str,
    password_file: Path,
    *,
    per_page: int = 100,
    queues: list[str] | None = None,
    retry_for_s: float = 60,
    extra: str = "",
) -> str:
    q = f"queues = {queues!r}\n".replace("'", '"') if queues else ""
    return f"""
[[source]]
name = "rt"
provider = "rt"
ticket_prefix = "RT-"
statuses = {{ new = "open", open = "open", stalled = "waiting", resolved = "resolved", rejected = "closed", deleted = "closed" }}
priority_ranges = [
  {{ from = 80, to = 99, priority = "P1" }},
  {{ from = 50, to = 79, priority = "P2" }},
  {{ from = 20, to = 49, priority = "P3" }},
  {{ from = 0, to = 19, priority = "P4" }},
]
customer = {{ from = "requester_domain", default = "internal" }}
[source.pull]
url = "{url}"
user = "root"
password_file = "{password_file}"
per_page = {per_page}
retry_for_s = {retry_for_s}
{q}{extra}"""


def write_password(path: Path, password: str) -> Path:
    path.write_text(password + "\n", encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def load_source(text: str, name: str = "rt") -> tuple[Source, PullConfig]:
    """Source `name` of a sources file's text, and its pull settings."""
    source = parse_sources_text(text, "sources.toml").get(name)
    assert source is not None
    return source, pull_config(source)


def zendesk_text(url: str, pw: Path, *, per_page: int = 100, retry_for_s: float | None = 30) -> str:
    """Source `zd`: Zendesk pulled with an API token (user `EMAIL/token`, the token as password)."""
    retry = "" if retry_for_s is None else f"retry_for_s = {retry_for_s}\n"
    return f"""
[[source]]
name = "zd"
provider = "zendesk"
secret_file = "zd.secret"
ticket_prefix = "ZD-"
statuses = {{ new = "open", open = "open", pending = "waiting", hold = "waiting", solved = "resolved", closed = "closed" }}
priorities = {{ urgent = "P1", high = "P1", normal = "P2", low = "P2" }}
customer = {{ from = "organization", default = "acme" }}
customers = {{ "9001" = "acme" }}
[source.pull]
url = "{url}"
user = "sladesk@acme.example/token"
password_file = "{pw}"
per_page = {per_page}
{retry}"""


def zammad_text(url: str, pw: Path, *, per_page: int = 50, retry_for_s: float | None = 30) -> str:
    """Source `zammad`: Zammad pulled with an API token."""
    retry = "" if retry_for_s is None else f"retry_for_s = {retry_for_s}\n"
    return f"""
[[source]]
name = "zammad"
provider = "zammad"
secret_file = "zammad.secret"
ticket_prefix = "ZM-"
statuses = {{ new = "open", open = "open", "pending reminder" = "waiting", closed = "resolved", merged = "closed" }}
priorities = {{ "1 low" = "P2", "2 normal" = "P2", "3 high" = "P1" }}
customer = {{ from = "requester_domain" }}
customers = {{ "acme.example" = "acme" }}
[source.pull]
url = "{url}"
token_file = "{pw}"
per_page = {per_page}
{retry}"""


def jira_text(url: str, pw: Path, *, per_page: int = 50) -> str:
    """Source `jsm`: Jira Service Management pulled with basic auth (e-mail, API token)."""
    return f"""
[[source]]
name = "jsm"
provider = "jira"
secret_file = "jsm.secret"
ticket_prefix = ""
statuses = {{ "Open" = "open", "In Progress" = "open", "Waiting for customer" = "waiting", "Resolved" = "resolved", "Closed" = "closed" }}
priorities = {{ Highest = "P1", High = "P1", Medium = "P2", Low = "P2" }}
customer = {{ from = "field", field = "customfield_10500", default = "acme" }}
[source.pull]
url = "{url}"
user = "sladesk@acme.example"
password_file = "{pw}"
per_page = {per_page}
retry_for_s = 30
"""


@contextlib.contextmanager
def feed_desk(db: Path, terms: str) -> Iterator[sqlite3.Connection]:
    """A desk under `terms` whose `ACTOR` holds the feed role: what a pull writes as."""
    with agreements_db(db, terms, actor="admin") as conn:
        give_roles(db, "feed", ACTOR)
        yield conn


def receive(conn: Connection, source: Source, hooks: Sequence[dict[str, Any]], name: str) -> None:
    """Store webhook bodies as the receiver stores them: state from the store, then ingest."""
    for doc in hooks:
        decoded = decode(source, json.dumps(doc).encode(), "application/json")
        ingest(
            conn, to_events(source, decoded, ticket_states(conn, decoded.tickets)), actor="hook", source=name
        )


async def no_sleep(_s: float) -> None:
    await asyncio.sleep(0)


async def brief_sleep(_s: float) -> None:
    """Every wait a twentieth of a second: an outage outlasts a short `retry_for_s` quickly."""
    await asyncio.sleep(0.05)


class Waits(list[float]):
    """A `sleep` for the puller that records each wait (Retry-After, a budget) instead of sleeping."""

    async def __call__(self, s: float) -> None:
        self.append(s)


def events_of(db: Connection | Path) -> list[tuple[str, str]]:
    """(id, digest) of every stored event, sorted: what two pulls must agree on."""
    conn = connect(db) if isinstance(db, str | Path) else db
    try:
        return sorted((r[0], r[1]) for r in conn.execute("SELECT id, digest FROM events"))
    finally:
        if conn is not db:
            conn.close()
