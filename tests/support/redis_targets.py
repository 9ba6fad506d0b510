"""Where a Redis-focused integration test runs: the single test node or the test cluster."""

from __future__ import annotations

from dataclasses import dataclass

from secapi.adapters.redis.client import RedisClient, create_redis, discover


@dataclass(frozen=True)
class RedisTarget:
    """Where a Redis-focused test runs: the single test node or the test cluster."""

    url: str
    cluster: bool

    async def client(self, seconds: float = 5.0) -> RedisClient:
        """A new client (its own connection pool) of the kind `SECAPI_REDIS_CLUSTER` selects, as the app builds it."""
        client = create_redis(self.url, seconds, cluster=self.cluster)
        await discover(client)
        return client
