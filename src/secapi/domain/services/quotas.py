"""Applying the tiers' quotas: per-minute API requests, and scans that actually run (hour + month)."""

from __future__ import annotations

import logging
from typing import Protocol
from uuid import UUID

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.metrics import MetricsSink, NoMetrics
from secapi.domain.model import Principal
from secapi.domain.notifications import RefusalListener
from secapi.domain.ports import Clock
from secapi.domain.rate_limits import (
    QuotaLedger,
    RateLimitExceeded,
    RateLimitPolicy,
    RateLimitResult,
    RateLimitUnavailable,
    Window,
    WindowState,
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

    async def take(self, user_id: UUID, quota: str) -> dict[int, int]:
        """Remove and return every bucket of the quota, atomically (each count is handed out once)."""
        ...


class HydratableLimiter(RateLimitPolicy, Protocol):
    """A limiter whose window state can be rebuilt from durable counters."""

    async def exists(self, user_id: UUID, window: Window) -> bool:
        """Whether the limiter holds state for this window."""
        ...

    async def hydrate(self, user_id: UUID, window: Window, buckets: dict[int, int]) -> None:
        """Restore a window's buckets: each keeps the larger of its count and the given one."""
        ...

    async def replay(self, user_id: UUID, window: Window, buckets: dict[int, int]) -> None:
        """Add counts admitted while the limiter was unavailable to the window's live buckets."""
        ...


class QuotaService:
    """Check-and-consume against the limiter; fail open or closed when it is unavailable.

    Failing open still counts what can be counted. The month is kept in PostgreSQL whatever happens to
    Redis, so it is enforced from there during an outage. The hour lives in Redis only; a scan admitted
    during an outage is recorded in PostgreSQL as a pending hour count (`rate_limits` rows of the
    `scans_per_hour` quota exist for nothing else), and the first scan or usage request of the user once
    Redis answers again takes those rows (DELETE ... RETURNING, so one process replays each count once)
    and adds them to the hour window, and merges the month from PostgreSQL. Until then the response says
    which windows it was not held to: `X-RateLimit-Degraded: minute` (requests are not counted during an
    outage) and `hour` on a scan that ran.
    """

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
            self._unavailable(exc, "minute")
            return
        self._ledger.requests = result
        if not result.allowed and refuse:
            await self._refused(principal, result, endpoint)
            raise RateLimitExceeded(result, principal.user.tier, endpoint)

    async def consume_scan(self, principal: Principal, scan_type: str) -> None:
        """Consume one scan in the hour and month windows (both or neither); 429 when either is full."""
        windows = scan_windows(principal.user.tier)
        try:
            await self._replay(principal.user_id, windows)
            await self._hydrate(principal.user_id, windows, always=True)
            result = await self._limiter.consume(principal.user_id, windows)
        except RateLimitUnavailable as exc:
            self._unavailable(exc, "hour")
            await self._consume_durably(principal, windows, scan_type)
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
            await self._replay(principal.user_id, windows)
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

    async def _consume_durably(self, principal: Principal, windows: tuple[Window, ...], scan_type: str) -> None:
        """The limiter is down: hold the scan to the month in PostgreSQL, and record the hour for replay."""
        month = _named(windows, "month")
        current = self._bucket(month)
        counted = await self._store.buckets(principal.user_id, month.quota, current - month.buckets)
        used = sum(counted.values())
        now = self._clock.now().timestamp()
        # As the limiter says it: room frees up when the oldest counted day leaves the window.
        reset_at = (min(counted, default=current) + month.buckets + 1) * (month.seconds / month.buckets)
        allowed = used + 1 <= month.limit
        used_after = used + 1 if allowed else used
        state = WindowState(
            name=month.name,
            quota=month.quota,
            limit=month.limit,
            used=used_after,
            remaining=max(0, month.limit - used_after),
            reset_at=reset_at,
            seconds=month.seconds,
        )
        result = RateLimitResult(
            allowed=allowed,
            limit=month.limit,
            remaining=state.remaining,
            reset_at=reset_at,
            windows=(state,),
            retry_after=None if allowed else max(1.0, reset_at - now),
            violated=() if allowed else (month.name,),
        )
        self._ledger.scans = result
        if not allowed:
            await self._refused(principal, result, f"scan/{scan_type}")
            raise RateLimitExceeded(result, principal.user.tier, f"scan/{scan_type}")
        await self._store.increment(principal.user_id, month.quota, self._bucket(month), 1)
        hour = _named(windows, "hour")
        await self._store.increment(principal.user_id, hour.quota, self._bucket(hour), 1)

    async def _replay(self, user_id: UUID, windows: tuple[Window, ...]) -> None:
        """Add the hour counts recorded during an outage to the limiter, and merge the month from PostgreSQL."""
        hour = _named(windows, "hour")
        pending = await self._store.take(user_id, hour.quota)
        if not pending:
            return
        try:
            # The month first: if Redis fails here, the pending hour goes back untouched.
            month = _named(windows, "month")
            buckets = await self._store.buckets(user_id, month.quota, self._bucket(month) - month.buckets)
            if buckets:
                await self._limiter.hydrate(user_id, month, buckets)
            await self._limiter.replay(user_id, hour, pending)
        except RateLimitUnavailable:
            for bucket, count in pending.items():
                await self._store.increment(user_id, hour.quota, bucket, count)
            raise

    def _bucket(self, window: Window) -> int:
        return int(self._clock.now().timestamp() // (window.seconds // window.buckets))

    def _unavailable(self, exc: Exception, window: str) -> None:
        self._metrics.rate_limiter_unavailable()
        if not self._fail_open:
            raise DependencyUnavailable("rate limiting is unavailable, and this server fails closed") from exc
        log.warning("rate limiter unavailable, admitting the request (fail-open): %s", exc)
        if window not in self._ledger.degraded:
            self._ledger.degraded.append(window)


def _named(windows: tuple[Window, ...], name: str) -> Window:
    return next(w for w in windows if w.name == name)
