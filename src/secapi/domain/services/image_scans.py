"""Container image scans: submitted by the API, run by a worker that holds a lease on the scan."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import msgspec

from secapi.domain.caching import CachedScan, CacheUnavailable, DigestCache, cache_key
from secapi.domain.errors import DomainError
from secapi.domain.findings import ImageDetails, LayerDetails, ScanResult, Timings, severity_counts
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
from secapi.domain.metrics import MetricsSink, NoMetrics, ScanRequestStatus
from secapi.domain.model import Principal, Scan, ScanStatus, ScanType
from secapi.domain.packages import UnscannableEntry
from secapi.domain.ports import Clock, ScanQueue, ScanRepository, UserRepository, VulnerabilityStore
from secapi.domain.rate_limits import RateLimitExceeded
from secapi.domain.services.dependency_scans import NoQuota, QuotaGate, ScanOutcome
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.result_cache import CacheInfo, CacheStatus, ResultCache, etag_of
from secapi.domain.services.scan_recorder import ScanRecorder
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


ARCHIVE_REFERENCE = parse_image_reference("archive.invalid/upload:latest")
"""Stands for "the only image in the uploaded archive" when the client names none."""


DIGEST_TTL = 300
"""Seconds a tag → digest resolution is trusted: a moved tag is noticed within this."""


def image_cache_key(reference: ImageReference, digest: str, platform: Platform, *, tenant: uuid.UUID | None) -> str:
    """The cache key of an image scan: by repository and manifest digest (not tag), platform and privacy."""
    return cache_key(
        ScanType.DOCKER.value, {"image": f"{reference.name()}@{digest}", "platform": str(platform)}, tenant=tenant
    )


def image_input(reference: ImageReference, platform: Platform) -> dict[str, str]:
    """The canonical input of an image scan: what the scan and its cache key are about."""
    return {"image": reference.canonical(), "platform": str(platform)}


def input_hash(data: dict[str, str]) -> str:
    """SHA-256 of canonical JSON (sorted keys): equivalent inputs hash alike."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class ImageScanSubmitter:
    """API side: validates the request, answers from the cache, or records a scan and hands it to a worker."""

    def __init__(
        self,
        scans: ScanRepository,
        queue: ScanQueue,
        clock: Clock,
        *,
        sync_budget: float,
        results: ResultCache | None = None,
        source: ImageSource | None = None,
        digests: DigestCache | None = None,
        quota: QuotaGate | None = None,
        private_registries: frozenset[str] = frozenset(),
        digest_ttl: int = DIGEST_TTL,
        recorder: ScanRecorder | None = None,
        metrics: MetricsSink | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._recorder = recorder
        self._scans = scans
        self._queue = queue
        self._clock = clock
        self._sync_budget = sync_budget
        self._results = results
        self._source = source
        self._digests = digests
        self._quota = quota or NoQuota()
        self._private = private_registries
        self._digest_ttl = digest_ttl

    async def submit(self, principal: Principal, image: str, platform: str | None) -> Scan:
        """The scan, completed if it finished within the sync budget, else queued or running."""
        return (await self.scan(principal, image, platform)).scan

    async def scan(
        self,
        principal: Principal,
        image: str,
        platform: str | None,
        *,
        bypass_cache: bool = False,
        wait: bool = True,
        consume_quota: bool = True,
    ) -> ScanOutcome:
        """Answer from the cache when the image's current digest was scanned already; else queue a scan."""
        started = time.perf_counter()
        try:
            outcome = await self._scan(
                principal, image, platform, bypass_cache=bypass_cache, wait=wait, consume_quota=consume_quota
            )
            elapsed = time.perf_counter() - started
        except RateLimitExceeded:
            self._requested(principal, ScanRequestStatus.REJECTED, None)
            raise
        finally:
            if consume_quota:
                await self._quota.scan_state(principal)
        # Warming (consume_quota=False) is no tenant's request: only requests are counted.
        if consume_quota:
            if outcome.cache is not None and outcome.cache.status is CacheStatus.HIT:
                self._requested(principal, ScanRequestStatus.HIT, elapsed)
            else:
                status = ScanRequestStatus.BYPASS if bypass_cache else ScanRequestStatus.MISS
                self._requested(principal, status, None)
        return outcome

    def _requested(self, principal: Principal, status: ScanRequestStatus, seconds: float | None) -> None:
        self._metrics.scan_requested(ScanType.DOCKER.value, principal.user.tier, status, seconds)

    async def _scan(
        self,
        principal: Principal,
        image: str,
        platform: str | None,
        *,
        bypass_cache: bool,
        wait: bool,
        consume_quota: bool,
    ) -> ScanOutcome:
        reference = parse_image_reference(image)
        target = parse_platform(platform) if platform else DEFAULT_PLATFORM
        data = image_input(reference, target)
        status = CacheStatus.BYPASS if bypass_cache else CacheStatus.MISS
        if self._results is not None:
            digest = await self._current_digest(reference, target)
            if digest is not None:
                private = reference.registry in self._private
                if not private:
                    await self._results.touch(ScanType.DOCKER.value, input_hash(data), data)
                if not bypass_cache:
                    key = image_cache_key(reference, digest, target, tenant=principal.user_id if private else None)
                    version = await self._results.current_version()
                    entry = await self._results.lookup(key, ScanType.DOCKER.value, version=version)
                    if entry is not None:
                        return await self._from_cache(principal, data, entry)
        if consume_quota:
            await self._quota.consume_scan(principal, ScanType.DOCKER.value)
        scan = Scan(
            id=uuid.uuid4(),
            user_id=principal.user_id,
            scan_type=ScanType.DOCKER,
            status=ScanStatus.QUEUED,
            input_data={**data, **({"cache": "bypass"} if bypass_cache else {})},
            input_hash=input_hash(data),
            created_at=self._clock.now(),
        )
        await self._scans.add(scan)
        await self._queue.enqueue(scan.id)
        if not wait:
            return ScanOutcome(scan=scan)
        await self._queue.wait(scan.id, self._sync_budget)
        done = await self._scans.get(scan.id) or scan
        info = None
        if self._results is not None and done.result is not None:
            info = CacheInfo(status=status, etag=etag_of(msgspec.json.encode(done.result)), age=0, max_age=0)
        return ScanOutcome(scan=done, cache=info)

    async def _current_digest(self, reference: ImageReference, platform: Platform) -> str | None:
        """The digest the reference names now: pinned, remembered for a few minutes, or asked with HEAD."""
        if reference.digest is not None:
            return reference.digest
        if self._source is None or self._digests is None:
            return None
        canonical, target = reference.canonical(), str(platform)
        try:
            cached = await self._digests.get(canonical, target)
        except CacheUnavailable:
            cached = None
        if cached is not None:
            return cached
        try:
            digest = await self._source.resolve_digest(reference, platform)
        except DomainError:
            return None  # the worker will meet the same problem and fail the scan with its reason
        with contextlib.suppress(CacheUnavailable):
            await self._digests.put(canonical, target, digest, self._digest_ttl)
        return digest

    async def _from_cache(self, principal: Principal, data: dict[str, str], entry: CachedScan) -> ScanOutcome:
        assert self._results is not None
        scan = Scan.answered_from_cache(principal.user_id, ScanType.DOCKER, data, input_hash(data), self._clock.now())
        raw = bytes(entry.result)
        if self._recorder is not None:
            self._recorder.record_scan(scan, raw)
        else:
            await self._scans.add(dataclasses.replace(scan, result=msgspec.json.decode(raw)))
        return ScanOutcome(scan=scan, cache=self._results.info(entry, CacheStatus.HIT), raw_result=raw)

    async def record_archive(
        self,
        principal: Principal,
        *,
        filename: str,
        sha256: str,
        size: int,
        platform: str | None,
        image: str | None,
    ) -> Scan:
        """A queued scan of an uploaded archive; the caller runs it where the upload lives."""
        reference = parse_image_reference(image) if image else ARCHIVE_REFERENCE
        target = parse_platform(platform) if platform else DEFAULT_PLATFORM
        data = {
            **image_input(reference, target),
            "archive": filename[:255],
            "archive_sha256": sha256,
            "archive_size": str(size),
        }
        scan = Scan(
            id=uuid.uuid4(),
            user_id=principal.user_id,
            scan_type=ScanType.DOCKER,
            status=ScanStatus.QUEUED,
            input_data=data,
            # An upload is private: its identity is its bytes and its owner.
            input_hash=input_hash({"archive_sha256": sha256, "platform": str(target)}),
            created_at=self._clock.now(),
        )
        await self._scans.add(scan)
        self._requested(principal, ScanRequestStatus.MISS, None)  # an upload is never looked up before it runs
        return scan


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

    async def _finish(self, scan: Scan, *, result: dict[str, Any] | None = None, error: str | None = None) -> Scan:
        finished = self._clock.now()
        started = scan.started_at or finished
        outcome = Scan(
            id=scan.id,
            user_id=scan.user_id,
            scan_type=scan.scan_type,
            status=ScanStatus.COMPLETED if error is None else ScanStatus.FAILED,
            input_data=scan.input_data,
            input_hash=scan.input_hash,
            created_at=scan.created_at,
            result=result,
            error=error,
            started_at=started,
            finished_at=finished,
            duration_ms=round((finished - started).total_seconds() * 1000, 3),
            attempts=scan.attempts,
        )
        await self._scans.update(outcome)
        return outcome

    async def _scan(self, scan: Scan, source: ImageSource, tier: Tier) -> dict[str, Any]:
        """The result: from the cache if an identical scan just finished, else computed (once across workers)."""
        started = time.perf_counter()
        reference = parse_image_reference(scan.input_data["image"])
        platform = parse_platform(scan.input_data.get("platform") or str(DEFAULT_PLATFORM))
        resolved = await source.resolve(reference, platform)
        results = self._results
        if results is None:
            plain: dict[str, Any] = msgspec.to_builtins(await self._compute(resolved, source, started))
            return plain
        version = await results.current_version()
        key, data = await self._cache_key(scan, reference, resolved, platform)

        async def compute() -> dict[str, Any]:
            result: dict[str, Any] = msgspec.to_builtins(await self._compute(resolved, source, started, version))
            await results.store(key, ScanType.DOCKER.value, data, result, version=version, tier=tier)
            return result

        async def check() -> dict[str, Any] | None:
            entry = await results.lookup(key, ScanType.DOCKER.value, version=version, count=False)
            return None if entry is None else msgspec.json.decode(entry.result)

        if scan.input_data.get("cache") == "bypass":
            return await compute()
        value, _leader = await results.once(key, compute, check)
        return dict(value)

    async def _cache_key(
        self, scan: Scan, reference: ImageReference, resolved: ResolvedImage, platform: Platform
    ) -> tuple[str, dict[str, str]]:
        if "archive_sha256" in scan.input_data:
            data = {"archive_sha256": scan.input_data["archive_sha256"], "platform": str(platform)}
            return cache_key(ScanType.DOCKER.value, data, tenant=scan.user_id), data
        private = reference.registry in self._private
        digest = resolved.reference.digest or resolved.manifest_digest
        key = image_cache_key(reference, digest, platform, tenant=scan.user_id if private else None)
        return key, image_input(reference, platform)

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
        findings = await self._matcher.match(inventory.packages)
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
            unscannable=tuple(UnscannableEntry(name="image", reason=reason) for reason in inventory.unresolved),
            vulnerabilities=findings,
            counts=severity_counts(findings),
            vulndb_version=version,
            timings=Timings(
                parse_ms=round((inventoried_at - resolved_at) * 1000, 3),
                match_ms=round((matched_at - inventoried_at) * 1000, 3),
                total_ms=round((matched_at - started) * 1000, 3),
            ),
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
