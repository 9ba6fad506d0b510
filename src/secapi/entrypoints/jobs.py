"""Job runners: one unit of background work in its own request scope of the container.

The worker's SAQ functions, the embedded background loops and the app's in-process queue all call
these, so a job reads the same whichever process runs it.
"""

from __future__ import annotations

from uuid import UUID

from dishka import AsyncContainer

from secapi.domain.images import ImageSource
from secapi.domain.services.cache_warming import CacheWarmer
from secapi.domain.services.image_scan_runner import ImageScanRunner
from secapi.domain.services.scan_sweeper import ScanSweeper


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
