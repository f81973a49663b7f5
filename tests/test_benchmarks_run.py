"""The benchmark scripts still run, at a toy size.

Their figures are never asserted (docs/performance.md: these machines are shared and
noisy), but a script that no longer starts is a benchmark nobody can re-run: the
notify and pull benchmarks broke once when only `sladesk init` could create a
database. Each runs as its own process, as a person would run it, and must print
its RESULT lines.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "notify": ["benchmarks/notify_bench.py", "--tickets", "300", "--repeat", "1", "--mails", "1"],
    "pull": ["benchmarks/pull_bench.py", "--transactions", "300"],
    "pull_history": ["benchmarks/pull_history_bench.py", "--tickets", "30"],
    "receive": ["benchmarks/receive_bench.py", "--deliveries", "40", "--clients", "2"],
    "verify": ["benchmarks/verify_bench.py", "--events", "600"],
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_benchmark_script_runs_and_prints_its_figures(name: str) -> None:
    done = subprocess.run(
        [sys.executable, *CASES[name]], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"RESULT {name}." in done.stdout, done.stdout[-2000:]


def test_the_backends_benchmark_runs_on_sqlite_and_postgresql(pg_server: object) -> None:
    """Both columns at a toy size; without a server this skips (and fails in CI:
    tests/pg_support.py), as the other PostgreSQL tests do."""
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/backends_bench.py",
            *("--tickets", "300", "--open", "30", "--writers", "1", "2", "--seconds", "0.5", "--runs", "1"),
            *("--pg", pg_server.admin_url),  # type: ignore[attr-defined]  # pg_support.PgServer
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for backend in ("sqlite", "postgresql"):
        for measure in ("writes_1", "writes_2", "queue", "report"):
            assert f"RESULT backends.{measure}.{backend} " in done.stdout, done.stdout[-2000:]
    assert "| audited writes/s, 2 writers |" in done.stdout


def test_the_guard_benchmark_runs_on_postgresql(pg_server: object) -> None:
    """A person's writes and the owner's, at a toy size (skips without a server)."""
    done = subprocess.run(
        [sys.executable, "benchmarks/pg_guard_bench.py", "--events", "300", "--actions", "4", "--runs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("bulk.person", "bulk.owner", "actions.person", "actions.owner"):
        assert f"RESULT guard.{name} " in done.stdout, done.stdout[-2000:]


def test_the_write_roundtrips_benchmark_runs(pg_server: object) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/write_roundtrips_bench.py",
            *("--writes", "5", "--pg", pg_server.admin_url),  # type: ignore[attr-defined]  # pg_support.PgServer
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RESULT write_roundtrips.per_write " in done.stdout, done.stdout[-2000:]
