"""An in-process scan queue: asyncio tasks in the API process run the scans (embedded default)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from secapi.domain.ports import ScanQueue

log = logging.getLogger(__name__)

ScanHandler = Callable[[UUID], Awaitable[object]]


class InProcessScanQueue(ScanQueue):
    """`ScanQueue` over an asyncio queue and `concurrency` consumer tasks.

    Nothing survives the process; the database row does, and the sweeper hands
    scans left queued or running by a previous process out again.
    """

    def __init__(self, concurrency: int) -> None:
        self._concurrency = max(1, concurrency)
        self._queue: asyncio.Queue[UUID] = asyncio.Queue()
        self._pending: set[UUID] = set()
        self._done: dict[UUID, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._handler: ScanHandler | None = None
        self.completed: list[UUID] = []

    def start(self, handler: ScanHandler) -> None:
        """Start the consumers; `handler` runs one scan."""
        self._handler = handler
        self._tasks = [
            asyncio.create_task(self._consume(), name=f"scan-consumer-{n}") for n in range(self._concurrency)
        ]

    async def stop(self) -> None:
        """Cancel the consumers (scans they held are picked up again by a sweeper)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def enqueue(self, scan_id: UUID) -> None:
        """Queue the scan unless it is already waiting."""
        if scan_id in self._pending:
            return
        self._pending.add(scan_id)
        self._done.setdefault(scan_id, asyncio.Event())
        await self._queue.put(scan_id)

    async def wait(self, scan_id: UUID, seconds: float) -> None:
        """Wait for the scan's job to finish, at most `seconds` seconds."""
        event = self._done.get(scan_id)
        if event is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()

    async def _consume(self) -> None:
        while True:
            scan_id = await self._queue.get()
            self._pending.discard(scan_id)
            try:
                assert self._handler is not None
                await self._handler(scan_id)
            except Exception:  # the consumer must outlive any one scan
                log.exception("scan %s: handler failed", scan_id)
            finally:
                self.completed.append(scan_id)
                event = self._done.pop(scan_id, None)
                if event is not None:
                    event.set()
