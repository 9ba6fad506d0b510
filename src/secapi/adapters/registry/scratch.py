"""Scratch-disk budgets for archive scans: per scan and per process, charged as bytes are written.

An uploaded archive is decompressed to scratch and its layers are copied there one at a time. A
scan's charge is every byte it wrote (deleted copies included, so it also bounds the scan's disk
I/O); the process budget holds each running scan's charge until that scan ends. Crossing either
fails the scan with a reason before the offending chunk is written.
"""

from __future__ import annotations

import threading

from secapi.domain.images import ImageRejected
from secapi.domain.inventory import LayerLimits

MiB = 1024 * 1024
MAX_COMPRESSION_RATIO = LayerLimits().max_compression_ratio
"""An archive may expand as much as a layer may (200:1); more is a decompression bomb."""
RATIO_GRACE = 1 * MiB
"""Bytes allowed beyond the ratio, as for layers: a tiny archive (tar padding) compresses far beyond it."""


def check_expansion(uncompressed: int, compressed: int, ratio: int = MAX_COMPRESSION_RATIO) -> None:
    """Refuse an archive whose `compressed` bytes read so far gave more than `ratio` times as many."""
    if uncompressed > ratio * compressed + RATIO_GRACE:
        raise ImageRejected(
            f"the archive expands more than {ratio}:1 "
            f"({compressed} compressed bytes gave {uncompressed}): a decompression bomb"
        )


class ScratchBudget:
    """Bytes that the archive scans of this process may have written to scratch at once (thread-safe)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.in_use = 0
        self._lock = threading.Lock()

    def for_scan(self, max_bytes: int) -> ScanScratch:
        """A new scan's account, limited to `max_bytes` and to what the process has left."""
        return ScanScratch(self, max_bytes)

    def _take(self, count: int) -> None:
        with self._lock:
            if self.in_use + count > self.max_bytes:
                raise ImageRejected(
                    f"the server's scratch space for archive scans is in use ({self.in_use} of {self.max_bytes} "
                    "bytes, SECAPI_PROCESS_SCRATCH_MAX_BYTES) by other scans; try again later"
                )
            self.in_use += count

    def _give_back(self, count: int) -> None:
        with self._lock:
            self.in_use -= count


class ScanScratch:
    """One scan's scratch account: `charge` before writing, `release` once the scan's files are gone."""

    def __init__(self, budget: ScratchBudget, max_bytes: int) -> None:
        self._budget = budget
        self.max_bytes = max_bytes
        self.written = 0
        self._lock = threading.Lock()

    def charge(self, count: int) -> None:
        """Account for `count` bytes about to be written; raises `ImageRejected` when a budget would be crossed."""
        with self._lock:
            if self.written + count > self.max_bytes:
                raise ImageRejected(
                    f"the scan needs more than {self.max_bytes} bytes of scratch space "
                    "(SECAPI_SCAN_SCRATCH_MAX_BYTES) to read the archive"
                )
            self._budget._take(count)
            self.written += count

    def release(self) -> None:
        """Give the scan's charge back to the process budget (its files have been deleted)."""
        with self._lock:
            self._budget._give_back(self.written)
            self.written = 0


def unlimited_scratch() -> ScanScratch:
    """An account with no limit of its own, for callers that bound disk use otherwise (tests, tools)."""
    return ScratchBudget(max_bytes=1 << 62).for_scan(1 << 62)
