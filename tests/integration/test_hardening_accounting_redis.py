"""Accounting across Redis losses: a flush, a restart, an outage, on a Redis this test starts and stops itself."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from httpx import AsyncClient
from litestar import Litestar
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from secapi.adapters.redis.scan_queue import SaqScanQueue, create_saq_queue
from secapi.config import Settings
from secapi.domain.tiers import Tier
from secapi.entrypoints.vulndb import import_sample

from support.registry import free_port
from support.seed import bearer, container_of, create_user

pytestmark = pytest.mark.integration


class PrivateRedis:
    """A redis-server on a free loopback port, started and stopped by the test (never the shared one)."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = SyncRedis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def api(app: Litestar, client: AsyncClient) -> tuple[AsyncClient, Litestar]:
    await import_sample(container_of(app))
    return client, app


def lockfile(n: int) -> dict[str, str]:
    return {"filename": "requirements.txt", "content": f"flask==2.2.{n}\n"}


def windows(body: dict[str, object]) -> dict[str, dict[str, int]]:
    items = body["windows"]
    assert isinstance(items, list)
    return {w["name"]: w for w in items}


async def test_usage_rebuilds_the_month_after_a_flush_before_answering(
    api: tuple[AsyncClient, Litestar], settings: Settings
) -> None:
    client, app = api
    _, key = await create_user(app, "flushed@example.com", Tier.FREE)
    for n in range(3):
        assert (await client.post("/api/v1/scan/dependencies", json=lockfile(n), headers=bearer(key))).is_success
    assert windows((await client.get("/api/v1/usage", headers=bearer(key))).json())["month"]["used"] == 3
    redis = Redis.from_url(settings.redis_url or "")
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()
    # Right after the flush, not a minute later: usage rebuilds the month from PostgreSQL first.
    assert windows((await client.get("/api/v1/usage", headers=bearer(key))).json())["month"]["used"] == 3


async def test_the_first_enqueue_after_a_redis_restart_reconnects(private_redis: PrivateRedis) -> None:
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
