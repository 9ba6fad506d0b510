"""The sync locks against real Redis and PostgreSQL: exclusive, renewed while held, released by their owner only."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine

from secapi.adapters.redis.sync_lock import SYNC_LOCK_KEY, RedisSyncLock
from secapi.adapters.sql.sync_lock import PostgresAdvisorySyncLock
from secapi.config import Settings


async def test_redis_lock_is_exclusive_renewed_and_released(settings: Settings) -> None:
    one, two = Redis.from_url(settings.redis_url or ""), Redis.from_url(settings.redis_url or "")
    try:
        first, second = RedisSyncLock(one, ttl=1.0), RedisSyncLock(two, ttl=1.0)
        async with first.hold() as held:
            assert held
            await asyncio.sleep(1.6)  # past the TTL: only renewal keeps it
            assert await two.exists(SYNC_LOCK_KEY)
            async with second.hold() as also:
                assert not also
        assert not await one.exists(SYNC_LOCK_KEY)
        async with second.hold() as held_now:
            assert held_now
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_lapsed_lock_taken_by_another_is_not_deleted_by_its_first_owner(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url or "")
    try:
        lock = RedisSyncLock(redis, ttl=1.0)
        async with lock.hold() as held:
            assert held
            await redis.set(SYNC_LOCK_KEY, "someone-else")  # as if ours had lapsed and another sync took it
        assert await redis.get(SYNC_LOCK_KEY) == b"someone-else"
    finally:
        await redis.aclose()


async def test_postgres_advisory_lock_is_exclusive_across_connections(settings: Settings) -> None:
    engine = create_async_engine(settings.database_url)
    try:
        first, second = PostgresAdvisorySyncLock(engine), PostgresAdvisorySyncLock(engine)
        async with first.hold() as held:
            assert held
            async with second.hold() as also:
                assert not also
        async with second.hold() as held_now:
            assert held_now
    finally:
        await engine.dispose()
