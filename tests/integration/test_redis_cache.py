"""The Redis caching adapters against a real Redis: what lands in Redis, bounds, and behaviour when Redis is gone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import msgspec
import pytest
from redis.asyncio import RedisCluster

from secapi.adapters.redis.client import RedisClient, RedisHealthProbe, create_redis, discover
from secapi.adapters.redis.popular import RedisPopularInputs
from secapi.adapters.redis.rate_limiter import RedisRateLimiter
from secapi.adapters.redis.scan_cache import STATS_KEY, RedisScanCache
from secapi.adapters.redis.single_flight import RedisSingleFlight
from secapi.adapters.redis.versions import VERSION_KEY, RedisVersionSource
from secapi.domain.advisories import VulnDbVersion
from secapi.domain.caching import CachedScan, CacheUnavailable
from secapi.domain.errors import DependencyUnavailable
from secapi.domain.rate_limits import RateLimitUnavailable
from secapi.domain.tiers import Tier

from support.fakes import FakeClock
from support.redis_targets import RedisTarget

pytestmark = pytest.mark.integration

DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
async def redis(redis_target: RedisTarget) -> AsyncIterator[RedisClient]:
    client = await redis_target.client()
    yield client
    await client.aclose()


@pytest.fixture
async def second_redis(redis_target: RedisTarget) -> AsyncIterator[RedisClient]:
    """Another connection pool, standing in for another API process."""
    client = await redis_target.client()
    yield client
    await client.aclose()


@pytest.fixture(params=["single", "cluster"])
async def dead_redis(request: pytest.FixtureRequest) -> AsyncIterator[RedisClient]:
    """Nothing listens: a single node's client, or a cluster's that cannot learn its nodes (its errors are
    `RedisClusterException`, no `RedisError`)."""
    client = create_redis(DEAD_REDIS, 0.2, cluster=request.param == "cluster")
    await discover(client)  # logged, not raised: the process starts without Redis
    yield client
    await client.aclose()


def _entry(ttl: int = 3600, result: Any = None) -> CachedScan:
    now = datetime.now(UTC)
    return CachedScan(
        scan_type="dependencies",
        input={"filename": "poetry.lock", "content_sha256": "ab" * 32},
        vulndb_version=7,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        result=msgspec.Raw(msgspec.json.encode(result if result is not None else {"findings": [{"id": "GHSA-1"}]})),
    )


class CountingStore:
    """Just enough of a vulnerability store: a version, reads counted."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.reads = 0

    async def current_version(self) -> VulnDbVersion:
        self.reads += 1
        return VulnDbVersion(version=self.version, updated_at=None)


async def test_cached_entry_is_plain_json_with_the_tier_ttl(redis: RedisClient) -> None:
    cache = RedisScanCache(redis)
    await cache.set_scan_result("scan:dependencies:abc", _entry(), 86400)

    stored = json.loads(await redis.get("scan:dependencies:abc"))
    assert stored["vulndb_version"] == 7
    assert stored["result"] == {"findings": [{"id": "GHSA-1"}]}
    assert 86398 <= await redis.ttl("scan:dependencies:abc") <= 86400

    found = await cache.get_scan_result("scan:dependencies:abc")
    assert found is not None
    assert json.loads(bytes(found.result)) == {"findings": [{"id": "GHSA-1"}]}


async def test_non_positive_ttl_stores_nothing(redis: RedisClient) -> None:
    await RedisScanCache(redis).set_scan_result("scan:dependencies:abc", _entry(), 0)
    assert await redis.exists("scan:dependencies:abc") == 0


async def test_undecodable_entry_is_a_miss_and_is_deleted(redis: RedisClient) -> None:
    await redis.set("scan:dependencies:bad", b'{"scan_type": "dependencies"')
    assert await RedisScanCache(redis).get_scan_result("scan:dependencies:bad") is None
    assert await redis.exists("scan:dependencies:bad") == 0


