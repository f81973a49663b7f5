"""A source's `pull` table: where its API is, which credentials file, how to page and wait.

The sources file (`core.sources.mapping`) keeps `pull` as written; it is checked
here, when `sladesk pull` starts, so a typo fails at once with the key named
(docs/pull.md has every key). Credentials are never in the file, only the path of
a file holding them (read by the puller, which refuses one readable by others).
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.sources.mapping import Source

# Scheme http or https and a host: checked as text, core imports nothing of the network.
_HTTP_URL = re.compile(r"https?://[^/?#\s]+", re.IGNORECASE)
PULL_PROVIDERS: frozenset[str] = frozenset({"rt", "zendesk", "jira", "zammad"})
_KEYS = (
    "url",
    "token_file",
    "user",
    "password_file",
    "per_page",
    "interval_s",
    "retry_for_s",
    "timeout_s",
    "queues",
    "projects",
    "max_per_minute",
)


@dataclass(frozen=True, slots=True)
class PullConfig:
    """A checked `pull` table. `token_file` or (`user`, `password_file`) authenticate."""

    source: str
    provider: str
    url: str
    token_file: str | None = None
    user: str | None = None
    password_file: str | None = None
    per_page: int = 100
    interval_s: float = 60.0
    retry_for_s: float = 300.0
    timeout_s: float = 30.0
    queues: tuple[str, ...] | None = None
    max_per_minute: int | None = None


def pull_config(source: Source, *, base_dir: str | None = None) -> PullConfig:
    """The source's pull settings; InputError naming the source and the key."""
    label = f"source {source.name!r}: pull"
    if source.provider not in PULL_PROVIDERS:
        raise InputError(
            f"source {source.name!r}: provider {source.provider!r} has no history to pull "
            f"(pull reads {', '.join(sorted(PULL_PROVIDERS))})"
        )
    raw: Mapping[str, Any] = source.pull or {}
    if not raw:
        raise InputError(f'{label}: the source has no [source.pull] table (url = "https://...")')
    for key in raw:
        if key not in _KEYS:
            raise InputError(f"{label}: unknown key {key!r}")
    url = raw.get("url")
    if not isinstance(url, str) or not _HTTP_URL.match(url):
        raise InputError(f"{label}: url: {url!r} must be an http(s) URL such as https://rt.example.com")

    def path(key: str) -> str | None:
        v = raw.get(key)
        if v is None:
            return None
        if not isinstance(v, str) or not v.strip():
            raise InputError(f"{label}: {key}: {v!r} must be a file path")
        return posixpath.normpath(posixpath.join(base_dir, v)) if base_dir and not posixpath.isabs(v) else v

    token_file, password_file = path("token_file"), path("password_file")
    user = raw.get("user")
    if user is not None and (not isinstance(user, str) or not user.strip()):
        raise InputError(f"{label}: user: {user!r} must be a user name")
    if token_file is None and (user is None or password_file is None):
        raise InputError(f"{label}: needs token_file, or user and password_file (read-only credentials)")

    def number(key: str, default: float, low: float, high: float) -> float:
        v = raw.get(key, default)
        if (
            not isinstance(v, (int, float))
            or isinstance(v, bool)
            or not math.isfinite(v)
            or not low <= v <= high
        ):
            raise InputError(f"{label}: {key}: {v!r} must be a number from {low:g} to {high:g}")
        return float(v)

    queues = raw.get("queues")
    if queues is not None and (
        not isinstance(queues, list) or not queues or not all(isinstance(q, str) and q for q in queues)
    ):
        raise InputError(f"{label}: queues: {queues!r} must be a list of queue names")
    projects = raw.get("projects")
    if projects is not None and (
        not isinstance(projects, list) or not projects or not all(isinstance(q, str) and q for q in projects)
    ):
        raise InputError(f"{label}: projects: {projects!r} must be a list of Jira project keys")
    mpm = raw.get("max_per_minute")
    if mpm is not None and (not isinstance(mpm, int) or isinstance(mpm, bool) or not 1 <= mpm <= 100_000):
        raise InputError(f"{label}: max_per_minute: {mpm!r} must be a whole number from 1 to 100000")
    return PullConfig(
        source=source.name,
        provider=source.provider,
        url=str(url).rstrip("/"),
        token_file=token_file,
        user=user,
        password_file=password_file,
        per_page=int(number("per_page", 100, 1, 1000)),
        interval_s=number("interval_s", 60.0, 0.1, 86_400),
        retry_for_s=number("retry_for_s", 300.0, 0, 86_400),
        timeout_s=number("timeout_s", 30.0, 0.1, 600),
        queues=tuple(queues) if queues is not None else None,
        max_per_minute=mpm,
    )
