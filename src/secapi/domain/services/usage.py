"""Recording API usage without a database write on the request path."""

from __future__ import annotations

import logging
from collections import deque

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.model import UsageRecord
from secapi.domain.ports import UsageRepository

log = logging.getLogger(__name__)


class UsageRecorder:
    """Buffers usage records in memory and writes them in batches.

    The buffer is bounded: if the database stays unreachable, the oldest
    records are dropped and counted in `dropped` rather than growing memory.
    """

    def __init__(self, repository: UsageRepository, *, max_buffered: int) -> None:
        self._repository = repository
        self._buffer: deque[UsageRecord] = deque(maxlen=max_buffered)
        self.dropped = 0

    def record(self, record: UsageRecord) -> None:
        """Queue one record for the next flush."""
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(record)

    @property
    def pending(self) -> int:
        """Records waiting for a flush."""
        return len(self._buffer)

    async def flush(self) -> int:
        """Write everything buffered; on failure keep it for the next try. Returns rows written."""
        if not self._buffer:
            return 0
        batch = list(self._buffer)
        self._buffer.clear()
        try:
            await self._repository.add_many(batch)
        except DependencyUnavailable as exc:
            log.warning("usage flush failed, keeping %d records for the next try: %s", len(batch), exc)
            room = (self._buffer.maxlen or 0) - len(self._buffer)
            kept = batch[len(batch) - room :] if room > 0 else []
            self.dropped += len(batch) - len(kept)
            self._buffer.extendleft(reversed(kept))
            return 0
        return len(batch)
