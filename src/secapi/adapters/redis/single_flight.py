"""Single flight across processes with a Redis lock per key."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar

from secapi.adapters.redis.client import REDIS_FAILURES, RedisClient
from secapi.domain.caching import SingleFlight

T = TypeVar("T")

log = logging.getLogger(__name__)

# Delete the lock only if it still holds our token: after our lease expired it may be another leader's.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# Extend the lease only while it still holds our token.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisSingleFlight(SingleFlight):
    """`SingleFlight` with `SET lock:{key} token NX PX`; followers poll `check` until the leader's value appears.

    The lock is a lease of `lock_ttl` seconds that the leader renews every third of it while it computes,
    so a long scan keeps its lock, and a leader whose process dies (kill -9, a lost machine) frees it
    within `lock_ttl`: a follower then computes itself instead of waiting out a long lock (the
    production-shaped soak saw a request retried on the other instance wait 60 s on a dead leader's lock).
    """

    def __init__(self, redis: RedisClient, *, lock_ttl: float = 10.0, poll_interval: float = 0.05) -> None:
        self._redis = redis
        self._lock_ttl_ms = max(1, int(lock_ttl * 1000))
        self._poll_interval = poll_interval
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)

    async def run(
        self, key: str, compute: Callable[[], Awaitable[T]], check: Callable[[], Awaitable[T | None]], wait: float
    ) -> tuple[T, bool]:
        """`(value, leader)`: see `SingleFlight.run`; without Redis every caller computes."""
        lock = f"lock:{key}"
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            token = secrets.token_hex(16)
            try:
                acquired = await self._redis.set(lock, token, nx=True, px=self._lock_ttl_ms)
            except REDIS_FAILURES as exc:
                log.warning("single flight unavailable, computing %s without it: %s", key, exc)
                return await compute(), True
            if acquired:
                return await self._lead(lock, token, compute), True
            value, vanished = await self._follow(lock, check, deadline)
            if value is not None:
                return value, False
            if not vanished:
                # Waited `wait` seconds (or lost Redis meanwhile): computing beats failing the request.
                return await compute(), True

    async def _lead(self, lock: str, token: str, compute: Callable[[], Awaitable[T]]) -> T:
        renewal = asyncio.create_task(self._keep(lock, token), name=f"renew {lock}")
        try:
            return await compute()
        finally:
            renewal.cancel()
            try:
                await self._release(keys=[lock], args=[token])
            except REDIS_FAILURES as exc:
                log.warning("could not release %s (it lapses within %d ms): %s", lock, self._lock_ttl_ms, exc)

    async def _keep(self, lock: str, token: str) -> None:
        """Renew the lease every third of its length until cancelled (the leader finished)."""
        while True:
            await asyncio.sleep(self._lock_ttl_ms / 3000)
            try:
                if not await self._renew(keys=[lock], args=[token, self._lock_ttl_ms]):
                    log.warning("lost %s while computing: another caller may compute too", lock)
                    return
            except REDIS_FAILURES as exc:
                log.warning("could not renew %s: %s", lock, exc)

    async def _follow(
        self, lock: str, check: Callable[[], Awaitable[T | None]], deadline: float
    ) -> tuple[T | None, bool]:
        """`(value, False)` once `check` yields, `(None, True)` if the leader vanished, else `(None, False)`."""
        loop = asyncio.get_running_loop()
        while (remaining := deadline - loop.time()) > 0:
            await asyncio.sleep(min(self._poll_interval, remaining))
            value = await check()
            if value is not None:
                return value, False
            try:
                held = await self._redis.exists(lock)
            except REDIS_FAILURES as exc:
                log.warning("single flight lost redis while waiting on %s: %s", lock, exc)
                return None, False
            if not held:
                # The leader may have stored its value and released between our check and EXISTS.
                value = await check()
                return value, value is None
        return await check(), False
