"""Tag → digest resolutions in process memory (embedded default)."""

from __future__ import annotations

from secapi.domain.caching import DigestCache
from secapi.domain.ports import Clock


class InMemoryDigestCache(DigestCache):
    """`DigestCache` over a dict with expiry times, bounded."""

    def __init__(self, clock: Clock, *, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[tuple[str, str], tuple[str, float]] = {}

    async def get(self, reference: str, platform: str) -> str | None:
        """The remembered digest, if still fresh."""
        entry = self._entries.get((reference, platform))
        if entry is None or entry[1] <= self._clock.monotonic():
            return None
        return entry[0]

    async def put(self, reference: str, platform: str, digest: str, ttl: int) -> None:
        """Remember `digest` for `ttl` seconds."""
        if len(self._entries) >= self._max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[(reference, platform)] = (digest, self._clock.monotonic() + ttl)
