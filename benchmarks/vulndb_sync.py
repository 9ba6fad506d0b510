"""Sync throughput: `vulndb sync` from a loopback OSV bucket into a fresh PostgreSQL database.

A first sync (every ecosystem's all.zip, streamed, verified, imported), a second with nothing changed
(304s only), and an incremental one after N records changed (modified_id.csv, then N single records).
The bucket holds synthetic but realistic GHSA-shaped records (`osv_synth.make_record`), each in the
directory of its ecosystem, as OSV publishes them. It is written to a directory and served by a
separate process (http.server's static handler, HTTP/1.1, Last-Modified / If-Modified-Since), so
the server does not share the sync's interpreter.

Usage: uv run python benchmarks/vulndb_sync.py [--records 50000] [--changed 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
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

from support.osv_bucket import Bucket


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


def serve_directory(root: str, port: int) -> None:
    """http.server's static handler over HTTP/1.1 (Last-Modified, If-Modified-Since), with TCP_NODELAY: it writes
    headers and body separately, and Nagle's algorithm with delayed ACKs would add 40 ms to every small file."""

    class Handler(SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=root, **kwargs)

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


@contextmanager
def static_server(root: Path) -> Iterator[tuple[str, Path]]:
    """`serve_directory` in a separate process on a free loopback port; yields its URL and its request log."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = root.parent / "requests.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(root), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60  # the child imports this module (SecAPI included) first
            while time.monotonic() < deadline and process.poll() is None:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
                    break
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}", log
        finally:
            process.terminate()
            process.wait(timeout=10)


def requests_since(log: Path, start: int) -> list[str]:
    """Request log lines after the first `start` ones."""
    return [line for line in log.read_text().splitlines() if '"GET ' in line][start:]


async def main(records: int, changed: int) -> int:
    print(f"building the bucket: {records} records ...", flush=True)
    bucket = synthetic_bucket(records)
    zips = sum(len(f.body) for path, f in bucket.files.items() if path.endswith("all.zip"))
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, static_server(bucket.write_to(Path(tmp) / "bucket")) as (base, log):
        async with fresh_database("secapi_bench_sync") as url:
            settings = Settings.from_env(
                {},
                database_url=url,
                vulndb_source=base,
                metrics_enabled=False,
                cache_warm_top=0,
                vulndb_sync_cron="off",
                vulndb_epss_source="",  # the OSV part only: no download of FIRST's or CISA's public files
                vulndb_kev_source="",
            )
            container = make_container(settings)
            try:
                for label, prepare in (
                    ("first (all.zip per ecosystem)", None),
                    ("second (nothing changed: 304s)", None),
                    (f"incremental ({changed} changed records)", lambda: change(bucket, changed)),
                ):
                    if prepare is not None:
                        time.sleep(1.1)  # Last-Modified has one-second resolution
                        prepare()
                        bucket.write_to(Path(tmp) / "bucket")
                    seen = len(requests_since(log, 0))
                    started = time.perf_counter()
                    report = await sync(container, list(ECOSYSTEMS))
                    seconds = time.perf_counter() - started
                    assert not report.failed, report.failed
                    read, stored, downloaded = totals(report)
                    requests = len(requests_since(log, seen))
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
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        serve_directory(arguments.serve, arguments.port)
    sys.exit(asyncio.run(main(arguments.records, arguments.changed)))
