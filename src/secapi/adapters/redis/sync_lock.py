"""One `secapi vulndb sync` at a time across workers and hosts: a Redis lock with a token, renewed while held."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from secapi.adapters.redis.client import REDIS_FAILURES, RedisClient
from secapi.domain.errors import DependencyUnavailable
from secapi.domain.vulndb_sync_ports import SyncLock

log = logging.getLogger(__name__)
SYNC_LOCK_KEY = "lock:vulndb-sync"

# Extend or delete the lock only while it still holds our token: once it lapsed it may be another sync's.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisSyncLock(SyncLock):
    """`SyncLock` as `SET lock:vulndb-sync <token> NX PX ttl`, renewed every `ttl`/3, freed by compare-and-delete.

    A process that dies holding it blocks syncs for at most `ttl` seconds.
    """

    def __init__(self, redis: RedisClient, *, ttl: float = 60.0, key: str = SYNC_LOCK_KEY) -> None:
        self._redis = redis
        self._ttl_ms = max(1000, int(ttl * 1000))
        self._key = key
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[bool]:
        """Yield True with the lock held (renewed in the background), or False when another sync holds it."""
        token = secrets.token_hex(16)
        try:
            acquired = await self._redis.set(self._key, token, nx=True, px=self._ttl_ms)
        except REDIS_FAILURES as exc:
            raise DependencyUnavailable(f"the sync lock in Redis is unavailable: {exc}") from exc
        if not acquired:
            yield False
            return
        renewer = asyncio.create_task(self._keep(token), name="vulndb-sync-lock")
        try:
            yield True
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            try:
                await self._release(keys=[self._key], args=[token])
            except REDIS_FAILURES:
                log.warning("could not release the sync lock; it lapses within %d ms", self._ttl_ms)

    async def _keep(self, token: str) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                if not await self._renew(keys=[self._key], args=[token, self._ttl_ms]):
                    log.warning("the sync lock lapsed while held (Redis was slow or restarted)")
                    return
            except REDIS_FAILURES as exc:
                log.warning("could not renew the sync lock: %s", exc)
