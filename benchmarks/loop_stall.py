"""How long one big lockfile scan holds the event loop of the worker that runs it.

Starts the API under Granian (one worker, so the scan and the probes share its loop), sends one
requirements.txt of `--lines` pinned packages, and meanwhile polls `GET /health/live` every 10 ms on
another connection. Prints the probes' latencies during the scan: the maximum is the longest time
the loop could not answer. Lockfile scans are private (their cache key carries the tenant) and each
run uses a fresh database and user, so every run is a cache miss.

Usage: uv run python benchmarks/loop_stall.py [--lines 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _db import fresh_database  # noqa: E402

from secapi.config import Settings  # noqa: E402
from secapi.domain.services.accounts import AccountService  # noqa: E402
from secapi.domain.tiers import Tier  # noqa: E402
from secapi.entrypoints.vulndb import import_sample  # noqa: E402
from secapi.ioc import make_container  # noqa: E402

REDIS_URL = os.environ.get("SECAPI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
REAL = ("flask==2.2.4", "jinja2==3.1.2", "requests==2.30.0", "urllib3==1.26.0", "pyyaml==5.3")


def requirements(lines: int) -> str:
    """`lines` pins: a few packages with sample advisories, the rest distinct made-up names."""
    made_up = (f"package-{n}=={n % 97}.{n % 13}.{n % 7}" for n in range(lines - len(REAL)))
    return "\n".join((*REAL, *made_up)) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def create_key(url: str) -> str:
    container = make_container(Settings.from_env({}, database_url=url, redis_url=REDIS_URL))
    try:
        await import_sample(container)
        async with container() as request:
            _, issued = await (await request.get(AccountService)).create_user("stall@example.com", Tier.BUSINESS)
            return issued.secret
    finally:
        await container.close()


async def one_run(base: str, key: str, body: bytes) -> tuple[float, list[float], int]:
    """(scan seconds, probe latencies in ms during it, scan status)."""
    latencies: list[float] = []
    done = asyncio.Event()
    async with (
        httpx.AsyncClient(base_url=base, timeout=120) as probe,
        httpx.AsyncClient(base_url=base, timeout=120) as scanner,
    ):
        await probe.get("/health/live")  # connection open before the scan starts

        async def poll() -> None:
            while not done.is_set():
                started = time.perf_counter()
                response = await probe.get("/health/live")
                latencies.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
                await asyncio.sleep(0.01)

        poller = asyncio.create_task(poll())
        await asyncio.sleep(0.1)
        started = time.perf_counter()
        response = await scanner.post(
            "/api/v1/scan/dependencies",
            content=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Cache-Control": "no-cache"},
        )
        seconds = time.perf_counter() - started
        await asyncio.sleep(0.1)
        done.set()
        await poller
    return seconds, latencies, response.status_code


async def main(lines: int, runs: int) -> None:
    content = requirements(lines)
    body = json.dumps({"filename": "requirements.txt", "content": content}).encode()
    async with fresh_database("secapi_bench_stall") as url:
        key = await create_key(url)
        port = free_port()
        env = {**os.environ, "SECAPI_DATABASE_URL": url, "SECAPI_REDIS_URL": REDIS_URL, "SECAPI_LOG_LEVEL": "WARNING",
               "SECAPI_REQUEST_MAX_BODY_BYTES": str(max(len(body) + 1024, 10 * 1024 * 1024))}  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "secapi.entrypoints.cli", "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    if httpx.get(f"{base}/health/live").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python "
                  f"{platform.python_version()}; one Granian worker; {lines} lines, {len(body)} bytes of JSON")  # fmt: skip
            print("| run | scan status | scan s | probes | probe p50 ms | probe max ms |")
            print("|---|---|---|---|---|---|")
            for run in range(1, runs + 1):
                seconds, latencies, status = await one_run(base, key, body)
                latencies.sort()
                p50 = latencies[len(latencies) // 2]
                print(f"| {run} | {status} | {seconds:.2f} | {len(latencies)} | {p50:.1f} | {latencies[-1]:.1f} |")
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.lines, arguments.runs))
