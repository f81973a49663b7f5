"""Each provider's webhook signature, checked over the raw body before anything parses it.

What each provider documents (docs/sources.md has the set-up on their side):

- Zendesk: `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(secret, TIMESTAMP +
  BODY)), the timestamp (`2026-11-27T08:05:00Z`) in
  `X-Zendesk-Webhook-Signature-Timestamp`.
- Jira: `X-Hub-Signature: sha256=<hex>` = HMAC-SHA256 over the body; the delivery's
  `X-Atlassian-Webhook-Identifier` stays the same across retries.
- Zammad: `X-Hub-Signature: sha1=<hex>` = HMAC-SHA1 over the body;
  `X-Zammad-Delivery` is a random id per delivery.
- GLPI: `X-GLPI-signature` = hex HMAC-SHA256 over BODY + TIMESTAMP (body first),
  `X-GLPI-timestamp` in epoch seconds, stamped when GLPI queues the delivery.
- sladesk (ours): `X-Sladesk-Signature: sha256=<hex>` = HMAC-SHA256 over
  TIMESTAMP + "." + BODY, `X-Sladesk-Timestamp` in epoch seconds, and an optional
  `X-Sladesk-Delivery` id chosen by the sender.

Every comparison is `hmac.compare_digest`. A timestamp outside the source's replay
window (either side of `now`) is refused like a wrong signature. The delivery id
is the key the receiver dedupes on: the provider's own id when it sends one, else a
digest of what was signed (a retry re-sends the same bytes, hence the same key).
Jira and Zammad sign no timestamp: for them only the delivery id stops a replay.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from sladesk_tui.core.sources.refusals import BadSignature

MAX_HEADER = 512


@dataclass(frozen=True, slots=True)
class Verified:
    """A delivery whose signature holds: its dedupe key and signed instant (if any)."""

    delivery_id: str
    stamped_at: float | None = None


def verify(
    provider: str,
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    window_s: float,
) -> Verified:
    """Check the signature of one delivery; raises BadSignature with the reason.

    `headers` are looked up in lower case (HTTP header names are case-insensitive).
    """
    h = {k.lower(): v for k, v in headers.items()}
    if provider == "zendesk":
        ts = _need(h, "x-zendesk-webhook-signature-timestamp")
        sig = _need(h, "x-zendesk-webhook-signature")
        mac = hmac.new(secret, ts.encode("utf-8") + body, hashlib.sha256).digest()
        _same(base64.b64encode(mac), sig.encode("ascii", "replace"))
        at = _window(_iso(ts), now, window_s)
        return Verified(_delivery(h, "x-zendesk-webhook-invocation-id", "zendesk", ts, sig), at)
    if provider == "jira":
        sig = _need(h, "x-hub-signature")
        _same_hex(_prefixed(sig, "sha256="), hmac.new(secret, body, hashlib.sha256).hexdigest())
        return Verified(_delivery(h, "x-atlassian-webhook-identifier", "jira", "", sig))
    if provider == "zammad":
        sig = _need(h, "x-hub-signature")
        _same_hex(_prefixed(sig, "sha1="), hmac.new(secret, body, hashlib.sha1).hexdigest())
        return Verified(_delivery(h, "x-zammad-delivery", "zammad", "", sig))
    if provider == "glpi":
        ts = _need(h, "x-glpi-timestamp")
        sig = _need(h, "x-glpi-signature")
        _same_hex(sig, hmac.new(secret, body + ts.encode("utf-8"), hashlib.sha256).hexdigest())
        at = _window(_epoch(ts), now, window_s)
        return Verified(_delivery(h, "", "glpi", ts, sig), at)
    if provider == "sladesk":
        ts = _need(h, "x-sladesk-timestamp")
        sig = _need(h, "x-sladesk-signature")
        mac_hex = hmac.new(secret, ts.encode("utf-8") + b"." + body, hashlib.sha256).hexdigest()
        _same_hex(_prefixed(sig, "sha256="), mac_hex)
        at = _window(_epoch(ts), now, window_s)
        return Verified(_delivery(h, "x-sladesk-delivery", "sladesk", ts, sig), at)
    raise BadSignature(f"provider {provider!r} does not push webhooks")


def sign(provider: str, secret: bytes, body: bytes, *, timestamp: str = "") -> dict[str, str]:
    """The signature headers a provider would send for `body` (tests, benchmarks, docs)."""
    if provider == "zendesk":
        mac = hmac.new(secret, timestamp.encode() + body, hashlib.sha256).digest()
        return {
            "X-Zendesk-Webhook-Signature": base64.b64encode(mac).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        }
    if provider == "jira":
        return {"X-Hub-Signature": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()}
    if provider == "zammad":
        return {"X-Hub-Signature": "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()}
    if provider == "glpi":
        hexmac = hmac.new(secret, body + timestamp.encode(), hashlib.sha256).hexdigest()
        return {"X-GLPI-signature": hexmac, "X-GLPI-timestamp": timestamp}
    if provider == "sladesk":
        ours = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return {"X-Sladesk-Signature": "sha256=" + ours, "X-Sladesk-Timestamp": timestamp}
    raise ValueError(f"provider {provider!r} does not push webhooks")


# ---- helpers ---------------------------------------------------------------------------


def _need(h: Mapping[str, str], name: str) -> str:
    value = h.get(name, "").strip()
    if not value:
        raise BadSignature(f"missing header {name}")
    if len(value) > MAX_HEADER:
        raise BadSignature(f"header {name} is too long")
    return value


def _prefixed(sig: str, prefix: str) -> str:
    if not sig.lower().startswith(prefix):
        raise BadSignature(f"signature does not start with {prefix!r}")
    return sig[len(prefix) :]


def _same(expected: bytes, given: bytes) -> None:
    if not hmac.compare_digest(expected, given):
        raise BadSignature("signature does not match")


def _same_hex(given: str, expected_hex: str) -> None:
    try:
        given_bytes = binascii.unhexlify(given.strip())
    except (binascii.Error, ValueError):
        raise BadSignature("signature is not hexadecimal") from None
    _same(binascii.unhexlify(expected_hex), given_bytes)


def _window(at: float, now: float, window_s: float) -> float:
    if abs(now - at) > window_s:
        raise BadSignature(
            f"timestamp {_iso_out(at)} is outside the replay window ({window_s:g} s around {_iso_out(now)})"
        )
    return at


def _iso(text: str) -> float:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadSignature(f"timestamp {text[:40]!r} is not an ISO 8601 instant") from None
    if parsed.tzinfo is None:
        raise BadSignature(f"timestamp {text[:40]!r} has no UTC offset")
    return parsed.timestamp()


def _epoch(text: str) -> float:
    if not text.isdigit() or len(text) > 12:
        raise BadSignature(f"timestamp {text[:40]!r} is not epoch seconds")
    return float(int(text))


def _iso_out(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _delivery(h: Mapping[str, str], header: str, provider: str, ts: str, sig: str) -> str:
    given = h.get(header, "").strip() if header else ""
    if given and len(given) <= 200 and given.isprintable():
        return f"{provider}:{given}"
    return f"{provider}:sig:{hashlib.sha256((ts + '|' + sig).encode()).hexdigest()[:40]}"
