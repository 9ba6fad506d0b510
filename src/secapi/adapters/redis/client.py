"""Building the shared Redis client and probing it."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.exceptions import RedisError

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.ports import HealthProbe


def create_redis(url: str, timeout: float) -> Redis:
    """A pooled client with bounded connect and command timeouts (hiredis parses replies)."""
    return Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=30,
        decode_responses=False,
    )


class RedisHealthProbe(HealthProbe):
    """Sends PING with a timeout."""

    name = "redis"

    def __init__(self, redis: Redis, timeout: float) -> None:
        self._redis = redis
        self._timeout = timeout

    async def check(self) -> None:
        """Raise `DependencyUnavailable` unless Redis answers PING within the timeout."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.ping()
        except TimeoutError as exc:
            raise DependencyUnavailable(f"redis did not answer within {self._timeout:g} s") from exc
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable(f"redis is unreachable: {type(exc).__name__}: {exc}") from exc
