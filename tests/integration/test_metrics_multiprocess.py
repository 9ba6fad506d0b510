"""`secapi serve --workers 2`: whichever worker answers a scrape reports the instance's totals."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.adapters.sql.migrate import upgrade
from secapi.config import Settings
from secapi.domain.services.accounts import AccountService
from secapi.domain.tiers import Tier
from secapi.ioc import make_container

from support.metrics import parse_exposition, sample
from support.server import secapi_server

REQUESTS = 120


async def _prepare(database_url: str) -> str:
    """Migrate the database and issue a business-tier key (2,000 requests a minute)."""
    container = make_container(Settings.from_env({}, database_url=database_url))
    try:
        await upgrade(await container.get(AsyncEngine))
        async with container() as request:
            _, issued = await (await request.get(AccountService)).create_user("mp@example.com", Tier.BUSINESS)
    finally:
        await container.close()
    return issued.secret


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """A two-worker server on the embedded SQLite default, metrics files in a directory the test can inspect."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left by an earlier run")
    database_url = f"sqlite+aiosqlite:///{tmp_path}/secapi.db"
    key = asyncio.run(_prepare(database_url))
    env = {
        **os.environ,
        "SECAPI_DATABASE_URL": database_url,
        "SECAPI_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    env.pop("SECAPI_REDIS_URL", None)
    with secapi_server(env, workers=2) as base:
        yield base, key, metrics_dir


def test_counters_are_summed_across_two_worker_processes(server: tuple[str, str, Path]) -> None:
    base, key, metrics_dir = server
    assert not (metrics_dir / "counter_999999.db").exists()  # the run started from a wiped directory

    def list_scans(_: int) -> int:
        # A fresh connection each time, so the kernel spreads them over both workers' accept queues.
        return httpx.get(f"{base}/api/v1/scans", headers={"Authorization": f"Bearer {key}"}, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(list_scans, range(REQUESTS))) == {200}
    writers = {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
    assert len(writers) == 2, f"both workers should have served requests: {sorted(writers)}"

    for _ in range(6):  # several scrapes, served by either worker: always the instance's total
        scrape = httpx.get(f"{base}/metrics", timeout=10)
        samples = parse_exposition(scrape.text)
        route = "/api/v1/scans"
        assert sample(samples, "secapi_http_requests_total", method="GET", route=route, status="200") == REQUESTS
        assert sample(samples, "secapi_http_request_duration_seconds_count", method="GET", route=route) == REQUESTS
        assert sample(samples, "secapi_http_requests_in_flight") == 1  # livesum: only this scrape, in one worker
        assert sample(samples, "secapi_db_pool_size") == 2 * 5  # livesum of both workers' pools (SQLite default)
        assert sample(samples, "secapi_dependency_up", dependency="database") == 1
