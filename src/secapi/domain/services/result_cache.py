"""The domain's use of the scan cache: version-checked lookups, tier TTLs, single flight, statistics.

An unavailable cache never fails a scan: lookups become misses and stores are
skipped, with a warning and a metric event, so scans only get slower.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

import msgspec

from secapi.domain.caching import CachedScan, CacheUnavailable, PopularInputs, ScanCache, SingleFlight, VersionSource
from secapi.domain.metrics import MetricsSink, NoMetrics
from secapi.domain.ports import Clock
from secapi.domain.tiers import CACHE_TTL, Tier

log = logging.getLogger(__name__)

T = TypeVar("T")


class CacheStatus(StrEnum):
    """How a scan request was answered, as `X-Cache-Status` says."""

    HIT = "HIT"
    MISS = "MISS"
    BYPASS = "BYPASS"


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """Cache facts about one answer, for the response headers."""

    status: CacheStatus
    etag: str
    age: int
    max_age: int


def etag_of(raw_result: bytes) -> str:
    """A strong validator for a result document."""
    return '"' + hashlib.sha256(raw_result).hexdigest()[:32] + '"'


class ResultCache:
    """Looks results up against the current vulnerability database and stores them with the tier's TTL."""

    def __init__(
        self,
        cache: ScanCache,
        versions: VersionSource,
        flight: SingleFlight,
        popular: PopularInputs,
        clock: Clock,
        *,
        follower_wait: float,
        metrics: MetricsSink | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._cache = cache
        self._versions = versions
        self._flight = flight
        self._popular = popular
        self._clock = clock
        self._follower_wait = follower_wait

    async def current_version(self) -> int:
        """The vulnerability database version results must match."""
        return await self._versions.current()

    async def lookup(self, key: str, scan_type: str, *, version: int, count: bool = True) -> CachedScan | None:
        """A servable entry: present, unexpired, computed against `version`; counted as hit or miss."""
        try:
            entry = await self._cache.get_scan_result(key)
        except CacheUnavailable as exc:
            log.warning("scan cache unavailable on lookup, scanning without it: %s", exc)
            self._metrics.cache_unavailable("lookup")
            if count:
                self._metrics.cache_lookup(scan_type, hit=False)
            return None
        if entry is not None and entry.vulndb_version != version:
            entry = None  # computed against an older database: never served
        if count:
            self._metrics.cache_lookup(scan_type, hit=entry is not None)
            await self._count(scan_type, hit=entry is not None)
        return entry

    async def store(
        self, key: str, scan_type: str, data: dict[str, Any], result: Any, *, version: int, tier: Tier
    ) -> CachedScan:
        """Cache `result` for the tier's TTL; returns the entry (also when the cache is down)."""
        now = self._clock.now()
        ttl = CACHE_TTL[tier.value]
        raw = msgspec.json.encode(result)
        entry = CachedScan(
            scan_type=scan_type,
            input=data,
            vulndb_version=version,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
            result=msgspec.Raw(raw),
            etag=etag_of(raw),
        )
        # Encoding a large result holds the loop: let waiting requests run before the cache write.
        await asyncio.sleep(0)
        try:
            await self._cache.set_scan_result(key, entry, ttl)
        except CacheUnavailable as exc:
            log.warning("scan cache unavailable on store: %s", exc)
            self._metrics.cache_unavailable("store")
        return entry

    async def once(
        self, key: str, compute: Callable[[], Awaitable[Any]], check: Callable[[], Awaitable[Any | None]]
    ) -> tuple[Any, bool]:
        """Single flight: `(value, leader)`; identical concurrent misses run `compute` once."""
        return await self._flight.run(key, compute, check, self._follower_wait)

    async def compute_once(
        self,
        key: str,
        scan_type: str,
        data: dict[str, Any],
        compute: Callable[[], Awaitable[tuple[T, Any]]],
        *,
        version: int,
        tier: Tier,
        bypass: bool = False,
    ) -> tuple[T | None, CachedScan]:
        """Run `compute` (→ `(value, result)`) and store its result under `key`, once across identical misses.

        Returns the leader's `(value, entry)`, or `(None, entry)` when an identical scan running elsewhere
        stored its result first. `bypass` computes without waiting for (or following) anyone.
        """

        async def lead() -> tuple[T | None, CachedScan]:
            value, result = await compute()
            return value, await self.store(key, scan_type, data, result, version=version, tier=tier)

        if bypass:
            return await lead()

        async def check() -> tuple[T | None, CachedScan] | None:
            entry = await self.lookup(key, scan_type, version=version, count=False)
            return None if entry is None else (None, entry)

        (value, entry), _leader = await self.once(key, lead, check)
        return value, entry

    async def touch(self, scan_type: str, input_hash: str, data: dict[str, Any]) -> None:
        """Count a request for a shareable input, for warming."""
        try:
            await self._popular.touch(scan_type, input_hash, data)
        except CacheUnavailable:
            return

    async def popular(self, scan_type: str, limit: int) -> list[dict[str, Any]]:
        """The most requested shareable inputs."""
        try:
            return await self._popular.top(scan_type, limit)
        except CacheUnavailable:
            return []

    async def invalidate(self, pattern: str) -> int:
        """Remove matching entries."""
        return await self._cache.invalidate_pattern(pattern)

    def info(self, entry: CachedScan, status: CacheStatus, tier: Tier | None = None) -> CacheInfo:
        """Header values for an answer built from `entry`, for a caller of `tier`.

        `max-age` is the requesting tier's `CACHE_TTL` and `Age` the entry's age, whichever tier stored
        it: a free caller served a result a pro scan cached is told the free tier's hour, not the pro day.
        Without a tier, `max-age` is what the entry has left in the cache.
        """
        now: datetime = self._clock.now()
        age = max(0, int((now - entry.created_at).total_seconds()))
        left = max(0, int((entry.expires_at - now).total_seconds()))
        max_age = CACHE_TTL[tier.value] if tier is not None else left
        return CacheInfo(status=status, etag=entry.etag or etag_of(bytes(entry.result)), age=age, max_age=max_age)

    @staticmethod
    def fresh_info(raw_result: bytes, status: CacheStatus, tier: Tier) -> CacheInfo:
        """Header values for a result computed for this request (age 0, the requesting tier's TTL)."""
        return CacheInfo(status=status, etag=etag_of(raw_result), age=0, max_age=CACHE_TTL[tier.value])

    async def _count(self, scan_type: str, *, hit: bool) -> None:
        try:
            await self._cache.record(scan_type, hit=hit)
        except CacheUnavailable:
            self._metrics.cache_unavailable("stats")
