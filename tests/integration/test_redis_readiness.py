"""Readiness names each Redis it depends on: the queue's own node, and a cluster that does not serve every slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from httpx import AsyncClient
from redis import Redis as SyncRedis
from redis.cluster import RedisCluster as SyncRedisCluster

from secapi.config import Settings
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_sample

from support.http import serve
from support.private_redis import PrivateCluster, PrivateRedis, running
from support.redis_targets import RedisTarget
from support.seed import container_of

pytestmark = pytest.mark.integration


@pytest.fixture
def queue_redis() -> Iterator[PrivateRedis]:
    with running(PrivateRedis()) as server:
        yield server


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    with running(PrivateCluster()) as server:
        yield server


def with_redis(settings: Settings, **changes: Any) -> Settings:
    return Settings.from_env({}, **{**settings.__dict__, "health_check_timeout": 1.0, **changes})


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[AsyncClient]:
    app = create_app(settings)
    async with serve(app) as client:
        await import_sample(container_of(app))  # readiness also wants advisories loaded
        yield client


async def ready(client: AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/health/ready")
    return response.status_code, response.json()


async def test_a_separate_queue_redis_that_is_down_makes_readiness_fail(
    settings: Settings, redis_target: RedisTarget, queue_redis: PrivateRedis
) -> None:
    on_redis = with_redis(
        settings, redis_url=redis_target.url, redis_cluster=redis_target.cluster, queue_redis_url=queue_redis.url
    )
    async with serving(on_redis) as client:
        status, up = await ready(client)
        assert status == 200, up
        assert up["checks"]["queue-redis"] == "ok"

        queue_redis.stop()
        status, down = await ready(client)

    assert status == 503
    assert down["checks"]["redis"] == "ok"  # the cache's Redis is fine: the queue's is named
    assert down["checks"]["queue-redis"].startswith("the scan queue's redis is unreachable: ConnectionError")
    assert down["detail"] == "not ready: queue-redis unavailable"


async def test_the_queue_sharing_the_cache_redis_is_not_probed_twice(settings: Settings) -> None:
    async with serving(with_redis(settings, queue_redis_url=settings.redis_url)) as client:
        status, body = await ready(client)
    assert status == 200
    assert set(body["checks"]) == {"database", "vulnerability-database", "redis"}


def _owner_of_slot_zero(cluster: PrivateCluster) -> int:
    nodes = SyncRedisCluster.from_url(cluster.url)
    try:
        owner = nodes.nodes_manager.get_node_from_slot(0)
    finally:
        nodes.close()
    assert owner is not None
    assert owner.port is not None
    return int(owner.port)


def _slot_zero(port: int, *, assigned: bool) -> None:
    """Unassign (or give back) slot 0 on its master, whose `cluster_state` follows (fail, then ok)."""
    node = SyncRedis(port=port)
    try:
        node.execute_command("CLUSTER", "ADDSLOTS" if assigned else "DELSLOTS", 0)
    finally:
        node.close()


async def _until_state(port: int, state: str) -> None:
    node = SyncRedis(port=port)
    try:
        for _ in range(100):
            if node.cluster("INFO")["cluster_state"] == state:
                return
            await asyncio.sleep(0.05)
        pytest.fail(f"{port} never reported cluster_state:{state}")
    finally:
        node.close()


async def test_readiness_fails_while_a_cluster_master_reports_cluster_state_fail(
    settings: Settings, private_cluster: PrivateCluster
) -> None:
    on_cluster = with_redis(
        settings, redis_url=private_cluster.url, redis_cluster=True, queue_redis_url=settings.redis_url
    )
    async with serving(on_cluster) as client:
        assert (await ready(client))[0] == 200

        port = _owner_of_slot_zero(private_cluster)
        _slot_zero(port, assigned=False)
        await _until_state(port, "fail")
        status, down = await ready(client)  # every master still answers PING

        _slot_zero(port, assigned=True)
        await _until_state(port, "ok")
        status_after, _ = await ready(client)

    assert status == 503
    assert down["checks"]["redis"] == f"redis cluster is not serving every slot: 127.0.0.1:{port} cluster_state:fail"
    assert status_after == 200
