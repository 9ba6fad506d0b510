"""The vulnerability database: import, `secapi vulndb sync` (OSV bucket, persisted state), the EPSS/KEV feeds and the
OSV-compatible API's queries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from dishka import Provider, Scope, alias, provide

from secapi.adapters.exploits.epss import read_epss
from secapi.adapters.exploits.kev import read_kev
from secapi.adapters.osv.bucket import OsvBucketSource
from secapi.adapters.sql.sync_state import SqlSyncStateStore
from secapi.adapters.sql.vulnerabilities import SqlVulnerabilityStore
from secapi.config import Settings
from secapi.domain.exploits import EPSS, KEV
from secapi.domain.metrics import MetricsSink
from secapi.domain.osv_imports import RecordImporter
from secapi.domain.ports import Clock, VulnerabilityStore
from secapi.domain.services.exploit_intel import ExploitIntel
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.osv_queries import OsvQueries, OsvRecords
from secapi.domain.services.vulndb_import import VulnDbImporter
from secapi.domain.services.vulndb_sync import Feed, SyncLock, SyncSource, SyncStateStore, VulnDbSync


class VulnDbProvider(Provider):
    """Importer, exploit intelligence, feeds and the sync service (its lock comes from the backend provider)."""

    scope = Scope.APP
    sync_states = provide(SqlSyncStateStore, provides=SyncStateStore)
    exploit_intel = provide(ExploitIntel)

    @provide
    def importer(self, store: VulnerabilityStore) -> VulnDbImporter:
        return VulnDbImporter(store)

    # The sync depends on the port only; the CLI import and tests use the importer itself.
    record_importer = alias(source=VulnDbImporter, provides=RecordImporter)

    osv_records = provide(SqlVulnerabilityStore, provides=OsvRecords)

    @provide
    def osv_queries(self, matcher: VulnerabilityMatcher, store: VulnerabilityStore, records: OsvRecords) -> OsvQueries:
        """The OSV-compatible API's use case (`/v1/query`, `/v1/querybatch`, `/v1/vulns/{id}`)."""
        return OsvQueries(matcher, store, records)

    @provide
    def feeds(self, settings: Settings, intel: ExploitIntel) -> Sequence[Feed]:
        return exploit_feeds(settings, intel)

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
        importer: RecordImporter,
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
