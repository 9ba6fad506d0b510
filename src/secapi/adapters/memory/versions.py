"""The vulnerability database version, memoised in process so the hot path rarely asks the store."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from secapi.domain.ports import Clock, VulnerabilityStore


class VersionMemo:
    """Remembers a version for `ttl` seconds; concurrent callers share one load."""

    def __init__(self, load: Callable[[], Awaitable[int]], *, ttl: float, clock: Clock) -> None:
        self._load = load
        self._ttl = ttl
        self._clock = clock
        self._value: int | None = None
        self._until = -math.inf
        # Bumped by `forget`: a load that started before it must not store what it read.
        self._generation = 0
        self._lock = asyncio.Lock()
        self.loads = 0

    async def get(self) -> int:
        """The remembered version, loading it if stale."""
        if self._value is not None and self._clock.monotonic() < self._until:
            return self._value
        async with self._lock:
            if self._value is not None and self._clock.monotonic() < self._until:
                return self._value
            generation = self._generation
            value = await self._load()
            self.loads += 1
            if generation == self._generation:
                self._value, self._until = value, self._clock.monotonic() + self._ttl
            return value

    def forget(self) -> None:
        """Drop the remembered version: the next `get` loads afresh."""
        self._generation += 1
        self._value, self._until = None, -math.inf


class InMemoryVersionSource:
    """`VersionSource` over the store, asked at most once per `ttl` seconds."""

    def __init__(self, fallback: VulnerabilityStore, *, ttl: float = 1.0, clock: Clock) -> None:
        self._store = fallback
        self.memo = VersionMemo(self._from_store, ttl=ttl, clock=clock)

    async def current(self) -> int:
        """The version in force (at most `ttl` seconds old, or fresh after `publish`)."""
        return await self.memo.get()

    async def publish(self, version: int) -> None:
        """An import made `version` current: stop serving the memoised one."""
        self.memo.forget()

    async def _from_store(self) -> int:
        return (await self._store.current_version()).version
