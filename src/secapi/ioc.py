"""The composition root: dishka providers that pick adapters from settings.

Swapping Redis for in-memory adapters is a settings change here and nowhere
else. Tests pass override providers to `make_container` (later providers
win) instead of monkeypatching modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from uuid import UUID

from dishka import AsyncContainer, Provider, Scope, alias, from_context, make_async_container, provide
from redis.asyncio import Redis
from saq import Queue
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from secapi.adapters.catalog.cataloger import TarLayerCataloger
from secapi.adapters.exploits.epss import read_epss
from secapi.adapters.exploits.kev import read_kev
from secapi.adapters.lockfiles.reader import RegistryLockfileReader
from secapi.adapters.memory.digests import InMemoryDigestCache
from secapi.adapters.memory.notice_schedule import InMemoryNoticeSchedule
from secapi.adapters.memory.popular import InMemoryPopularInputs
from secapi.adapters.memory.rate_limiter import InMemoryRateLimiter
from secapi.adapters.memory.scan_cache import InMemoryScanCache
from secapi.adapters.memory.scan_queue import InProcessScanQueue
from secapi.adapters.memory.single_flight import InMemorySingleFlight
from secapi.adapters.memory.versions import InMemoryVersionSource
from secapi.adapters.osv.bucket import OsvBucketSource
from secapi.adapters.prometheus.exposition import PrometheusExposition
from secapi.adapters.prometheus.http import PrometheusHttpMetrics
from secapi.adapters.prometheus.pool import SqlAlchemyPoolMetrics
from secapi.adapters.prometheus.sink import PrometheusMetricsSink
from secapi.adapters.redis.client import RedisHealthProbe, create_redis
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
from secapi.adapters.registry.client import HttpRegistryClient
from secapi.adapters.registry.scratch import ScratchBudget
from secapi.adapters.sql.backlog import SqlScanBacklog
from secapi.adapters.sql.engine import create_engine, create_session_factory
from secapi.adapters.sql.exploits import SqlExploitStore
from secapi.adapters.sql.health import SqlHealthProbe
from secapi.adapters.sql.inventories import SqlInventoryCache
from secapi.adapters.sql.notification_endpoints import SqlNotificationEndpoints
from secapi.adapters.sql.quotas import SqlQuotaStore
from secapi.adapters.sql.repositories import (
    SqlApiKeyRepository,
    SqlScanRepository,
    SqlUserRepository,
)
from secapi.adapters.sql.sync_lock import FileSyncLock, PostgresAdvisorySyncLock
from secapi.adapters.sql.sync_state import SqlSyncStateStore
from secapi.adapters.sql.usage import SqlScanWriter, SqlUsageWriter
from secapi.adapters.sql.vulnerabilities import SqlVulnerabilityStore
from secapi.adapters.sql.watches import SqlWatchRepository
from secapi.adapters.webhooks import HttpWebhookSender, WebhookAddressPolicy
from secapi.config import Settings
from secapi.domain.caching import CacheUnavailable, DigestCache, PopularInputs, ScanCache, SingleFlight, VersionSource
from secapi.domain.clock import SystemClock
from secapi.domain.errors import UserNotFound
from secapi.domain.exploits import EPSS, KEV, ExploitStore
from secapi.domain.images import ImageSource
from secapi.domain.metrics import MetricsExposition, MetricsSink, NoMetrics, PoolSampler, ScanBacklog
from secapi.domain.model import Principal, Scan
from secapi.domain.notifications import (
    NoticeSchedule,
    NotificationEndpoints,
    RefusalListener,
    WebhookSender,
    WebhookUrlPolicy,
)
from secapi.domain.ports import (
    ApiKeyRepository,
    Clock,
    ScanQueue,
    ScanRepository,
    UserRepository,
    VulnerabilityStore,
)
from secapi.domain.services.accounts import AccountService
from secapi.domain.services.authentication import Authenticator, PrincipalCache
from secapi.domain.services.cache_warming import CacheWarmer
from secapi.domain.services.dependency_scans import DependencyScanService, LockfileReader
from secapi.domain.services.exploit_intel import ExploitIntel
from secapi.domain.services.health import ReadinessService, VulnDbProbe
from secapi.domain.services.image_scan_runner import ImageScanRunner, InventoryCache, LayerCataloger
from secapi.domain.services.image_scans import ImageScanSubmitter, RegistryGate
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.metrics_sampling import MetricsSampler
from secapi.domain.services.notification_endpoints import NotificationEndpointService
from secapi.domain.services.quotas import HydratableLimiter, QuotaLedger, QuotaService, QuotaStore
from secapi.domain.services.reset_notifications import ResetNotifier
from secapi.domain.services.result_cache import ResultCache
from secapi.domain.services.scan_pipeline import QuotaGate
from secapi.domain.services.scan_queries import ScanQueries
from secapi.domain.services.scan_recorder import ScanRecorder
from secapi.domain.services.scan_sweeper import ScanSweeper
from secapi.domain.services.usage import UsageRecorder
from secapi.domain.services.vulndb_import import VulnDbImporter
from secapi.domain.services.vulndb_sync import Feed, SyncLock, SyncSource, SyncStateStore, VulnDbSync
from secapi.domain.services.watches import Baselines, WatchEventDelivery, WatchRematcher, WatchService
from secapi.domain.watches import EventOutbox, ImageRescanner, Watch, WatchRepository

log = logging.getLogger(__name__)


class DatabaseProvider(Provider):
    """Engine, sessions and SQL repositories."""

    @provide(scope=Scope.APP)
    async def engine(self, settings: Settings) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(settings)
        yield engine
        await engine.dispose()

    @provide(scope=Scope.APP)
    def session_factory(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        return create_session_factory(engine)

    # Repositories open a short session per call: singletons, so requests build nothing for them.
    users = provide(SqlUserRepository, scope=Scope.APP, provides=UserRepository)
    keys = provide(SqlApiKeyRepository, scope=Scope.APP, provides=ApiKeyRepository)
    scans = provide(SqlScanRepository, scope=Scope.APP, provides=ScanRepository)

    vulnerabilities = provide(SqlVulnerabilityStore, scope=Scope.APP, provides=VulnerabilityStore)
    exploits = provide(SqlExploitStore, scope=Scope.APP, provides=ExploitStore)
    inventories = provide(SqlInventoryCache, scope=Scope.APP, provides=InventoryCache)
    quota_store = provide(SqlQuotaStore, scope=Scope.APP, provides=QuotaStore)
    watch_store = provide(SqlWatchRepository, scope=Scope.APP)

    @provide(scope=Scope.APP)
    def watch_repository(self, store: SqlWatchRepository) -> WatchRepository:
        return store

    @provide(scope=Scope.APP)
    def watch_outbox(self, store: SqlWatchRepository) -> EventOutbox:
        return store

    notification_endpoints = provide(SqlNotificationEndpoints, scope=Scope.APP, provides=NotificationEndpoints)
    backlog = provide(SqlScanBacklog, scope=Scope.APP, provides=ScanBacklog)

    @provide(scope=Scope.APP)
    def sql_probe(self, engine: AsyncEngine, settings: Settings) -> SqlHealthProbe:
        return SqlHealthProbe(engine, settings.health_check_timeout)

    @provide(scope=Scope.APP)
    def vulndb_probe(self, store: VulnerabilityStore, settings: Settings) -> VulnDbProbe:
        return VulnDbProbe(store, settings.health_check_timeout)

    @provide(scope=Scope.APP)
    def scan_recorder(self, factory: async_sessionmaker[AsyncSession], settings: Settings) -> ScanRecorder:
        return ScanRecorder(SqlScanWriter(factory), max_buffered=settings.usage_buffer_max)

    @provide(scope=Scope.APP)
    def usage_recorder(self, factory: async_sessionmaker[AsyncSession], settings: Settings) -> UsageRecorder:
        return UsageRecorder(SqlUsageWriter(factory), max_buffered=settings.usage_buffer_max)


class RedisProvider(Provider):
    """The shared Redis client and the readiness probes when Redis is configured."""

    @provide(scope=Scope.APP)
    async def redis(self, settings: Settings) -> AsyncIterator[Redis]:
        assert settings.redis_url is not None  # this provider is only installed when it is set
        client = create_redis(settings.redis_url, settings.redis_timeout)
        yield client
        await client.aclose()

    @provide(scope=Scope.APP)
    def readiness(
        self, sql: SqlHealthProbe, vulndb: VulnDbProbe, redis: Redis, settings: Settings, metrics: MetricsSink
    ) -> ReadinessService:
        return ReadinessService([sql, vulndb, RedisHealthProbe(redis, settings.health_check_timeout)], metrics)

    @provide(scope=Scope.APP)
    async def saq_queue(self, settings: Settings) -> AsyncIterator[Queue]:
        assert settings.redis_url is not None
        queue = create_saq_queue(settings.redis_url)
        # SAQ connects on first use; a Redis that is down must not stop the app from starting or closing.
        yield queue
        with contextlib.suppress(Exception):
            await queue.disconnect()

    @provide(scope=Scope.APP)
    def notice_schedule(self, redis: Redis) -> NoticeSchedule:
        return RedisNoticeSchedule(redis)

    @provide(scope=Scope.APP)
    async def auto_pipeline(self, redis: Redis) -> AsyncIterator[AutoPipeline]:
        pipeline = AutoPipeline(redis)
        yield pipeline
        await pipeline.close()

    @provide(scope=Scope.APP)
    def limiter(self, redis: Redis, clock: Clock, pipeline: AutoPipeline) -> HydratableLimiter:
        return RedisRateLimiter(redis, clock, pipeline=pipeline)

    @provide(scope=Scope.APP)
    async def scan_cache(
        self, redis: Redis, clock: Clock, settings: Settings, pipeline: AutoPipeline
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
    def single_flight(self, redis: Redis) -> SingleFlight:
        return RedisSingleFlight(redis)

    @provide(scope=Scope.APP)
    def popular(self, redis: Redis) -> PopularInputs:
        return RedisPopularInputs(redis)

    @provide(scope=Scope.APP)
    def versions(self, redis: Redis, store: VulnerabilityStore, clock: Clock) -> VersionSource:
        return RedisVersionSource(redis, store, clock=clock)

    @provide(scope=Scope.APP)
    def digests(self, redis: Redis) -> DigestCache:
        return RedisDigestCache(redis)

    @provide(scope=Scope.APP)
    def sync_lock(self, redis: Redis) -> SyncLock:
        return RedisSyncLock(redis)

    @provide(scope=Scope.APP)
    def scan_queue(self, queue: Queue, settings: Settings) -> ScanQueue:
        return SaqScanQueue(queue, job_timeout=settings.scan_lease_seconds * settings.scan_max_attempts * 10)


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


class DomainProvider(Provider):
    """Domain services wired to whichever adapters were chosen."""

    settings = from_context(provides=Settings, scope=Scope.APP)
    clock = provide(SystemClock, scope=Scope.APP, provides=Clock)

    @provide(scope=Scope.APP)
    def principal_cache(self, clock: Clock, settings: Settings) -> PrincipalCache:
        return PrincipalCache(clock, ttl=settings.auth_cache_ttl, max_entries=settings.auth_cache_size)

    lockfiles = provide(RegistryLockfileReader, scope=Scope.APP, provides=LockfileReader)
    exploit_intel = provide(ExploitIntel, scope=Scope.APP)

    @provide(scope=Scope.APP)
    def matcher(self, store: VulnerabilityStore, exploits: ExploitIntel) -> VulnerabilityMatcher:
        return VulnerabilityMatcher(store, exploits)

    @provide(scope=Scope.APP)
    def feeds(self, settings: Settings, intel: ExploitIntel) -> Sequence[Feed]:
        return exploit_feeds(settings, intel)

    @provide(scope=Scope.APP)
    def scratch_budget(self, settings: Settings) -> ScratchBudget:
        return ScratchBudget(settings.process_scratch_max_bytes)

    @provide(scope=Scope.APP)
    def importer(self, store: VulnerabilityStore) -> VulnDbImporter:
        return VulnDbImporter(store)

    @provide(scope=Scope.REQUEST)
    def dependency_scans(
        self,
        reader: LockfileReader,
        matcher: VulnerabilityMatcher,
        results: ResultCache,
        scans: ScanRepository,
        clock: Clock,
        quota: QuotaGate,
        recorder: ScanRecorder,
        metrics: MetricsSink,
    ) -> DependencyScanService:
        return DependencyScanService(reader, matcher, results, scans, clock, quota, recorder, metrics)

    @provide(scope=Scope.REQUEST)
    def ledger(self) -> QuotaLedger:
        return QuotaLedger()

    @provide(scope=Scope.REQUEST)
    def quotas(
        self,
        limiter: HydratableLimiter,
        store: QuotaStore,
        ledger: QuotaLedger,
        clock: Clock,
        settings: Settings,
        refusals: RefusalListener,
        metrics: MetricsSink,
    ) -> QuotaService:
        return QuotaService(
            limiter, store, ledger, clock, fail_open=settings.rate_limit_fail_open, refusals=refusals, metrics=metrics
        )

    @provide(scope=Scope.APP)
    def webhook_policy(self, settings: Settings) -> WebhookAddressPolicy:
        return WebhookAddressPolicy(settings.webhook_allowlist_hosts)

    @provide(scope=Scope.APP)
    def webhook_url_policy(self, policy: WebhookAddressPolicy) -> WebhookUrlPolicy:
        return policy

    @provide(scope=Scope.APP)
    async def webhook_sender(self, policy: WebhookAddressPolicy) -> AsyncIterator[WebhookSender]:
        sender = HttpWebhookSender(policy)
        yield sender
        await sender.aclose()

    @provide(scope=Scope.APP)
    def reset_notifier(
        self, endpoints: NotificationEndpoints, schedule: NoticeSchedule, sender: WebhookSender, clock: Clock
    ) -> ResetNotifier:
        return ResetNotifier(endpoints, schedule, sender, clock)

    @provide(scope=Scope.APP)
    def refusal_listener(self, notifier: ResetNotifier) -> RefusalListener:
        return notifier

    @provide(scope=Scope.APP)
    def notification_endpoint_service(
        self, endpoints: NotificationEndpoints, policy: WebhookUrlPolicy, clock: Clock, notifier: ResetNotifier
    ) -> NotificationEndpointService:
        return NotificationEndpointService(endpoints, policy, clock, notifier)

    @provide(scope=Scope.REQUEST)
    def quota_gate(self, quotas: QuotaService) -> QuotaGate:
        return quotas

    warmer = provide(CacheWarmer, scope=Scope.REQUEST)

    @provide(scope=Scope.APP)
    def result_cache(
        self,
        cache: ScanCache,
        versions: VersionSource,
        flight: SingleFlight,
        popular: PopularInputs,
        clock: Clock,
        settings: Settings,
        metrics: MetricsSink,
    ) -> ResultCache:
        return ResultCache(
            cache, versions, flight, popular, clock, follower_wait=settings.scan_lease_seconds, metrics=metrics
        )

    authenticator = provide(Authenticator, scope=Scope.APP)
    accounts = provide(AccountService, scope=Scope.APP)

    @provide(scope=Scope.APP)
    async def image_source(self, settings: Settings) -> AsyncIterator[ImageSource]:
        client = HttpRegistryClient(
            allowlist=settings.registry_allowlist_hosts,
            insecure=settings.registry_insecure_hosts,
            credentials=settings.registry_credential_map,
            connect_timeout=settings.registry_connect_timeout,
            read_timeout=settings.registry_read_timeout,
            max_layer_bytes=settings.max_layer_bytes,
            max_layers=settings.max_image_layers,
            retries=settings.registry_retries,
        )
        yield client
        await client.aclose()

    @provide(scope=Scope.APP)
    def cataloger(self) -> LayerCataloger:
        return TarLayerCataloger()

    @provide(scope=Scope.REQUEST)
    def image_submitter(
        self,
        scans: ScanRepository,
        queue: ScanQueue,
        clock: Clock,
        settings: Settings,
        results: ResultCache,
        source: ImageSource,
        digests: DigestCache,
        quota: QuotaGate,
        recorder: ScanRecorder,
        metrics: MetricsSink,
    ) -> ImageScanSubmitter:
        return ImageScanSubmitter(
            scans,
            queue,
            clock,
            sync_budget=settings.scan_sync_budget,
            results=results,
            source=source,
            digests=digests,
            quota=quota,
            private_registries=frozenset(settings.registry_credential_map),
            digest_ttl=settings.tag_digest_ttl,
            recorder=recorder,
            metrics=metrics,
            # The registry client checks addresses without fetching; a source that reaches no network admits all.
            registry_gate=source if isinstance(source, RegistryGate) else None,
        )

    @provide(scope=Scope.APP)
    def image_runner(
        self,
        scans: ScanRepository,
        source: ImageSource,
        cataloger: LayerCataloger,
        cache: InventoryCache,
        matcher: VulnerabilityMatcher,
        store: VulnerabilityStore,
        clock: Clock,
        settings: Settings,
        results: ResultCache,
        users: UserRepository,
        metrics: MetricsSink,
    ) -> ImageScanRunner:
        return ImageScanRunner(
            scans,
            source,
            cataloger,
            cache,
            matcher,
            store,
            clock,
            lease_seconds=settings.scan_lease_seconds,
            max_attempts=settings.scan_max_attempts,
            tmp_dir=settings.scan_tmp_dir or None,
            results=results,
            users=users,
            private_registries=frozenset(settings.registry_credential_map),
            metrics=metrics,
        )

    @provide(scope=Scope.APP)
    def sweeper(self, scans: ScanRepository, queue: ScanQueue, clock: Clock, settings: Settings) -> ScanSweeper:
        return ScanSweeper(
            scans, queue, clock, queue_timeout=settings.scan_queue_timeout, max_attempts=settings.scan_max_attempts
        )

    @provide(scope=Scope.APP)
    def metrics_sampler(
        self,
        readiness: ReadinessService,
        store: VulnerabilityStore,
        backlog: ScanBacklog,
        clock: Clock,
        metrics: MetricsSink,
        settings: Settings,
        sync_states: SyncStateStore,
    ) -> MetricsSampler:
        # A little longer than the probes' own timeout, so a slow probe still reports "down".
        return MetricsSampler(
            readiness,
            store,
            backlog,
            clock,
            metrics,
            timeout=settings.health_check_timeout + 1.0,
            sync_states=sync_states,
        )

    @provide(scope=Scope.APP)
    def scan_queries(self, scans: ScanRepository, settings: Settings) -> ScanQueries:
        return ScanQueries(scans, default_limit=settings.page_size_default, max_limit=settings.page_size_max)

    baselines = provide(Baselines, scope=Scope.APP)

    @provide(scope=Scope.REQUEST)
    def watch_service(
        self,
        watches: WatchRepository,
        scans: ScanRepository,
        baselines: Baselines,
        clock: Clock,
        ledger: QuotaLedger,
        images: ImageScanSubmitter,
        settings: Settings,
    ) -> WatchService:
        return WatchService(
            watches,
            scans,
            baselines,
            clock,
            ledger,
            images=images,
            default_limit=settings.page_size_default,
            max_limit=settings.page_size_max,
        )

    @provide(scope=Scope.APP)
    def watch_rematcher(
        self,
        watches: WatchRepository,
        scans: ScanRepository,
        baselines: Baselines,
        matcher: VulnerabilityMatcher,
        clock: Clock,
        source: ImageSource,
        container: AsyncContainer,
        metrics: MetricsSink,
    ) -> WatchRematcher:
        return WatchRematcher(
            watches,
            scans,
            baselines,
            matcher,
            clock,
            source=source,
            rescanner=ContainerImageRescanner(container),
            metrics=metrics,
        )

    @provide(scope=Scope.APP)
    def watch_event_delivery(
        self,
        outbox: EventOutbox,
        endpoints: NotificationEndpoints,
        sender: WebhookSender,
        clock: Clock,
        metrics: MetricsSink,
    ) -> WatchEventDelivery:
        return WatchEventDelivery(outbox, endpoints, sender, clock, metrics=metrics)


class ContainerImageRescanner(ImageRescanner):
    """`ImageRescanner`: rescans a watched image for its owner through the ordinary image scan flow.

    Not charged to the scan quota: the watch slot (a tier limit of its own) pays for following its tag.
    """

    def __init__(self, container: AsyncContainer) -> None:
        self._container = container

    async def rescan(self, watch: Watch) -> Scan:
        """Queue (or answer from the cache) a scan of the watch's image in a request scope of its own."""
        async with self._container() as request:
            user = await (await request.get(UserRepository)).get(watch.user_id)
            if user is None:
                raise UserNotFound(f"the owner of watch {watch.id} no longer exists")
            submitter = await request.get(ImageScanSubmitter)
            # No API key made this request: the nil UUID says so wherever the principal's key is read.
            principal = Principal(user=user, key_id=UUID(int=0))
            # Bypass: the tag-to-digest memo may still name the old digest, whose cached result is the old image.
            outcome = await submitter.scan(
                principal, watch.target, watch.platform, bypass_cache=True, wait=False, consume_quota=False
            )
            return outcome.scan


