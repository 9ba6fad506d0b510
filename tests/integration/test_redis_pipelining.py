"""Auto-pipelining on real Redis: one pipeline per loop turn, each caller its own reply or error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from redis.asyncio import Redis, RedisCluster
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from secapi.adapters.redis.client import RedisClient, discover
from secapi.adapters.redis.pipelining import AutoPipeline
from secapi.adapters.redis.rate_limiter import RedisRateLimiter, window_key
from secapi.domain.rate_limits import request_windows
from secapi.domain.tiers import Tier

from support.fakes import FakeClock
from support.redis_targets import RedisTarget

pytestmark = pytest.mark.integration


class Sent:
    """Pipelines and single commands sent by the counting clients."""

    pipelines = 0
    singles = 0


class CountingRedis(Redis):
    """A single node's client counting what it sends."""

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        Sent.pipelines += 1
        return super().pipeline(*args, **kwargs)

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        Sent.singles += 1
        return await super().execute_command(*args, **options)


class CountingRedisCluster(RedisCluster):
    """A cluster's client counting what it sends (its pipeline splits by node underneath)."""

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        Sent.pipelines += 1
        return super().pipeline(*args, **kwargs)

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        Sent.singles += 1
        return await super().execute_command(*args, **options)


@pytest.fixture
async def redis(redis_target: RedisTarget) -> AsyncIterator[RedisClient]:
    kind = CountingRedisCluster if redis_target.cluster else CountingRedis
    client = kind.from_url(redis_target.url)
    await discover(client)
    Sent.pipelines = Sent.singles = 0
    yield client
    await client.aclose()


async def test_commands_of_one_turn_share_one_pipeline(redis: RedisClient) -> None:
    for n in range(50):  # on a cluster these keys live on all three masters
        await redis.set(f"k{n}", n)
    auto = AutoPipeline(redis)
    Sent.pipelines = Sent.singles = 0

    replies = await asyncio.gather(*(auto.execute("GET", f"k{n}") for n in range(50)))

    assert replies == [str(n).encode() for n in range(50)]
    assert (Sent.pipelines, Sent.singles) == (1, 0)
    assert await auto.execute("GET", "k7") == b"7"  # alone in its turn: sent as is, no pipeline
    assert (Sent.pipelines, Sent.singles) == (1, 1)


async def test_an_error_reaches_only_its_caller(redis: RedisClient) -> None:
    await redis.hset("a-hash", "f", 1)
    await redis.set("a-string", b"v")
    auto = AutoPipeline(redis)

    wrong, right = await asyncio.gather(
        auto.execute("GET", "a-hash"), auto.execute("GET", "a-string"), return_exceptions=True
    )

    assert isinstance(wrong, ResponseError)
    assert "WRONGTYPE" in str(wrong)
    assert right == b"v"


async def test_a_caller_that_gives_up_does_not_disturb_the_others(redis: RedisClient) -> None:
    await redis.set("k", b"v")
    auto = AutoPipeline(redis)
    impatient = asyncio.ensure_future(auto.execute("GET", "k"))
    others = [asyncio.ensure_future(auto.execute("GET", "k")) for _ in range(3)]
    impatient.cancel()

    assert await asyncio.gather(*others) == [b"v"] * 3
    assert impatient.cancelled()


async def test_a_dead_redis_fails_every_caller_of_the_batch() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    auto = AutoPipeline(dead)
    try:
        outcomes = await asyncio.gather(*(auto.execute("GET", "k") for _ in range(5)), return_exceptions=True)
    finally:
        await dead.aclose()
    assert all(isinstance(o, (RedisConnectionError, OSError)) for o in outcomes), outcomes


async def test_the_limiter_script_is_loaded_again_after_a_script_flush(redis: RedisClient) -> None:
    limiter, user = RedisRateLimiter(redis, FakeClock()), uuid4()
    assert (await limiter.check_rate_limit(user, Tier.FREE, "/x")).windows[0].used == 1
    await redis.script_flush()

    results = await asyncio.gather(*(limiter.check_rate_limit(user, Tier.FREE, "/x") for _ in range(5)))

    assert sorted(r.windows[0].used for r in results) == [2, 3, 4, 5, 6]
    assert (await limiter.peek(user, request_windows(Tier.FREE))).windows[0].used == 6


async def test_one_master_that_lost_its_scripts_reloads_them_for_its_own_callers(redis_cluster_url: str) -> None:
    """A batch of limiter calls spread over every master while one of them answers NOSCRIPT (a failover to a
    replica, a restart): only that master's callers reload the script and retry; every call is counted once."""
    redis = await RedisTarget(redis_cluster_url, cluster=True).client()
    assert isinstance(redis, RedisCluster)
    try:
        await _reload_on_one_master(redis)
    finally:
        await redis.aclose()


async def _reload_on_one_master(redis: RedisCluster) -> None:
    limiter, users = RedisRateLimiter(redis, FakeClock()), [uuid4() for _ in range(30)]
    await asyncio.gather(*(limiter.check_rate_limit(user, Tier.FREE, "/x") for user in users))
    masters = redis.get_primaries()
    assert len(masters) == 3
    node = Redis(host=masters[0].host, port=masters[0].port)
    try:
        await node.script_flush()
        assert await node.script_exists(limiter._sliding_window.sha) == [False]
    finally:
        await node.aclose()

    results = await asyncio.gather(*(limiter.check_rate_limit(user, Tier.FREE, "/x") for user in users))

    assert [r.windows[0].used for r in results] == [2] * len(users)
    masters_hit = {
        redis.nodes_manager.get_node_from_slot(key_slot(window_key(u, request_windows(Tier.FREE)[0]).encode())).name
        for u in users
    }
    assert len(masters_hit) == 3  # the batch did span every master, the flushed one included
