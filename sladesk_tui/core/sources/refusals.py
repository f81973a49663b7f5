"""Why a delivery is refused, with the HTTP status the receiver answers (docs/sources.md).

Each is an InputError (one line, the reason) carrying its status, so the pure code
decides the answer and the receiver only writes it down.
"""

from __future__ import annotations


class Refusal(Exception):
    """A delivery refused; nothing of it is stored. `status` is the HTTP answer."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadSignature(Refusal):
    """Missing or wrong signature, or a timestamp outside the replay window."""

    status = 401


class Malformed(Refusal):
    """Not the JSON (or event) body the provider sends."""

    status = 400


class UnknownEvent(Refusal):
    """A provider event this receiver does not know how to read."""

    status = 422


class Unmappable(Refusal):
    """A value the source's mapping does not name (status, priority, customer)."""

    status = 422
