"""Scan result caching: what the cache stores, the ports it needs, how keys are made, and the version memo.

Keys are `scan:{scan_type}:{sha256 of the canonical input}`. Results of public
inputs (images from registries SecAPI has no credentials for, lockfiles the
caller marks `shared`) are keyed without the tenant and served to everyone;
private inputs (uploaded archives, lockfiles by default, images pulled with
configured credentials) carry the tenant id in the hashed input and are never
served to another tenant.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

import msgspec

from secapi.domain.ports import Clock

T = TypeVar("T")


class CachedScan(msgspec.Struct, kw_only=True):
    """A cached scan result and what it was computed against.

    `result` stays raw JSON: a hit is served without decoding or re-encoding it.
    """

    scan_type: str
    input: dict[str, Any]
    vulndb_version: int
    created_at: datetime
    expires_at: datetime
    result: msgspec.Raw
    etag: str = ""
    """The result's validator, computed once when stored (empty in entries stored before it existed)."""


class CacheStats(msgspec.Struct, kw_only=True):
    """Hits, misses and hit rate per scan type, plus the cache's size, global across API instances."""

    hits: dict[str, int]
    misses: dict[str, int]
    hit_rate: dict[str, float]
    keys: int
    memory_bytes: int | None
    """Memory the cache's store uses: on Redis, the sum of `used_memory` over every master."""
    memory_by_node: dict[str, int]
    """Redis `used_memory` by `host:port`: the one node, or each master of a cluster (empty in process)."""
    available: bool


class CacheUnavailable(Exception):
    """The cache backend cannot be reached; callers carry on without it."""


class ScanCache(Protocol):
    """Stores finished scan results under a cache key; a miss returns None."""

    async def get_scan_result(self, cache_key: str) -> CachedScan | None:
        """The cached entry, or None (expired entries are never returned)."""
        ...

    async def set_scan_result(self, cache_key: str, result: CachedScan, ttl: int) -> None:
        """Store an entry for `ttl` seconds."""
        ...

    async def invalidate_pattern(self, pattern: str) -> int:
        """Delete every key matching the glob `pattern` incrementally (never blocking the server); returns the count."""
        ...

    async def get_cache_stats(self) -> CacheStats:
        """Global statistics."""
        ...

    async def record(self, scan_type: str, *, hit: bool) -> None:
        """Count one lookup as a hit or a miss."""
        ...


class SingleFlight(Protocol):
    """Runs one computation per key at a time, across processes; the others wait for its outcome."""

    async def run(
        self, key: str, compute: Callable[[], Awaitable[T]], check: Callable[[], Awaitable[T | None]], wait: float
    ) -> tuple[T, bool]:
        """`(value, leader)`: the leader runs `compute`; followers poll `check` until it yields a value.

        A follower that waits `wait` seconds without a value, or sees the leader vanish,
        computes itself rather than fail.
        """
        ...


class PopularInputs(Protocol):
    """Counts how often each shareable input is requested, for warming."""

    async def touch(self, scan_type: str, input_hash: str, data: dict[str, Any]) -> None:
        """Count one request for this input (keeping the input so it can be scanned again)."""
        ...

    async def top(self, scan_type: str, limit: int) -> list[dict[str, Any]]:
        """The most requested inputs, most popular first."""
        ...


class VersionSource(Protocol):
    """The vulnerability database version in force, cheap enough to ask on every request."""

    async def current(self) -> int:
        """The version results must have been computed against to be served."""
        ...

    async def publish(self, version: int) -> None:
        """Announce a new version (after an import) so every process sees it at once."""
        ...


class VersionMemo:
    """Remembers a version for `ttl` seconds; concurrent callers share one load.

    The rule every `VersionSource` adapter follows, so a request rarely asks the store or Redis.
    """

    def __init__(self, load: Callable[[], Awaitable[int]], *, ttl: float, clock: Clock) -> None:
        self._load = load
        self._ttl = ttl
        self._clock = clock
        self._value: int | None = None
        self._until = -math.inf
        # Bumped by `forget`: a load that started before it must not store what it read.
        self._generation = 0
        self._lock = asyncio.Lock()
        self.loads = 0

    async def get(self) -> int:
        """The remembered version, loading it if stale."""
        if self._value is not None and self._clock.monotonic() < self._until:
            return self._value
        async with self._lock:
            if self._value is not None and self._clock.monotonic() < self._until:
                return self._value
            generation = self._generation
            value = await self._load()
            self.loads += 1
            if generation == self._generation:
                self._value, self._until = value, self._clock.monotonic() + self._ttl
            return value

    def forget(self) -> None:
        """Drop the remembered version: the next `get` loads afresh."""
        self._generation += 1
        self._value, self._until = None, -math.inf


class DigestCache(Protocol):
    """Remembers tag → manifest digest briefly, so a moved tag is noticed within minutes, not hours."""

    async def get(self, reference: str, platform: str) -> str | None:
        """The digest the tag pointed to recently, or None."""
        ...

    async def put(self, reference: str, platform: str, digest: str, ttl: int) -> None:
        """Remember a resolution for `ttl` seconds."""
        ...


def canonical_hash(data: dict[str, Any]) -> str:
    """SHA-256 of canonical JSON (sorted keys, no whitespace): key order and whitespace do not change it.

    The canonical form is `json.dumps(data, sort_keys=True, separators=(",", ":"))`, as cache keys have
    always been; msgspec writes the same bytes 10x faster whenever they are printable ASCII (json.dumps
    also escapes DEL and anything non-ASCII), so only such rare inputs take the slow path.
    """
    raw = msgspec.json.encode(data, order="sorted")
    if not raw.isascii() or b"\x7f" in raw:
        raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()


RESULT_FORMAT = 3
"""Bumped when a result document gains what older ones lack (2: `unscanned`, `informational`, `vulndb`,
severity sources; 3: findings' `epss` and `kev`, the `risk` summary and the exploit-risk order): keys
change with it, so a result cached by an older release is never served."""


SCAN_PREFIX = "scan:"
"""Every scan result key starts with this; nothing else a cache backend holds does."""


def cache_key(scan_type: str, data: dict[str, Any], *, tenant: UUID | None) -> str:
    """`scan:{type}:{hash}`; a private input's hash includes the tenant, so no one else can reach it."""
    keyed = {**data, "result_format": RESULT_FORMAT}
    if tenant is not None:
        keyed["tenant"] = str(tenant)
    return f"{SCAN_PREFIX}{scan_type}:{canonical_hash(keyed)}"


def check_invalidation_pattern(pattern: str) -> None:
    """Refuse patterns that could reach anything but scan results (rate limits, locks, counters)."""
    if not pattern.startswith(SCAN_PREFIX):
        raise ValueError(
            f"refusing to invalidate {pattern!r}: cache invalidation patterns must start with {SCAN_PREFIX!r}"
        )


def hit_rates(hits: dict[str, int], misses: dict[str, int]) -> dict[str, float]:
    """hits / (hits + misses) per scan type; 0.0 for a type with no lookups."""
    rates: dict[str, float] = {}
    for scan_type in sorted(hits.keys() | misses.keys()):
        total = hits.get(scan_type, 0) + misses.get(scan_type, 0)
        rates[scan_type] = hits.get(scan_type, 0) / total if total else 0.0
    return rates
