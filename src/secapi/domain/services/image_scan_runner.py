"""Running queued image scans in a worker: claim with a lease, fetch layers once, catalog, match, finish."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import msgspec

from secapi.domain.caching import cache_key
from secapi.domain.errors import DomainError
from secapi.domain.findings import ImageDetails, LayerDetails, ScanResult, Timings, severity_counts
from secapi.domain.image_scan_keys import image_cache_key, image_input
from secapi.domain.images import (
    DEFAULT_PLATFORM,
    ImageReference,
    ImageSource,
    Platform,
    ResolvedImage,
    parse_image_reference,
    parse_platform,
)
from secapi.domain.inventory import CATALOGER_VERSION, ImageInventory, LayerInventory, merge_layers
from secapi.domain.metrics import MetricsSink, NoMetrics
from secapi.domain.model import Scan, ScanStatus, ScanType
from secapi.domain.ports import Clock, ScanRepository, UserRepository, VulnerabilityStore
from secapi.domain.scan_inputs import ArchiveImageInput, ImageScanInput, RegistryImageInput
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.result_cache import ResultCache
from secapi.domain.tiers import Tier

log = logging.getLogger(__name__)


class LayerCataloger(Protocol):
    """Reads one downloaded layer blob into the packages its files declare (blocking: run in a thread)."""

    def catalog(self, blob: Path, media_type: str, digest: str) -> LayerInventory:
        """The layer's inventory; raises a `DomainError` for a layer that cannot be read safely."""
        ...


class InventoryCache(Protocol):
    """Inventories by layer digest and by manifest digest, so shared layers are read once."""

    async def get_layer(self, digest: str, cataloger_version: int) -> LayerInventory | None:
        """A cached layer inventory."""
        ...

    async def put_layer(self, inventory: LayerInventory) -> None:
        """Remember a layer inventory (first writer wins)."""
        ...

    async def get_image(self, manifest_digest: str, cataloger_version: int) -> ImageInventory | None:
        """A cached merged image inventory."""
        ...

    async def put_image(self, manifest_digest: str, cataloger_version: int, inventory: ImageInventory) -> None:
        """Remember a merged image inventory."""
        ...


