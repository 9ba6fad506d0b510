"""Attributing each authenticated request to its tenant in `api_usage`, off the request path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from litestar import Litestar

from secapi.config import Settings
from secapi.domain.services.scan_recorder import ScanRecorder
from secapi.domain.services.usage import UsageRecorder

log = logging.getLogger(__name__)
SHUTDOWN_FLUSH_SECONDS = 10.0


@contextlib.asynccontextmanager
async def usage_flusher(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: flush cache-hit scans and usage every `usage_flush_interval` seconds, and once more at shutdown."""
    container = app.state.dishka_container
    recorder = await container.get(UsageRecorder)
    scans = await container.get(ScanRecorder)
    interval = (await container.get(Settings)).usage_flush_interval

    stop = asyncio.Event()

    async def flush_all() -> None:
        try:
            await scans.flush()
            await recorder.flush()
        except Exception:  # the loop must outlive any one failed flush
            log.exception("flushing cache-hit scans or usage failed")

    async def loop() -> None:
        # Stopped between flushes by an event, never cancelled mid-write: a cancelled asyncpg
        # write could leave shutdown waiting on it forever.
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            await flush_all()

    task = asyncio.create_task(loop(), name="usage-flusher")
    try:
        yield
    finally:
        stop.set()
        done, _ = await asyncio.wait({task}, timeout=SHUTDOWN_FLUSH_SECONDS)
        if not done:
            task.cancel()
            log.warning("usage flusher did not stop within %s s; rows still buffered are lost", SHUTDOWN_FLUSH_SECONDS)