async def test_invalidation_scans_incrementally_and_removes_only_matching_keys(redis: RedisClient) -> None:
    pipe = redis.pipeline(transaction=False)
    for n in range(5000):
        pipe.set(f"scan:dependencies:{n:05d}", b"{}")
    for n in range(300):
        pipe.set(f"scan:docker:{n:05d}", b"{}")
    pipe.set("lock:scan:dependencies:00001", b"token")
    pipe.zadd("rl:{user-1}:scans_per_hour", {"r1": 1.0})
    pipe.hset(STATS_KEY, "dependencies:hits", 3)
    await pipe.execute()
    commands: list[tuple[Any, ...]] = []
    execute = redis.execute_command

    async def spy(*args: Any, **options: Any) -> Any:
        commands.append(args)
        return await execute(*args, **options)

    redis.execute_command = spy  # type: ignore[method-assign]

    assert await RedisScanCache(redis).invalidate_pattern("scan:dependencies:*") == 5000

    names = [str(args[0]).upper() for args in commands]
    assert "KEYS" not in names
    assert names.count("SCAN") > 1
    assert all(len(args) - 1 <= 1000 for args in commands if str(args[0]).upper() == "UNLINK")
    redis.execute_command = execute  # type: ignore[method-assign]
    # DBSIZE on a cluster is one node's; SCAN may repeat a key (a set then), never miss one.
    assert len({key async for key in redis.scan_iter()}) == 300 + 3
    assert await redis.exists("lock:scan:dependencies:00001", "rl:{user-1}:scans_per_hour", STATS_KEY) == 3


@pytest.mark.parametrize("pattern", ["*", "rl:*", "lock:*", "secapi:*"])
async def test_invalidation_refuses_patterns_outside_scan_results(redis: RedisClient, pattern: str) -> None:
    await redis.zadd("rl:{user-1}:scans_per_hour", {"r1": 1.0})
    with pytest.raises(ValueError, match="must start with 'scan:'"):
        await RedisScanCache(redis).invalidate_pattern(pattern)
    assert await redis.exists("rl:{user-1}:scans_per_hour") == 1


async def test_counts_are_batched_in_process_and_flushed_in_one_round_trip(redis: RedisClient) -> None:
    clock = FakeClock()
    cache = RedisScanCache(redis, clock=clock, stats_flush_interval=1.0)
    await cache.record("dependencies", hit=True)  # the first count goes at once
    assert await redis.hgetall(STATS_KEY) == {b"dependencies:hits": b"1"}
    for _ in range(50):
        await cache.record("dependencies", hit=True)
    await cache.record("docker", hit=False)
    assert await redis.hgetall(STATS_KEY) == {b"dependencies:hits": b"1"}  # still pending

    clock.advance(1.0)
    await cache.record("docker", hit=True)

    assert await redis.hgetall(STATS_KEY) == {b"dependencies:hits": b"51", b"docker:misses": b"1", b"docker:hits": b"1"}


async def test_pending_counts_are_in_this_instances_statistics_and_survive_a_failed_flush(
    redis: RedisClient, dead_redis: RedisClient
) -> None:
    clock = FakeClock()
    cache = RedisScanCache(redis, clock=clock, stats_flush_interval=60.0)
    await cache.record("dependencies", hit=False)
    await cache.record("dependencies", hit=True)
    assert (await cache.get_cache_stats()).hits == {"dependencies": 1}

    broken = RedisScanCache(dead_redis, clock=clock, stats_flush_interval=60.0)
    with pytest.raises(CacheUnavailable):
        await broken.record("dependencies", hit=True)
    await broken.record("dependencies", hit=True)  # within the interval: counted, not sent
    with pytest.raises(CacheUnavailable):
        await broken.flush_stats()
    broken._redis = redis  # Redis is back
    await broken.flush_stats()
    assert (await cache.get_cache_stats()).hits == {"dependencies": 3}  # nothing was lost


async def test_statistics_are_global_across_instances(redis: RedisClient, second_redis: RedisClient) -> None:
    one, two = RedisScanCache(redis), RedisScanCache(second_redis)
    await one.set_scan_result("scan:dependencies:a", _entry(), 3600)
    await two.set_scan_result("scan:docker:b", _entry(), 3600)
    await redis.set("rl:{user-1}:x", b"1")  # not a scan result: not counted
    for cache, scan_type, hit in ((one, "dependencies", True), (two, "dependencies", True), (two, "docker", False)):
        await cache.record(scan_type, hit=hit)
    await one.record("dependencies", hit=False)
    await two.flush_stats()  # what each instance does once its flush interval has passed

    stats = await one.get_cache_stats()

    assert stats == await two.get_cache_stats()
    assert (stats.hits, stats.misses) == ({"dependencies": 2}, {"dependencies": 1, "docker": 1})
    assert stats.hit_rate == {"dependencies": pytest.approx(2 / 3), "docker": 0.0}
    assert stats.keys == 2
    assert stats.memory_bytes is not None
    assert stats.memory_bytes > 0
    assert stats.available
    assert await redis.hgetall(STATS_KEY) == {
        b"dependencies:hits": b"2",
        b"dependencies:misses": b"1",
        b"docker:misses": b"1",
    }


