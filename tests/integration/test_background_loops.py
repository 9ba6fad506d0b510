"""One provided list of background work (`BackgroundWork`): `secapi worker` runs it, and so does the API process
on the embedded default; an API process with Redis leaves all but its shutdown steps to the workers."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from uuid import UUID

from secapi.adapters.sql.engine import create_engine
from secapi.adapters.sql.migrate import upgrade
from secapi.config import Settings
from secapi.entrypoints.background import BackgroundLoop, BackgroundProvider, BackgroundWork, ScheduledJob
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.worker import serve_worker
from secapi.ioc import make_container, provide_instance

from support.http import serve


def _running() -> set[str]:
    return {task.get_name() for task in asyncio.all_tasks() if not task.done()}


async def _loop_names(settings: Settings) -> set[str]:
    container = make_container(settings, BackgroundProvider())
    try:
        return {loop.name for loop in (await container.get(BackgroundWork)).loops}
    finally:
        await container.close()


class _Probe:
    """A `BackgroundWork` whose every entry notes that it ran."""

    def __init__(self) -> None:
        self.ran: set[str] = set()
        self.scans: list[UUID] = []

    def work(self) -> BackgroundWork:
        async def forever(name: str) -> None:
            self.ran.add(name)
            await asyncio.Event().wait()

        async def once(name: str) -> None:
            self.ran.add(name)

        async def scan_job(scan_id: UUID) -> None:
            self.scans.append(scan_id)

        return BackgroundWork(
            scan_job=scan_job,
            loops=(BackgroundLoop("probe-loop", lambda: forever("probe-loop")),),
            scheduled=(ScheduledJob("probe-schedule", "0 0 1 1 *", lambda: once("probe-schedule")),),
            on_stop=(BackgroundLoop("probe-stop", lambda: once("probe-stop")),),
        )


async def _migrated_sqlite(tmp_path: Path) -> Settings:
    settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path}/secapi.db")
    engine = create_engine(settings)
    await upgrade(engine)
    await engine.dispose()
    return settings


async def test_the_list_holds_the_consumers_loops_warming_and_archive_runs(tmp_path: Path) -> None:
    settings = await _migrated_sqlite(tmp_path)
    container = make_container(settings, BackgroundProvider())
    try:
        work = await container.get(BackgroundWork)
        assert work.names() == (
            "scan-consumer",
            "scan-sweeper",
            "reset-notifier",
            "watch-events",
            "warm-cache",
            "retention",
            "archive-runs",
        )
        assert [job.cron for job in work.scheduled] == [settings.cache_warm_schedule, settings.retention_schedule]
    finally:
        await container.close()
    container = make_container(dataclasses.replace(settings, cache_warm_cron="off"), BackgroundProvider())
    try:
        assert "warm-cache" not in (await container.get(BackgroundWork)).names()
    finally:
        await container.close()


async def test_the_api_process_and_the_worker_run_the_provided_list(tmp_path: Path, settings: Settings) -> None:
    embedded = _Probe()
    app = create_app(await _migrated_sqlite(tmp_path), provide_instance(BackgroundWork, embedded.work()))
    async with serve(app):
        await asyncio.sleep(0.05)
        assert {"probe-loop", "probe-schedule"} <= _running()  # the schedule waits for its next time
        assert embedded.ran == {"probe-loop"}
    assert embedded.ran == {"probe-loop", "probe-stop"}
    assert not {"probe-loop", "probe-schedule"} & _running()

    with_redis = _Probe()
    async with serve(create_app(settings, provide_instance(BackgroundWork, with_redis.work()))):
        await asyncio.sleep(0.05)
    assert with_redis.ran == {"probe-stop"}, "with Redis the workers run the rest; the archive runs stop here"

    worker = _Probe()
    stop = asyncio.Event()
    task = asyncio.create_task(serve_worker(settings, stop, provide_instance(BackgroundWork, worker.work())))
    try:
        for _ in range(100):
            if "probe-loop" in worker.ran:
                break
            await asyncio.sleep(0.02)
        assert worker.ran == {"probe-loop"}
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    assert worker.ran == {"probe-loop", "probe-stop"}


async def test_the_embedded_api_process_runs_the_loops_and_stops_them(tmp_path: Path) -> None:
    settings = await _migrated_sqlite(tmp_path)
    names = await _loop_names(settings)
    assert names == {"scan-sweeper", "reset-notifier", "watch-events"}
    app = create_app(settings)
    async with serve(app):
        await asyncio.sleep(0)
        assert names | {"warm-cache", "scan-consumer-0"} <= _running()
    assert not (names | {"warm-cache", "scan-consumer-0"}) & _running()


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
