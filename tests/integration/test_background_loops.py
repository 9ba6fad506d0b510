"""One list of background loops: `secapi worker` runs it, and so does the API process on the embedded default;
an API process with Redis leaves it to the workers."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from secapi.adapters.sql.engine import create_engine
from secapi.adapters.sql.migrate import upgrade
from secapi.config import Settings
from secapi.entrypoints.background import background_loops
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.worker import serve_worker
from secapi.ioc import make_container

from support.http import serve


def _running() -> set[str]:
    return {task.get_name() for task in asyncio.all_tasks() if not task.done()}


async def _loop_names(settings: Settings) -> set[str]:
    container = make_container(settings)
    try:
        return {loop.name for loop in await background_loops(container)}
    finally:
        await container.close()


async def test_the_embedded_api_process_runs_the_loops_and_stops_them(tmp_path: Path) -> None:
    settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path}/secapi.db")
    engine = create_engine(settings)
    await upgrade(engine)
    await engine.dispose()
    names = await _loop_names(settings)
    assert names == {"scan-sweeper", "reset-notifier", "watch-events"}
    app = create_app(settings)
    async with serve(app):
        await asyncio.sleep(0)
        assert names <= _running()
    assert not names & _running()


async def test_the_worker_runs_the_same_loops_and_an_api_process_with_redis_none(settings: Settings) -> None:
    names = await _loop_names(settings)
    async with serve(create_app(settings)):
        await asyncio.sleep(0)
        assert not names & _running(), "with Redis, the workers run the loops"
    stop = asyncio.Event()
    worker = asyncio.create_task(serve_worker(dataclasses.replace(settings, cache_warm_cron="off"), stop))
    try:
        for _ in range(100):
            if names <= _running():
                break
            await asyncio.sleep(0.02)
        assert names <= _running()
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=30)
    assert not names & _running()
