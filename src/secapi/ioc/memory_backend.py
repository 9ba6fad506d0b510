"""In-process shared state for the embedded default (no Redis): one process, so memory is enough."""

from __future__ import annotations

from dishka import Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.adapters.memory.digests import InMemoryDigestCache
from secapi.adapters.memory.notice_schedule import InMemoryNoticeSchedule
from secapi.adapters.memory.popular import InMemoryPopularInputs
from secapi.adapters.memory.rate_limiter import InMemoryRateLimiter
from secapi.adapters.memory.scan_cache import InMemoryScanCache
from secapi.adapters.memory.scan_queue import InProcessScanQueue
from secapi.adapters.memory.single_flight import InMemorySingleFlight
from secapi.adapters.memory.versions import InMemoryVersionSource
from secapi.adapters.sql.health import SqlHealthProbe
from secapi.adapters.sql.sync_lock import FileSyncLock, PostgresAdvisorySyncLock
from secapi.config import Settings
from secapi.domain.caching import DigestCache, PopularInputs, ScanCache, SingleFlight, VersionSource
from secapi.domain.metrics import MetricsSink
from secapi.domain.notifications import NoticeSchedule
from secapi.domain.ports import Clock, ScanQueue, VulnerabilityStore
from secapi.domain.services.health import ReadinessService, VulnDbProbe
from secapi.domain.services.quotas import HydratableLimiter
from secapi.domain.services.vulndb_sync import SyncLock


class MemoryProvider(Provider):
    """In-process adapters for the embedded default (no Redis)."""

    @provide(scope=Scope.APP)
    def readiness(self, sql: SqlHealthProbe, vulndb: VulnDbProbe, metrics: MetricsSink) -> ReadinessService:
        return ReadinessService([sql, vulndb], metrics)

    @provide(scope=Scope.APP)
    def notice_schedule(self) -> NoticeSchedule:
        return InMemoryNoticeSchedule()

    @provide(scope=Scope.APP)
    def limiter(self, clock: Clock) -> HydratableLimiter:
        return InMemoryRateLimiter(clock)

    @provide(scope=Scope.APP)
    def scan_cache(self, clock: Clock) -> ScanCache:
        return InMemoryScanCache(clock)

    @provide(scope=Scope.APP)
    def single_flight(self) -> SingleFlight:
        return InMemorySingleFlight()

    @provide(scope=Scope.APP)
    def popular(self) -> PopularInputs:
        return InMemoryPopularInputs()

    @provide(scope=Scope.APP)
    def versions(self, store: VulnerabilityStore, clock: Clock) -> VersionSource:
        return InMemoryVersionSource(store, clock=clock)

    @provide(scope=Scope.APP)
    def sync_lock(self, engine: AsyncEngine, settings: Settings) -> SyncLock:
        # Without Redis: PostgreSQL's advisory lock spans hosts; SQLite is one host's file, so a file lock.
        if settings.is_sqlite:
            return FileSyncLock.for_database(settings.database_url, settings.sqlite_path())
        return PostgresAdvisorySyncLock(engine)

    @provide(scope=Scope.APP)
    def digests(self, clock: Clock) -> DigestCache:
        return InMemoryDigestCache(clock)

    @provide(scope=Scope.APP)
    def in_process_queue(self, settings: Settings) -> InProcessScanQueue:
        return InProcessScanQueue(settings.worker_concurrency)

    @provide(scope=Scope.APP)
    def scan_queue(self, queue: InProcessScanQueue) -> ScanQueue:
        return queue
