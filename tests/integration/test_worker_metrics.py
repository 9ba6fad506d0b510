"""`secapi worker` serves its own /metrics (it has no API): token enforced, shared state sampled at scrape."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import uuid
from datetime import UTC, datetime

import httpx

from secapi.config import Settings
from secapi.domain.model import Scan, ScanStatus, ScanType
from secapi.domain.ports import ScanRepository
from secapi.domain.scan_inputs import RegistryImageInput
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.worker import serve_worker

from support.metrics import parse_exposition, sample
from support.seed import container_of, create_user


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _queue_one_scan(settings: Settings) -> None:
    app = create_app(settings)
    user, _ = await create_user(app, "queued@example.com")
    async with container_of(app)() as request:
        await (await request.get(ScanRepository)).add(
            Scan(
                id=uuid.uuid4(),
                user_id=user.id,
                scan_type=ScanType.DOCKER,
                status=ScanStatus.QUEUED,
                input_data=RegistryImageInput(image="registry.test/waiting:1", platform="linux/amd64"),
                input_hash="0" * 64,
                created_at=datetime.now(UTC),
            )
        )
    await container_of(app).close()


async def test_the_worker_serves_metrics_behind_the_token(settings: Settings) -> None:
    port = _free_port()
    worker_settings = dataclasses.replace(settings, worker_metrics_port=port, metrics_token="w0rker")
    await _queue_one_scan(worker_settings)
    stop = asyncio.Event()
    task = asyncio.create_task(serve_worker(worker_settings, stop))
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        async with httpx.AsyncClient(timeout=10) as client:
            refused: httpx.Response | None = None
            for _ in range(50):
                try:
                    refused = await client.get(url)
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
            scraped = await client.get(url, headers={"Authorization": "Bearer w0rker"})
            elsewhere = await client.get(f"http://127.0.0.1:{port}/", headers={"Authorization": "Bearer w0rker"})
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    assert refused is not None, "the worker never served its metrics port"
    assert refused.status_code == 401
    assert scraped.status_code == 200
    assert elsewhere.status_code == 404
    samples = parse_exposition(scraped.text)
    assert sample(samples, "secapi_dependency_up", dependency="redis") == 1
    assert sample(samples, "secapi_dependency_up", dependency="database") == 1
    assert sample(samples, "secapi_scan_queue_depth") == 1
    assert sample(samples, "secapi_cache_hits_total", scan_type="docker") == 0
    assert sample(samples, "secapi_db_pool_size") == 5
