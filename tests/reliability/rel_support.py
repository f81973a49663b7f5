"""What the reliability suite shares: a small agreements file, event lines, running the
real `sladesk` command in a child process, and a fingerprint of a database's content.

Everything here works on real files: the suite's claims are about processes and
files, so nothing is mocked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WRITER = HERE / "rel_writer.py"
# Every child process is bounded: a hang fails the test instead of stalling CI.
CHILD_TIMEOUT_S = 120

# Round-the-clock, no validity limits: tickets created at any instant are covered, so
# the override rules pass whenever the ticket is open.
AGREEMENTS_TOML = """\
[[agreement]]
id = "acme-std"
name = "ACME standard"
customer = "acme"
calendar = "24x7"

[agreement.targets]
P1 = { response = "15m", resolution = "4h" }
P2 = { response = "1h", resolution = "8h" }
P3 = { response = "4h", resolution = "40h" }
"""

LOG_TABLES = (
    "events",
    "overrides",
    "reviews",
    "role_grants",
    "audit_log",
    "agreement_versions",
    "agreements",
)


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def created(
    eid: str, ticket: str, ts: float, *, priority: str = "P2", title: str | None = None
) -> dict[str, str]:
    return {
        "id": eid,
        "ticket": ticket,
        "at": iso(ts),
        "type": "created",
        "customer": "acme",
        "priority": priority,
        "title": title or f"Ticket {ticket}",
    }


def note(eid: str, ticket: str, ts: float, body: str = "looked at it") -> dict[str, str]:
    return {"id": eid, "ticket": ticket, "at": iso(ts), "type": "note", "body": body}


def jsonl(events: list[dict[str, str]]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def child_env() -> dict[str, str]:
    """The environment of a child: no SLADESK_DB from the developer's shell, unbuffered."""
    env = {k: v for k, v in os.environ.items() if k != "SLADESK_DB"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def sladesk(
    *args: str | os.PathLike[str], timeout: float = CHILD_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run the real `sladesk` command (``python -m sladesk_tui``) as a child process."""
    return subprocess.run(
        [sys.executable, "-m", "sladesk_tui", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(),
        check=False,
    )


def writer(*args: str | os.PathLike[str], **popen: object) -> subprocess.Popen[str]:
    """Start `rel_writer.py` (see its docstring) as a child process."""
    return subprocess.Popen(
        [sys.executable, str(WRITER), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        **popen,
    )


def fingerprint(path: Path) -> str:
    """sha256 of the whole database content as SQL (schema, triggers and every row).

    Read with a plain read-only connection, so taking it writes nothing: a database
    refused input must leave the same fingerprint.
    """
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        h = hashlib.sha256()
        for stmt in conn.iterdump():
            h.update(stmt.encode("utf-8", "surrogatepass"))
            h.update(b"\n")
        return h.hexdigest()
    finally:
        conn.close()


def assert_clean_stderr(text: str, who: str) -> None:
    """No user ever sees a lock error or a traceback."""
    assert "database is locked" not in text, f"{who}: {text}"
    assert "Traceback" not in text, f"{who}: {text}"
