"""A bounded write-behind buffer: rows are queued on the request path and written in batches later."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from secapi.domain.errors import DependencyUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


class WriteBehindBuffer(Generic[T]):
    """Buffers items in memory and writes them in batches with `write`.

    Bounded: if the database stays unreachable, the oldest items are dropped and
    counted in `dropped` rather than growing memory. A batch that failed for the
    database being unavailable is kept for the next flush, ahead of newer items; one
    refused for an item it holds is written again item by item, and only the refused
    items are dropped (counted and logged).
    """

    def __init__(self, write: Callable[[Sequence[T]], Awaitable[None]], *, max_buffered: int, what: str) -> None:
        self._write = write
        self._buffer: deque[T] = deque(maxlen=max_buffered)
        self._what = what
        self.dropped = 0
        self.last_flush_failed = False
        """Whether the last `flush` kept its batch for the next try (the database was unavailable)."""

    def record(self, item: T) -> None:
        """Queue one item for the next flush."""
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(item)

    @property
    def pending(self) -> int:
        """Items waiting for a flush."""
        return len(self._buffer)

    async def flush(self) -> int:
        """Write everything buffered; on failure keep it for the next try. Returns items written."""
        if not self._buffer:
            return 0
        self.last_flush_failed = False
        batch = list(self._buffer)
        self._buffer.clear()
        try:
            await self._write(batch)
        except DependencyUnavailable as exc:
            self.last_flush_failed = True
            log.warning("%s flush failed, keeping %d for the next try: %s", self._what, len(batch), exc)
            room = (self._buffer.maxlen or 0) - len(self._buffer)
            kept = batch[len(batch) - room :] if room > 0 else []
            self.dropped += len(batch) - len(kept)
            self._buffer.extendleft(reversed(kept))
            return 0
        except Exception:
            if len(batch) == 1:
                self.dropped += 1
                raise
            return await self._one_by_one(batch)
        return len(batch)

    async def _one_by_one(self, batch: list[T]) -> int:
        """A batch refused for what it holds (a user deleted meanwhile, say), not for the database being away:
        each item is written alone, so one bad item costs only itself and the rest of the batch is kept."""
        written = 0
        for item in batch:
            try:
                await self._write([item])
                written += 1
            except Exception:  # counted and logged: never lost without a word
                self.dropped += 1
                log.exception("%s: an item the database refused was dropped", self._what)
        return written
