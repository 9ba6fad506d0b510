"""The image scan benchmark still runs: `benchmarks/image_scan.py --smoke` end to end, briefly, without Trivy.

Only that it runs and reports is checked here; its targets (PASS/MISS) are the benchmark's business, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from support.registry import registry_binary

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "image_scan.py"


def test_image_scan_benchmark_smoke_reports_inventory_time_and_memory(database_url: str) -> None:
    registry_binary()  # fails under CI, skips elsewhere, when Debian's docker-registry is missing
    server = make_url(database_url).set(database="postgres").render_as_string(hide_password=False)
    env = {**os.environ, "SECAPI_BENCH_DATABASE_SERVER": server}

    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr[-2000:]
    report = done.stdout
    assert "| purl type | SecAPI | Trivy | both | only in SecAPI | only in Trivy |" in report
    # The synthetic image holds 3 installed dpkg packages, Flask and minimist (tests/support/images.py).
    assert "| deb | 3 | – |" in report
    assert "| pypi | 1 | – |" in report
    assert "| npm | 1 | – |" in report
    assert "peak RSS growth" in report
    assert "PASS: cold scan" in report or "MISS: cold scan" in report
