"""Fixtures shared across test folders; this file also puts `tests/` on sys.path, so the
helper modules here (`lookup_fixture`, `support`) import from any folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No hypothesis example may fail for being slow: these machines are shared and noisy,
# and a test never asserts on wall-clock time (benchmarks/ measure speed). Hypothesis'
# default 200 ms deadline and its too_slow health check are exactly such assertions.
settings.register_profile("sladesk", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sladesk")


@pytest.fixture(scope="session")
def lookup_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-checked lookup history (tests/lookup_fixture.py), whole. Read it, never write it."""
    from lookup_fixture import build

    return build(tmp_path_factory.mktemp("lookup") / "full.db")


@pytest.fixture(scope="session")
def lookup_db_earlier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same history cut at `lookup_fixture.EARLIER`: what `--at EARLIER` must reproduce."""
    from lookup_fixture import EARLIER, build

    return build(tmp_path_factory.mktemp("lookup") / "earlier.db", until=EARLIER)
