"""Uploaded archives' scans run as tasks of the process that received them (the upload is on its disk)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from uuid import UUID

from secapi.adapters.registry.archive import ArchiveImageSource
from secapi.adapters.registry.scratch import ScratchBudget
from secapi.domain.images import ImageSource
from secapi.domain.ports import ArchiveRuns, StoredArchive

ScanJob = Callable[[UUID, ImageSource], Awaitable[None]]
"""Runs one recorded scan on the given source (in its own request scope)."""


class InProcessArchiveRuns(ArchiveRuns):
    """`ArchiveRuns` as asyncio tasks: each reads its upload with an `ArchiveImageSource`, then deletes it.

    The tasks are kept referenced (so they are not garbage-collected mid-run) until they end or `cancel_all`
    stops them at shutdown; a scan stopped so is failed later by the sweeper.
    """

    def __init__(
        self,
        run: ScanJob,
        budget: ScratchBudget,
        *,
        scratch_dir: Path | None,
        max_layer_bytes: int,
        max_layers: int,
        scratch_max_bytes: int,
    ) -> None:
        self._run = run
        self._budget = budget
        self._scratch_dir = scratch_dir
        self._max_layer_bytes = max_layer_bytes
        self._max_layers = max_layers
        self._scratch_max_bytes = scratch_max_bytes
        self._running: dict[UUID, asyncio.Task[None]] = {}

    def start(self, scan_id: UUID, archive: StoredArchive) -> None:
        """Start the scan's run as a task of this process."""
        task = asyncio.create_task(self._scan(scan_id, archive.path), name=f"archive-scan-{scan_id}")
        self._running[scan_id] = task
        task.add_done_callback(lambda _: self._running.pop(scan_id, None))

    async def wait(self, scan_id: UUID, seconds: float) -> None:
        """Wait for the run at most `seconds` seconds; the run is never cancelled by this wait ending."""
        task = self._running.get(scan_id)
        if task is not None:
            await asyncio.wait({task}, timeout=seconds)

    async def discard(self, archive: StoredArchive) -> None:
        """Delete the upload."""
        await asyncio.to_thread(archive.path.unlink, missing_ok=True)

    @property
    def running(self) -> int:
        """How many runs have not ended."""
        return len(self._running)

    async def cancel_all(self) -> None:
        """At shutdown: stop the runs still going and wait for each to end (deleting its upload)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _scan(self, scan_id: UUID, path: Path) -> None:
        source = ArchiveImageSource(
            path,
            scratch_dir=self._scratch_dir,
            max_layer_bytes=self._max_layer_bytes,
            max_layers=self._max_layers,
            scratch=self._budget.for_scan(self._scratch_max_bytes),
        )
        try:
            await self._run(scan_id, source)
        finally:
            await source.aclose()
            await asyncio.to_thread(path.unlink, missing_ok=True)