class ImageScanRunner:
    """Worker side: claims a scan, resolves and inventories the image, matches, records the outcome."""

    def __init__(
        self,
        scans: ScanRepository,
        source: ImageSource,
        cataloger: LayerCataloger,
        cache: InventoryCache,
        matcher: VulnerabilityMatcher,
        store: VulnerabilityStore,
        clock: Clock,
        *,
        lease_seconds: float,
        max_attempts: int,
        tmp_dir: str | None,
        results: ResultCache | None = None,
        users: UserRepository | None = None,
        private_registries: frozenset[str] = frozenset(),
        metrics: MetricsSink | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._results = results
        self._users = users
        self._private = private_registries
        self._scans = scans
        self._source = source
        self._cataloger = cataloger
        self._cache = cache
        self._matcher = matcher
        self._store = store
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self._max_attempts = max_attempts
        self._tmp_dir = tmp_dir or None

    async def run(self, scan_id: uuid.UUID, source: ImageSource | None = None) -> Scan | None:
        """Run the scan if this worker wins the claim; None when another worker has it or it is done."""
        now = self._clock.now()
        scan = await self._scans.claim(scan_id, now=now, lease_until=now + self._lease)
        if scan is None:
            return None
        tier = await self._tier(scan)
        self._metrics.scan_started(ScanType.DOCKER.value)
        started = time.perf_counter()
        try:
            outcome = await self._run_claimed(scan, source, tier)
        except BaseException:
            # Cancelled (shutdown) or crashed mid-run: the lease runs out and the sweeper hands the scan out again.
            self._metrics.scan_interrupted(ScanType.DOCKER.value)
            raise
        failed = outcome.status is ScanStatus.FAILED
        self._metrics.scan_finished(ScanType.DOCKER.value, tier, failed=failed, seconds=time.perf_counter() - started)
        return outcome

    async def _run_claimed(self, scan: Scan, source: ImageSource | None, tier: Tier) -> Scan:
        if scan.attempts > self._max_attempts:
            reason = f"gave up after {scan.attempts - 1} attempts: the workers running this scan stopped"
            return await self._finish(scan, error=reason)
        heartbeat = asyncio.create_task(self._renew(scan.id))
        try:
            result = await self._scan(scan, source or self._source, tier)
        except DomainError as exc:
            return await self._finish(scan, error=str(exc))
        except Exception as exc:  # a scan must end, never take the worker down
            log.exception("scan %s failed unexpectedly", scan.id)
            reason = f"internal error while scanning ({type(exc).__name__}); it has been logged"
            return await self._finish(scan, error=reason)
        finally:
            heartbeat.cancel()
        return await self._finish(scan, result=result)

    async def _renew(self, scan_id: uuid.UUID) -> None:
        interval = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            if not await self._scans.renew_lease(scan_id, self._clock.now() + self._lease):
                return

    async def _finish(self, scan: Scan, *, result: ScanResult | None = None, error: str | None = None) -> Scan:
        finished = self._clock.now()
        outcome = scan.completed(result, finished) if error is None else scan.failed(error, finished)
        await self._scans.update(outcome)
        return outcome

    async def _scan(self, scan: Scan, source: ImageSource, tier: Tier) -> ScanResult:
        """The result: from the cache if an identical scan just finished, else computed (once across workers)."""
        started = time.perf_counter()
        image = scan.input_data
        if not isinstance(image, RegistryImageInput | ArchiveImageInput):
            raise DomainError(f"scan {scan.id} is not an image scan")
        reference = parse_image_reference(image.image)
        platform = parse_platform(image.platform or str(DEFAULT_PLATFORM))
        resolved = await source.resolve(reference, platform)
        results = self._results
        if results is None:
            return await self._compute(resolved, source, started)
        version = await results.current_version()
        key, data = self._cache_key(scan, image, reference, resolved, platform)

        async def compute() -> tuple[ScanResult, ScanResult]:
            result = await self._compute(resolved, source, started, version)
            return result, result

        value, entry = await results.compute_once(
            key, ScanType.DOCKER.value, data, compute, version=version, tier=tier, bypass=image.bypasses_cache
        )
        # None: an identical scan running elsewhere stored its result first, and it serves this scan.
        return value if value is not None else msgspec.json.decode(entry.result, type=ScanResult)

    def _cache_key(
        self,
        scan: Scan,
        image: ImageScanInput,
        reference: ImageReference,
        resolved: ResolvedImage,
        platform: Platform,
    ) -> tuple[str, dict[str, str]]:
        if isinstance(image, ArchiveImageInput):  # private: the bytes and their owner
            data = {"archive_sha256": image.archive_sha256, "platform": str(platform)}
            return cache_key(ScanType.DOCKER.value, data, tenant=scan.user_id), data
        private = reference.registry in self._private
        digest = resolved.reference.digest or resolved.manifest_digest
        key = image_cache_key(reference, digest, platform, tenant=scan.user_id if private else None)
        return key, image_input(reference, platform).identity()

    async def _tier(self, scan: Scan) -> Tier:
        user = await self._users.get(scan.user_id) if self._users is not None else None
        return user.tier if user is not None else Tier.FREE

    async def _compute(
        self, resolved: ResolvedImage, source: ImageSource, started: float, version: int | None = None
    ) -> ScanResult:
        resolved_at = time.perf_counter()
        inventory, fetched = await self._inventory(resolved, source)
        inventoried_at = time.perf_counter()
        if version is None:
            version = (await self._store.current_version()).version
        os_ecosystems = (inventory.os.ecosystem,) if inventory.os and inventory.os.ecosystem else ()
        assessment = await self._matcher.assess(inventory.packages, ecosystems=os_ecosystems)
        findings = assessment.vulnerabilities
        matched_at = time.perf_counter()
        layers = tuple(
            LayerDetails(
                digest=layer.digest, size=layer.size, media_type=layer.media_type, fetched=layer.digest in fetched
            )
            for layer in resolved.layers
        )
        return ScanResult(
            scan_type=ScanType.DOCKER.value,
            target=resolved.reference.canonical(),
            ecosystems=tuple(sorted({p.ecosystem for p in inventory.packages})),
            packages=inventory.packages,
            unscannable=(),
            unscanned=inventory.unscanned,
            vulnerabilities=findings,
            counts=severity_counts(findings),
            vulndb_version=version,
            timings=Timings.between(started, inventoried_at, matched_at, parse_from=resolved_at),
            informational=assessment.informational,
            vulndb=assessment.vulndb,
            risk=assessment.risk,
            image=ImageDetails(
                reference=resolved.reference.canonical(),
                manifest_digest=resolved.manifest_digest,
                platform=str(resolved.platform),
                os=inventory.os.pretty_name if inventory.os else None,
                os_ecosystem=inventory.os.ecosystem if inventory.os else None,
                layers=layers,
                resolve_ms=round((resolved_at - started) * 1000, 3),
            ),
        )

    async def _inventory(self, image: ResolvedImage, source: ImageSource) -> tuple[ImageInventory, set[str]]:
        """The merged inventory, from the manifest cache, the layer cache, or the layers themselves."""
        cached = await self._cache.get_image(image.manifest_digest, CATALOGER_VERSION)
        if cached is not None:
            return cached, set()
        fetched: set[str] = set()
        layers: list[LayerInventory] = []
        with tempfile.TemporaryDirectory(prefix="secapi-scan-", dir=self._tmp_dir) as workdir:
            for layer in image.layers:
                inventory = await self._cache.get_layer(layer.digest, CATALOGER_VERSION)
                if inventory is None:
                    blob = await source.download_layer(image, layer, Path(workdir))
                    try:
                        inventory = await asyncio.to_thread(
                            self._cataloger.catalog, blob, layer.media_type, layer.digest
                        )
                    finally:
                        blob.unlink(missing_ok=True)  # bounded disk: one layer at a time
                    await self._cache.put_layer(inventory)
                    fetched.add(layer.digest)
                layers.append(inventory)
        merged = merge_layers(layers)
        await self._cache.put_image(image.manifest_digest, CATALOGER_VERSION, merged)
        return merged, fetched
