"""Scans of every type: matching, the result cache, lockfile scans, queries, the sweeper and cache warming."""

from __future__ import annotations

from dishka import Provider, Scope, alias, provide

from secapi.adapters.lockfiles.reader import RegistryLockfileReader
from secapi.adapters.sbom.reader import DocumentSbomReader
from secapi.config import Settings
from secapi.domain.caching import PopularInputs, ScanCache, SingleFlight, VersionSource
from secapi.domain.metrics import MetricsSink
from secapi.domain.ports import Clock, ScanQueue, ScanRepository, VulnerabilityStore
from secapi.domain.sbom import SbomReader
from secapi.domain.services.cache_warming import CacheWarmer, ImageScans
from secapi.domain.services.dependency_scans import DependencyScanService, LockfileReader, LockfileScan
from secapi.domain.services.exploit_intel import ExploitIntel
from secapi.domain.services.image_scans import ImageScanSubmitter
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.result_cache import ResultCache
from secapi.domain.services.sbom_scans import SbomScan, SbomScanService
from secapi.domain.services.scan_pipeline import QuotaGate, ScanPipeline
from secapi.domain.services.scan_queries import ScanQueries
from secapi.domain.services.scan_recorder import ScanRecorder
from secapi.domain.services.scan_sweeper import ScanSweeper


class ScansProvider(Provider):
    """The services every scan type shares, lockfile scans and SBOM scans."""

    lockfiles = provide(RegistryLockfileReader, scope=Scope.APP, provides=LockfileReader)
    sboms = provide(DocumentSbomReader, scope=Scope.APP, provides=SbomReader)

    @provide(scope=Scope.APP)
    def matcher(self, store: VulnerabilityStore, exploits: ExploitIntel) -> VulnerabilityMatcher:
        return VulnerabilityMatcher(store, exploits)

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

    @provide(scope=Scope.REQUEST)
    def pipeline(
        self,
        results: ResultCache,
        scans: ScanRepository,
        clock: Clock,
        quota: QuotaGate,
        recorder: ScanRecorder,
        metrics: MetricsSink,
    ) -> ScanPipeline:
        return ScanPipeline(results, scans, clock, quota, recorder, metrics)

    @provide(scope=Scope.REQUEST)
    def dependency_scans(
        self, reader: LockfileReader, matcher: VulnerabilityMatcher, pipeline: ScanPipeline
    ) -> DependencyScanService:
        return DependencyScanService(LockfileScan(reader, matcher), pipeline)

    @provide(scope=Scope.REQUEST)
    def sbom_scans(self, reader: SbomReader, matcher: VulnerabilityMatcher, pipeline: ScanPipeline) -> SbomScanService:
        return SbomScanService(SbomScan(reader, matcher), pipeline)

    warmer = provide(CacheWarmer, scope=Scope.REQUEST)
    warming_scans = alias(source=ImageScanSubmitter, provides=ImageScans)

    @provide(scope=Scope.APP)
    def sweeper(self, scans: ScanRepository, queue: ScanQueue, clock: Clock, settings: Settings) -> ScanSweeper:
        return ScanSweeper(
            scans, queue, clock, queue_timeout=settings.scan_queue_timeout, max_attempts=settings.scan_max_attempts
        )

    @provide(scope=Scope.APP)
    def scan_queries(self, scans: ScanRepository, settings: Settings) -> ScanQueries:
        return ScanQueries(scans, default_limit=settings.page_size_default, max_limit=settings.page_size_max)
