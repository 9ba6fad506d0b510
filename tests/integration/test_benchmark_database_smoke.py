"""The PostgreSQL benchmark still runs: `benchmarks/database.py --scans 20000` end to end, in seconds.

Checked: the table is printed with a row per main query (the retention job's batches among them), and every
query used an index (no sequential scan on `scans`, nor, by the script's verdict, on `api_usage`'s partitions
that hold rows). Timings are the benchmark's business, never asserted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "database.py"
QUERIES = (
    "list my scans, first page",
    "list my scans, next page",
    "list my scans, deep page",
    "scan by id (API: owner's)",
    "scans by status and type",
    "store a result document by digest",
    "usage: month's quota counters (GET /usage)",
    "api_usage of a user, last 30 days",
    "sweeper: stale scans (ScanSweeper)",
    "worker: claim a scan",
    "re-matcher: key rows of 50 changed keys",
    "re-matcher: active image watches, oldest first",
    "retention: expired scans, one batch",
    "retention: expired usage, one batch",
    "retention: unreferenced results, one window",
)


def test_database_benchmark_smoke_prints_the_table_and_every_query_uses_an_index(database_url: str) -> None:
    server = make_url(database_url).set(database="postgres").render_as_string(hide_password=False)
    env = {**os.environ, "SECAPI_BENCH_DATABASE_SERVER": server}
    command = [sys.executable, str(SCRIPT), "--scans", "20000", "--users", "2000", "--runs", "20"]
    command += ["--db-prefix", f"{make_url(database_url).database}_bench"]

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)

    report = done.stdout
    assert "| query | p50 ms | p99 ms | index used |" in report, done.stderr[-2000:]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| (.+?) \| [\d.]+ \| [\d.]+ \| (.+) \|$", report, re.M)}
    for query in QUERIES:
        (used,) = [index for name, index in rows.items() if name.startswith(query)]
        assert used != "none", query
        assert "Seq Scan on scans" not in used, (query, used)
    assert "every query used an index (no Seq Scan on scans or api_usage): PASS" in report, report[-3000:]
    assert done.returncode == 0, done.stderr[-2000:]
    assert report.count("Execution Time") >= len(QUERIES)  # a plan per query, from EXPLAIN (ANALYZE, BUFFERS)
