"""The last fully successful sync is stored with the data: a fresh process (the API, a restarted worker) exports it."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from secapi.adapters.sql.engine import create_engine
from secapi.adapters.sql.migrate import upgrade
from secapi.config import Settings
from secapi.domain.services.vulndb_sync import SyncStateStore, last_full_success
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import sync
from secapi.entrypoints.worker import serve_worker
from secapi.ioc import make_container

from support.http import serve
from support.metrics import parse_exposition, sample
from support.osv_bucket import Bucket, BucketServer, corrupt_zip, real_records

GAUGE = "secapi_vulndb_sync_last_success_timestamp_seconds"


@pytest.fixture
def server() -> Iterator[BucketServer]:
    with BucketServer(Bucket.of(real_records("pypa", "rustsec", "govulndb"))).running() as running:
        yield running


async def _scraped(settings: Settings) -> float | None:
    """The gauge as a brand-new API process (own container, own registry) exports it on its first scrape."""
    async with serve(create_app(settings)) as client:
        scrape = await client.get("/metrics")
        assert scrape.status_code == 200
        return sample(parse_exposition(scrape.text), GAUGE)


async def _sync_in_another_container(settings: Settings, *ecosystems: str) -> tuple[bool, float | None]:
    """Run a sync as a worker would, then forget that process: only the database keeps anything."""
    container = make_container(settings)
    try:
        report = await sync(container, list(ecosystems))
        stored = await last_full_success(await container.get(SyncStateStore))
        return bool(report.failed), None if stored is None else stored.timestamp()
    finally:
        await container.close()


async def _check_a_fresh_process_exports_the_stored_time(settings: Settings, server: BucketServer) -> None:
    synced = dataclasses.replace(settings, vulndb_source=server.url, cache_warm_top=0)
    assert await _scraped(synced) == 0  # never synced: 0, which the staleness alert reads as "no sync"

    failed, stored = await _sync_in_another_container(synced, "PyPI", "crates.io")
    assert not failed
    assert stored is not None
    assert await _scraped(synced) == stored

    # A later run in which one ecosystem fails (a first sync of Go from a corrupt zip) leaves it where it was.
    zip_path = "Go/all.zip"
    server.bucket.files[zip_path].body = corrupt_zip(server.bucket.files[zip_path].body)
    failed, after = await _sync_in_another_container(synced, "PyPI", "Go")
    assert failed
    assert after == stored
    assert await _scraped(synced) == stored


async def test_on_postgresql_a_new_api_process_exports_the_workers_last_full_sync(
    settings: Settings, server: BucketServer
) -> None:
    await _check_a_fresh_process_exports_the_stored_time(settings, server)


async def test_on_the_embedded_sqlite_database_too(tmp_path: Path, server: BucketServer) -> None:
    settings = Settings.from_env(
        {},
        database_url=f"sqlite+aiosqlite:///{tmp_path}/secapi.db",
        vulndb_epss_source="",
        vulndb_kev_source="",
        vulndb_sync_cron="off",
    )
    engine = create_engine(settings)
    await upgrade(engine)
    await engine.dispose()
    await _check_a_fresh_process_exports_the_stored_time(settings, server)


async def test_a_worker_started_after_the_sync_exports_it_from_its_own_metrics_port(
    settings: Settings, server: BucketServer
) -> None:
    synced = dataclasses.replace(settings, vulndb_source=server.url, cache_warm_top=0, cache_warm_cron="off")
    failed, stored = await _sync_in_another_container(synced, "PyPI")
    assert not failed
    assert stored is not None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    stop = asyncio.Event()
    task = asyncio.create_task(serve_worker(dataclasses.replace(synced, worker_metrics_port=port), stop))
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            scraped: httpx.Response | None = None
            for _ in range(50):
                try:
                    scraped = await client.get(f"http://127.0.0.1:{port}/metrics")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    assert scraped is not None, "the worker never served its metrics port"
    assert sample(parse_exposition(scraped.text), GAUGE) == stored
