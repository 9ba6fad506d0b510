"""SecAPI's request path against a plain Litestar app, measured side by side in one run (issue 15 point 6).

Three servers' worth of numbers from one run on this machine, each server pinned to CPU 0 and wrk
(`-t1`, 100 connections) to CPU 1:
- the yardstick: a plain Litestar app answering `{"status": "ok"}` (`bare_litestar.py`), served by
  Granian exactly as SecAPI is (one worker, uvloop, no access log);
- SecAPI's `GET /health/live`: the same small answer through SecAPI's app (middleware, DI, metrics);
- a cache-hit lockfile scan (`POST /api/v1/scan/dependencies`), rotating over 50 business-tier keys so
  the per-minute quota is not what is measured, with PostgreSQL and Redis on loopback.

Targets (same run): `/health/live` ≥ 0.7× the bare app's req/s; the cache hit ≥ 0.25×; p99 ≤ 3× p50
for both. The server's own CPU time per request (from /proc) is printed too: unlike req/s it does not
move when the VM's neighbours steal time.

`--metrics on` (the default) serves SecAPI as deployed, with Prometheus metrics; `off` uses the no-op
sink; `both` runs SecAPI twice and reports the metrics overhead.

Usage: uv run python benchmarks/cache_hit.py [--seconds 10] [--connections 100] [--metrics on|off|both]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import httpx
from redis.asyncio import Redis

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _db import fresh_database  # noqa: E402
from bare_litestar import FLOOR_BLOB_PREFIX  # noqa: E402

from secapi.config import Settings  # noqa: E402
from secapi.domain.services.accounts import AccountService  # noqa: E402
from secapi.domain.tiers import Tier  # noqa: E402
from secapi.entrypoints.vulndb import import_sample  # noqa: E402
from secapi.ioc import make_container  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/12"
LOCKFILE = "flask==2.2.4\njinja2==3.1.2\nrequests==2.30.0\nurllib3==1.26.0\npyyaml==5.3\n"
WRK_SCRIPT = """
keys = {%s}
counter = 0
request = function()
  counter = counter + 1
  local key = keys[(counter %% #keys) + 1]
  return wrk.format("%s", "%s", {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, %s)
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system, all threads) of `root` and its descendants: the server and its worker.

    Unlike req/s, CPU per request does not move when the VM's neighbours steal time from us.
    """
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(times.get(pid, 0.0) for pid in tree)


class Run(NamedTuple):
    """One wrk run against one endpoint."""

    rps: float
    p50: float
    p99: float
    cpu_us: float
    """Server CPU (user + system, its whole process tree) per request, in µs."""


def _ms(out: str, percentile: str) -> float:
    found = re.search(rf"\s{percentile}%\s+([\d.]+)(us|ms|s)\b", out)
    assert found is not None, out
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]


def run_wrk(url: str, script: Path, seconds: int, connections: int, server_pid: int) -> Run:
    cpu_before = tree_cpu_seconds(server_pid)
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = tree_cpu_seconds(server_pid) - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        print(f"warning: {non2xx.group(1)} non-2xx responses from {url}")
    errors = re.search(r"Socket errors: (.*)", out)
    if errors:  # requests that never completed are missing from the latency figures: say so
        print(f"warning: socket errors from {url}: {errors.group(1)}")
    return Run(rps, _ms(out, "50"), _ms(out, "99"), cpu / (rps * seconds) * 1e6)


def start(
    command: list[str], env: dict[str, str], health: str, cwd: Path | None = None, method: str = "GET", body: str = ""
) -> subprocess.Popen[bytes]:
    """Start a server pinned to CPU 0 and wait until `health` answers 200 (to `method` with `body`)."""
    server = subprocess.Popen(
        ["taskset", "-c", "0", *command],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so a stuck worker process can be killed with it
    )
    for _ in range(150):
        try:
            if httpx.request(method, health, content=body or None).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(server)
    raise SystemExit(f"{command} did not answer {health}")


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        print("warning: a server did not stop within 30 s of SIGTERM; killed it")
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


async def prepare(url: str) -> list[str]:
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    await redis.aclose()
    settings = Settings.from_env({}, database_url=url, redis_url=REDIS_URL)
    container = make_container(settings)
    try:
        await import_sample(container)
        keys = []
        async with container() as request:
            accounts = await request.get(AccountService)
            for n in range(50):
                _, issued = await accounts.create_user(f"bench{n}@example.com", Tier.BUSINESS)
                keys.append(issued.secret)
    finally:
        await container.close()
    return keys


def measure_bare(tmp: Path, seconds: int, connections: int) -> Run:
    """The plain Litestar app, served like SecAPI, on the same core."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    server = start([sys.executable, str(HERE / "bare_litestar.py"), "--port", str(port)], env,
                   f"http://127.0.0.1:{port}/", cwd=HERE)  # fmt: skip
    try:
        script = tmp / "bare.lua"
        script.write_text(WRK_SCRIPT % ('"none"', "GET", "/", "nil"))
        base = f"http://127.0.0.1:{port}"
        run_wrk(base, script, 2, connections, server.pid)  # warm-up
        return run_wrk(base, script, seconds, connections, server.pid)
    finally:
        stop(server)


async def _store_floor_answer(body: str, answer: bytes) -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.set(FLOOR_BLOB_PREFIX + hashlib.sha256(body.encode()).hexdigest(), answer)
    finally:
        await redis.aclose()


def measure_floor(tmp: Path, keys: list[str], seconds: int, connections: int) -> Run:
    """The least a Litestar + redis-py cache hit does (`bare_litestar.py --app floor`), on the same core.
    Its answer must be stored first (`_store_floor_answer`)."""
    body = json.dumps({"filename": "requirements.txt", "content": LOCKFILE, "shared": True})
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(HERE), "FLOOR_REDIS_URL": REDIS_URL}
    base = f"http://127.0.0.1:{port}"
    server = start([sys.executable, str(HERE / "bare_litestar.py"), "--port", str(port), "--app", "floor"], env,
                   f"{base}/floor", cwd=HERE, method="POST", body=body)  # fmt: skip
    try:
        script = tmp / "floor.lua"
        script.write_text(WRK_SCRIPT % (", ".join(json.dumps(k) for k in keys), "POST", "/floor", json.dumps(body)))
        run_wrk(base, script, 2, connections, server.pid)  # warm-up
        return run_wrk(base, script, seconds, connections, server.pid)
    finally:
        stop(server)


