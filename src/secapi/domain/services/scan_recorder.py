"""Recording cache-hit scans without a database write on the request path."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.model import Scan

log = logging.getLogger(__name__)


class ScanArchive(Protocol):
    """Stores finished scans in batches; each result arrives as raw JSON bytes."""

    async def add_many(self, scans: Sequence[tuple[Scan, bytes]]) -> None:
        """Insert the batch."""
        ...


class ScanRecorder:
    """Buffers the caller's scan rows of cache hits and writes them in batches (within a flush interval).

    A hit is answered from Redis at once; its row reaches the database within
    `usage_flush_interval`, so `GET /api/v1/scans/{id}` finds it shortly after.
    The buffer is bounded; if the database stays unreachable the oldest rows are
    dropped and counted rather than growing memory.
    """

    def __init__(self, archive: ScanArchive, *, max_buffered: int) -> None:
        self._archive = archive
        self._buffer: deque[tuple[Scan, bytes]] = deque(maxlen=max_buffered)
        self.dropped = 0

    def record(self, scan: Scan, raw_result: bytes) -> None:
        """Queue one completed scan for the next flush."""
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append((scan, raw_result))

    @property
    def pending(self) -> int:
        """Rows waiting for a flush."""
        return len(self._buffer)

    async def flush(self) -> int:
        """Write everything buffered; on failure keep it for the next try. Returns rows written."""
        if not self._buffer:
            return 0
        batch = list(self._buffer)
        self._buffer.clear()
        try:
            await self._archive.add_many(batch)
        except DependencyUnavailable as exc:
            log.warning("scan flush failed, keeping %d rows for the next try: %s", len(batch), exc)
            room = (self._buffer.maxlen or 0) - len(self._buffer)
            kept = batch[len(batch) - room :] if room > 0 else []
            self.dropped += len(batch) - len(kept)
            self._buffer.extendleft(reversed(kept))
            return 0
        return len(batch)
