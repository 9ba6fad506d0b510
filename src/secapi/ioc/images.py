"""Container image scans: the registry client, the layer cataloger, the submitter, the queued runner and the
uploaded archives' use case with its in-process runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

from dishka import AsyncContainer, Provider, Scope, alias, provide

from secapi.adapters.catalog.cataloger import TarLayerCataloger
from secapi.adapters.registry.archive_runs import InProcessArchiveRuns
from secapi.adapters.registry.client import HttpRegistryClient
from secapi.adapters.registry.scratch import ScratchBudget
from secapi.config import Settings
from secapi.domain.caching import DigestCache
from secapi.domain.images import ImageSource
from secapi.domain.metrics import MetricsSink
from secapi.domain.ports import ArchiveRuns, Clock, ScanQueue, ScanRepository, UserRepository, VulnerabilityStore
from secapi.domain.services.archive_scans import ArchiveScans
from secapi.domain.services.image_scan_runner import ImageScanRunner, InventoryCache, LayerCataloger
from secapi.domain.services.image_scans import ImageScanSubmitter, RegistryGate
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.result_cache import ResultCache
from secapi.domain.services.scan_pipeline import QuotaGate
from secapi.domain.services.scan_recorder import ScanRecorder


class ImagesProvider(Provider):
    """Registry and archive image scans."""

    @provide(scope=Scope.APP)
    def scratch_budget(self, settings: Settings) -> ScratchBudget:
        return ScratchBudget(settings.process_scratch_max_bytes)

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
    def archive_runs(
        self, container: AsyncContainer, budget: ScratchBudget, settings: Settings
    ) -> InProcessArchiveRuns:
        async def run(scan_id: UUID, source: ImageSource) -> None:
            async with container() as request:  # one scan, its own request scope (its own database session)
                await (await request.get(ImageScanRunner)).run(scan_id, source)

        return InProcessArchiveRuns(
            run,
            budget,
            scratch_dir=Path(settings.scan_tmp_dir) if settings.scan_tmp_dir else None,
            max_layer_bytes=settings.max_layer_bytes,
            max_layers=settings.max_image_layers,
            scratch_max_bytes=settings.scan_scratch_max_bytes,
        )

    archive_runs_port = alias(source=InProcessArchiveRuns, provides=ArchiveRuns)

    @provide(scope=Scope.REQUEST)
    def archive_scans(
        self,
        scans: ScanRepository,
        clock: Clock,
        settings: Settings,
        results: ResultCache,
        runs: ArchiveRuns,
        quota: QuotaGate,
        recorder: ScanRecorder,
        metrics: MetricsSink,
    ) -> ArchiveScans:
        return ArchiveScans(
            scans,
            clock,
            results,
            runs,
            sync_budget=settings.scan_sync_budget,
            quota=quota,
            recorder=recorder,
            metrics=metrics,
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
