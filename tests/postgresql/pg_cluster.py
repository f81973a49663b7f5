"""Throwaway PostgreSQL servers for the tests that need a server of their own.

The replica and TLS tests each start a second server (a standby, a TLS-only
server) beside the shared test server. It runs as the `postgres` account, as a
Debian cluster does, so these tests need root (CI has it); `problem()` says why
not otherwise, and the tests skip locally and fail in CI on it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def pg_bin(name: str) -> str | None:
    """The newest installed server binary `name` (Debian keeps them out of PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else shutil.which(name)


def problem(test: str, binaries: tuple[str, ...]) -> str | None:
    if os.geteuid() != 0:
        return f"the {test} test starts a server as the postgres account: run as root (CI does)"
    missing = [n for n in binaries if pg_bin(n) is None]
    if missing or shutil.which("runuser") is None:
        return f"missing for the {test} test: {', '.join(missing) or 'runuser'} (.ci/pg.sh installs them)"
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_postgres(*argv: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run `argv` as the postgres account; its stdout. A failure shows stderr and the log's tail."""
    r = subprocess.run(
        [shutil.which("runuser") or "runuser", "-u", "postgres", "--", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else {"PATH": "/usr/bin:/bin"},
        cwd="/",
        check=False,
    )
    log = Path(argv[argv.index("-l") + 1]) if "-l" in argv else None
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    assert r.returncode == 0, f"{argv[0]}: {r.stderr}{tail}"
    return r.stdout


def data_directory(prefix: str) -> Path:
    """An empty directory the postgres account owns (it cannot enter pytest's root-only ones)."""
    import tempfile

    data = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    shutil.chown(data, "postgres", "postgres")
    return data


def write_owned(path: Path, text: str, mode: int = 0o600) -> None:
    """A configuration file the server (running as postgres) reads."""
    path.write_text(text, encoding="utf-8")
    shutil.chown(path, "postgres", "postgres")
    path.chmod(mode)


def start(data: Path) -> None:
    as_postgres(str(pg_bin("pg_ctl")), "-D", str(data), "-l", str(data / "log"), "-w", "-t", "120", "start")


def stop(data: Path) -> None:
    as_postgres(str(pg_bin("pg_ctl")), "-D", str(data), "-m", "immediate", "-w", "stop")


def sladesk(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `sladesk` command against `url`, with no database or PG settings inherited."""
    env = {k: v for k, v in os.environ.items() if k != "SLADESK_DB" and not k.startswith("PG")}
    return subprocess.run(
        [sys.executable, "-m", "sladesk_tui", *args, "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
        check=False,
    )