class SyncProvider(Provider):
    """`secapi vulndb sync`: the OSV bucket source, its persisted state and the service (lock: Redis/Memory)."""

    scope = Scope.APP
    sync_states = provide(SqlSyncStateStore, provides=SyncStateStore)

    @provide
    async def sync_source(self, settings: Settings) -> AsyncIterator[SyncSource]:
        source = OsvBucketSource(
            settings.vulndb_source_location,
            max_bytes=settings.vulndb_sync_max_bytes,
            scratch_dir=settings.scan_tmp_dir or None,
        )
        yield source
        await source.aclose()

    @provide
    def vulndb_sync(
        self,
        source: SyncSource,
        states: SyncStateStore,
        importer: VulnDbImporter,
        store: VulnerabilityStore,
        lock: SyncLock,
        metrics: MetricsSink,
        clock: Clock,
        settings: Settings,
        feeds: Sequence[Feed],
    ) -> VulnDbSync:
        return VulnDbSync(
            source,
            states,
            importer,
            store,
            lock,
            metrics,
            clock,
            feeds,
            max_changed_ids=settings.vulndb_sync_max_changed,
        )


class PrometheusProvider(Provider):
    """Metrics exported to Prometheus (the default)."""

    exposition = provide(PrometheusExposition, scope=Scope.APP)
    http_metrics = provide(PrometheusHttpMetrics, scope=Scope.APP)
    pool_metrics = provide(SqlAlchemyPoolMetrics, scope=Scope.APP)
    # The /metrics controller asks for the ports, so it imports no adapter.
    exposition_port = alias(source=PrometheusExposition, provides=MetricsExposition)
    pool_port = alias(source=SqlAlchemyPoolMetrics, provides=PoolSampler)

    @provide(scope=Scope.APP)
    def metrics(self, exposition: PrometheusExposition, settings: Settings) -> MetricsSink:
        return PrometheusMetricsSink(
            exposition,
            shared_backend="redis" if settings.redis_url else None,
            vulndb_update_period=settings.vulndb_update_period,
        )


