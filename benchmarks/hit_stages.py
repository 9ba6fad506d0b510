"""Where a cache hit's wall time goes when the service is idle: each await of the hit timed, one request at a time.

The load runs found a tail on requests answered without a scan even at low rates (p99 ~100 ms at
12.7 req/s) although a hit costs well under a millisecond of CPU. This drives the app in process
(real PostgreSQL and Redis, the business-tier keys and shared lockfile of `cache_hit.py`), sends
one hit at a time with a pause between (an idle service, as at a low request rate), and wraps the
hit's stages and the drivers' round trips with timers. It prints, per stage, how many calls a hit
makes and the p50/p99/max of the time spent in them per hit, next to the hit's own wall time.

`--misses R` adds, in the same process and loop, R scans per second of new two-line lockfiles (cache misses
matched inline, as the load scenario's "scan lockfile new") and reports the event loop's lag beside
the hits: how long a ready callback waited for the loop.

Usage: uv run python benchmarks/hit_stages.py [--requests 400] [--gap-ms 20] [--misses 0] [--profile cumtime]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import json
import pstats
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from redis.asyncio.client import Pipeline, Redis
from sqlalchemy.ext.asyncio import AsyncSession

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _db import fresh_database  # noqa: E402
from cache_hit import LOCKFILE, REDIS_URL, prepare  # noqa: E402
from request_path import call  # noqa: E402

from secapi.adapters.sql.usage import SqlScanWriter  # noqa: E402
from secapi.config import Settings  # noqa: E402
from secapi.domain.services.authentication import Authenticator  # noqa: E402
from secapi.domain.services.quotas import QuotaService  # noqa: E402
from secapi.domain.services.result_cache import ResultCache  # noqa: E402
from secapi.domain.services.scan_recorder import ScanRecorder  # noqa: E402
from secapi.entrypoints.http.app import create_app, steady_gc  # noqa: E402

STAGES: list[tuple[str, Any, str]] = [
    ("authenticate", Authenticator, "authenticate"),
    ("quota: check request", QuotaService, "check_request"),
    ("quota: scan state", QuotaService, "scan_state"),
    ("cache: version", ResultCache, "current_version"),
    ("cache: popular touch", ResultCache, "touch"),
    ("cache: lookup", ResultCache, "lookup"),
    ("scan row: record (durable)", ScanRecorder, "record_scan"),
    ("scan row: SQL write", SqlScanWriter, "_write"),
    ("driver: Redis command", Redis, "execute_command"),
    ("driver: Redis pipeline", Pipeline, "execute"),
    ("driver: SQLAlchemy execute", AsyncSession, "execute"),
    ("driver: SQLAlchemy commit", AsyncSession, "commit"),
    ("driver: asyncpg COPY", asyncpg.Connection, "copy_records_to_table"),
    ("driver: asyncpg execute", asyncpg.Connection, "execute"),
    ("driver: asyncpg fetchrow (pre-ping)", asyncpg.Connection, "fetchrow"),
]

spent: dict[str, float] = defaultdict(float)
calls: dict[str, int] = defaultdict(int)


def timed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started
            calls[name] += 1

    return wrapper


def instrument() -> None:
    for name, owner, attribute in STAGES:
        setattr(owner, attribute, timed(name, getattr(owner, attribute)))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def send_misses(app: Any, keys: list[str], per_second: float, latencies: list[float]) -> None:
    """New lockfiles (misses, matched inline) at a steady rate until cancelled."""
    n = 0
    while True:
        content = f"pkg-{random.randrange(10**9)}==1.0\nflask==2.2.{n % 5}\n"
        body = json.dumps({"filename": "requirements.txt", "content": content}).encode()
        started = time.perf_counter()
        status = await call(app, "POST", "/api/v1/scan/dependencies", body, keys[n % len(keys)])
        latencies.append(time.perf_counter() - started)
        assert status == 200, status
        n += 1
        await asyncio.sleep(max(0.0, 1 / per_second - (time.perf_counter() - started)))


async def watch_lag(lags: list[float]) -> None:
    """The loop's lag: how late a 1 ms sleep wakes up."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - started - 0.001)


