"""The SQL side: engine, sessions, repositories, stores and the buffered usage writers."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from secapi.adapters.sql.backlog import SqlScanBacklog
from secapi.adapters.sql.engine import create_engine, create_session_factory
from secapi.adapters.sql.exploits import SqlExploitStore
from secapi.adapters.sql.health import SqlHealthProbe
from secapi.adapters.sql.inventories import SqlInventoryCache
from secapi.adapters.sql.notification_endpoints import SqlNotificationEndpoints
from secapi.adapters.sql.quotas import SqlQuotaStore
from secapi.adapters.sql.repositories import SqlApiKeyRepository, SqlScanRepository, SqlUserRepository
from secapi.adapters.sql.retention import SqlRetentionStore
from secapi.adapters.sql.usage import SqlScanWriter, SqlUsageWriter
from secapi.adapters.sql.vulnerabilities import SqlVulnerabilityStore
from secapi.adapters.sql.watches import SqlWatchRepository
from secapi.config import Settings
from secapi.domain.exploits import ExploitStore
from secapi.domain.metrics import ScanBacklog
from secapi.domain.notifications import NotificationEndpoints
from secapi.domain.ports import ApiKeyRepository, Clock, ScanRepository, UserRepository, VulnerabilityStore
from secapi.domain.retention import RetentionPolicy, RetentionService, RetentionStore
from secapi.domain.services.health import VulnDbProbe
from secapi.domain.services.image_scan_runner import InventoryCache
from secapi.domain.services.quotas import QuotaStore
from secapi.domain.services.scan_recorder import ScanRecorder
from secapi.domain.services.usage import UsageRecorder
from secapi.domain.tiers import Tier
from secapi.domain.watches import EventOutbox, WatchRepository


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

    retention_store = provide(SqlRetentionStore, scope=Scope.APP, provides=RetentionStore)

    @provide(scope=Scope.APP)
    def retention(self, store: RetentionStore, clock: Clock, settings: Settings) -> RetentionService:
        days = {tier: getattr(settings, f"retention_days_{tier.value}") for tier in Tier}
        return RetentionService(store, clock, RetentionPolicy(days), batch=settings.retention_batch_size)

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