class NoMetricsProvider(Provider):
    """Metrics switched off (`SECAPI_METRICS_ENABLED=false`): every event is dropped."""

    @provide(scope=Scope.APP)
    def metrics(self) -> MetricsSink:
        return NoMetrics()


def backend_providers(settings: Settings) -> list[Provider]:
    """The providers for the configured backends."""
    providers: list[Provider] = [DomainProvider(), DatabaseProvider(), SyncProvider()]
    providers.append(RedisProvider() if settings.redis_url else MemoryProvider())
    providers.append(PrometheusProvider() if settings.metrics_enabled else NoMetricsProvider())
    return providers


async def load_epss_file(intel: ExploitIntel, path: Path, *, max_bytes: int, source: str) -> int:
    """Parse a downloaded EPSS file in a thread (300,000 rows) and replace the stored scores with it."""
    scores = await asyncio.to_thread(read_epss, path, max_bytes=max_bytes)
    return await intel.import_epss(scores, source=source)


async def load_kev_file(intel: ExploitIntel, path: Path, *, max_bytes: int, source: str) -> int:
    """Parse a downloaded KEV catalogue and replace the stored entries with it."""
    catalog = await asyncio.to_thread(read_kev, path, max_bytes=max_bytes)
    return await intel.import_kev(catalog, source=source)


