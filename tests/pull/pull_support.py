"""What the pull tests share: the RT source's mapping, the agreement it feeds, a database."""

from __future__ import annotations

import os
from pathlib import Path

from sladesk_tui.core.sources.mapping import Source, parse_sources_text
from sladesk_tui.core.sources.pull_config import PullConfig, pull_config
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import connect

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


def rt_source(text: str) -> tuple[Source, PullConfig]:
    source = parse_sources_text(text, "sources.toml").get("rt")
    assert source is not None
    return source, pull_config(source)


def events_of(db: Connection | Path) -> list[tuple[str, str]]:
    """(id, digest) of every stored event, sorted: what two pulls must agree on."""
    conn = connect(db) if isinstance(db, str | Path) else db
    try:
        return sorted((r[0], r[1]) for r in conn.execute("SELECT id, digest FROM events"))
    finally:
        if conn is not db:
            conn.close()