def measure_secapi(
    url: str, keys: list[str], tmp: Path, *, metrics: bool, seconds: int, connections: int
) -> tuple[dict[str, Run], bytes]:
    """SecAPI on the same core with metrics on or off: `/health/live`, then cache hits; and a hit's body."""
    port = free_port()
    env = {**os.environ, "SECAPI_DATABASE_URL": url, "SECAPI_REDIS_URL": REDIS_URL, "SECAPI_LOG_LEVEL": "WARNING",
           "SECAPI_METRICS_ENABLED": "true" if metrics else "false"}  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    server = start([sys.executable, "-m", "secapi.entrypoints.cli", "serve", "--port", str(port)], env,
                   f"{base}/health/live")  # fmt: skip
    try:
        body = json.dumps({"filename": "requirements.txt", "content": LOCKFILE, "shared": True})
        first = httpx.post(f"{base}/api/v1/scan/dependencies", content=body,
                           headers={"Authorization": f"Bearer {keys[0]}", "Content-Type": "application/json"})  # fmt: skip
        second = httpx.post(f"{base}/api/v1/scan/dependencies", content=body,
                            headers={"Authorization": f"Bearer {keys[1]}", "Content-Type": "application/json"})  # fmt: skip
        assert first.headers["x-cache-status"] in ("MISS", "HIT"), first.text  # HIT when an earlier run cached it
        assert second.headers["x-cache-status"] == "HIT", second.text
        assert (httpx.get(f"{base}/metrics").status_code == 200) is metrics
        quoted = ", ".join(json.dumps(k) for k in keys)
        hit_script = tmp / "hit.lua"
        hit_script.write_text(WRK_SCRIPT % (quoted, "POST", "/api/v1/scan/dependencies", json.dumps(body)))
        live_script = tmp / "live.lua"
        live_script.write_text(WRK_SCRIPT % (quoted, "GET", "/health/live", "nil"))
        run_wrk(base, hit_script, 2, connections, server.pid)  # warm-up
        live = run_wrk(base, live_script, seconds, connections, server.pid)
        hit = run_wrk(base, hit_script, seconds, connections, server.pid)
    finally:
        stop(server)
    return {"live": live, "hit": hit}, second.content


