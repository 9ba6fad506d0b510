"""Scan results in Redis as JSON strings, with hit and miss counters shared by every API instance."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing, contextmanager

import msgspec
from redis.asyncio import RedisCluster

from secapi.adapters.redis.client import REDIS_FAILURES, RedisClient
from secapi.adapters.redis.pipelining import AutoPipeline
from secapi.domain.caching import (
    SCAN_PREFIX,
    CachedScan,
    CacheStats,
    CacheUnavailable,
    ScanCache,
    check_invalidation_pattern,
    hit_rates,
)
from secapi.domain.clock import SystemClock
from secapi.domain.ports import Clock

log = logging.getLogger(__name__)

STATS_KEY = "secapi:cache:stats"
BATCH = 1000
# Counting walks the keyspace with SCAN (1,000 round trips per million keys); past this bound
# the reported count is a floor rather than minutes of work for an admin page.
KEY_COUNT_LIMIT = 1_000_000

_decoder = msgspec.json.Decoder(CachedScan)
_encoder = msgspec.json.Encoder()


@contextmanager
def unavailable_on_failure(operation: str) -> Iterator[None]:
    """Re-raise a Redis or network failure as `CacheUnavailable`, chained to the original."""
    try:
        yield
    except REDIS_FAILURES as exc:
        raise CacheUnavailable(f"redis {operation} failed: {type(exc).__name__}: {exc}") from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisScanCache(ScanCache):
    """`ScanCache` as `SET key json EX ttl` strings, with statistics in one shared hash.

    Hits and misses are counted in process and added to the shared hash at most every
    `stats_flush_interval` seconds (one pipelined round trip), so a cache hit costs one
    Redis call rather than two; every instance's counts reach the hash within that interval,
    and `get_cache_stats` adds this instance's pending counts first.
    """

    def __init__(
        self,
        redis: RedisClient,
        *,
        clock: Clock | None = None,
        stats_flush_interval: float = 1.0,
        pipeline: AutoPipeline | None = None,
    ) -> None:
        self._redis = redis
        self._pipeline = pipeline or AutoPipeline(redis)
        self._clock = clock or SystemClock()
        self._flush_interval = stats_flush_interval
        self._pending: Counter[str] = Counter()
        self._next_flush = 0.0

    async def get_scan_result(self, cache_key: str) -> CachedScan | None:
        """The entry, or None; an undecodable value is deleted and counts as a miss."""
        with unavailable_on_failure("GET"):
            raw = await self._pipeline.execute("GET", cache_key)
        if raw is None:
            return None
        try:
            entry = _decoder.decode(raw)
        except msgspec.DecodeError as exc:
            log.warning("deleting undecodable scan cache entry %s: %s", cache_key, exc)
            with unavailable_on_failure("UNLINK"):
                await self._redis.unlink(cache_key)
            return None
        # Redis expires the key itself; this guards against clock skew between writers.
        return None if entry.expires_at <= self._clock.now() else entry

    async def set_scan_result(self, cache_key: str, result: CachedScan, ttl: int) -> None:
        """`SET key json EX ttl`; nothing is stored when `ttl` <= 0."""
        if ttl <= 0:
            return
        with unavailable_on_failure("SET"):
            await self._redis.set(cache_key, _encoder.encode(result), ex=ttl)

    async def invalidate_pattern(self, pattern: str) -> int:
        """`SCAN MATCH pattern` + `UNLINK` in batches of at most 1,000 keys; refuses non-`scan:` patterns."""
        check_invalidation_pattern(pattern)
        removed = 0
        with unavailable_on_failure("invalidation"):
            async with aclosing(self._scan(pattern)) as pages:
                async for keys in pages:
                    for start in range(0, len(keys), BATCH):
                        removed += await self._redis.unlink(*keys[start : start + BATCH])
        return removed

    async def get_cache_stats(self) -> CacheStats:
        """Counters from the shared hash, `scan:*` key count and Redis memory (each master's and their sum);
        `available=False` if Redis is down."""
        try:
            await self.flush_stats()
        except CacheUnavailable as exc:
            log.warning("scan cache statistics unavailable: %s", exc)
            return CacheStats(
                hits={}, misses={}, hit_rate={}, keys=0, memory_bytes=None, memory_by_node={}, available=False
            )
        try:
            counters = await self._redis.hgetall(STATS_KEY)
            keys = await self._count_keys()
            memory = await self._memory_by_node()
        except REDIS_FAILURES as exc:
            log.warning("scan cache statistics unavailable: %s", exc)
            return CacheStats(
                hits={}, misses={}, hit_rate={}, keys=0, memory_bytes=None, memory_by_node={}, available=False
            )
        hits: dict[str, int] = {}
        misses: dict[str, int] = {}
        for field, count in counters.items():
            scan_type, _, kind = _text(field).rpartition(":")
            if kind in ("hits", "misses"):
                (hits if kind == "hits" else misses)[scan_type] = int(count)
        return CacheStats(
            hits=hits,
            misses=misses,
            hit_rate=hit_rates(hits, misses),
            keys=keys,
            memory_bytes=sum(memory.values()),
            memory_by_node=memory,
            available=True,
        )

    async def record(self, scan_type: str, *, hit: bool) -> None:
        """Count one lookup; the counts go to the shared hash once the flush interval has passed."""
        self._pending[f"{scan_type}:{'hits' if hit else 'misses'}"] += 1
        if self._clock.monotonic() >= self._next_flush:
            await self.flush_stats()

    async def flush_stats(self) -> None:
        """Add the pending counts to the shared hash (one pipelined `HINCRBY` per field); kept on failure."""
        self._next_flush = self._clock.monotonic() + self._flush_interval
        if not self._pending:
            return
        pending, self._pending = self._pending, Counter()
        pipeline = self._redis.pipeline(transaction=False)
        for field, count in pending.items():
            pipeline.hincrby(STATS_KEY, field, count)
        try:
            with unavailable_on_failure("HINCRBY"):
                await pipeline.execute()
        except CacheUnavailable:
            self._pending.update(pending)
            raise

    async def _memory_by_node(self) -> dict[str, int]:
        """`used_memory` of the node, or of every master of a cluster, by `host:port`.

        A cluster's client sends a keyless INFO to one node, which reports only its own memory.
        """
        if isinstance(self._redis, RedisCluster):
            masters = self._redis.get_primaries()
            replies = await asyncio.gather(*(self._redis.info("memory", target_nodes=node) for node in masters))
            return {node.name: int(reply["used_memory"]) for node, reply in zip(masters, replies, strict=True)}
        reply = await self._redis.info("memory")
        where = self._redis.connection_pool.connection_kwargs
        return {f"{where.get('host', 'localhost')}:{where.get('port', 6379)}": int(reply["used_memory"])}

    async def _count_keys(self) -> int:
        count = 0
        async with aclosing(self._scan(f"{SCAN_PREFIX}*")) as pages:
            async for keys in pages:
                count += len(keys)
                if count >= KEY_COUNT_LIMIT:
                    break
        return count

    async def _scan(self, pattern: str) -> AsyncGenerator[list[bytes | str], None]:
        """Batches of matching keys: SCAN walks incrementally, where KEYS would block the server.

        `scan_iter` walks every primary of a cluster in turn (one node's SCAN sees only its own slots).
        """
        batch: list[bytes | str] = []
        async for key in self._redis.scan_iter(match=pattern, count=BATCH):
            batch.append(key)
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
