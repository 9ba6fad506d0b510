"""Load test: start SecAPI on PostgreSQL + Redis, seed tenants and data, run Locust headless, write a report.

Usage: uv run python tests/load/run.py [--users 100] [--seconds 60] [--workers 2] [--report docs/load-test.md]
The report has throughput, latency percentiles per request type, failures, and the cache hit rate
from /api/v1/admin/cache/stats (target ≥ 60 %). Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _db import fresh_database  # noqa: E402

from secapi.config import Settings  # noqa: E402
from secapi.domain.services.accounts import AccountService  # noqa: E402
from secapi.domain.tiers import Tier  # noqa: E402
from secapi.entrypoints.vulndb import import_sample  # noqa: E402
from secapi.ioc import make_container  # noqa: E402

REDIS_URL = os.environ.get("SECAPI_LOAD_REDIS_URL", "redis://127.0.0.1:6379/10")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed(url: str, tenants: int) -> tuple[list[str], str]:
    """Tenants (business tier, so quotas are not what is measured) and an admin key."""
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    await redis.aclose()
    container = make_container(Settings.from_env({}, database_url=url, redis_url=REDIS_URL))
    try:
        await import_sample(container)
        async with container() as request:
            accounts = await request.get(AccountService)
            keys = [
                (await accounts.create_user(f"tenant{n}@load.test", Tier.BUSINESS))[1].secret for n in range(tenants)
            ]
            admin = (await accounts.create_user("admin@load.test", Tier.BUSINESS, is_admin=True))[1].secret
    finally:
        await container.close()
    return keys, admin


def stats_table(path: Path) -> list[str]:
    rows = list(csv.DictReader(path.open()))
    lines = ["| request | count | failures | req/s | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['Name']} | {row['Request Count']} | {row['Failure Count']} | {float(row['Requests/s']):.1f} "
            f"| {row['50%']} | {row['95%']} | {row['99%']} |"
        )
    return lines


async def main(users: int, seconds: int, workers: int, report: Path | None) -> int:
    async with fresh_database("secapi_load") as url:
        keys, admin = await seed(url, tenants=max(10, users // 5))
        port = free_port()
        env = {**os.environ, "SECAPI_DATABASE_URL": url, "SECAPI_REDIS_URL": REDIS_URL, "SECAPI_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "secapi.entrypoints.cli", "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"{base}/health/ready").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            with tempfile.TemporaryDirectory() as tmp:
                prefix = Path(tmp) / "locust"
                started = time.time()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "locust",
                        "-f",
                        str(Path(__file__).parent / "locustfile.py"),
                        "--headless",
                        "-u",
                        str(users),
                        "-r",
                        str(max(1, users // 10)),
                        "-t",
                        f"{seconds}s",
                        "--host",
                        base,
                        "--csv",
                        str(prefix),
                        "--only-summary",
                    ],
                    env={**os.environ, "SECAPI_LOAD_KEYS": ",".join(keys)},
                    check=False,
                    capture_output=True,
                    timeout=seconds + 120,
                )
                elapsed = time.time() - started
                table = stats_table(Path(f"{prefix}_stats.csv"))
            cache = httpx.get(f"{base}/api/v1/admin/cache/stats", headers={"Authorization": f"Bearer {admin}"}).json()
        finally:
            server.terminate()
            server.wait(timeout=30)
    hit_rate = cache["hit_rate"].get("dependencies", 0.0)
    lines = [
        f"Load test, {dt.date.today().isoformat()}: `uv run python tests/load/run.py --users {users} "
        f"--seconds {seconds} --workers {workers}`",
        "",
        f"Machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores; SecAPI with {workers} Granian "
        f"workers on PostgreSQL and Redis, Locust on the same machine; {users} simulated users for {elapsed:.0f} s.",
        "",
        *table,
        "",
        f"Cache: {cache['hits'].get('dependencies', 0)} hits, {cache['misses'].get('dependencies', 0)} misses, "
        f"hit rate {hit_rate:.1%} (target ≥ 60 %): {'PASS' if hit_rate >= 0.6 else 'FAIL'}",
    ]
    text = "\n".join(lines)
    print(text)
    if report is not None:
        report.write_text("# Load test\n\n" + text + "\n")
    return 0 if hit_rate >= 0.6 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.users, args.seconds, args.workers, args.report)))
