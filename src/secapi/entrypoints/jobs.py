"""Job runners: one unit of background work in its own request scope of the container.

The worker's SAQ functions, the embedded background loops and the app's in-process queue all call
these, so a job reads the same whichever process runs it. The scheduled sync's runner (`run_sync_job`)
sits beside the sync in `entrypoints/vulndb.py`, which calls `warm_popular` here after a new version.
"""

from __future__ import annotations

import logging
from uuid import UUID

from dishka import AsyncContainer

from secapi.domain.images import ImageSource
from secapi.domain.retention import RetentionReport, RetentionService
from secapi.domain.services.cache_warming import CacheWarmer
from secapi.domain.services.image_scan_runner import ImageScanRunner
from secapi.domain.services.scan_sweeper import ScanSweeper

log = logging.getLogger(__name__)


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


async def enforce_retention(container: AsyncContainer) -> RetentionReport:
    """Remove expired scans and usage rows and unreferenced result documents; make the coming usage partitions."""
    async with container() as request:
        return await (await request.get(RetentionService)).run()


async def hand_back(container: AsyncContainer, scan_id: UUID) -> None:
    """Put an interrupted scan back in the queued state, so the next worker takes it at once."""
    try:
        async with container() as request:
            await (await request.get(ScanSweeper)).hand_back(scan_id)
    except Exception:  # the lease then runs out and the sweeper hands it out instead
        log.exception("could not hand scan %s back; its lease will expire instead", scan_id)
