"""The vulnerability database version, announced through Redis to every API instance."""

from __future__ import annotations

import logging

from secapi.adapters.redis.client import REDIS_FAILURES, RedisClient
from secapi.domain.caching import VersionMemo, VersionSource
from secapi.domain.ports import Clock, VulnerabilityStore

log = logging.getLogger(__name__)

VERSION_KEY = "secapi:vulndb:version"


class RedisVersionSource(VersionSource):
    """`VersionSource` reading `secapi:vulndb:version`, memoised in process for `ttl` seconds.

    The key lives `key_ttl` seconds, so an import whose `publish` never reached Redis
    is noticed from the store within that time. Redis failures fall back to the store.
    """

    def __init__(
        self,
        redis: RedisClient,
        fallback: VulnerabilityStore,
        *,
        ttl: float = 1.0,
        clock: Clock,
        key_ttl: int = 60,
    ) -> None:
        self._redis = redis
        self._store = fallback
        self._key_ttl = key_ttl
        self.memo = VersionMemo(self._read, ttl=ttl, clock=clock)

    async def current(self) -> int:
        """The version in force: at most one Redis GET per `ttl` seconds per process."""
        return await self.memo.get()

    async def publish(self, version: int) -> None:
        """Announce `version` to every instance (after an import) and drop this process's memo."""
        try:
            await self._redis.set(VERSION_KEY, version, ex=self._key_ttl)
        except REDIS_FAILURES as exc:
            log.warning(
                "could not publish vulnerability database version %d (seen within %d s): %s",
                version,
                self._key_ttl,
                exc,
            )
        self.memo.forget()

    async def _read(self) -> int:
        try:
            raw = await self._redis.get(VERSION_KEY)
        except REDIS_FAILURES as exc:
            log.warning("redis unavailable for the vulnerability database version, asking the store: %s", exc)
            return await self._from_store()
        if raw is not None:
            try:
                return int(raw)
            except ValueError:
                log.warning("replacing malformed %s value %r", VERSION_KEY, raw)
        version = await self._from_store()
        try:
            # NX when absent: an import that published meanwhile knows better than our read of the store.
            await self._redis.set(VERSION_KEY, version, ex=self._key_ttl, nx=raw is None)
        except REDIS_FAILURES as exc:
            log.warning("could not record vulnerability database version %d: %s", version, exc)
        return version

    async def _from_store(self) -> int:
        return (await self._store.current_version()).version
