"""A real Prometheus scrapes a two-worker SecAPI and computes the cache hit rate (benchmarks/prometheus_scrape.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.registry import IN_CI

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "prometheus_scrape.py"


def test_promql_hit_rate_matches_what_clients_saw() -> None:
    if shutil.which("prometheus") is None and not Path("/usr/bin/prometheus").exists():
        message = "prometheus not found: apt-get install prometheus"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["hits"] > 0
    assert report["misses"] > 0
    assert report["promql_hit_rate"] == pytest.approx(report["client_hit_rate"], abs=0.02)
    assert set(report["alert_rules"]) == {
        "SecAPICacheHitRateLow", "SecAPIHighErrorRatio", "SecAPILatencyP99High", "SecAPIRedisDown", "SecAPIVulnDbStale",
        "SecAPIVulnDbSyncFailing", "SecAPIQueueRedisDown",
    }  # fmt: skip
