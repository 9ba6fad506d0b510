"""Import throughput: a generated OSV zip into a fresh PostgreSQL database (target ≥ 5,000 records/s).

Usage: uv run python benchmarks/vulndb_import.py [--records 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).parent))

from _db import fresh_database
from osv_synth import write_zip

from secapi.adapters.osv.reader import iter_records
from secapi.adapters.sql.vulnerabilities import SqlVulnerabilityStore
from secapi.domain.services.vulndb_import import VulnDbImporter

TARGET = 5000.0


async def main(records: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "all.zip"
        affected = write_zip(archive, records)
        size_mb = archive.stat().st_size / 1e6
        async with fresh_database("secapi_bench_import") as url:
            engine = create_async_engine(url)
            try:
                importer = VulnDbImporter(SqlVulnerabilityStore(engine))
                started = time.perf_counter()
                first = await importer.run(iter_records(archive), source=str(archive))
                cold = time.perf_counter() - started
                started = time.perf_counter()
                again = await importer.run(iter_records(archive), source=str(archive))
                warm = time.perf_counter() - started
            finally:
                await engine.dispose()
    rate = records / cold
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}")
    print(f"input: {records} records, {affected} affected entries, zip {size_mb:.1f} MB")
    print("| import | records | seconds | records/s |")
    print("|---|---|---|---|")
    print(f"| first (all new, COPY) | {first.counts.added} added | {cold:.2f} | {rate:,.0f} |")
    print(f"| again (all unchanged) | {again.counts.unchanged} unchanged | {warm:.2f} | {records / warm:,.0f} |")
    print(f"target ≥ {TARGET:,.0f} records/s: {'PASS' if rate >= TARGET else 'FAIL'}")
    return 0 if rate >= TARGET else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    sys.exit(asyncio.run(main(parser.parse_args().records)))
