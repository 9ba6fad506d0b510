"""The whole API on a Redis Cluster (`SECAPI_REDIS_CLUSTER=true`), its queue on its own single node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from httpx import AsyncClient
from litestar import Litestar
from redis.asyncio import Redis, RedisCluster
from redis.crc import key_slot

from secapi.adapters.redis.scan_cache import STATS_KEY
from secapi.adapters.redis.scan_queue import QUEUE_NAME
from secapi.config import Settings
from secapi.domain.caching import ScanCache
from secapi.domain.ports import ScanQueue
from secapi.domain.tiers import Tier
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_sample

from support.http import serve
from support.seed import bearer, container_of, create_user

pytestmark = pytest.mark.integration

REQUIREMENTS = "flask==2.2.4\njinja2==3.1.2\n"


@pytest.fixture
async def cluster(redis_cluster_url: str, clean_state: None) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(redis_cluster_url)
    await client.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield client
    await client.aclose()


@pytest.fixture
async def api(
    settings: Settings, redis_cluster_url: str, cluster: RedisCluster
) -> AsyncIterator[tuple[AsyncClient, Litestar]]:
    on_cluster = Settings.from_env(
        {},
        **{
            **settings.__dict__,
            "redis_url": redis_cluster_url,
            "redis_cluster": True,
            "queue_redis_url": settings.redis_url,
        },
    )
    app = create_app(on_cluster)
    async with serve(app) as http:
        await import_sample(container_of(app))
        yield http, app


async def test_scans_limits_and_readiness_run_on_the_cluster(
    api: tuple[AsyncClient, Litestar], cluster: RedisCluster
) -> None:
    client, app = api
    _, key = await create_user(app, "cluster@example.com", Tier.FREE)
    body = {"filename": "requirements.txt", "content": REQUIREMENTS}

    first = await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))
    second = await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))

    assert (first.status_code, second.status_code) == (200, 200), first.text
    assert (first.headers["x-cache-status"], second.headers["x-cache-status"]) == ("MISS", "HIT")
    assert first.json()["result"] == second.json()["result"]
    # The limiter's script ran over every window of the user at once: one slot, or CROSSSLOT had failed it.
    assert "x-ratelimit-remaining" in second.headers
    windows = [k async for k in cluster.scan_iter(match="rl:*")]
    assert len(windows) > 1
    assert len({key_slot(k) for k in windows}) == 1
    assert [k async for k in cluster.scan_iter(match="scan:*")]  # the cached result is on the cluster
    assert (await client.get("/health/ready")).status_code == 200
    # Key counts walk every master (one node's SCAN sees only its slots); the counters hash is on the cluster.
    stats = await (await container_of(app).get(ScanCache)).get_cache_stats()
    assert stats.available
    assert stats.keys == 1
    assert stats.hits == {"dependencies": 1}
    assert stats.misses == {"dependencies": 1}
    assert await cluster.exists(STATS_KEY) == 1


async def test_the_queue_lives_on_its_own_single_node(
    api: tuple[AsyncClient, Litestar], cluster: RedisCluster, redis_url: str
) -> None:
    _, app = api
    queue = await container_of(app).get(ScanQueue)
    scan_id = uuid4()

    await queue.enqueue(scan_id)

    single = Redis.from_url(redis_url)
    try:
        assert [k async for k in single.scan_iter(match=f"saq:*{QUEUE_NAME}*")]
    finally:
        await single.aclose()
    assert [k async for k in cluster.scan_iter(match="saq:*")] == []


async def test_cache_stats_report_the_memory_of_every_master(
    api: tuple[AsyncClient, Litestar], cluster: RedisCluster
) -> None:
    client, app = api
    _, admin = await create_user(app, "admin@example.com", Tier.FREE, admin=True)

    stats = await client.get("/api/v1/admin/cache/stats", headers=bearer(admin))

    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert set(body["memory_by_node"]) == {node.name for node in cluster.get_primaries()}
    assert body["memory_bytes"] == sum(body["memory_by_node"].values())