TARGETS = {"live": 0.7, "hit": 0.25}
TAIL = 3.0
"""p99 at most this many times p50."""


async def main(seconds: int, connections: int, metrics: str) -> int:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    modes = {"both": (True, False), "on": (True,), "off": (False,)}[metrics]
    results: dict[bool, dict[str, Run]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        async with fresh_database("secapi_bench_cache") as url:
            keys = await prepare(url)
            bare = measure_bare(tmp, seconds, connections)
            for enabled in modes:
                results[enabled], answer = measure_secapi(
                    url, keys, tmp, metrics=enabled, seconds=seconds, connections=connections
                )
            await _store_floor_answer(json.dumps({"filename": "requirements.txt", "content": LOCKFILE, "shared": True}),
                                      answer)  # fmt: skip
            floor = measure_floor(tmp, keys, seconds, connections)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d')}; "
          f"each server on CPU 0, wrk -t1 on CPU 1; {connections} connections, {seconds} s each")  # fmt: skip
    print("| endpoint | metrics | req/s | × bare | p50 ms | p99 ms | p99/p50 | server CPU µs/request | × bare (CPU) |")
    print("|---|---|---|---|---|---|---|---|---|")

    def row(name: str, label: str, run: Run) -> None:
        print(f"| {name} | {label} | {run.rps:,.0f} | {run.rps / bare.rps:.2f} | {run.p50:.1f} | {run.p99:.1f} | "
              f"{run.p99 / run.p50:.1f} | {run.cpu_us:,.0f} | {bare.cpu_us / run.cpu_us:.2f} |")  # fmt: skip

    row("bare Litestar app, GET / (yardstick)", "-", bare)
    row("floor: Litestar + redis-py, one pipelined script + GET, same body", "-", floor)
    for enabled, runs in results.items():
        label = "on" if enabled else "off (no-op sink)"
        row("SecAPI GET /health/live", label, runs["live"])
        row("SecAPI POST /api/v1/scan/dependencies, cache HIT", label, runs["hit"])
    if len(results) == 2:
        on, off = results[True], results[False]
        print(f"metrics overhead (server CPU per request): cache hits {on['hit'].cpu_us / off['hit'].cpu_us - 1:+.1%}, "
              f"/health/live {on['live'].cpu_us / off['live'].cpu_us - 1:+.1%}")  # fmt: skip
    judged = results[True] if True in results else results[False]
    ok = True
    for kind, target in TARGETS.items():
        run = judged[kind]
        ratio, tail = run.rps / bare.rps, run.p99 / run.p50
        passed = ratio >= target and tail <= TAIL
        ok = ok and passed
        print(f"{kind}: {ratio:.2f}× bare by req/s (target ≥ {target}), {bare.cpu_us / run.cpu_us:.2f}× by CPU; "
              f"p99/p50 {tail:.1f} (target ≤ {TAIL:g}): {'PASS' if passed else 'FAIL'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--metrics", choices=["on", "off", "both"], default="on")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.seconds, args.connections, args.metrics)))
