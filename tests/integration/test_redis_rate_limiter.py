"""The Redis limiter through its Lua script: same answers as the in-memory reference, atomic, bounded, durable."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from secapi.adapters.memory.rate_limiter import InMemoryRateLimiter
from secapi.adapters.redis.client import RedisClient
from secapi.adapters.redis.rate_limiter import RedisRateLimiter, window_key
from secapi.domain.rate_limits import RateLimitUnavailable, Window, request_windows, scan_windows
from secapi.domain.tiers import Tier

from support.fakes import FakeClock
from support.redis_targets import RedisTarget

pytestmark = pytest.mark.integration

START = 1_767_225_600.0  # FakeClock's start, a boundary of every bucket
MINUTE = Window(name="minute", quota="api_requests_per_minute", seconds=60, buckets=12, limit=20)
HOUR = Window(name="hour", quota="scans_per_hour", seconds=3600, buckets=60, limit=10)
MONTH = Window(name="month", quota="scans_per_month", seconds=30 * 86400, buckets=30, limit=15)


@pytest.fixture
async def redis(redis_target: RedisTarget) -> AsyncIterator[RedisClient]:
    client = await redis_target.client()
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(redis: RedisClient, clock: FakeClock) -> RedisRateLimiter:
    return RedisRateLimiter(redis, clock)


async def test_limit_and_sliding_edge(limiter: RedisRateLimiter, clock: FakeClock) -> None:
    user = uuid4()
    clock.advance(59)
    results = [await limiter.consume(user, (MINUTE,)) for _ in range(21)]
    assert [r.allowed for r in results] == [True] * 20 + [False]
    assert results[19].remaining == 0
    clock.advance(2)  # t = 61 s: past a fixed window's edge, still inside the sliding one
    refused = await limiter.consume(user, (MINUTE,))
    assert refused.violated == ("minute",)
    assert refused.retry_after == pytest.approx(59.0)
    assert refused.reset_at == pytest.approx(START + 120)
    clock.advance(58.999)
    assert not (await limiter.consume(user, (MINUTE,))).allowed
    clock.advance(0.001)
    assert [(await limiter.consume(user, (MINUTE,))).allowed for _ in range(21)].count(True) == 20


async def test_month_refusal_leaves_the_hour_untouched(limiter: RedisRateLimiter, clock: FakeClock) -> None:
    user, windows = uuid4(), (HOUR, MONTH)
    assert [(await limiter.consume(user, windows)).allowed for _ in range(11)].count(True) == 10
    clock.advance(2 * 3600)
    for _ in range(5):
        assert (await limiter.consume(user, windows)).allowed
    refused = await limiter.consume(user, windows)
    assert refused.violated == ("month",)
    assert refused.retry_after == pytest.approx(31 * 86400 - 2 * 3600)
    assert {w.name: w.used for w in (await limiter.peek(user, windows)).windows} == {"hour": 5, "month": 15}


async def test_cost_peek_and_record_request(limiter: RedisRateLimiter, redis: RedisClient) -> None:
    user = uuid4()
    assert (await limiter.consume(user, (MINUTE,), cost=15)).remaining == 5
    assert not (await limiter.consume(user, (MINUTE,), cost=6)).allowed
    for _ in range(5):
        assert (await limiter.peek(user, (MINUTE,))).windows[0].used == 15
    assert (await limiter.consume(user, (MINUTE,), cost=21)).retry_after is None
    stranger = uuid4()
    assert (await limiter.peek(stranger, (MINUTE,))).remaining == 20
    assert not await redis.exists(window_key(stranger, MINUTE))  # a peek writes nothing
    for _ in range(25):
        await limiter.record_request(user, "/api/v1/scans")
    over = await limiter.check_rate_limit(user, Tier.FREE, "/api/v1/scans")
    assert over.windows[0].used == 40
    assert over.remaining == 0


async def test_check_and_peek_consumes_the_request_and_only_reports_the_peeked_windows(
    limiter: RedisRateLimiter, redis: RedisClient
) -> None:
    user, tier = uuid4(), Tier.FREE
    (minute,) = request_windows(tier)
    hour, month = scan_windows(tier)
    for _ in range(hour.limit + 2):  # past the hour's limit (consume refuses the last two)
        await limiter.consume(user, (hour, month))
    await redis.hset(window_key(user, hour), "0", 0)  # a stale field, pruned by the same call

    request, scans = await limiter.check_and_peek(user, tier, "/api/v1/scan/dependencies", (hour, month))

    assert request.allowed
    assert request.windows[0].used == 1
    assert (scans.allowed, [w.used for w in scans.windows]) == (True, [hour.limit, hour.limit])
    assert scans == await limiter.peek(user, (hour, month))  # nothing was consumed in the peeked windows
    for _ in range(minute.limit - 1):
        await limiter.check_rate_limit(user, tier, "/api/v1/scans")
    refused, still = await limiter.check_and_peek(user, tier, "/api/v1/scan/dependencies", (hour, month))
    assert refused.violated == ("minute",)
    assert refused.retry_after is not None
    assert still == scans


async def test_answers_match_the_in_memory_reference(limiter: RedisRateLimiter, clock: FakeClock) -> None:
    reference, rng, users = InMemoryRateLimiter(clock), random.Random(7), [uuid4() for _ in range(3)]
    tens = Window(name="ten-minutes", quota="q10", seconds=600, buckets=10, limit=12)
    small = Window(name="minute", quota="api_requests_per_minute", seconds=60, buckets=12, limit=7)
    shapes = [(small,), (tens,), (small, tens), (tens, MONTH), (small, tens, MONTH)]
    for step in range(3000):
        user, windows, roll = rng.choice(users), rng.choice(shapes), rng.random()
        if roll < 0.6:
            cost = rng.choice((1, 1, 1, 2, 3, 0))
            assert await limiter.consume(user, windows, cost) == await reference.consume(user, windows, cost), step
        elif roll < 0.7:
            tier, peeked = rng.choice(list(Tier)), rng.choice(((tens,), (tens, MONTH)))
            both = await limiter.check_and_peek(user, tier, "/api/v1/scan/dependencies", peeked)
            assert both == await reference.check_and_peek(user, tier, "/api/v1/scan/dependencies", peeked), step
        elif roll < 0.8:
            assert await limiter.peek(user, windows) == await reference.peek(user, windows), step
        elif roll < 0.85:
            await limiter.record_request(user, "/x")
            await reference.record_request(user, "/x")
        else:
            assert await limiter.export_buckets(user, MONTH) == await reference.export_buckets(user, MONTH)
        # -3 s: another instance whose clock runs behind, so buckets "from the future" exist.
        clock.advance(rng.choice((0, 0.2, 1, 4.999, 5, 30, 61, 400, 86400, -3)))


async def test_exactly_the_remaining_units_are_admitted_under_concurrency(
    redis_target: RedisTarget, clock: FakeClock
) -> None:
    clients = [await redis_target.client() for _ in range(5)]
    try:
        limiters = [RedisRateLimiter(client, clock) for client in clients]
        user, windows = uuid4(), (HOUR, MONTH)
        for _ in range(3):
            await limiters[0].consume(user, windows)
        results = await asyncio.gather(*(limiters[n % 5].consume(user, windows) for n in range(100)))
        assert sum(r.allowed for r in results) == 7
        assert {w.name: w.used for w in (await limiters[1].peek(user, windows)).windows} == {"hour": 10, "month": 10}
    finally:
        for client in clients:
            await client.aclose()


async def test_keys_share_a_cluster_slot_and_expire(limiter: RedisRateLimiter, redis: RedisClient) -> None:
    user = uuid4()
    await limiter.consume(user, (MINUTE, HOUR, MONTH))
    keys = sorted([k.decode() async for k in redis.scan_iter(match="rl:*")])  # KEYS asks one node of a cluster
    assert keys == sorted(f"rl:{{{user}}}:{name}" for name in ("minute", "hour", "month"))
    assert len({key_slot(k.encode()) for k in keys}) == 1
    assert 0 < await redis.pttl(window_key(user, MINUTE)) <= 65_000
    assert 30 * 86_400_000 < await redis.pttl(window_key(user, MONTH)) <= 31 * 86_400_000


async def test_hash_fields_stay_bounded(limiter: RedisRateLimiter, redis: RedisClient, clock: FakeClock) -> None:
    user, rng = uuid4(), random.Random(3)
    windows = (
        Window(name="minute", quota="a", seconds=60, buckets=12, limit=10**9),
        Window(name="hour", quota="b", seconds=3600, buckets=60, limit=10**9),
    )
    most = {"minute": 0, "hour": 0}
    for n in range(10_000):
        assert (await limiter.consume(user, windows)).allowed
        clock.advance(rng.uniform(0, 3))
        if n % 10 == 0:
            for w in windows:
                most[w.name] = max(most[w.name], await redis.hlen(window_key(user, w)))
    assert most == {"minute": 13, "hour": 61}  # N + 1 buckets overlap a window; never more are kept


async def test_a_flushed_month_is_rebuilt_from_exported_buckets(
    limiter: RedisRateLimiter, redis: RedisClient, clock: FakeClock
) -> None:
    user, windows = uuid4(), scan_windows(Tier.STARTER)
    month = windows[1]
    for day in range(6):
        for _ in range(day + 1):
            await limiter.consume(user, windows)
        clock.advance(86400)
    saved = await limiter.export_buckets(user, month)
    assert sum(saved.values()) == 21
    before = await limiter.peek(user, (month,))
    await redis.flushdb()  # FLUSHALL would wipe the other databases of a shared server; the effect is the same
    assert not await limiter.exists(user, month)
    await limiter.hydrate(user, month, saved)
    assert await limiter.exists(user, month)
    assert await limiter.peek(user, (month,)) == before
    assert 0 < await redis.pttl(window_key(user, month)) <= 31 * 86_400_000


async def test_hydrate_never_loses_a_consume_that_raced_ahead(limiter: RedisRateLimiter, clock: FakeClock) -> None:
    user, today = uuid4(), int(START // 86400)
    await limiter.consume(user, (MONTH,), cost=3)
    await limiter.hydrate(user, MONTH, {today - 40: 9, today - 2: 4, today: 1})
    assert await limiter.export_buckets(user, MONTH) == {today - 2: 4, today: 3}


async def test_a_dead_redis_is_reported_as_unavailable(clock: FakeClock) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5, socket_timeout=0.5)
    limiter = RedisRateLimiter(dead, clock)
    user = uuid4()
    try:
        calls = (
            limiter.check_rate_limit(user, Tier.FREE, "/x"),
            limiter.record_request(user, "/x"),
            limiter.consume(user, request_windows(Tier.PRO)),
            limiter.peek(user, request_windows(Tier.PRO)),
            limiter.export_buckets(user, MONTH),
            limiter.hydrate(user, MONTH, {int(START // 86400): 1}),
            limiter.exists(user, MONTH),
        )
        for call in calls:
            with pytest.raises(RateLimitUnavailable) as caught:
                await call
            assert caught.value.__cause__ is not None
    finally:
        await dead.aclose()
