"""Tag → digest resolutions in Redis, shared by every API instance."""

from __future__ import annotations

from secapi.adapters.redis.client import REDIS_FAILURES, RedisClient
from secapi.domain.caching import CacheUnavailable, DigestCache

PREFIX = "secapi:digest:"


class RedisDigestCache(DigestCache):
    """`DigestCache` as short-lived Redis strings (`SET ... EX`)."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def get(self, reference: str, platform: str) -> str | None:
        """The remembered digest."""
        try:
            value = await self._redis.get(f"{PREFIX}{reference}|{platform}")
        except REDIS_FAILURES as exc:
            raise CacheUnavailable(str(exc)) from exc
        return value.decode() if isinstance(value, bytes) else value

    async def put(self, reference: str, platform: str, digest: str, ttl: int) -> None:
        """Remember `digest` for `ttl` seconds."""
        try:
            await self._redis.set(f"{PREFIX}{reference}|{platform}", digest, ex=ttl)
        except REDIS_FAILURES as exc:
            raise CacheUnavailable(str(exc)) from exc
