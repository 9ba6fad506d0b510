"""`secapi worker` as a real process: SIGTERM finishes or hands back running scans within the grace period."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from secapi.config import Settings
from secapi.domain.model import Scan, ScanStatus, ScanType
from secapi.domain.ports import ScanQueue, ScanRepository
from secapi.domain.scan_inputs import RegistryImageInput
from secapi.domain.services.accounts import AccountService
from secapi.domain.tiers import Tier
from secapi.ioc import make_container

GRACE = 4.0
MARGIN = 3.0  # process teardown after the grace period: closing pools, interpreter exit


class SlowRegistry:
    """A registry that takes `delay` seconds to say an image does not exist, and counts manifest requests."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.manifest_requests = 0
        self.released = threading.Event()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v2":
                    self._answer(200, b"{}")
                    return
                registry.manifest_requests += 1
                registry.released.wait(registry.delay)
                self._answer(404, b'{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}')

            def do_HEAD(self) -> None:
                self.do_GET()

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host_port = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_registry() -> Iterator[SlowRegistry]:
    registry = SlowRegistry()
    yield registry
    registry.close()


def _env(settings: Settings, registry: SlowRegistry, grace: float) -> dict[str, str]:
    return {
        **os.environ,
        "SECAPI_DATABASE_URL": settings.database_url,
        "SECAPI_REDIS_URL": settings.redis_url or "",
        "SECAPI_REGISTRY_ALLOWLIST": registry.host_port,
        "SECAPI_REGISTRY_INSECURE": registry.host_port,
        "SECAPI_REGISTRY_RETRIES": "0",
        "SECAPI_WORKER_GRACE_SECONDS": str(grace),
        "SECAPI_METRICS_ENABLED": "false",
    }


def _start_worker(settings: Settings, registry: SlowRegistry, grace: float, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "secapi.entrypoints.cli", "worker"],
            env=_env(settings, registry, grace),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
async def queued_scan(settings: Settings, slow_registry: SlowRegistry) -> AsyncIterator[tuple[uuid.UUID, object]]:
    """A queued image scan of an image on the slow registry, its job on Redis; yields (id, container)."""
    container = make_container(settings)
    async with container() as request:
        user, _ = await (await request.get(AccountService)).create_user("slow@example.com", Tier.PRO)
        scan = Scan(
            id=uuid.uuid4(),
            user_id=user.id,
            scan_type=ScanType.DOCKER,
            status=ScanStatus.QUEUED,
            input_data=RegistryImageInput(image=f"{slow_registry.host_port}/slow/app:1", platform="linux/amd64"),
            input_hash="5" * 64,
            created_at=datetime.now(UTC),
        )
        await (await request.get(ScanRepository)).add(scan)
    await (await container.get(ScanQueue)).enqueue(scan.id)
    yield scan.id, container
    await container.close()


async def _status(container: object, scan_id: uuid.UUID) -> ScanStatus:
    async with container() as request:  # type: ignore[operator]
        scan = await (await request.get(ScanRepository)).get(scan_id)
    assert scan is not None
    return scan.status


async def _wait_for(predicate: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def _terminate_and_time(process: subprocess.Popen[bytes], limit: float, log: Path) -> float:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=limit + 10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"secapi worker ignored SIGTERM for {limit + 10} s:\n{log.read_text()[-3000:]}")
    return time.monotonic() - started


async def test_sigterm_hands_an_unfinished_scan_back_and_another_worker_takes_it_at_once(
    settings: Settings, slow_registry: SlowRegistry, queued_scan: tuple[uuid.UUID, object], tmp_path: Path
) -> None:
    scan_id, container = queued_scan
    slow_registry.delay = 120.0  # the scan cannot finish within the grace period
    log = tmp_path / "worker.log"
    first = _start_worker(settings, slow_registry, GRACE, log)
    try:

        async def scanning() -> bool:
            return slow_registry.manifest_requests > 0 and await _status(container, scan_id) is ScanStatus.RUNNING

        await _wait_for(scanning, 30, "the worker to start the scan")
        took = _terminate_and_time(first, GRACE + MARGIN, log)
    finally:
        if first.poll() is None:
            first.kill()
    assert took <= GRACE + MARGIN, f"exited {took:.1f} s after SIGTERM (grace {GRACE} s):\n{log.read_text()[-3000:]}"
    assert first.returncode == 0, log.read_text()[-3000:]
    assert await _status(container, scan_id) is ScanStatus.QUEUED, log.read_text()[-3000:]
    async with container() as request:  # type: ignore[operator]
        handed_back = await (await request.get(ScanRepository)).get(scan_id)
    assert handed_back is not None
    assert handed_back.attempts == 0  # being stopped did not use up one of the scan's attempts

    # The job went back on Redis: a fresh worker finishes it now, long before any lease or sweep would.
    slow_registry.delay = 0.0
    slow_registry.released.set()
    second = _start_worker(settings, slow_registry, GRACE, log)
    try:

        async def finished() -> bool:
            return await _status(container, scan_id) in (ScanStatus.COMPLETED, ScanStatus.FAILED)

        await _wait_for(finished, 20, "a second worker to take the handed-back scan")
    finally:
        _terminate_and_time(second, GRACE + MARGIN, log)


async def test_sigterm_lets_a_scan_that_ends_within_the_grace_period_finish(
    settings: Settings, slow_registry: SlowRegistry, queued_scan: tuple[uuid.UUID, object], tmp_path: Path
) -> None:
    scan_id, container = queued_scan
    slow_registry.delay = 2.0  # answers within the grace period
    log = tmp_path / "worker.log"
    worker = _start_worker(settings, slow_registry, 15.0, log)
    try:

        async def requested() -> bool:
            return slow_registry.manifest_requests > 0

        await _wait_for(requested, 30, "the worker to start the scan")
        took = _terminate_and_time(worker, 15.0, log)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, log.read_text()[-3000:]
    assert took < 2.0 + MARGIN + 2, f"waited {took:.1f} s although the scan ended after 2 s"
    assert await _status(container, scan_id) is ScanStatus.FAILED, log.read_text()[-3000:]  # the image is unknown
