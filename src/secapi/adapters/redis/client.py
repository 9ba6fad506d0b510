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
    """Sends PING with a timeout; on a cluster, to every master, and asks each for its `cluster_state`."""

    def __init__(self, redis: RedisClient, timeout: float, *, name: str = "redis", what: str = "redis") -> None:
        self._redis = redis
        self._timeout = timeout
        self.name = name
        self._what = what

    async def check(self) -> None:
        """Raise `DependencyUnavailable` unless Redis answers within the timeout (a cluster: every slot served)."""
        try:
            async with asyncio.timeout(self._timeout):
                if isinstance(self._redis, RedisCluster):
                    # Every master: one that is down fails the commands of its slots, whichever node answers.
                    await self._redis.ping(target_nodes=RedisCluster.PRIMARIES)
                    failing = await self._failing_masters(self._redis)
                else:
                    await self._redis.ping()
                    failing = []
        except TimeoutError as exc:
            raise DependencyUnavailable(f"{self._what} did not answer within {self._timeout:g} s") from exc
        except REDIS_FAILURES as exc:
            raise DependencyUnavailable(f"{self._what} is unreachable: {type(exc).__name__}: {exc}") from exc
        if failing:
            raise DependencyUnavailable(f"{self._what} cluster is not serving every slot: {', '.join(failing)}")

    @staticmethod
    async def _failing_masters(cluster: RedisCluster) -> list[str]:
        """`node cluster_state:<state>` for each master whose view of the cluster is not `ok`.

        A master answers PING while slots are unassigned or their owner has failed; CLUSTER INFO says so.
        """
        masters = cluster.get_primaries()
        infos = await asyncio.gather(*(cluster.cluster_info(target_nodes=node) for node in masters))
        return [
            f"{node.name} cluster_state:{info.get('cluster_state')}"
            for node, info in zip(masters, infos, strict=True)
            if info.get("cluster_state") != "ok"
        ]
