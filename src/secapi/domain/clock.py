"""The real clock (the fake lives with the tests)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from secapi.domain.ports import Clock


class SystemClock(Clock):
    """Wall-clock UTC time and the process's monotonic clock."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()
