"""Workers schedule `vulndb sync` from SECAPI_VULNDB_SYNC_CRON (off when empty); the job syncs under the lock."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest
from redis.asyncio import Redis

from secapi.adapters.redis.sync_lock import SYNC_LOCK_KEY
from secapi.config import Settings
from secapi.domain.ports import VulnerabilityStore
from secapi.entrypoints.vulndb import run_sync_job
from secapi.entrypoints.worker import serve_worker
from secapi.ioc import make_container

from support.osv_bucket import Bucket, BucketServer, real_records


async def _sync_cron_keys(settings: Settings) -> list[bytes]:
    stop = asyncio.Event()
    task = asyncio.create_task(serve_worker(dataclasses.replace(settings, cache_warm_cron="off"), stop))
    await asyncio.sleep(2.5)  # SAQ schedules cron jobs every second
    assert not task.done(), task.exception() if task.done() else None
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    redis = Redis.from_url(settings.redis_url or "")
    try:
        return [key async for key in redis.scan_iter(match="*cron:*sync_vulndb*")]
    finally:
        await redis.aclose()


async def test_the_sync_cron_schedules_one_unique_job(settings: Settings) -> None:
    assert await _sync_cron_keys(dataclasses.replace(settings, vulndb_sync_cron="* * * * *"))


@pytest.mark.parametrize("off", ["", "off"])
async def test_an_off_value_schedules_no_sync(settings: Settings, off: str) -> None:
    from_env = Settings.from_env({"SECAPI_VULNDB_SYNC_CRON": off})
    assert await _sync_cron_keys(dataclasses.replace(settings, vulndb_sync_cron=from_env.vulndb_sync_cron)) == []


async def test_the_job_syncs_and_a_second_while_the_lock_is_held_does_nothing(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with BucketServer(Bucket.of(real_records("pypa"))).running() as server:
        synced = dataclasses.replace(settings, vulndb_source=server.url, vulndb_ecosystems="PyPI", cache_warm_top=0)
        container = make_container(synced)
        redis = Redis.from_url(settings.redis_url or "")
        try:
            await redis.set(SYNC_LOCK_KEY, "another-worker", px=10_000)
            with caplog.at_level(logging.INFO):
                await run_sync_job(container)
            assert "another sync is running" in caplog.text
            assert server.requests == []
            await redis.delete(SYNC_LOCK_KEY)
            await run_sync_job(container)
            store = await container.get(VulnerabilityStore)
            assert (await store.current_version()).advisories == len(real_records("pypa"))
        finally:
            await redis.aclose()
            await container.close()
