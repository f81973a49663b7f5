"""The PostgreSQL half of the suite skips locally without a server and fails in CI
(tests/pg_support.py): CI can never pass with it silently skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ONE_PG_TEST = "tests/store/test_pg_adapter.py::test_rows_by_index_and_name_and_numeric_as_numbers"


def _pytest(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SLADESK_TEST_PG_URL", "CI")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", ONE_PG_TEST],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(("ci", "rc", "word"), [(None, 0, "1 skipped"), ("true", 1, "1 error")])
def test_without_a_server_postgresql_tests_skip_locally_and_fail_in_ci(
    ci: str | None, rc: int, word: str
) -> None:
    out = _pytest(ci)
    assert out.returncode == rc, out.stdout + out.stderr
    assert "PostgreSQL tests: $SLADESK_TEST_PG_URL is not set" in out.stdout
    assert word in out.stdout
