"""Matching speed: a 1,000-package lockfile against a store of ≥ 100,000 affected ranges (target < 200 ms).

Usage: uv run python benchmarks/matching.py [--records 60000] [--packages 1000] [--runs 30] [--unscored-every N]

`--unscored-every 2` makes every second record PYSEC/GO-shaped (no score of its own, an alias shared with a
scored record), so scans also pay for borrowing severities.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).parent))

from _db import fresh_database
from osv_synth import package_name, write_zip

from secapi.adapters.lockfiles.reader import RegistryLockfileReader
from secapi.adapters.osv.reader import iter_records
from secapi.adapters.sql.models import AffectedPackageModel
from secapi.adapters.sql.vulnerabilities import SqlVulnerabilityStore
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.vulndb_import import VulnDbImporter

TARGET_MS = 200.0


def package_lock(count: int) -> str:
    """A package-lock.json v3 with `count` packages named like the synthetic advisories' packages."""
    packages: dict[str, dict[str, str]] = {"": {"name": "bench-app", "version": "1.0.0"}}
    for n in range(count):
        packages[f"node_modules/{package_name('npm', n)}"] = {"version": f"{n % 6}.{n % 10}.{n % 3}"}
    return json.dumps({"name": "bench-app", "lockfileVersion": 3, "packages": packages})


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(records: int, packages: int, runs: int, unscored_every: int = 0) -> int:
    lockfile = package_lock(packages)
    reader = RegistryLockfileReader()
    async with fresh_database("secapi_bench_match") as url:
        engine = create_async_engine(url, pool_size=2)
        try:
            store = SqlVulnerabilityStore(engine)
            with tempfile.TemporaryDirectory() as tmp:
                archive = Path(tmp) / "all.zip"
                write_zip(archive, records, unscored_every=unscored_every)
                await VulnDbImporter(store).run(iter_records(archive), source="bench")
            async with engine.connect() as connection:
                ranges = await connection.scalar(select(func.count()).select_from(AffectedPackageModel))
            matcher = VulnerabilityMatcher(store)
            parse_ms, match_ms, findings = [], [], 0
            for _ in range(runs + 1):  # the first run warms caches and is dropped
                started = time.perf_counter()
                parsed = reader.parse("package-lock.json", lockfile)
                parsed_at = time.perf_counter()
                found = await matcher.match(parsed.packages)
                done = time.perf_counter()
                parse_ms.append((parsed_at - started) * 1000)
                match_ms.append((done - parsed_at) * 1000)
                findings = len(found)
            parse_ms, match_ms = parse_ms[1:], match_ms[1:]
        finally:
            await engine.dispose()
    total = [p + m for p, m in zip(parse_ms, match_ms, strict=True)]
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}")
    print(f"store: {records} advisories, {ranges} affected-package ranges; lockfile: {len(parsed.packages)} packages")
    print(f"findings per scan: {findings}; runs: {runs}; every {unscored_every or '-'}th record unscored")
    print("| step | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|")
    for name, values in (("parse", parse_ms), ("match (1 query + ranges)", match_ms), ("total", total)):
        print(f"| {name} | {statistics.median(values):.1f} | {pct(values, 0.95):.1f} | {max(values):.1f} |")
    ok = (ranges or 0) >= 100_000 and pct(total, 0.95) < TARGET_MS
    print(f"target p95 < {TARGET_MS:.0f} ms with ≥ 100,000 ranges: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=60_000)
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--unscored-every", type=int, default=0)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.records, args.packages, args.runs, args.unscored_every)))
