"""Production-shaped load test: HAProxy, two API instances, two workers, PostgreSQL, Redis, a real registry.

`make load` runs it. It starts everything on 127.0.0.1 (stack.py): a fresh PostgreSQL database, private Redis
(`--redis single`: one node; `--redis cluster`: a three-master Redis Cluster, plus one node for the SAQ queue),
Debian's docker-registry with images made of this host's Debian packages (images.py), two `secapi worker`, two
`secapi serve` and HAProxy from deploy/haproxy/haproxy.cfg in front of them; seeds tenants of all four tiers;
runs Locust distributed (a master and `--locust-processes` workers, scenario.py) through HAProxy; and writes
into `--report-dir` Locust's HTML and CSV reports and `summary.md` (report.py): req/s, p50/p95/p99 per request
type, unexpected failures, the cache hit rate summed from every instance's /metrics, 429s per tier, CPU and RSS
of each instance's process tree, and PASS/MISS lines for the targets (hit rate >= 60 %, p95 of cache hits
< 100 ms). The exit status is 1 only for unexpected failures (and, in soak mode, lost scans).

  --rate R      a steady total rate (Poisson arrivals: exponential waits of mean users/R) instead of think time
  --find-max    after a 20 s warm-up, steps the rate up from --rate by --step, --seconds each, while the p99 of
                requests answered without running a scan stays under 100 ms; reports the highest such rate
  --soak        --seconds 600 at a steady rate; kills (SIGKILL) one API instance and one worker mid-run and
                starts them again; RSS at start and end, errors per minute, and every scan accepted with an
                id (200/202) must reach a terminal state (GET /api/v1/scans/{id})

Usage: .venv/bin/python tests/load/production.py [--users 100] [--seconds 120] [--redis single|cluster]
                                                 [--rate R] [--find-max] [--soak] [--report-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for extra in (HERE, ROOT / "benchmarks", ROOT / "tests"):
    sys.path.insert(0, str(extra))

from _db import fresh_database  # noqa: E402
from images import cyclonedx, push_load_images  # noqa: E402
from report import Run, check_accepted, find_max_table, summary  # noqa: E402
from sampling import Sampler  # noqa: E402
from stack import Stack, free_port, haproxy_stats, redis_server, start_stack  # noqa: E402

from secapi.config import Settings  # noqa: E402
from secapi.domain.services.accounts import AccountService  # noqa: E402
from secapi.domain.tiers import RATE_LIMITS, Tier  # noqa: E402
from secapi.entrypoints.vulndb import import_sample  # noqa: E402
from secapi.ioc import make_container  # noqa: E402

from support.registry import run_registry  # noqa: E402

TIER_WEIGHTS = {"free": 1, "starter": 3, "pro": 3, "business": 3}
"""Users per tier, as in scenario.py (a user class per tier with these weights)."""
SCAN_SHARE = 0.12
"""Roughly the share of requests that run a scan (new images, lockfiles and SBOMs; a tenant's own lockfile once)."""
FREE_TENANTS = 2
"""Few free tenants, so their small quotas run out: their 429s are what the test expects to see."""
TRIVY_SBOM = ROOT / "tests/unit/sbom/fixtures/trivy-0.76-debian12.cdx.json"


START = time.monotonic()


def say(text: str) -> None:
    """Progress on stdout, with the seconds since start."""
    print(f"[{time.monotonic() - START:5.0f} s] {text}", flush=True)


def tenants_per_tier(rate: float, seconds: float) -> dict[str, int]:
    """Enough paying tenants that none uses more than 40 % of its per-minute or scan quotas at `rate`."""
    total = sum(TIER_WEIGHTS.values())
    counts = {"free": FREE_TENANTS}
    for tier, weight in TIER_WEIGHTS.items():
        if tier == "free":
            continue
        limits, tier_rate = RATE_LIMITS[tier], rate * weight / total
        per_minute = tier_rate * 60 / (0.4 * limits["api_requests_per_minute"])
        scans = tier_rate * SCAN_SHARE * min(seconds + 120, 3600) / (0.4 * limits["scans_per_hour"])
        counts[tier] = max(2, math.ceil(max(per_minute, scans)))
    return counts


async def seed(settings: Settings, counts: dict[str, int]) -> dict[str, list[str]]:
    """The sample advisories, and API keys of `counts[tier]` tenants per tier."""
    container = make_container(settings)
    try:
        await import_sample(container)
        keys: dict[str, list[str]] = {}
        async with container() as request:
            accounts = await request.get(AccountService)
            for tier, count in counts.items():
                keys[tier] = [
                    (await accounts.create_user(f"{tier}{n}@load.test", Tier(tier)))[1].secret for n in range(count)
                ]
    finally:
        await container.close()
    return keys


async def raise_to_business(settings: Settings, counts: dict[str, int]) -> None:
    """After the load: every tenant on the largest tier, so checking each accepted scan meets no quota."""
    container = make_container(settings)
    try:
        async with container() as request:
            accounts = await request.get(AccountService)
            for tier, count in counts.items():
                for n in range(count):
                    user = await accounts.find_user_by_email(f"{tier}{n}@load.test")
                    await accounts.set_tier(user.id, Tier.BUSINESS)
    finally:
        await container.close()


def run_locust(stack: Stack, plan: dict[str, Any], run_dir: Path, args: argparse.Namespace, seconds: int) -> Path:
    """Run Locust headless and distributed; returns the CSV prefix. Its failures are judged from the records."""
    plan_path = run_dir / "plan.json"
    plan_path.write_text(json.dumps(plan))
    prefix = run_dir / "locust"
    rpc_port = free_port()
    command = [
        sys.executable, "-m", "locust", "-f", str(HERE / "scenario.py"), "--headless",
        "-u", str(args.users), "-r", str(max(1, args.users // 5)), "-t", f"{seconds}s", "--host", stack.url,
        "--csv", str(prefix), "--html", str(run_dir / "locust.html"), "--only-summary", "--stop-timeout", "10",
        "--processes", str(args.locust_processes), "--exit-code-on-error", "0",
        # the master's port for its workers: loopback and free (the default *:5557 clashes with a concurrent run)
        "--master-bind-host", "127.0.0.1", "--master-bind-port", str(rpc_port), "--master-port", str(rpc_port),
    ]  # fmt: skip
    env = {**os.environ, "SECAPI_LOAD_PLAN": str(plan_path), "PYTHONPATH": str(HERE)}
    with (run_dir / "locust.log").open("wb") as log:
        done = subprocess.run(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=seconds + 300, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"locust exited with {done.returncode}: see {run_dir / 'locust.log'}")
    return prefix


def chaos(stack: Stack, seconds: int, events: list[tuple[float, str]], stop: threading.Event) -> None:
    """Soak: SIGKILL api1 at 30 % of the run and worker1 at 55 %, each started again 10 s later."""
    started = time.time()
    for at, service in ((0.30, stack.apis[0]), (0.55, stack.workers[0])):
        if stop.wait(max(0.0, started + seconds * at - time.time())):
            return
        service.kill9()
        events.append((time.time(), f"kill -9 {service.name}"))
        if stop.wait(10):
            return
        service.start()
        events.append((time.time(), f"{service.name} started again and ready"))


def environment(
    args: argparse.Namespace, run_dir: Path, database_url: str, registry: str, stack: ExitStack
) -> dict[str, str]:
    """The SECAPI_* settings every API instance and worker gets, with Redis started as `--redis` says."""
    env = {
        **os.environ,
        "SECAPI_DATABASE_URL": database_url,
        "SECAPI_REGISTRY_ALLOWLIST": registry,
        "SECAPI_REGISTRY_INSECURE": registry,
        "SECAPI_LOG_LEVEL": "WARNING",
        "SECAPI_SCAN_SYNC_BUDGET": str(args.sync_budget),
        **({"SECAPI_AUTH_CACHE_TTL": str(args.auth_cache_ttl)} if args.auth_cache_ttl is not None else {}),
        "SECAPI_CACHE_WARM_CRON": "off",
        "SECAPI_VULNDB_SYNC_CRON": "off",  # no outbound traffic: the sample advisories are all there is
        "SECAPI_VULNDB_EPSS_SOURCE": "off",
        "SECAPI_VULNDB_KEV_SOURCE": "off",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    queue_service, queue_url = redis_server("redis", run_dir)
    stack.callback(queue_service.stop)
    if args.redis == "single":
        env["SECAPI_REDIS_URL"] = queue_url
        return env
    cluster_dir = Path(tempfile.mkdtemp(prefix="secapi-load-cluster-"))
    script = ROOT / "scripts" / "redis_cluster.sh"
    url = subprocess.run([str(script), "start", str(cluster_dir)], capture_output=True, text=True, check=True)
    stack.callback(subprocess.run, [str(script), "stop", str(cluster_dir)], check=False)
    env.update(
        {
            "SECAPI_REDIS_URL": url.stdout.strip().splitlines()[-1],
            "SECAPI_REDIS_CLUSTER": "true",
            "SECAPI_QUEUE_REDIS_URL": queue_url,
        }
    )
    return env


async def main(args: argparse.Namespace) -> int:
    run_dir: Path = args.report_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    rate = args.max_rate or args.users * 1.0  # think time between(0.5, 1.5): about 1 request/s per user
    counts = tenants_per_tier(rate, args.seconds * (args.max_steps if args.find_max else 1))
    with ExitStack() as exits:
        scratch = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="secapi-load-registry-")))
        registry = exits.enter_context(run_registry(scratch))
        images = push_load_images(registry, args.new_images)
        say(f"pushed {len(images.popular)} popular and {len(images.new)} new images to {registry.host_port}")
        async with fresh_database(args.db_prefix) as database_url:
            env = environment(args, run_dir, database_url, registry.host_port, exits)
            settings = Settings.from_env(env)
            keys = await seed(settings, counts)
            say(f"seeded the sample advisories and tenants {counts}")
            stack = start_stack(run_dir, env)
            try:
                return await drive(args, run_dir, stack, settings, counts, keys, images.__dict__)
            finally:
                stack.stop()
                say("stack stopped")


async def drive(
    args: argparse.Namespace,
    run_dir: Path,
    stack: Stack,
    settings: Settings,
    counts: dict[str, int],
    keys: dict[str, list[str]],
    images: dict[str, list[str]],
) -> int:
    """Run the load (once, or once per step of --find-max) against the started stack and write the reports."""
    sboms = [TRIVY_SBOM.read_text(), cyclonedx([("flask", "2.2.4", "pkg:pypi/flask@2.2.4"),
             ("minimist", "1.2.5", "pkg:npm/minimist@1.2.5")])]  # fmt: skip
    plan: dict[str, Any] = {"keys": keys, "images": images, "sboms": sboms, "processes": args.locust_processes}
    say(f"stack up: HAProxy {stack.url}; reports in {run_dir}")
    if args.find_max:
        warm = run_dir / "warm-up"  # first scans of the popular inputs, cold processes: not a step
        warm.mkdir()
        measure(args, warm, stack, {**plan, "per_user_rate": args.rate / args.users}, min(20, args.seconds))
        steps = []
        for n in range(args.max_steps):
            step_rate = args.rate + n * args.step
            step_dir = run_dir / f"rate-{step_rate:g}"
            step_dir.mkdir()
            run = measure(args, step_dir, stack, {**plan, "per_user_rate": step_rate / args.users}, args.seconds)
            run.target_rate = step_rate
            steps.append(run)
            print(
                f"rate {step_rate:g}/s: {run.achieved_rate():.1f} req/s, p99 without scans {run.p99_no_scan():.0f} ms"
            )
            if run.p99_no_scan() >= 100 or run.achieved_rate() < 0.9 * step_rate or run.unexpected():
                break
        text = find_max_table(args, steps)
        failed = any(run.unexpected() for run in steps)
    else:
        per_user = args.rate / args.users if args.rate else None
        run = measure(args, run_dir, stack, {**plan, "per_user_rate": per_user}, args.seconds, soak=args.soak)
        await raise_to_business(settings, counts)
        time.sleep(settings.auth_cache_ttl + 1)  # each instance caches a key's tier this long
        say(f"load done; checking the {len(run.accepted())} accepted scans")
        run.lost = await check_accepted(stack.url, keys, run.accepted(), args.lost_timeout)
        say("accepted scans checked")
        text = summary(args, run, stack)
        failed = bool(run.unexpected(outside_kills=True) or run.lost.get("lost"))
    (run_dir / "summary.md").write_text(text)
    print(text)
    return 1 if failed else 0


def measure(
    args: argparse.Namespace, run_dir: Path, stack: Stack, plan: dict[str, Any], seconds: int, *, soak: bool = False
) -> Run:
    """One Locust run with the sampler (and, soaking, the kills) around it."""
    plan = {**plan, "records": str(run_dir / "records")}
    sampler = Sampler(stack.services, stack.apis)
    sampler.start()
    events: list[tuple[float, str]] = []
    stop = threading.Event()
    killer = threading.Thread(target=chaos, args=(stack, seconds, events, stop), daemon=True) if soak else None
    started = time.time()
    try:
        if killer is not None:
            killer.start()
        prefix = run_locust(stack, plan, run_dir, args, seconds)
    finally:
        stop.set()
        if killer is not None:
            killer.join()
        sampler.stop()
    return Run.load(run_dir, prefix, started, time.time(), sampler, events, haproxy_stats_rows(stack))


def haproxy_stats_rows(stack: Stack) -> list[dict[str, str]]:
    try:
        return haproxy_stats(stack.haproxy_stats)
    except OSError:
        return []


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=None, help="run length (default 120; --soak: 600)")
    parser.add_argument("--redis", choices=("single", "cluster"), default="single")
    parser.add_argument("--rate", type=float, default=None, help="steady total requests/s (default: think time)")
    parser.add_argument("--soak", action="store_true")
    parser.add_argument("--find-max", action="store_true")
    parser.add_argument("--step", type=float, default=25.0, help="--find-max: rate added per step")
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--locust-processes", type=int, default=2)
    parser.add_argument("--new-images", type=int, default=None, help="never-scanned image tags pushed")
    parser.add_argument("--db-prefix", default="secapi_load")
    parser.add_argument(
        "--auth-cache-ttl",
        type=float,
        default=None,
        help="SECAPI_AUTH_CACHE_TTL of the instances (default: the setting's 30 s); the check of accepted scans "
        "waits this long after raising every tenant to business, so that no quota stands in its way",
    )
    parser.add_argument(
        "--sync-budget",
        type=float,
        default=0.05,
        help="SECAPI_SCAN_SYNC_BUDGET of the instances (default 0.05 s: these small images scan in well under the "
        "production default of 2 s, so most new images take the 202 path that real images take)",
    )
    parser.add_argument("--report-dir", type=Path, default=None)
    parser.add_argument("--lost-timeout", type=float, default=300.0, help="seconds to wait for accepted scans")
    options = parser.parse_args()
    if options.seconds is None:
        options.seconds = 600 if options.soak else 120
    if options.soak and options.rate is None:
        options.rate = 40.0
    if options.find_max and options.rate is None:
        options.rate = 25.0
    options.max_rate = options.rate + options.step * (options.max_steps - 1) if options.find_max else options.rate
    if options.new_images is None:
        options.new_images = min(800, max(50, int((options.max_rate or options.users) * options.seconds * 0.05)))
    if options.report_dir is None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        options.report_dir = ROOT / "var" / "load" / f"{stamp}-{options.redis}{'-soak' if options.soak else ''}"
    sys.exit(asyncio.run(main(options)))
