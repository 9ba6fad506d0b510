"""Sync throughput: `vulndb sync` from a loopback OSV bucket into a fresh PostgreSQL database.

A first sync (every ecosystem's all.zip, streamed, verified, imported), a second with nothing changed
(304s only), and an incremental one after N records changed (modified_id.csv, then N single records).
The bucket holds synthetic but realistic GHSA-shaped records (`osv_synth.make_record`), each in the
directory of its ecosystem, as OSV publishes them.

Usage: uv run python benchmarks/vulndb_sync.py [--records 50000] [--changed 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from _db import fresh_database
from osv_synth import ECOSYSTEMS, make_record

from secapi.config import Settings
from secapi.domain.services.vulndb_sync import SyncReport
from secapi.entrypoints.vulndb import sync
from secapi.ioc import make_container

from support.osv_bucket import Bucket, BucketServer


def synthetic_bucket(count: int) -> Bucket:
    """`count` records, each reduced to the affected entries of one ecosystem (OSV records rarely span two)."""
    rng = random.Random(11)
    bucket = Bucket()
    for index in range(count):
        record = make_record(index, rng, 20_000)
        ecosystem = record["affected"][0]["package"]["ecosystem"]
        record["affected"] = [a for a in record["affected"] if a["package"]["ecosystem"] == ecosystem]
        bucket.records.setdefault(ecosystem, {})[record["id"]] = record
    bucket.rebuild()
    return bucket


def change(bucket: Bucket, count: int) -> None:
    """Bump `modified` of `count` records spread over the ecosystems, then re-export once."""
    everything: list[dict[str, Any]] = [r for records in bucket.records.values() for r in records.values()]
    for record in random.Random(5).sample(everything, count):
        record["modified"] = "2026-12-04T00:00:00Z"
        record["summary"] = record["summary"] + " (revised)"
    bucket.rebuild()


def totals(report: SyncReport) -> tuple[int, int, int]:
    """(records read, records stored as added or updated, bytes downloaded)."""
    read = sum(o.read for o in report.outcomes)
    stored = sum(o.counts.added + o.counts.updated for o in report.outcomes)
    return read, stored, sum(o.downloaded_bytes for o in report.outcomes)


async def main(records: int, changed: int) -> int:
    print(f"building the bucket: {records} records ...", flush=True)
    bucket = synthetic_bucket(records)
    zips = sum(len(f.body) for path, f in bucket.files.items() if path.endswith("all.zip"))
    rows: list[str] = []
    with BucketServer(bucket).running() as server:
        async with fresh_database("secapi_bench_sync") as url:
            settings = Settings.from_env(
                {},
                database_url=url,
                vulndb_source=server.url,
                metrics_enabled=False,
                cache_warm_top=0,
                vulndb_sync_cron="off",
            )
            container = make_container(settings)
            try:
                for label, prepare in (
                    ("first (all.zip per ecosystem)", None),
                    ("second (nothing changed: 304s)", None),
                    (f"incremental ({changed} changed records)", lambda: change(bucket, changed)),
                ):
                    if prepare is not None:
                        prepare()
                    server.requests.clear()
                    started = time.perf_counter()
                    report = await sync(container, list(ECOSYSTEMS))
                    seconds = time.perf_counter() - started
                    assert not report.failed, report.failed
                    read, stored, downloaded = totals(report)
                    requests = len(server.requests)
                    rate = f"{read / seconds:,.0f}" if read else "–"
                    rows.append(
                        f"| {label} | {requests} | {downloaded / 1e6:.2f} MB | {read:,} | {stored:,} | "
                        f"{seconds:.2f} | {rate} |"
                    )
            finally:
                await container.close()
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}")
    print(f"bucket: {records:,} records in {len(ECOSYSTEMS)} ecosystems, zips {zips / 1e6:.1f} MB")
    print("| sync | requests | downloaded | records read | stored | seconds | records/s |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--changed", type=int, default=1_000)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.records, arguments.changed)))
