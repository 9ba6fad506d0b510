"""Recording API usage without a database write on the request path."""

from __future__ import annotations

from secapi.domain.model import UsageRecord
from secapi.domain.ports import UsageRepository
from secapi.domain.services.write_behind import WriteBehindBuffer


class UsageRecorder(WriteBehindBuffer[UsageRecord]):
    """Usage rows, written in batches by the API's flusher."""

    def __init__(self, repository: UsageRepository, *, max_buffered: int) -> None:
        super().__init__(repository.add_many, max_buffered=max_buffered, what="usage")
