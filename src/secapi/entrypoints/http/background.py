"""Background work of an API process, from the one provided list `secapi worker` takes too (`BackgroundWork`):
on the embedded default, the in-process scan consumers, the loops and the scheduled jobs; either way, the
shutdown steps (this process's archive runs)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from dishka import AsyncContainer
from litestar import Litestar

from secapi.adapters.memory.scan_queue import InProcessScanQueue
from secapi.domain.ports import ScanQueue
from secapi.entrypoints.background import BackgroundWork, start_loops, start_scheduled, stop_background


@contextlib.asynccontextmanager
async def background_work(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: without Redis, this process is its own worker; archive scans stop at shutdown either way."""
    container: AsyncContainer = app.state.dishka_container
    queue = await container.get(ScanQueue)
    work = await container.get(BackgroundWork)
    background: list[asyncio.Task[None]] = []
    if isinstance(queue, InProcessScanQueue):
        # Without Redis there is no worker process: this one runs a worker's consumers, loops and schedule.
        queue.start(work.scan_job)
        background = [*start_loops(work), *start_scheduled(work)]
    try:
        yield
    finally:
        await work.stop()
        await stop_background(background)
        if isinstance(queue, InProcessScanQueue):
            await queue.stop()
