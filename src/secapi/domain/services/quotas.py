"""Applying the tiers' quotas: per-minute API requests, and scans that actually run (hour + month)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.metrics import MetricsSink, NoMetrics
from secapi.domain.model import Principal
from secapi.domain.notifications import RefusalListener
from secapi.domain.ports import Clock
from secapi.domain.rate_limits import (
    RateLimitExceeded,
    RateLimitPolicy,
    RateLimitResult,
    RateLimitUnavailable,
    Window,
    request_windows,
    scan_windows,
)

log = logging.getLogger(__name__)

_HYDRATE_RECHECK = 60.0
_HYDRATED_MAX = 100_000
_HYDRATED: dict[tuple[UUID, str], float] = {}
"""(user, quota) → when to check again that the limiter still holds the durable window (per process)."""


class QuotaStore(Protocol):
    """Durable per-bucket counters (PostgreSQL), the source of truth for long windows."""

    async def increment(self, user_id: UUID, quota: str, bucket: int, amount: int) -> None:
        """Add to one bucket."""
        ...

    async def buckets(self, user_id: UUID, quota: str, since: int) -> dict[int, int]:
        """Buckets from `since` on."""
        ...


class HydratableLimiter(RateLimitPolicy, Protocol):
    """A limiter whose window state can be rebuilt from durable counters."""

    async def exists(self, user_id: UUID, window: Window) -> bool:
        """Whether the limiter holds state for this window."""
        ...

    async def hydrate(self, user_id: UUID, window: Window, buckets: dict[int, int]) -> None:
        """Restore a window's buckets (only if it holds none)."""
        ...


@dataclass
class QuotaLedger:
    """What this request's quota checks found, for the response headers (one per request)."""

    requests: RateLimitResult | None = None
    scans: RateLimitResult | None = None
    degraded: list[str] = field(default_factory=list)


class QuotaService:
    """Check-and-consume against the limiter; fail open or closed when it is unavailable."""

    def __init__(
        self,
        limiter: HydratableLimiter,
        store: QuotaStore,
        ledger: QuotaLedger,
        clock: Clock,
        *,
        fail_open: bool,
        refusals: RefusalListener | None = None,
        metrics: MetricsSink | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._refusals = refusals
        self._limiter = limiter
        self._store = store
        self._ledger = ledger
        self._clock = clock
        self._fail_open = fail_open

    async def check_request(
        self, principal: Principal, endpoint: str, *, peek_scans: bool = False, refuse: bool = True
    ) -> None:
        """Consume one API request; `RateLimitExceeded` (429) when the minute window is full.

        With `peek_scans` (scan endpoints) the same round trip notes the scan windows for the headers,
        so a cache hit, which consumes no scan, needs no second call. With `refuse=False` (the usage
        endpoint, so a limited caller can see why) a full minute admits the request without counting it:
        the limiter never consumes what it refuses, so answering it does not keep the caller limited longer.
        """
        user_id, tier = principal.user_id, principal.user.tier
        try:
            if peek_scans:
                windows = scan_windows(tier)
                await self._hydrate(user_id, windows)
                result, self._ledger.scans = await self._limiter.check_and_peek(user_id, tier, endpoint, windows)
            else:
                result = await self._limiter.check_rate_limit(user_id, tier, endpoint)
        except RateLimitUnavailable as exc:
            self._unavailable(exc)
            return
        self._ledger.requests = result
        if not result.allowed and refuse:
            await self._refused(principal, result, endpoint)
            raise RateLimitExceeded(result, principal.user.tier, endpoint)

    async def consume_scan(self, principal: Principal, scan_type: str) -> None:
        """Consume one scan in the hour and month windows (both or neither); 429 when either is full."""
        windows = scan_windows(principal.user.tier)
        try:
            await self._hydrate(principal.user_id, windows, always=True)
            result = await self._limiter.consume(principal.user_id, windows)
        except RateLimitUnavailable as exc:
            self._unavailable(exc)
            return
        self._ledger.scans = result
        if not result.allowed:
            await self._refused(principal, result, f"scan/{scan_type}")
            raise RateLimitExceeded(result, principal.user.tier, f"scan/{scan_type}")
        for window in windows:
            if window.name == "month":
                await self._store.increment(principal.user_id, window.quota, self._bucket(window), 1)

    async def scan_state(self, principal: Principal) -> RateLimitResult | None:
        """The scan windows now (what this request consumed, or a peek when it consumed nothing)."""
        if self._ledger.scans is not None:
            return self._ledger.scans
        windows = scan_windows(principal.user.tier)
        try:
            await self._hydrate(principal.user_id, windows)
            self._ledger.scans = await self._limiter.peek(principal.user_id, windows)
        except RateLimitUnavailable:
            return None
        return self._ledger.scans

    async def usage(self, principal: Principal) -> RateLimitResult | None:
        """Every window of the caller's tier, without consuming.

        The month is rebuilt from the durable counters before answering when the limiter lost it (a
        flush or restart): usage is what a caller reads to decide, so it never shows a forgotten month.
        """
        windows = request_windows(principal.user.tier) + scan_windows(principal.user.tier)
        try:
            await self._hydrate(principal.user_id, windows, always=True)
            return await self._limiter.peek(principal.user_id, windows)
        except RateLimitUnavailable:
            return None

    async def _refused(self, principal: Principal, result: RateLimitResult, endpoint: str) -> None:
        self._metrics.rate_limit_exceeded(principal.user.tier, endpoint)
        # Schedules "room again" webhooks; never raises, so a refusal stays a 429.
        if self._refusals is not None:
            await self._refusals.on_refusal(principal.user_id, result)

    async def _hydrate(self, user_id: UUID, windows: tuple[Window, ...], *, always: bool = False) -> None:
        # After a Redis flush or restart, the month restarts from the durable counters, not from zero.
        # Consuming always checks; peeks (headers on cache hits) at most once a minute per user and process.
        now = self._clock.monotonic()
        for window in windows:
            if window.name != "month" or (not always and _HYDRATED.get((user_id, window.quota), 0.0) > now):
                continue
            _HYDRATED[(user_id, window.quota)] = now + _HYDRATE_RECHECK
            if len(_HYDRATED) > _HYDRATED_MAX:
                _HYDRATED.clear()
            if await self._limiter.exists(user_id, window):
                continue
            since = self._bucket(window) - window.buckets  # the limiter counts N + 1 buckets
            buckets = await self._store.buckets(user_id, window.quota, since)
            if buckets:
                await self._limiter.hydrate(user_id, window, buckets)

    def _bucket(self, window: Window) -> int:
        return int(self._clock.now().timestamp() // (window.seconds // window.buckets))

    def _unavailable(self, exc: Exception) -> None:
        self._metrics.rate_limiter_unavailable()
        if not self._fail_open:
            raise DependencyUnavailable("rate limiting is unavailable, and this server fails closed") from exc
        log.warning("rate limiter unavailable, admitting the request (fail-open): %s", exc)
        self._ledger.degraded.append("rate-limiter")