def exploit_feeds(settings: Settings, intel: ExploitIntel) -> tuple[Feed, ...]:
    """The EPSS and KEV feeds `secapi vulndb sync` keeps current: those whose source setting is not off."""
    feeds: list[Feed] = []
    limit = settings.vulndb_feed_max_bytes
    if epss := settings.vulndb_epss_location:

        async def apply_epss(path: Path) -> int:
            return await load_epss_file(intel, path, max_bytes=limit, source=epss)

        feeds.append(Feed(name=EPSS, location=epss, apply=apply_epss))
    if kev := settings.vulndb_kev_location:

        async def apply_kev(path: Path) -> int:
            return await load_kev_file(intel, path, max_bytes=limit, source=kev)

        feeds.append(Feed(name=KEV, location=kev, apply=apply_kev))
    return tuple(feeds)


def make_container(settings: Settings, *overrides: Provider) -> AsyncContainer:
    """An async container for `settings`; `overrides` replace any earlier provision."""
    return make_async_container(*backend_providers(settings), *overrides, context={Settings: settings})


async def run_scan_job(container: AsyncContainer, scan_id: UUID, source: ImageSource | None = None) -> None:
    """Run one queued scan in its own request scope (its own database session)."""
    async with container() as request:
        runner = await request.get(ImageScanRunner)
        await runner.run(scan_id, source)


async def sweep_scans(container: AsyncContainer) -> int:
    """Hand out stale scans again; returns how many were touched."""
    async with container() as request:
        return await (await request.get(ScanSweeper)).sweep()


async def warm_popular(container: AsyncContainer, limit: int) -> int:
    """Queue fresh scans of the most requested images; returns how many were queued."""
    async with container() as request:
        report = await (await request.get(CacheWarmer)).warm_popular(limit)
        return len(report.queued)