async def test_statistics_report_the_memory_of_every_master(redis: RedisClient, redis_target: RedisTarget) -> None:
    big = b"x" * 4_000_000
    if isinstance(redis, RedisCluster):
        masters = {node.name for node in redis.get_primaries()}
        # A large value on every master: a keyless INFO reaches one of them only.
        placed: dict[str, str] = {}
        for n in range(1000):
            placed.setdefault(redis.get_node_from_key(f"ballast:{n}").name, f"ballast:{n}")
        assert set(placed) == masters
        for key in placed.values():
            await redis.set(key, big)
    else:
        address = urlsplit(redis_target.url)
        masters = {f"{address.hostname}:{address.port}"}
        await redis.set("ballast", big)

    stats = await RedisScanCache(redis).get_cache_stats()

    assert stats.memory_bytes is not None
    assert stats.memory_bytes > len(big) * len(masters)  # was one node's: a third of a cluster's
    assert set(stats.memory_by_node) == masters
    assert all(used > len(big) for used in stats.memory_by_node.values())
    assert stats.memory_bytes == sum(stats.memory_by_node.values())


async def test_single_flight_across_processes_computes_once(redis: RedisClient, second_redis: RedisClient) -> None:
    key = "scan:dependencies:" + "c" * 64
    flights = [RedisSingleFlight(redis, poll_interval=0.01), RedisSingleFlight(second_redis, poll_interval=0.01)]
    computes: list[bool] = []

    async def compute() -> str:
        computes.append(await redis.exists(f"lock:{key}") == 1)
        await asyncio.sleep(0.2)
        await redis.set("result", b"shared")
        return "leader"

    async def check() -> str | None:
        value = await second_redis.get("result")
        return None if value is None else value.decode()

    outcomes = await asyncio.gather(*(flights[n % 2].run(key, compute, check, 5.0) for n in range(20)))

    assert computes == [True]  # once, while holding a lock named after the cache key
    assert outcomes.count(("leader", True)) == 1
    assert outcomes.count(("shared", False)) == 19
    assert await redis.exists(f"lock:{key}") == 0


async def test_single_flight_leader_renews_its_short_lease_while_it_computes(
    redis: RedisClient, second_redis: RedisClient
) -> None:
    """A lease far shorter than the computation: renewed, so the others still wait; a dead leader's lapses."""
    key = "scan:dependencies:" + "e" * 64
    flights = [RedisSingleFlight(client, lock_ttl=0.3, poll_interval=0.01) for client in (redis, second_redis, redis)]
    computes: list[int] = []

    async def compute() -> str:
        computes.append(1)
        await asyncio.sleep(1.2)  # four leases long
        await redis.set("renewed", b"shared")
        return "leader"

    async def check() -> str | None:
        value = await redis.get("renewed")
        return None if value is None else value.decode()

    outcomes = await asyncio.gather(*(flight.run(key, compute, check, 5.0) for flight in flights))
    assert computes == [1]
    assert sorted(outcomes) == [("leader", True), ("shared", False), ("shared", False)]
    assert await redis.exists(f"lock:{key}") == 0

    # By default the lease is short, so a leader that died (killed: no release, no renewal) frees the key soon.
    leases: list[int] = []

    async def observe() -> str:
        leases.append(await redis.pttl(f"lock:{key}"))
        return "leader"

    assert await RedisSingleFlight(second_redis).run(key, observe, check, 5.0) == ("leader", True)
    assert 0 < leases[0] <= 10_000


async def test_single_flight_follower_takes_over_when_the_leader_fails(
    redis: RedisClient, second_redis: RedisClient
) -> None:
    flights = [RedisSingleFlight(redis, poll_interval=0.01), RedisSingleFlight(second_redis, poll_interval=0.01)]
    attempts: list[int] = []

    async def compute() -> str:
        attempts.append(1)
        await asyncio.sleep(0.05)
        if len(attempts) == 1:
            raise RuntimeError("scan failed")
        await redis.set("result", b"shared")
        return "leader"

    async def check() -> str | None:
        value = await redis.get("result")
        return None if value is None else value.decode()

    outcomes = await asyncio.gather(
        *(flights[n % 2].run("scan:t:k", compute, check, 5.0) for n in range(5)), return_exceptions=True
    )

    assert len(attempts) == 2
    assert sum(isinstance(o, RuntimeError) for o in outcomes) == 1
    assert outcomes.count(("leader", True)) == 1
    assert outcomes.count(("shared", False)) == 3
    assert await redis.exists("lock:scan:t:k") == 0


