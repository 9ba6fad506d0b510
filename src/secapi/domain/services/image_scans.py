"""Container image scans as the API takes them: from the cache, or queued for a worker (`image_scan_runner`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import msgspec

from secapi.domain.caching import CacheUnavailable, DigestCache
from secapi.domain.errors import DomainError
from secapi.domain.image_scan_keys import image_input
from secapi.domain.images import (
    DEFAULT_PLATFORM,
    ImageReference,
    ImageSource,
    Platform,
    RegistryNotAllowed,
    RegistryUnavailable,
    parse_image_reference,
    parse_platform,
)
from secapi.domain.metrics import MetricsSink, NoMetrics
from secapi.domain.model import Principal, Scan, ScanType
from secapi.domain.ports import Clock, ScanQueue, ScanRepository
from secapi.domain.scan_inputs import RegistryImageInput, ScanInput
from secapi.domain.services.result_cache import ResultCache
from secapi.domain.services.scan_pipeline import (
    NoQuota,
    QueuedRuns,
    QuotaGate,
    ScanOutcome,
    ScanPipeline,
    ScanRequests,
    ScanSubject,
)
from secapi.domain.services.scan_recorder import ScanRecorder

log = logging.getLogger(__name__)


DIGEST_TTL = 300
"""Seconds a tag → digest resolution is trusted: a moved tag is noticed within this."""


@runtime_checkable
class RegistryGate(Protocol):
    """Says, without fetching anything, whether the address policy lets a scan reach an image's registry."""

    async def check_registry(self, image: ImageReference) -> None:
        """Raise `RegistryNotAllowed` (an internal address, not allow-listed) or `RegistryUnavailable` (the
        host does not resolve) when a fetch from the image's registry would be refused before any work."""
        ...


class NoRegistryGate:
    """Admits every registry (sources that reach no network: archives, fakes); the fetch itself still checks."""

    async def check_registry(self, image: ImageReference) -> None:
        """Admit."""
        return None


@dataclass(frozen=True, slots=True)
class RegistryImage:
    """A registry image scan's input, parsed: the reference and the platform to scan."""

    reference: ImageReference
    platform: Platform


class RegistryImageScan:
    """Registry image scans as a queued `ScanPipeline` strategy: identified by digest, gated by the address policy."""

    scan_type = ScanType.DOCKER

    def __init__(
        self,
        current_digest: Callable[[ImageReference, Platform], Awaitable[str | None]],
        gate: RegistryGate,
        private_registries: frozenset[str],
    ) -> None:
        self._current_digest = current_digest
        self._gate = gate
        self._private = private_registries

    def subject(self, scan_input: RegistryImage) -> ScanSubject:
        """The canonical reference and platform; the row keeps exactly these."""
        data = image_input(scan_input.reference, scan_input.platform)
        return ScanSubject(identity=data.identity(), kept=data)

    def shared(self, scan_input: RegistryImage) -> bool:
        """Public registries' images are shared; a private registry's result stays with its tenant."""
        return scan_input.reference.registry not in self._private

    async def cache_parts(self, scan_input: RegistryImage, subject: ScanSubject) -> dict[str, str] | None:
        """By repository and the manifest digest the reference names now (not the tag); None if unknown."""
        digest = await self._current_digest(scan_input.reference, scan_input.platform)
        if digest is None:
            return None
        return {"image": f"{scan_input.reference.name()}@{digest}", "platform": str(scan_input.platform)}

    async def admit(self, scan_input: RegistryImage) -> Exception | None:
        """The address policy's or DNS's refusal of the image's registry, if any (nothing is fetched)."""
        try:
            await self._gate.check_registry(scan_input.reference)
        except (RegistryNotAllowed, RegistryUnavailable) as refusal:
            return refusal
        return None

    def bypassing(self, kept: ScanInput) -> ScanInput:
        """The input marked `cache: bypass`, as the scan row and the API have always shown it."""
        if not isinstance(kept, RegistryImageInput):  # subject() only ever keeps this type
            raise TypeError(f"a registry image scan keeps a RegistryImageInput, not {type(kept).__name__}")
        return msgspec.structs.replace(kept, cache="bypass")


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
        registry_gate: RegistryGate | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._recorder = recorder
        self._gate = registry_gate or NoRegistryGate()
        self._scans = scans
        self._queue = queue
        self._clock = clock
        self._sync_budget = sync_budget
        self._source = source
        self._digests = digests
        self._quota = quota or NoQuota()
        self._private = private_registries
        self._digest_ttl = digest_ttl
        self._requests = ScanRequests(self._quota, self._metrics)
        self._pipeline = (
            None if results is None else ScanPipeline(results, scans, clock, self._quota, recorder, metrics)
        )
        self._runs = QueuedRuns(scans, queue, clock, self._quota)
        self._strategy = RegistryImageScan(self._current_digest, self._gate, private_registries)

    async def refuse_if_vulndb_empty(self) -> None:
        """Raise `VulnDbEmpty` when no advisories are loaded: a scan now would answer a false "clean"."""
        if self._pipeline is not None:
            await self._pipeline.version()

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
        answer = self._scan(
            principal, image, platform, bypass_cache=bypass_cache, wait=wait, consume_quota=consume_quota
        )
        if not consume_quota:  # warming is no tenant's request: only requests are counted
            return await answer
        return await self._requests.answer(principal, ScanType.DOCKER.value, answer, bypass_cache=bypass_cache)

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
        request = RegistryImage(reference, target)
        if self._pipeline is not None:
            return await self._pipeline.submit(
                principal,
                self._strategy,
                request,
                self._queue,
                wait_budget=self._sync_budget,
                bypass_cache=bypass_cache,
                wait=wait,
                consume_quota=consume_quota,
            )
        # No result cache (tools and tests that only queue): nothing to look up, the queue side alone.
        done = await self._runs.submit(
            principal,
            self._strategy,
            request,
            self._strategy.subject(request),
            wait_budget=self._sync_budget,
            bypass_cache=bypass_cache,
            wait=wait,
            consume_quota=consume_quota,
        )
        return ScanOutcome(scan=done)

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
