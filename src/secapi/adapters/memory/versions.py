"""The vulnerability database version, memoised in process so the hot path rarely asks the store."""

from __future__ import annotations

from secapi.domain.caching import VersionMemo, VersionSource
from secapi.domain.ports import Clock, VulnerabilityStore


class InMemoryVersionSource(VersionSource):
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