async def test_a_lapsed_leader_does_not_release_someone_elses_lock(redis: RedisClient) -> None:
    async def slow() -> str:
        await asyncio.sleep(0.3)
        await redis.set("lock:scan:t:k", b"another leader")  # took over after our lease lapsed
        return "late"

    async def nothing() -> str | None:
        return None

    assert await RedisSingleFlight(redis, lock_ttl=0.1).run("scan:t:k", slow, nothing, 1.0) == ("late", True)
    assert await redis.get("lock:scan:t:k") == b"another leader"


async def test_follower_computes_itself_after_waiting_too_long(redis: RedisClient) -> None:
    await redis.set("lock:scan:t:k", b"a leader that never finishes", px=60_000)

    async def own() -> str:
        return "mine"

    async def nothing() -> str | None:
        return None

    assert await RedisSingleFlight(redis, poll_interval=0.01).run("scan:t:k", own, nothing, 0.1) == ("mine", True)


async def test_popular_inputs_are_ranked_and_bounded(redis: RedisClient) -> None:
    popular = RedisPopularInputs(redis, max_tracked=3, trim_every=10)
    for input_hash, requests in (("a", 4), ("b", 3), ("c", 1), ("d", 1), ("e", 1)):  # 10 touches: one trim
        for _ in range(requests):
            await popular.touch("docker", input_hash, {"id": input_hash})

    assert await popular.top("docker", 10) == [{"id": "a"}, {"id": "b"}, {"id": "e"}]
    assert await redis.zcard("secapi:popular:docker") == 3
    assert await redis.hlen("secapi:popular:docker:inputs") == 3

    for n in range(200):
        await popular.touch("docker", f"h{n:03d}", {"n": n})
    assert await redis.zcard("secapi:popular:docker") == 3
    assert await redis.hlen("secapi:popular:docker:inputs") == 3


async def test_version_is_read_once_per_ttl_and_published_to_every_instance(
    redis: RedisClient, second_redis: RedisClient
) -> None:
    store, clock = CountingStore(version=4), FakeClock()
    here = RedisVersionSource(redis, store, ttl=1.0, clock=clock)  # type: ignore[arg-type]
    elsewhere = RedisVersionSource(second_redis, store, ttl=1.0, clock=clock)  # type: ignore[arg-type]

    assert await here.current() == 4  # key missing: read from the store and recorded
    assert await redis.get(VERSION_KEY) == b"4"
    assert 0 < await redis.ttl(VERSION_KEY) <= 60
    assert await elsewhere.current() == 4
    assert store.reads == 1

    await elsewhere.publish(5)
    assert await elsewhere.current() == 5  # the publisher forgets its memo at once
    assert await here.current() == 4  # others within their memo's second
    clock.advance(1.0)
    assert await here.current() == 5
    assert store.reads == 1


async def test_dead_redis_makes_the_cache_unavailable(dead_redis: RedisClient) -> None:
    cache = RedisScanCache(dead_redis)
    with pytest.raises(CacheUnavailable) as raised:
        await cache.get_scan_result("scan:dependencies:a")
    assert raised.value.__cause__ is not None
    with pytest.raises(CacheUnavailable):
        await cache.set_scan_result("scan:dependencies:a", _entry(), 60)
    with pytest.raises(CacheUnavailable):
        await cache.invalidate_pattern("scan:*")
    with pytest.raises(CacheUnavailable):
        await cache.record("dependencies", hit=True)
    stats = await cache.get_cache_stats()
    assert (stats.available, stats.keys, stats.memory_bytes) == (False, 0, None)
    with pytest.raises(CacheUnavailable):
        await RedisPopularInputs(dead_redis).touch("docker", "h", {"image": "nginx"})
    with pytest.raises(CacheUnavailable):
        await RedisPopularInputs(dead_redis).top("docker", 10)
    with pytest.raises(RateLimitUnavailable):
        await RedisRateLimiter(dead_redis, FakeClock()).check_rate_limit(uuid4(), Tier.FREE, "/x")
    with pytest.raises(DependencyUnavailable):
        await RedisHealthProbe(dead_redis, 1.0).check()


async def test_dead_redis_degrades_single_flight_and_versions(dead_redis: RedisClient) -> None:
    async def compute() -> str:
        return "computed"

    async def check() -> str | None:
        return None

    assert await RedisSingleFlight(dead_redis).run("scan:t:k", compute, check, 1.0) == ("computed", True)
    versions = RedisVersionSource(dead_redis, CountingStore(version=3), clock=FakeClock())  # type: ignore[arg-type]
    assert await versions.current() == 3
    await versions.publish(4)  # logged, never raised: the import that called it succeeded
