"""Tiered sliding-window quotas: the windows each tier sells, and the port that enforces them.

Algorithm (implemented by the adapters): a sliding window counter over
sub-buckets. Each window of length W keeps at most N bucket counters of
W/N each (a minute: 12 buckets of 5 s; an hour: 60 of 1 min; a month: 30 of 1
day). A request is admitted when the sum of the buckets that overlap the last
W — N + 1 of them, the oldest one counted whole — plus its cost stays within the limit; then
every window it concerns is incremented, atomically, or none is.
Error: the oldest bucket is counted whole although part of it lies before the
window, so a client can be refused up to one bucket (W/N) early, never
admitted beyond the limit in any span of length W: there is no 2x burst at an
edge. Memory per user is N + 1 counters per window whatever the limit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

import msgspec

from secapi.domain.errors import DomainError
from secapi.domain.tiers import RATE_LIMITS, Tier


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """One quota window: its name, length, bucket count and the tier's limit."""

    name: str
    """`minute`, `hour` or `month` (as in the `RateLimit-Policy` header)."""
    quota: str
    """The tier key it enforces: `api_requests_per_minute`, `scans_per_hour`, `scans_per_month`."""
    seconds: int
    buckets: int
    limit: int


class WindowState(msgspec.Struct, frozen=True, kw_only=True):
    """A window after a check: how much is used and when room frees up."""

    name: str
    quota: str
    limit: int
    used: int
    remaining: int
    reset_at: float
    """Unix seconds when the oldest counted bucket leaves the window (room frees up)."""
    seconds: int


class RateLimitResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of a check-and-consume over one or more windows."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float
    """Of the most restrictive window (the one with the least remaining; a tie goes to the longer window)."""
    windows: tuple[WindowState, ...]
    retry_after: float | None = None
    """Seconds until the refused request could succeed; None when it never can (its cost exceeds a limit)."""
    violated: tuple[str, ...] = ()
    """Names of the windows that refused."""


class RateLimitExceeded(DomainError):
    """A quota window refused the request."""

    def __init__(self, result: RateLimitResult, tier: Tier, endpoint: str) -> None:
        self.result = result
        self.tier = tier
        self.endpoint = endpoint
        super().__init__(f"{', '.join(result.violated)} limit reached")


class RateLimitUnavailable(Exception):
    """The limiter's backend cannot be reached; policy (fail open or closed) decides."""


@dataclass
class QuotaLedger:
    """What this request's quota checks found, for the response headers (one per request)."""

    requests: RateLimitResult | None = None
    scans: RateLimitResult | None = None
    watches: RateLimitResult | None = None
    """The watch limit (a count, not a time window), on the watch endpoints."""
    degraded: list[str] = field(default_factory=list)
    """Windows this request was not held to because the limiter was unavailable (`X-RateLimit-Degraded`)."""


class RateLimitPolicy(Protocol):
    """Atomic check-and-consume of quota windows for a user."""

    async def check_rate_limit(self, user_id: UUID, tier: Tier, endpoint: str) -> RateLimitResult:
        """Consume one API request (the per-minute window) if allowed; never consumes when refused."""
        ...

    async def check_and_peek(
        self, user_id: UUID, tier: Tier, endpoint: str, peek: tuple[Window, ...]
    ) -> tuple[RateLimitResult, RateLimitResult]:
        """`check_rate_limit`, and the state of the `peek` windows as `peek` reports it, in one round trip.

        The peeked windows never refuse the request; a scan endpoint uses this so a cache hit's response
        headers can show the scan windows without a second call.
        """
        ...

    async def record_request(self, user_id: UUID, endpoint: str) -> None:
        """Count a request without checking it (for requests admitted elsewhere, e.g. fail-open)."""
        ...

    async def consume(self, user_id: UUID, windows: tuple[Window, ...], cost: int = 1) -> RateLimitResult:
        """Consume `cost` in every window, or in none (atomic, one round trip)."""
        ...

    async def peek(self, user_id: UUID, windows: tuple[Window, ...]) -> RateLimitResult:
        """The windows' state without consuming."""
        ...


MINUTE_BUCKETS, HOUR_BUCKETS, MONTH_BUCKETS = 12, 60, 30
MONTH_SECONDS = 30 * 86400


@functools.cache
def request_windows(tier: Tier) -> tuple[Window, ...]:
    """The windows every API request consumes."""
    limits = RATE_LIMITS[tier.value]
    return (
        Window(
            name="minute",
            quota="api_requests_per_minute",
            seconds=60,
            buckets=MINUTE_BUCKETS,
            limit=limits["api_requests_per_minute"],
        ),
    )


@functools.cache
def scan_windows(tier: Tier) -> tuple[Window, ...]:
    """The windows a scan that actually runs consumes (both, or neither)."""
    limits = RATE_LIMITS[tier.value]
    return (
        Window(name="hour", quota="scans_per_hour", seconds=3600, buckets=HOUR_BUCKETS, limit=limits["scans_per_hour"]),
        Window(
            name="month",
            quota="scans_per_month",
            seconds=MONTH_SECONDS,
            buckets=MONTH_BUCKETS,
            limit=limits["scans_per_month"],
        ),
    )
