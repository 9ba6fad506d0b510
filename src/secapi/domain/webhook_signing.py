"""Signing webhook events, Stripe-style, so receivers can check origin and integrity and refuse replays.

Every request carries `SecAPI-Timestamp: <unix seconds>` and `SecAPI-Signature: sha256=<hex>`, where
the hex digest is HMAC-SHA256 keyed with the endpoint's secret (UTF-8) over the ASCII timestamp, a
literal ".", and the raw request body bytes:

    expected = "sha256=" + hmac_sha256(secret, f"{timestamp}.".encode() + raw_body).hexdigest()

A receiver recomputes it over the body exactly as received (before parsing JSON), compares in
constant time, and rejects timestamps more than five minutes from its own clock: binding the
timestamp into the MAC is what lets it refuse a replay of an old, validly signed request. Each
attempt is signed afresh with a new timestamp; `SecAPI-Delivery` stays the same across retries, so
receivers deduplicate on it. `verify` is the reference implementation for receivers.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="
SIGNATURE_TOLERANCE = 300.0
"""Seconds a receiver should accept between `SecAPI-Timestamp` and its own clock."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of f"{timestamp}.{body}" keyed with secret>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    *,
    now: float,
    tolerance: float = SIGNATURE_TOLERANCE,
) -> bool:
    """True if `signature` is ours for this timestamp and body, and the timestamp is within `tolerance` of `now`."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, stamp, body).encode(), signature.encode())
