"""A worker's scheduled cache warming follows SECAPI_CACHE_WARM_CRON, and an "off" value switches it off."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from redis.asyncio import Redis

from secapi.config import Settings
from secapi.entrypoints.worker import serve_worker


async def _cron_keys_after_start(settings: Settings) -> list[bytes]:
    """Run a worker for a moment (SAQ schedules cron jobs every second) and list the cron jobs it queued."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve_worker(settings, stop))
    await asyncio.sleep(2.5)
    assert not task.done(), task.exception() if task.done() else None
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    redis = Redis.from_url(settings.redis_url or "")
    try:
        return [key async for key in redis.scan_iter(match="*cron:*warm_cache*")]
    finally:
        await redis.aclose()


async def test_a_cron_expression_schedules_warming(settings: Settings) -> None:
    keys = await _cron_keys_after_start(dataclasses.replace(settings, cache_warm_cron="* * * * *"))
    assert keys, "no warming job was scheduled"


@pytest.mark.parametrize("off", ["", "off", "none", "OFF", " never "])
async def test_an_off_value_from_the_environment_schedules_no_warming(settings: Settings, off: str) -> None:
    from_env = Settings.from_env({"SECAPI_CACHE_WARM_CRON": off})
    keys = await _cron_keys_after_start(dataclasses.replace(settings, cache_warm_cron=from_env.cache_warm_cron))
    assert keys == []
