"""Canonical JSON and hashes: the audit chain and event idempotency compare these bytes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Built once: `json.dumps` with options builds an encoder per call, a third of the
# cost of an event digest in a million-event import. Same output.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def canonical_json(obj: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept as is."""
    return _ENCODE(obj)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
