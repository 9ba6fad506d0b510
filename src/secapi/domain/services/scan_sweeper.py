"""Nothing stays queued or running forever: scans whose worker died are handed out again."""

from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID

from secapi.domain.model import Scan
from secapi.domain.ports import Clock, ScanQueue, ScanRepository
from secapi.domain.scan_inputs import ArchiveImageInput

log = logging.getLogger(__name__)


class ScanSweeper:
    """Re-queues stale scans (expired lease, or queued too long); fails them after too many attempts."""

    def __init__(
        self,
        scans: ScanRepository,
        queue: ScanQueue,
        clock: Clock,
        *,
        queue_timeout: float,
        max_attempts: int,
        batch: int = 100,
    ) -> None:
        self._scans = scans
        self._queue = queue
        self._clock = clock
        self._queue_timeout = timedelta(seconds=queue_timeout)
        self._max_attempts = max_attempts
        self._batch = batch

    async def sweep(self) -> int:
        """Hand stale scans out again (or fail them); returns how many were touched."""
        now = self._clock.now()
        stale = await self._scans.stale(now=now, queued_before=now - self._queue_timeout, limit=self._batch)
        for scan in stale:
            if scan.attempts >= self._max_attempts:
                await self._fail(scan, f"gave up after {scan.attempts} attempts: the workers running this scan stopped")
                continue
            if isinstance(scan.input_data, ArchiveImageInput):
                # An uploaded archive lived in the API process that received it; it is gone.
                await self._fail(scan, "the uploaded archive was lost when its server stopped; upload it again")
                continue
            log.warning("re-queueing stale scan %s (%s, attempt %d)", scan.id, scan.status.value, scan.attempts)
            await self._queue.enqueue(scan.id)
        return len(stale)

    async def hand_back(self, scan_id: UUID) -> bool:
        """Return a running scan to the queued state at once (its worker is stopping); False if it is not running.

        The caller re-queues its job (SAQ retries a cancelled job); if that message is lost, the sweep
        finds the scan queued for longer than the queue timeout and queues it again.
        """
        # Being stopped is not the scan's fault: the attempt its claim took is given back, so a run of
        # deploys never makes a scan "give up after N attempts".
        if not await self._scans.release(scan_id):
            return False
        log.info("handed scan %s back to the queue", scan_id)
        return True

    async def _fail(self, scan: Scan, reason: str) -> None:
        await self._scans.update(scan.abandoned(reason, self._clock.now()))
