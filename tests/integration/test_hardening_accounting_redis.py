"""Accounting across Redis losses: a flush, a restart, an outage, on a Redis this test starts and stops itself."""

from __future__ import annotations

import asyncio
import shutil
import signal
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
from secapi.domain.rate_limits import scan_windows
from secapi.domain.services.quotas import QuotaStore
from secapi.domain.tiers import Tier
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_sample

from support.http import serve
from support.registry import IN_CI, free_port
from support.seed import bearer, container_of, create_user

pytestmark = pytest.mark.integration


class PrivateRedis:
    """A redis-server on a free loopback port, started and stopped by the test (never the shared one)."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if IN_CI:
                pytest.fail("redis-server is not installed; .ci/run installs it", pytrace=False)
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


async def test_scans_during_an_outage_are_counted_and_replayed_when_redis_returns(
    settings: Settings, private_redis: PrivateRedis
) -> None:
    down_able = Settings.from_env(
        {}, **{**settings.__dict__, "redis_url": private_redis.url, "redis_timeout": 0.3, "usage_flush_interval": 0.05}
    )
    app = create_app(down_able)
    async with serve(app) as client:
        await import_sample(container_of(app))
        _, key = await create_user(app, "outage@example.com", Tier.FREE)
        for n in range(2):
            assert (await client.post("/api/v1/scan/dependencies", json=lockfile(n), headers=bearer(key))).is_success
        assert private_redis.process is not None
        private_redis.process.send_signal(signal.SIGSTOP)  # Redis stops answering, its data kept
        try:
            during = [
                await client.post("/api/v1/scan/dependencies", json=lockfile(10 + n), headers=bearer(key))
                for n in range(3)
            ]
        finally:
            private_redis.process.send_signal(signal.SIGCONT)
        assert [r.status_code for r in during] == [200, 200, 200]  # fail-open: admitted
        assert during[-1].headers["x-ratelimit-degraded"] == "minute,hour"  # what was not enforced
        assert during[-1].headers["x-ratelimit-limit"] == "100"  # the month, still enforced from PostgreSQL
        assert during[-1].headers["x-ratelimit-remaining"] == "95"
        await asyncio.sleep(0.5)  # clients reconnect
        after = await client.post("/api/v1/scan/dependencies", json=lockfile(20), headers=bearer(key))
        assert after.status_code == 200
        assert "x-ratelimit-degraded" not in after.headers
        used = {
            n: w["used"] for n, w in windows((await client.get("/api/v1/usage", headers=bearer(key))).json()).items()
        }
    # 2 before, 3 during (replayed into the hour, kept in the month), 1 after.
    assert (used["hour"], used["month"]) == (6, 6)


async def test_the_month_is_enforced_from_postgresql_while_redis_is_down(
    settings: Settings, private_redis: PrivateRedis
) -> None:
    down_able = Settings.from_env({}, **{**settings.__dict__, "redis_url": private_redis.url, "redis_timeout": 0.3})
    app = create_app(down_able)
    async with serve(app) as client:
        await import_sample(container_of(app))
        user, key = await create_user(app, "spent@example.com", Tier.FREE)
        async with container_of(app)() as request:
            store = await request.get(QuotaStore)
            month = scan_windows(Tier.FREE)[1]
            today = int(time.time() // (month.seconds // month.buckets))
            await store.increment(user.id, month.quota, today, month.limit)  # the month is spent
        private_redis.stop()
        refused = await client.post("/api/v1/scan/dependencies", json=lockfile(1), headers=bearer(key))
    assert refused.status_code == 429, refused.text
    assert refused.json()["violated-policies"] == ["month"]
