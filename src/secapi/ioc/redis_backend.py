"""Redis-backed shared state (`SECAPI_REDIS_URL` set): cache, limiter, single flight, queue, locks, memos."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide
from saq import Queue

from secapi.adapters.redis.client import RedisClient, RedisHealthProbe, create_redis, discover
from secapi.adapters.redis.digests import RedisDigestCache
from secapi.adapters.redis.notice_schedule import RedisNoticeSchedule
from secapi.adapters.redis.pipelining import AutoPipeline
from secapi.adapters.redis.popular import RedisPopularInputs
from secapi.adapters.redis.rate_limiter import RedisRateLimiter
from secapi.adapters.redis.scan_cache import RedisScanCache
from secapi.adapters.redis.scan_queue import SaqScanQueue, create_saq_queue
from secapi.adapters.redis.single_flight import RedisSingleFlight
from secapi.adapters.redis.sync_lock import RedisSyncLock
from secapi.adapters.redis.versions import RedisVersionSource
from secapi.adapters.sql.health import SqlHealthProbe
from secapi.config import Settings
from secapi.domain.caching import CacheUnavailable, DigestCache, PopularInputs, ScanCache, SingleFlight, VersionSource
from secapi.domain.metrics import MetricsSink
from secapi.domain.notifications import NoticeSchedule
from secapi.domain.ports import Clock, HealthProbe, ScanQueue, VulnerabilityStore
from secapi.domain.services.health import ReadinessService, VulnDbProbe
from secapi.domain.services.quotas import HydratableLimiter
from secapi.domain.services.vulndb_sync import SyncLock

log = logging.getLogger(__name__)


class RedisProvider(Provider):
    """The shared Redis client and the readiness probes when Redis is configured."""

    @provide(scope=Scope.APP)
    async def redis(self, settings: Settings) -> AsyncIterator[RedisClient]:
        assert settings.redis_url is not None  # this provider is only installed when it is set
        client = create_redis(settings.redis_url, settings.redis_timeout, cluster=settings.redis_cluster)
        await discover(client)
        yield client
        await client.aclose()

    @provide(scope=Scope.APP)
    async def readiness(
        self, sql: SqlHealthProbe, vulndb: VulnDbProbe, redis: RedisClient, settings: Settings, metrics: MetricsSink
    ) -> AsyncIterator[ReadinessService]:
        timeout = settings.health_check_timeout
        probes: list[HealthProbe] = [sql, vulndb, RedisHealthProbe(redis, timeout)]
        queue_redis: RedisClient | None = None
        if settings.queue_redis_url and settings.queue_redis_url != settings.redis_url:
            # The queue's own node (always one with a cluster): image scans cannot be queued without it.
            queue_redis = create_redis(settings.queue_redis_url, timeout)
            probes.append(RedisHealthProbe(queue_redis, timeout, name="queue-redis", what="the scan queue's redis"))
        yield ReadinessService(probes, metrics)
        if queue_redis is not None:
            await queue_redis.aclose()

    @provide(scope=Scope.APP)
    async def saq_queue(self, settings: Settings) -> AsyncIterator[Queue]:
        assert settings.redis_url is not None
        # On a cluster the queue has its own single node (SAQ's scripts span slots): the settings insist on it.
        queue = create_saq_queue(settings.queue_redis_url or settings.redis_url)
        # SAQ connects on first use; a Redis that is down must not stop the app from starting or closing.
        yield queue
        with contextlib.suppress(Exception):
            await queue.disconnect()

    @provide(scope=Scope.APP)
    def notice_schedule(self, redis: RedisClient) -> NoticeSchedule:
        return RedisNoticeSchedule(redis)

    @provide(scope=Scope.APP)
    async def auto_pipeline(self, redis: RedisClient) -> AsyncIterator[AutoPipeline]:
        pipeline = AutoPipeline(redis)
        yield pipeline
        await pipeline.close()

    @provide(scope=Scope.APP)
    def limiter(self, redis: RedisClient, clock: Clock, pipeline: AutoPipeline) -> HydratableLimiter:
        return RedisRateLimiter(redis, clock, pipeline=pipeline)

    @provide(scope=Scope.APP)
    async def scan_cache(
        self, redis: RedisClient, clock: Clock, settings: Settings, pipeline: AutoPipeline
    ) -> AsyncIterator[ScanCache]:
        cache = RedisScanCache(
            redis, clock=clock, stats_flush_interval=settings.usage_flush_interval, pipeline=pipeline
        )
        yield cache
        # The last second of hit and miss counts; a Redis that is down loses them (logged).
        try:
            await cache.flush_stats()
        except CacheUnavailable as exc:
            log.warning("scan cache statistics not flushed at shutdown: %s", exc)

    @provide(scope=Scope.APP)
    def single_flight(self, redis: RedisClient) -> SingleFlight:
        return RedisSingleFlight(redis)

    @provide(scope=Scope.APP)
    def popular(self, redis: RedisClient) -> PopularInputs:
        return RedisPopularInputs(redis)

    @provide(scope=Scope.APP)
    def versions(self, redis: RedisClient, store: VulnerabilityStore, clock: Clock) -> VersionSource:
        return RedisVersionSource(redis, store, clock=clock)

    @provide(scope=Scope.APP)
    def digests(self, redis: RedisClient) -> DigestCache:
        return RedisDigestCache(redis)

    @provide(scope=Scope.APP)
    def sync_lock(self, redis: RedisClient) -> SyncLock:
        return RedisSyncLock(redis)

    @provide(scope=Scope.APP)
    def scan_queue(self, queue: Queue, settings: Settings) -> ScanQueue:
        return SaqScanQueue(queue, job_timeout=settings.scan_lease_seconds * settings.scan_max_attempts * 10)
