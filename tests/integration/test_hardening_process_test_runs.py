"""Two test runs on one machine do not share (and wipe) each other's PostgreSQL or Redis database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis

from secapi.config import Settings

from support.registry import IN_CI

ROOT = Path(__file__).resolve().parents[2]


def _stub_uv(tmp_path: Path) -> Path:
    """A `uv` that records the test services `pytest` would get, and runs `python` for the cleanup."""
    stub = tmp_path / "uv"
    stub.write_text(
        f"""#!/bin/sh
case "$*" in
  *" pytest"*) echo "$SECAPI_TEST_DATABASE_URL $SECAPI_TEST_REDIS_URL" >> "{tmp_path}/seen"; sleep 3 ;;
  *" python "*) shift 3; exec "{sys.executable}" "$@" ;;
esac
exit 0
"""
    )
    stub.chmod(0o755)
    return stub


def test_concurrent_runs_get_their_own_databases_and_release_them(tmp_path: Path) -> None:
    if not (shutil.which("pg_isready") and shutil.which("redis-cli")):
        if IN_CI:
            pytest.fail("pg_isready and redis-cli are needed; .ci/run installs them", pytrace=False)
        pytest.skip("needs local PostgreSQL and Redis clients")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECAPI_TEST_")}
    env["UV"] = str(_stub_uv(tmp_path))
    runs = [
        subprocess.Popen(
            ["bash", "scripts/test.sh"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    seen = [line.split() for line in (tmp_path / "seen").read_text().splitlines()]
    assert len(seen) == 2
    (db_a, redis_a), (db_b, redis_b) = seen
    assert db_a != db_b
    assert redis_a != redis_b
    claims = Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        for url in (redis_a, redis_b):
            assert claims.get(f"secapi:test-run:redis-db:{url.rsplit('/', 1)[1]}") is None, "claim not released"
    finally:
        claims.close()


def test_a_second_run_on_the_same_database_stops_before_wiping_it(settings: Settings) -> None:
    # This session holds the database's run lock; a second pytest on the same URL must refuse to start.
    env = {
        **os.environ,
        "SECAPI_TEST_DATABASE_URL": settings.database_url,
        "SECAPI_TEST_REDIS_URL": os.environ.get("SECAPI_TEST_REDIS_URL", ""),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/integration/test_http_health.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    assert "another test run is using" in done.stdout
