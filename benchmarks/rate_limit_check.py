"""Rate-limit check latency: `check_rate_limit` on real Redis (one EVALSHA) and in memory (target: server p99 < 1 ms).

Usage: uv run python benchmarks/rate_limit_check.py [--url redis://127.0.0.1:6379/14] [--calls 20000]
       [--concurrency 50] [--users 1000] [--tier business]

The Redis database in --url is flushed first. "Server" figures come from Redis's own per-command latency
histogram (LATENCY HISTOGRAM evalsha, power-of-two buckets, so percentiles are upper bounds) and
commandstats, diffed around each run; other clients' EVALSHA calls at the same time would be counted too.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

from redis.asyncio import Redis

from secapi.adapters.memory.rate_limiter import InMemoryRateLimiter
from secapi.adapters.redis.client import create_redis
from secapi.adapters.redis.rate_limiter import RedisRateLimiter
from secapi.domain.clock import SystemClock
from secapi.domain.rate_limits import RateLimitResult
from secapi.domain.tiers import Tier

TARGET_SERVER_P99_US = 1000.0

Check = Callable[[UUID, Tier, str], Awaitable[RateLimitResult]]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def sequential(check: Check, users: list[UUID], tier: Tier, calls: int) -> tuple[list[float], float, int]:
    """Per-call latencies (µs), wall seconds, and how many were admitted, one call at a time."""
    latencies, admitted = [], 0
    started = time.perf_counter()
    for n in range(calls):
        before = time.perf_counter()
        admitted += (await check(users[n % len(users)], tier, "/api/v1/scans")).allowed
        latencies.append((time.perf_counter() - before) * 1e6)
    return latencies, time.perf_counter() - started, admitted


async def concurrent(
    check: Check, users: list[UUID], tier: Tier, calls: int, tasks: int
) -> tuple[list[float], float, int]:
    """The same, with `tasks` coroutines calling at once (each a connection of its own from the pool)."""
    latencies: list[float] = []
    admitted = 0

    async def worker(offset: int) -> None:
        nonlocal admitted
        for n in range(offset, calls, tasks):
            before = time.perf_counter()
            result = await check(users[n % len(users)], tier, "/api/v1/scans")
            latencies.append((time.perf_counter() - before) * 1e6)
            admitted += result.allowed  # after the await: `x += await f()` reads x before suspending

    started = time.perf_counter()
    await asyncio.gather(*(worker(t) for t in range(tasks)))
    return latencies, time.perf_counter() - started, admitted


async def ping_baseline(redis: Redis, calls: int) -> tuple[list[float], float]:
    """The client's floor: PING latencies (µs) on the same connection pool, and wall seconds."""
    latencies = []
    started = time.perf_counter()
    for _ in range(calls):
        before = time.perf_counter()
        await redis.ping()
        latencies.append((time.perf_counter() - before) * 1e6)
    return latencies, time.perf_counter() - started


async def server_stats(redis: Redis) -> tuple[dict[int, int], int, int]:
    """EVALSHA's cumulative latency histogram (µs upper bound → calls), calls and total µs so far."""
    reply: Any = await redis.execute_command("LATENCY", "HISTOGRAM", "evalsha")  # type: ignore[no-untyped-call]
    histogram = {int(k): int(v) for k, v in reply.get(b"evalsha", {}).get(b"histogram_usec", {}).items()}
    stats = (await redis.info("commandstats")).get("cmdstat_evalsha", {"calls": 0, "usec": 0})
    return histogram, int(stats["calls"]), int(stats["usec"])


def server_summary(before: tuple[dict[int, int], int, int], after: tuple[dict[int, int], int, int]) -> dict[str, float]:
    """p50/p99 upper bounds and the exact mean of the EVALSHA calls between two snapshots."""
    bounds = sorted(after[0])

    def earlier(bound: int) -> int:
        # Redis lists only the bounds it has seen; below a bound, the cumulative count is the last one listed.
        return max((c for b, c in before[0].items() if b <= bound), default=0)

    cumulative = [after[0][b] - earlier(b) for b in bounds]
    calls, usec = after[1] - before[1], after[2] - before[2]
    total = cumulative[-1] if cumulative else 0

    def upper(q: float) -> float:
        return float(next((b for b, c in zip(bounds, cumulative, strict=True) if c >= q * total), float("nan")))

    return {"calls": calls, "p50": upper(0.5), "p99": upper(0.99), "mean": usec / calls if calls else float("nan")}


def row(name: str, latencies: list[float], seconds: float, admitted: int | str, server: dict[str, float] | None) -> str:
    serverside = f"≤ {server['p50']:.0f} | ≤ {server['p99']:.0f} | {server['mean']:.1f}" if server else "– | – | –"
    return (
        f"| {name} | {len(latencies)} | {admitted} | {statistics.median(latencies):.0f} | {pct(latencies, 0.99):.0f} "
        f"| {statistics.fmean(latencies):.0f} | {len(latencies) / seconds:,.0f} | {serverside} |"
    )


async def main(url: str, calls: int, tasks: int, user_count: int, tier: Tier) -> int:
    clock = SystemClock()
    users = [uuid4() for _ in range(user_count)]
    redis = create_redis(url, timeout=5.0)
    rows, server_p99 = [], 0.0
    try:
        await redis.flushdb()
        limiter = RedisRateLimiter(redis, clock)
        await sequential(limiter.check_rate_limit, users, tier, 500)  # load the script, open connections
        await redis.flushdb()
        runs: list[tuple[str, Callable[[], Awaitable[tuple[list[float], float, int]]]]] = [
            ("redis, sequential", lambda: sequential(limiter.check_rate_limit, users, tier, calls)),
            (f"redis, {tasks} tasks", lambda: concurrent(limiter.check_rate_limit, users, tier, calls, tasks)),
        ]
        for name, run in runs:
            before = await server_stats(redis)
            latencies, seconds, admitted = await run()
            server = server_summary(before, await server_stats(redis))
            server_p99 = max(server_p99, server["p99"])
            rows.append(row(name, latencies, seconds, admitted, server))
            await redis.flushdb()
        latencies, seconds = await ping_baseline(redis, calls)
        rows.append(row("redis PING, sequential (client floor)", latencies, seconds, "–", None))
    finally:
        await redis.aclose()
    memory = InMemoryRateLimiter(clock)
    latencies, seconds, admitted = await sequential(memory.check_rate_limit, users, tier, calls)
    rows.append(row("memory, sequential", latencies, seconds, admitted, None))
    memory = InMemoryRateLimiter(clock)  # a fresh one, as Redis is flushed between runs
    latencies, seconds, admitted = await concurrent(memory.check_rate_limit, users, tier, calls, tasks)
    rows.append(row(f"memory, {tasks} tasks", latencies, seconds, admitted, None))

    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}; redis: {url}")
    print(f"{calls} check_rate_limit calls per run over {user_count} {tier.value}-tier users")
    print()
    print(
        "| run | calls | admitted | client p50 µs | client p99 µs | client mean µs | calls/s "
        "| server p50 µs | server p99 µs | server mean µs |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    ok = server_p99 < TARGET_SERVER_P99_US
    print(f"\ntarget: server-side p99 < {TARGET_SERVER_P99_US:.0f} µs: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="redis://127.0.0.1:6379/14", help="Redis URL; its database is flushed")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--tier", type=Tier, default=Tier.BUSINESS, choices=list(Tier))
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.url, args.calls, args.concurrency, args.users, args.tier)))
