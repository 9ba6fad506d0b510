"""Background work of an API process: on the embedded default, the in-process scan consumer and the loops
`secapi worker` runs too (`secapi.entrypoints.background`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

from dishka import AsyncContainer
from litestar import Litestar

from secapi.adapters.memory.scan_queue import InProcessScanQueue
from secapi.domain.ports import ScanQueue
from secapi.entrypoints.background import start_background, stop_background
from secapi.entrypoints.http.archive_scans import cancel_archive_scans
from secapi.entrypoints.jobs import run_scan_job


@contextlib.asynccontextmanager
async def background_work(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: without Redis, this process is its own worker; archive scans stop at shutdown either way."""
    container: AsyncContainer = app.state.dishka_container
    queue = await container.get(ScanQueue)
    background: list[asyncio.Task[None]] = []
    if isinstance(queue, InProcessScanQueue):

        async def handle(scan_id: UUID) -> None:
            await run_scan_job(container, scan_id)

        queue.start(handle)
        # Without Redis there is no worker process: this one runs a worker's loops too.
        background = await start_background(container)
    try:
        yield
    finally:
        await cancel_archive_scans()
        await stop_background(background)
        if isinstance(queue, InProcessScanQueue):
            await queue.stop()
