"""Building the shared Redis client and probing it."""

from __future__ import annotations

import asyncio
import logging
from typing import TypeAlias

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.ports import HealthProbe

log = logging.getLogger(__name__)

REDIS_FAILURES: tuple[type[Exception], ...] = (RedisError, RedisClusterException, OSError, TimeoutError)
"""What a dead, slow or misbehaving Redis raises (TimeoutError also covers asyncio timeouts). A cluster's client
raises `RedisClusterException`, which is no `RedisError`, when no node answers."""

RedisClient: TypeAlias = Redis | RedisCluster
"""A single node's client or a cluster's (`SECAPI_REDIS_CLUSTER`): the adapters use the commands both have."""


def create_redis(url: str, timeout: float, *, cluster: bool = False) -> RedisClient:
    """A pooled client with bounded connect and command timeouts (hiredis parses replies).

    With `cluster`, `url` names any node: the client discovers the others and sends each command (and
    each pipelined command) to the node owning its key's slot.
    """
    if cluster:
        return RedisCluster.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            health_check_interval=30,
            decode_responses=False,
        )
    return Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=30,
        decode_responses=False,
    )


async def discover(client: RedisClient) -> None:
    """Learn a cluster's nodes and slots now, before commands run concurrently (a no-op on a single node).

    redis-py's `RedisCluster` otherwise discovers them on its first command, and commands racing that
    first discovery fail (`AttributeError: 'NoneType' object has no attribute 'writelines'` with redis-py
    8.1, 20 concurrent SETs on a fresh client). A cluster that cannot be reached now is discovered on
    first use instead: Redis being down must not stop a process from starting.
    """
    if not isinstance(client, RedisCluster):
        return
    try:
        await client.initialize()
    except REDIS_FAILURES as exc:
        log.warning("redis cluster nodes not discovered at start (discovered on first use): %s", exc)


class RedisHealthProbe(HealthProbe):
    """Sends PING with a timeout (to every master of a cluster)."""

    name = "redis"

    def __init__(self, redis: RedisClient, timeout: float) -> None:
        self._redis = redis
        self._timeout = timeout

    async def check(self) -> None:
        """Raise `DependencyUnavailable` unless Redis answers PING within the timeout."""
        try:
            async with asyncio.timeout(self._timeout):
                if isinstance(self._redis, RedisCluster):
                    # Every master: one that is down fails the commands of its slots, whichever node answers.
                    await self._redis.ping(target_nodes=RedisCluster.PRIMARIES)
                else:
                    await self._redis.ping()
        except TimeoutError as exc:
            raise DependencyUnavailable(f"redis did not answer within {self._timeout:g} s") from exc
        except REDIS_FAILURES as exc:
            raise DependencyUnavailable(f"redis is unreachable: {type(exc).__name__}: {exc}") from exc
