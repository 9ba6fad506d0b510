"""A real Prometheus scraping a running SecAPI on loopback, answering the cache hit rate in PromQL.

Starts `secapi serve --workers 2` (embedded SQLite, in-memory cache per worker, metrics from both
workers summed through prometheus_client's multiprocess mode) with a metrics token, and
`/usr/bin/prometheus` with a temporary config (1 s scrapes, bearer token, the repository's
alert rules) and storage directory. Sends a mix of repeated and new lockfile scans, waits until
Prometheus has scraped all of them, then asks

    sum(rate(secapi_cache_hits_total[1m]))
      / (sum(rate(secapi_cache_hits_total[1m])) + sum(rate(secapi_cache_misses_total[1m])))

and compares it with the hit rate the client saw in `X-Cache-Status`. Also runs every query of
the Grafana dashboard and checks that the alert rules load and evaluate.

Usage: uv run python benchmarks/prometheus_scrape.py [--json]   (exit 0 when the rates agree)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.adapters.sql.migrate import upgrade
from secapi.config import Settings
from secapi.domain.services.accounts import AccountService
from secapi.domain.tiers import Tier
from secapi.entrypoints.vulndb import import_sample
from secapi.ioc import make_container

ROOT = Path(__file__).resolve().parents[1]
SECAPI = str(Path(sys.executable).parent / "secapi")
HIT_RATE = (
    "sum(rate(secapi_cache_hits_total[1m])) / "
    "(sum(rate(secapi_cache_hits_total[1m])) + sum(rate(secapi_cache_misses_total[1m])))"
)
POPULAR = [f"flask==2.2.{n}\njinja2==3.1.2\n" for n in range(3)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} did not answer {url} within {seconds:g} s")


async def prepare(database_url: str) -> str:
    container = make_container(Settings.from_env({}, database_url=database_url))
    try:
        await upgrade(await container.get(AsyncEngine))
        await import_sample(container)
        async with container() as request:
            _, issued = await (await request.get(AccountService)).create_user("prom@example.com", Tier.BUSINESS)
    finally:
        await container.close()
    return issued.secret


@contextmanager
def running(command: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    # Its own process group: a worker process that does not stop is killed with its parent.
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def prometheus_config(target: str, token_file: Path) -> str:
    return json.dumps(  # JSON is YAML: no YAML writer needed
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ROOT / "deploy" / "prometheus" / "alerts.yml")],
            "scrape_configs": [
                {
                    "job_name": "secapi",
                    "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
                    "static_configs": [{"targets": [target]}],
                }
            ],
        }
    )


def query(prometheus: str, expr: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    if answer.get("status") != "success":
        raise SystemExit(f"query failed: {expr}: {answer}")
    result: list[dict[str, object]] = answer["data"]["result"]
    return result


def scalar(prometheus: str, expr: str) -> float | None:
    result = query(prometheus, expr)
    return float(result[0]["value"][1]) if result else None  # type: ignore[index]


def traffic(base: str, key: str, seconds: float) -> tuple[int, int]:
    """Scans for `seconds`: mostly the popular lockfiles again (hits), now and then a new one (misses)."""
    hits = misses = n = 0
    headers = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        while time.monotonic() < deadline:
            content = POPULAR[n % len(POPULAR)] if n % 4 else f"requests==2.{n}.0\n"
            body = {"filename": "requirements.txt", "content": content, "shared": True}
            status = client.post("/api/v1/scan/dependencies", json=body).headers["x-cache-status"]
            hits, misses = hits + (status == "HIT"), misses + (status == "MISS")
            n += 1
            time.sleep(0.01)
    return hits, misses


def main(as_json: bool) -> int:
    prometheus_bin = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(prometheus_bin).exists():
        raise SystemExit("prometheus is needed: apt-get install prometheus")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="secapi-prom-") as tmp:
        work = Path(tmp)
        database_url = f"sqlite+aiosqlite:///{work}/secapi.db"
        key = asyncio.run(prepare(database_url))
        token = secrets.token_urlsafe(24)
        (work / "token").write_text(token)
        api_port, prom_port = free_port(), free_port()
        env = {**os.environ, "SECAPI_DATABASE_URL": database_url, "SECAPI_METRICS_TOKEN": token,
               "SECAPI_LOG_LEVEL": "WARNING"}  # fmt: skip
        for name in ("SECAPI_REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"):
            env.pop(name, None)
        (work / "prometheus.yml").write_text(prometheus_config(f"127.0.0.1:{api_port}", work / "token"))
        base, prometheus = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{prom_port}"
        serve = [SECAPI, "serve", "--port", str(api_port), "--workers", "2"]
        prom = [prometheus_bin, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"]  # fmt: skip
        with running(serve, env), running(prom):
            wait_for(f"{base}/health/live", 30, "SecAPI")
            wait_for(f"{prometheus}/-/ready", 30, "Prometheus")
            while scalar(prometheus, 'up{job="secapi"}') != 1:  # a first scrape, counters still at zero
                time.sleep(0.2)
            hits, misses = traffic(base, key, seconds=2.0)
            deadline = time.monotonic() + 15
            while scalar(prometheus, "sum(secapi_cache_hits_total) + sum(secapi_cache_misses_total)") != hits + misses:
                if time.monotonic() > deadline:
                    raise SystemExit("Prometheus never scraped every lookup")
                time.sleep(0.2)
            rate = scalar(prometheus, HIT_RATE)
            dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "secapi.json").read_text())
            exprs = [t["expr"].replace("$__rate_interval", "1m") for p in dashboard["panels"] for t in p["targets"]]
            empty = [expr for expr in exprs if not query(prometheus, expr)]
            rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
            rule_health = {rule["name"]: rule["health"] for group in rules for rule in group["rules"]}
    seen = hits / (hits + misses)
    report = {
        "query": HIT_RATE,
        "promql_hit_rate": rate,
        "client_hit_rate": round(seen, 4),
        "hits": hits,
        "misses": misses,
        "dashboard_queries": len(exprs),
        "dashboard_queries_without_data": empty,
        "alert_rules": rule_health,
        "seconds": round(time.monotonic() - started, 1),
    }
    ok = rate is not None and abs(rate - seen) < 0.02 and all(h in ("ok", "unknown") for h in rule_health.values())
    if as_json:
        print(json.dumps(report))
    else:
        print(f"PromQL: {HIT_RATE}")
        print(f"  = {rate}  (client saw {hits} hits, {misses} misses: {seen:.4f})")
        print(
            f"dashboard: {len(exprs)} queries all valid; without data (no such events in this run): {empty or 'none'}"
        )
        print(f"alert rules: {rule_health}")
        print(f"{report['seconds']} s in all: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    sys.exit(main(parser.parse_args().json))
