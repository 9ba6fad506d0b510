"""Background work of an API process: in-process scan consumers and sweeper (embedded default)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

from dishka import AsyncContainer
from litestar import Litestar

from secapi.adapters.memory.scan_queue import InProcessScanQueue
from secapi.domain.ports import ScanQueue
from secapi.domain.services.reset_notifications import ResetNotifier
from secapi.domain.services.watches import WatchEventDelivery, WatchRematcher
from secapi.entrypoints.http.archive_scans import cancel_archive_scans
from secapi.entrypoints.worker import sweep_forever
from secapi.ioc import run_scan_job


@contextlib.asynccontextmanager
async def background_work(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: without Redis, this process is its own worker; archive scans stop at shutdown either way."""
    container: AsyncContainer = app.state.dishka_container
    queue = await container.get(ScanQueue)
    sweeper: asyncio.Task[None] | None = None
    notifier: asyncio.Task[None] | None = None
    watch_events: asyncio.Task[None] | None = None
    if isinstance(queue, InProcessScanQueue):

        async def handle(scan_id: UUID) -> None:
            await run_scan_job(container, scan_id)

        queue.start(handle)
        sweeper = asyncio.create_task(sweep_forever(container), name="scan-sweeper")
        # Without Redis there is no worker process: this one delivers quota-reset webhooks too.
        notifier = asyncio.create_task((await container.get(ResetNotifier)).deliver_forever(), name="reset-notifier")
        # ... and scan.new_findings webhooks, taking finished baselines of watches on the way.
        delivery = await container.get(WatchEventDelivery)
        rematcher = await container.get(WatchRematcher)
        watch_events = asyncio.create_task(delivery.deliver_forever(rematcher), name="watch-events")
    try:
        yield
    finally:
        await cancel_archive_scans()
        for task in (sweeper, notifier, watch_events):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if isinstance(queue, InProcessScanQueue):
            await queue.stop()
