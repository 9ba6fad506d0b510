"""Uploaded image archives: recorded and charged like any queued scan, run in the process holding the upload.

The upload is on this process's disk, so its scan is not handed to a worker: `ScanPipeline.submit` queues
it on an `ArchiveRuns` port ("run this archive scan here") instead of the shared `ScanQueue`.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import msgspec

from secapi.domain.images import DEFAULT_PLATFORM, ImageReference, Platform, parse_image_reference, parse_platform
from secapi.domain.metrics import MetricsSink
from secapi.domain.model import Principal, Scan, ScanType
from secapi.domain.ports import ArchiveRuns, Clock, ScanRepository, StoredArchive
from secapi.domain.scan_inputs import ArchiveImageInput, ScanInput
from secapi.domain.services.result_cache import CacheStatus, ResultCache
from secapi.domain.services.scan_pipeline import QuotaGate, ScanOutcome, ScanPipeline, ScanRequests, ScanSubject
from secapi.domain.services.scan_recorder import ScanRecorder
from secapi.domain.text import refuse_nul

ARCHIVE_REFERENCE = parse_image_reference("archive.invalid/upload:latest")
"""Stands for "the only image in the uploaded archive" when the client names none."""


@dataclass(frozen=True, slots=True)
class ArchiveUpload:
    """An archive scan's input, parsed: the stored upload, the image in it to scan and the platform."""

    archive: StoredArchive
    reference: ImageReference
    platform: Platform


class ArchiveImageScan:
    """Uploaded archives as a queued `ScanPipeline` strategy: private, never looked up, never refused early."""

    scan_type = ScanType.DOCKER

    def subject(self, scan_input: ArchiveUpload) -> ScanSubject:
        """The upload's name, digest and size with the image and platform; identified by its bytes and platform."""
        archive = scan_input.archive
        data = ArchiveImageInput(
            image=scan_input.reference.canonical(),
            platform=str(scan_input.platform),
            archive=archive.filename[:255],
            archive_sha256=archive.sha256,
            archive_size=str(archive.size),
        )
        return ScanSubject(identity=data.identity(), kept=data)

    def shared(self, scan_input: ArchiveUpload) -> bool:
        """Never: an upload is private, its identity is its bytes and its owner."""
        return False

    async def cache_parts(self, scan_input: ArchiveUpload, subject: ScanSubject) -> dict[str, str] | None:
        """None: an upload is never looked up before it runs, so it always runs (and is charged)."""
        return None

    async def admit(self, scan_input: ArchiveUpload) -> Exception | None:
        """None: nothing refuses an upload before its run (the run itself checks the archive)."""
        return None

    def bypassing(self, kept: ScanInput) -> ScanInput:
        """Marked `cache: bypass`: the run then does not reuse an identical upload's result either."""
        if not isinstance(kept, ArchiveImageInput):  # subject() only ever keeps this type
            raise TypeError(f"an archive scan keeps an ArchiveImageInput, not {type(kept).__name__}")
        return msgspec.structs.replace(kept, cache="bypass")


class _RunHere:
    """The `ScanQueue` of one upload: "enqueueing" its scan starts the run here, on the stored file."""

    def __init__(self, runs: ArchiveRuns, archive: StoredArchive) -> None:
        self._runs = runs
        self._archive = archive
        self.started = False

    async def enqueue(self, scan_id: UUID) -> None:
        self._runs.start(scan_id, self._archive)
        self.started = True

    async def wait(self, scan_id: UUID, seconds: float) -> None:
        await self._runs.wait(scan_id, seconds)


class ArchiveScans:
    """Scans an uploaded archive: records and charges it, runs it here, answers within the sync budget."""

    def __init__(
        self,
        scans: ScanRepository,
        clock: Clock,
        results: ResultCache,
        runs: ArchiveRuns,
        *,
        sync_budget: float,
        quota: QuotaGate,
        recorder: ScanRecorder | None,
        metrics: MetricsSink,
    ) -> None:
        self._runs = runs
        self._sync_budget = sync_budget
        self._pipeline = ScanPipeline(results, scans, clock, quota, recorder, metrics)
        self._requests = ScanRequests(quota, metrics)
        self._strategy = ArchiveImageScan()

    async def refuse_if_vulndb_empty(self) -> None:
        """Raise `VulnDbEmpty` when no advisories are loaded (call it before receiving a possibly large upload)."""
        await self._pipeline.version()

    async def scan(
        self,
        principal: Principal,
        archive: StoredArchive,
        *,
        image: str | None,
        platform: str | None,
        bypass_cache: bool = False,
    ) -> ScanOutcome:
        """The upload's scan: completed if it finished within the sync budget, else running (or failed).

        The upload is this call's from now: handed to the run, or deleted when refused before it (a bad
        name or platform, an empty database, over quota: a 429).
        """
        here = _RunHere(self._runs, archive)
        try:
            refuse_nul(archive.filename, "file", "the archive's file name")
            reference = parse_image_reference(image) if image else ARCHIVE_REFERENCE
            target = parse_platform(platform) if platform else DEFAULT_PLATFORM
            answer = self._pipeline.submit(
                principal,
                self._strategy,
                ArchiveUpload(archive, reference, target),
                here,
                wait_budget=self._sync_budget,
                bypass_cache=bypass_cache,
            )
            # It always runs, so it takes one unit of every scan window like any scan that runs; the request
            # counts as a miss, or a bypass when the client asked for one.
            return await self._requests.answer(principal, ScanType.DOCKER.value, answer, bypass_cache=bypass_cache)
        finally:
            if not here.started:
                await self._runs.discard(archive)

    @staticmethod
    def cache_status(scan: Scan) -> CacheStatus:
        """`X-Cache-Status` of an archive scan: never looked up, so MISS, or BYPASS when the client asked."""
        return CacheStatus.BYPASS if scan.input_data.bypasses_cache else CacheStatus.MISS