async def main(requests: int, gap_ms: float, misses: float, profile: str | None) -> None:
    body = json.dumps({"filename": "requirements.txt", "content": LOCKFILE, "shared": True}).encode()
    async with fresh_database("secapi_bench_stages") as url:
        keys = await prepare(url)
        app = create_app(Settings.from_env({}, database_url=url, redis_url=REDIS_URL, log_level="WARNING"))
        async with app.lifespan():
            steady_gc()
            for n in range(200):  # warm-up: the first scan fills the cache, the rest are hits
                await call(app, "POST", "/api/v1/scan/dependencies", body, keys[n % len(keys)])
            instrument()
            miss_latencies: list[float] = []
            lags: list[float] = []
            background = [asyncio.ensure_future(watch_lag(lags))]
            if misses:
                background.append(asyncio.ensure_future(send_misses(app, keys, misses, miss_latencies)))
            walls: list[float] = []
            per_stage: dict[str, list[float]] = defaultdict(list)
            per_calls: dict[str, int] = defaultdict(int)
            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            for n in range(requests):
                spent.clear()
                calls.clear()
                cpu = time.process_time()
                loop_cpu = time.thread_time()
                started = time.perf_counter()
                status = await call(app, "POST", "/api/v1/scan/dependencies", body, keys[n % len(keys)])
                walls.append(time.perf_counter() - started)
                per_stage["(process CPU during the hit)"].append(time.process_time() - cpu)
                per_stage["(event loop thread CPU during the hit)"].append(time.thread_time() - loop_cpu)
                assert status == 200, status
                for name, _, _ in STAGES:
                    per_stage[name].append(spent.get(name, 0.0))
                    per_calls[name] += calls.get(name, 0)
                await asyncio.sleep(gap_ms / 1000)
            for task in background:
                task.cancel()
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats(profile).print_stats(45)  # type: ignore[arg-type]
    print(f"{requests} cache hits one at a time, {gap_ms:g} ms apart, in process (real PostgreSQL and Redis), "
          f"{misses:g} lockfile misses per second beside them\n")  # fmt: skip
    print("| stage | calls per hit | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    print(
        f"| **the hit (wall)** | | {pct(walls, 0.5) * 1e3:.2f} | {pct(walls, 0.99) * 1e3:.2f} | {max(walls) * 1e3:.2f} |"
    )
    for name, values in per_stage.items():
        count = per_calls.get(name, requests) / requests
        print(f"| {name} | {count:.2f} | {pct(values, 0.5) * 1e3:.2f} | {pct(values, 0.99) * 1e3:.2f} | "
              f"{max(values) * 1e3:.2f} |")  # fmt: skip
    print(f"| (event loop lag, {len(lags)} samples) | | {pct(lags, 0.5) * 1e3:.2f} | {pct(lags, 0.99) * 1e3:.2f} | "
          f"{max(lags) * 1e3:.2f} |")  # fmt: skip
    if miss_latencies:
        print(f"| (a lockfile miss, {len(miss_latencies)}) | | {pct(miss_latencies, 0.5) * 1e3:.2f} | "
              f"{pct(miss_latencies, 0.99) * 1e3:.2f} | {max(miss_latencies) * 1e3:.2f} |")  # fmt: skip
    print(f"\nmean wall {statistics.fmean(walls) * 1e3:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--gap-ms", type=float, default=20.0)
    parser.add_argument("--misses", type=float, default=0.0, help="lockfile misses per second beside the hits")
    parser.add_argument("--profile", choices=["cumtime", "tottime"], default=None)
    args = parser.parse_args()
    uvloop.run(main(args.requests, args.gap_ms, args.misses, args.profile))
