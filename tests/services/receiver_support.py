"""A real `sladesk receive` process on a real database, and a signing sender, for tests and the benchmark."""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from source_fixtures import SECRETS, SOURCES_TOML
from support import GOLD_24X7, give_roles

from sladesk_tui.core.sources.signatures import sign
from sladesk_tui.store.db import connect
from sladesk_tui.store.identity import login_user

ROOT = Path(__file__).resolve().parents[2]


# The database of each prepared folder: `folder/sladesk.db`, or a PostgreSQL URL.
_TARGETS: dict[Path, str] = {}


def db_of(folder: Path) -> Path:
    """The database `prepare` set up for `folder` (a file in it, or a PostgreSQL URL)."""
    return _TARGETS.get(folder, folder / "sladesk.db")  # type: ignore[return-value]  # a URL on PostgreSQL


def prepare(folder: Path, *, sources_toml: str = SOURCES_TOML, db: str | None = None) -> Path:
    """Sources file, secrets (mode 0600) and a database with the 24x7 agreement (at `db`,
    else `folder/sladesk.db`); returns the database."""
    folder.mkdir(parents=True, exist_ok=True)
    if db is not None:
        _TARGETS[folder] = db
    (folder / "sources.toml").write_text(sources_toml, encoding="utf-8")
    for name, secret in SECRETS.items():
        p = folder / f"{name}.secret"
        p.write_bytes(secret + b"\n")
        p.chmod(0o600)
    (folder / "agreements.toml").write_text(GOLD_24X7, encoding="utf-8")
    db = db_of(folder)
    # This test process's account loads the agreements (admin) and runs the receiver (feed).
    give_roles(db, "admin", login_user())
    give_roles(db, "feed", login_user())
    out = subprocess.run(
        [sys.executable, "-m", "sladesk_tui", "--db", str(db), "load", str(folder / "agreements.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    return db


@dataclass
class Receiver:
    """A running `sladesk receive`; its stderr (the request log) goes to `log_path`."""

    proc: subprocess.Popen[str]
    port: int
    log_path: Path
    db: Path
    _log: Any = field(default=None, repr=False)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if self._log is not None:
            self._log.close()


def start(folder: Path, *extra: str) -> Receiver:
    db = db_of(folder)
    log_path = folder / f"receive-{time.monotonic_ns()}.log"
    logf = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed by stop()/kill()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sladesk_tui",
            "--db",
            str(db),
            "receive",
            "--sources",
            str(folder / "sources.toml"),
            "--port",
            "0",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=logf,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        proc.wait()
        logf.close()
        raise AssertionError(f"receiver did not start: {line!r} {log_path.read_text()}")
    port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    return Receiver(proc, port, log_path, db, logf)


def now_zendesk() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def signed(
    source: str, provider: str, doc: Any, *, raw: bytes | None = None, ts: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = raw if raw is not None else json.dumps(doc).encode()
    if ts is None:
        ts = now_zendesk() if provider == "zendesk" else str(int(time.time()))
    return body, sign(provider, SECRETS[source], body, timestamp=ts)


def post(
    port: int,
    source: str,
    body: bytes,
    headers: dict[str, str],
    *,
    content_type: str = "application/json",
    timeout: float = 30,
) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", f"/hooks/{source}", body=body, headers={"Content-Type": content_type, **headers})
        resp = conn.getresponse()
        data = resp.read()
        try:
            doc = json.loads(data)
        except ValueError:
            doc = {"raw": data.decode("utf-8", "replace")}
        return resp.status, doc
    finally:
        conn.close()


def counts(db: Path) -> tuple[int, int]:
    """(events, deliveries) stored."""
    conn = connect(db, readonly=True)
    try:
        events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        try:
            deliveries = conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
        except sqlite3.OperationalError:  # a SQLite file from before the receiver
            deliveries = 0
        return int(events), int(deliveries)
    finally:
        conn.close()
