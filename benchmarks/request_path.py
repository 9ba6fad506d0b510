"""CPU per request of SecAPI's request path in process, without a server: how each change to the path moves it.

The app is driven as an ASGI callable by 100 concurrent tasks (real PostgreSQL and Redis, the same
50 business-tier keys and cached lockfile as `cache_hit.py`), and the process's CPU time is divided by
the requests served. No server, socket or wrk is involved, so this isolates SecAPI's own cost from
Granian's and is steadier than req/s when the machine is shared; `cache_hit.py` gives the served figures
and the targets. `--bare` drives the plain Litestar app of `bare_litestar.py` instead, for comparison.

Usage: uv run python benchmarks/request_path.py [live|hit] [--requests 4000] [--bare] [--profile cumtime]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _db import fresh_database  # noqa: E402
from bare_litestar import app_factory  # noqa: E402
from cache_hit import LOCKFILE, REDIS_URL, prepare  # noqa: E402

from secapi.config import Settings  # noqa: E402
from secapi.entrypoints.http.app import create_app, steady_gc  # noqa: E402

CONCURRENCY = 100


async def call(app: Any, method: str, path: str, body: bytes, key: str | None) -> int:
    """One request through the ASGI app; its status."""
    headers = [(b"host", b"bench"), (b"content-type", b"application/json")]
    if key:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    if body:
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "state": {}}  # fmt: skip
    delivered = False
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


async def drive(app: Any, method: str, path: str, body: bytes, keys: list[str], requests: int) -> float:
    """Serve `requests` requests from `CONCURRENCY` tasks; CPU µs per request."""
    issued = 0

    async def client(offset: int) -> None:
        nonlocal issued
        turn = offset
        while issued < requests:
            issued += 1
            status = await call(app, method, path, body, keys[turn % len(keys)] if keys else None)
            assert status == 200, status
            turn += 1

    started = time.process_time()
    await asyncio.gather(*(client(n) for n in range(CONCURRENCY)))
    return (time.process_time() - started) / requests * 1e6


async def main(endpoint: str, requests: int, bare: bool, profile: str | None) -> None:
    body = json.dumps({"filename": "requirements.txt", "content": LOCKFILE, "shared": True}).encode()
    async with fresh_database("secapi_bench_path") as url:
        keys = await prepare(url)
        if bare:
            app: Any = app_factory()
            request: tuple[str, str, bytes, list[str]] = ("GET", "/", b"", [])
        else:
            app = create_app(Settings.from_env({}, database_url=url, redis_url=REDIS_URL, log_level="WARNING"))
            request = ("GET", "/health/live", b"", []) if endpoint == "live" else (
                "POST", "/api/v1/scan/dependencies", body, keys)  # fmt: skip
        async with app.lifespan():
            steady_gc()
            await drive(app, *request, min(requests, 600))  # warm-up
            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            cpu = await drive(app, *request, requests)
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats(profile).print_stats(40)  # type: ignore[arg-type]
    label = "bare Litestar GET /" if bare else endpoint
    print(f"{label}: {cpu:.0f} µs CPU per request ({requests} requests, {CONCURRENCY} concurrent, in process)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("endpoint", nargs="?", choices=["live", "hit"], default="hit")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--bare", action="store_true")
    parser.add_argument("--profile", choices=["cumtime", "tottime"], default=None)
    args = parser.parse_args()
    uvloop.run(main(args.endpoint, args.requests, args.bare, args.profile))
