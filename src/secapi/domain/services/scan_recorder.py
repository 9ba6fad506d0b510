"""Recording cache-hit scans without a database write on the request path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from secapi.domain.model import Scan
from secapi.domain.services.write_behind import WriteBehindBuffer


class ScanArchive(Protocol):
    """Stores finished scans in batches; each result arrives as raw JSON bytes."""

    async def add_many(self, scans: Sequence[tuple[Scan, bytes]]) -> None:
        """Insert the batch."""
        ...


class ScanRecorder(WriteBehindBuffer[tuple[Scan, bytes]]):
    """The caller's scan rows of cache hits, written within a flush interval.

    A hit is answered from the cache at once; its row reaches the database within
    `usage_flush_interval`, so `GET /api/v1/scans/{id}` finds it shortly after.
    """

    def __init__(self, archive: ScanArchive, *, max_buffered: int) -> None:
        super().__init__(archive.add_many, max_buffered=max_buffered, what="cache-hit scans")

    def record_scan(self, scan: Scan, raw_result: bytes) -> None:
        """Queue one completed scan and its raw result."""
        self.record((scan, raw_result))
