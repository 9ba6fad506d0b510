"""Accounting across Redis losses (a flush, a restart, an outage), on a single node and on a 3-master cluster.

Outages happen on a Redis (node or cluster) the test starts, pauses and stops itself."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from httpx import AsyncClient
from litestar import Litestar
from redis.asyncio import RedisCluster

from secapi.adapters.redis.scan_queue import SaqScanQueue, create_saq_queue
from secapi.config import Settings
from secapi.domain.rate_limits import scan_windows
from secapi.domain.services.quotas import QuotaStore
from secapi.domain.tiers import Tier
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_sample

from support.http import serve
from support.private_redis import PrivateCluster, PrivateRedis, running
from support.redis_targets import RedisTarget
from support.seed import bearer, container_of, create_user

pytestmark = pytest.mark.integration


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with running(PrivateRedis()) as server:
        yield server


@pytest.fixture(params=["single", "cluster"])
def private_target(request: pytest.FixtureRequest) -> Iterator[PrivateRedis | PrivateCluster]:
    """A private single node, or a private 3-master cluster, that the test may pause or stop."""
    with running(PrivateRedis() if request.param == "single" else PrivateCluster()) as server:
        yield server


def on_redis(settings: Settings, url: str, *, cluster: bool, **changes: object) -> Settings:
    """`settings` with the shared state on `url`; a cluster's queue stays on the single test node."""
    queue = {"queue_redis_url": settings.redis_url} if cluster else {}
    return Settings.from_env(
        {}, **{**settings.__dict__, "redis_url": url, "redis_cluster": cluster, **queue, **changes}
    )


@pytest.fixture
async def api(settings: Settings, redis_target: RedisTarget) -> AsyncIterator[tuple[AsyncClient, Litestar]]:
    app = create_app(on_redis(settings, redis_target.url, cluster=redis_target.cluster))
    async with serve(app) as client:
        await import_sample(container_of(app))
        yield client, app


def lockfile(n: int) -> dict[str, str]:
    return {"filename": "requirements.txt", "content": f"flask==2.2.{n}\n"}


def windows(body: dict[str, object]) -> dict[str, dict[str, int]]:
    items = body["windows"]
    assert isinstance(items, list)
    return {w["name"]: w for w in items}


async def test_usage_rebuilds_the_month_after_a_flush_before_answering(
    api: tuple[AsyncClient, Litestar], redis_target: RedisTarget
) -> None:
    client, app = api
    _, key = await create_user(app, "flushed@example.com", Tier.FREE)
    for n in range(3):
        assert (await client.post("/api/v1/scan/dependencies", json=lockfile(n), headers=bearer(key))).is_success
    assert windows((await client.get("/api/v1/usage", headers=bearer(key))).json())["month"]["used"] == 3
    redis = await redis_target.client()
    try:
        if isinstance(redis, RedisCluster):
            await redis.flushall(target_nodes=RedisCluster.PRIMARIES)
        else:
            await redis.flushdb()
    finally:
        await redis.aclose()
    # Right after the flush, not a minute later: usage rebuilds the month from PostgreSQL first.
    assert windows((await client.get("/api/v1/usage", headers=bearer(key))).json())["month"]["used"] == 3


async def test_the_first_enqueue_after_a_redis_restart_reconnects(private_redis: PrivateRedis) -> None:
    # The queue is always a single node (SAQ's scripts span slots; a cluster deployment gives it its own).
    queue = create_saq_queue(private_redis.url)
    scans = SaqScanQueue(queue, job_timeout=60)
    try:
        await scans.enqueue(uuid.uuid4())
        private_redis.restart()
        second = uuid.uuid4()
        await scans.enqueue(second)  # was: DependencyUnavailable("the scan queue is unavailable: ConnectionError")
        assert await queue.job(str(second)) is not None
    finally:
        await queue.disconnect()


async def test_scans_during_an_outage_are_counted_and_replayed_when_redis_returns(
    settings: Settings, private_target: PrivateRedis | PrivateCluster
) -> None:
    down_able = on_redis(
        settings, private_target.url, cluster=private_target.cluster, redis_timeout=0.3, usage_flush_interval=0.05
    )
    app = create_app(down_able)
    async with serve(app) as client:
        await import_sample(container_of(app))
        _, key = await create_user(app, "outage@example.com", Tier.FREE)
        for n in range(2):
            assert (await client.post("/api/v1/scan/dependencies", json=lockfile(n), headers=bearer(key))).is_success
        private_target.pause()  # Redis stops answering, its data kept
        try:
            during = [
                await client.post("/api/v1/scan/dependencies", json=lockfile(10 + n), headers=bearer(key))
                for n in range(3)
            ]
        finally:
            private_target.resume()
        assert [r.status_code for r in during] == [200, 200, 200]  # fail-open: admitted
        assert during[-1].headers["x-ratelimit-degraded"] == "minute,hour"  # what was not enforced
        assert during[-1].headers["x-ratelimit-limit"] == "100"  # the month, still enforced from PostgreSQL
        assert during[-1].headers["x-ratelimit-remaining"] == "95"
        await asyncio.sleep(0.5)  # clients reconnect
        after = await client.post("/api/v1/scan/dependencies", json=lockfile(20), headers=bearer(key))
        assert after.status_code == 200
        assert "x-ratelimit-degraded" not in after.headers
        used = {
            n: w["used"] for n, w in windows((await client.get("/api/v1/usage", headers=bearer(key))).json()).items()
        }
    # 2 before, 3 during (replayed into the hour, kept in the month), 1 after.
    assert (used["hour"], used["month"]) == (6, 6)


async def test_the_month_is_enforced_from_postgresql_while_redis_is_down(
    settings: Settings, private_target: PrivateRedis | PrivateCluster
) -> None:
    down_able = on_redis(settings, private_target.url, cluster=private_target.cluster, redis_timeout=0.3)
    app = create_app(down_able)
    async with serve(app) as client:
        await import_sample(container_of(app))
        user, key = await create_user(app, "spent@example.com", Tier.FREE)
        async with container_of(app)() as request:
            store = await request.get(QuotaStore)
            month = scan_windows(Tier.FREE)[1]
            today = int(time.time() // (month.seconds // month.buckets))
            await store.increment(user.id, month.quota, today, month.limit)  # the month is spent
        private_target.stop()
        refused = await client.post("/api/v1/scan/dependencies", json=lockfile(1), headers=bearer(key))
    assert refused.status_code == 429, refused.text
    assert refused.json()["violated-policies"] == ["month"]
