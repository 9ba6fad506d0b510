"""Image scan runner and sweeper against fakes: claims, leases, recovery, failures with reasons."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from secapi.adapters.catalog.cataloger import TarLayerCataloger
from secapi.adapters.memory.metrics import RecordingMetrics
from secapi.domain.images import (
    DEFAULT_PLATFORM,
    ImageNotFound,
    ImageReference,
    LayerDescriptor,
    Platform,
    ResolvedImage,
    parse_image_reference,
)
from secapi.domain.model import Principal, Scan, ScanStatus
from secapi.domain.services.image_scan_runner import ImageScanRunner
from secapi.domain.services.image_scans import ImageScanSubmitter
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.scan_sweeper import ScanSweeper

from support.fakes import (
    FakeClock,
    InMemoryInventoryCache,
    InMemoryScans,
    InMemoryVulnerabilityStore,
    RecordingQueue,
)
from support.images import Image, app_layer, debian_image, layer

LEASE = 60.0


class FakeImageSource:
    """Serves images from memory; counts layer downloads; can fail or stall on demand."""

    def __init__(self, images: dict[str, Image]) -> None:
        self.images = images
        self.downloads: list[str] = []
        self.fail_with: Exception | None = None
        self.stall = 0.0

    async def resolve(self, image: ImageReference, platform: Platform) -> ResolvedImage:
        if self.fail_with is not None:
            raise self.fail_with
        await asyncio.sleep(self.stall)
        found = self.images[image.canonical()]
        return ResolvedImage(
            reference=image.with_digest(found.digest),
            manifest_digest=found.digest,
            platform=platform,
            config_digest="sha256:" + "0" * 64,
            layers=tuple(
                LayerDescriptor(digest=item.digest, size=len(item.blob), media_type=item.media_type)
                for item in found.layers
            ),
            os="linux",
            architecture="amd64",
            created=None,
        )

    async def resolve_digest(self, image: ImageReference, platform: Platform) -> str:
        return self.images[image.canonical()].digest

    async def download_layer(self, image: ResolvedImage, layer_: LayerDescriptor, directory: Path) -> Path:
        self.downloads.append(layer_.digest)
        blob = next(item.blob for img in self.images.values() for item in img.layers if item.digest == layer_.digest)
        path = directory / layer_.digest.replace(":", "_")
        path.write_bytes(blob)
        return path


@pytest.fixture
def scans() -> InMemoryScans:
    return InMemoryScans()


def runner_for(scans: InMemoryScans, source: FakeImageSource, store: InMemoryVulnerabilityStore, clock: FakeClock,
               cache: InMemoryInventoryCache | None = None, **options: float) -> ImageScanRunner:  # fmt: skip
    return ImageScanRunner(
        scans,
        source,
        TarLayerCataloger(),
        cache or InMemoryInventoryCache(),
        VulnerabilityMatcher(store),
        store,
        clock,
        lease_seconds=options.get("lease", LEASE),
        max_attempts=int(options.get("attempts", 3)),
        tmp_dir=None,
    )


async def submit(scans: InMemoryScans, clock: FakeClock, principal: Principal, image: str) -> Scan:
    queue = RecordingQueue()
    scan = await ImageScanSubmitter(scans, queue, clock, sync_budget=0).submit(principal, image, None)
    assert queue.enqueued == [scan.id]
    return scan


async def test_a_scan_runs_once_and_records_findings(
    scans: InMemoryScans, store: InMemoryVulnerabilityStore, clock: FakeClock, principal: Principal
) -> None:
    image = debian_image(app_layer())
    source = FakeImageSource({"registry.test/app:1": image})
    scan = await submit(scans, clock, principal, "registry.test/app:1")
    assert scan.status is ScanStatus.QUEUED
    runner = runner_for(scans, source, store, clock)
    first, second = await asyncio.gather(runner.run(scan.id), runner.run(scan.id))
    assert [first is None, second is None].count(True) == 1  # one claim wins
    done = await scans.get(scan.id)
    assert done is not None
    assert done.status is ScanStatus.COMPLETED
    assert done.attempts == 1
    assert done.result is not None
    ids = {v.id for v in done.result.vulnerabilities}
    assert {"DSA-5514-1", "GHSA-m2qf-hxjv-5gpq", "GHSA-xvch-5gv4-984h"} <= ids
    assert len(source.downloads) == 2


async def test_the_result_lists_what_the_image_holds_that_was_not_scanned(
    scans: InMemoryScans, store: InMemoryVulnerabilityStore, clock: FakeClock, principal: Principal
) -> None:
    extra = layer(
        {
            "usr/lib/sysimage/rpm/rpmdb.sqlite": b"SQLite format 3\0",
            "app/lib/log4j-core-2.14.1.jar": b"PK\3\4",
            "app/node_modules/broken/package.json": b'{"name": "broken",',
        }
    )
    image = debian_image(extra)
    source = FakeImageSource({"registry.test/mixed:1": image})
    scan = await submit(scans, clock, principal, "registry.test/mixed:1")
    done = await runner_for(scans, source, store, clock).run(scan.id)
    assert done is not None
    assert done.result is not None
    digest = image.layers[1].digest
    assert [(item.path, item.kind) for item in done.result.unscanned] == [
        (f"{digest}:app/lib/log4j-core-2.14.1.jar", "java-archive"),
        (f"{digest}:usr/lib/sysimage/rpm/rpmdb.sqlite", "skipped-file"),  # read, but it is no database
        (f"{digest}:app/node_modules/broken/package.json", "skipped-file"),
    ]
    assert list(done.result.unscannable) == []
    assert {"DSA-5514-1"} <= {v.id for v in done.result.vulnerabilities}  # the Debian part still scanned


async def test_shared_layers_and_manifests_are_not_downloaded_again(
    scans: InMemoryScans, store: InMemoryVulnerabilityStore, clock: FakeClock, principal: Principal
) -> None:
    one, two = debian_image(layer({"a": b"1"})), debian_image(layer({"b": b"2"}))
    source = FakeImageSource({"registry.test/one:1": one, "registry.test/two:1": two})
    runner = runner_for(scans, source, store, clock, InMemoryInventoryCache())
    for name in ("registry.test/one:1", "registry.test/two:1", "registry.test/one:1"):
        await runner.run((await submit(scans, clock, principal, name)).id)
    assert source.downloads == [one.layers[0].digest, one.layers[1].digest, two.layers[1].digest]


async def test_registry_errors_fail_the_scan_with_the_reason(
    scans: InMemoryScans, store: InMemoryVulnerabilityStore, clock: FakeClock, principal: Principal
) -> None:
    source = FakeImageSource({})
    source.fail_with = ImageNotFound("registry.test/nope:1: manifest unknown")
    scan = await submit(scans, clock, principal, "registry.test/nope:1")
    outcome = await runner_for(scans, source, store, clock).run(scan.id)
    assert outcome is not None
    assert outcome.status is ScanStatus.FAILED
    assert outcome.error == "registry.test/nope:1: manifest unknown"


async def test_unexpected_errors_fail_the_scan_without_crashing(
    scans: InMemoryScans, store: InMemoryVulnerabilityStore, clock: FakeClock, principal: Principal
) -> None:
    source = FakeImageSource({})
    source.fail_with = RuntimeError("boom")
    scan = await submit(scans, clock, principal, "registry.test/x:1")
    outcome = await runner_for(scans, source, store, clock).run(scan.id)
    assert outcome is not None
    assert outcome.status is ScanStatus.FAILED
    assert "internal error" in (outcome.error or "")


async def test_requests_and_runs_are_reported_to_the_metrics_sink(
    scans: InMemoryScans, store: InMemoryVulnerabilityStore, clock: FakeClock, principal: Principal
) -> None:
    metrics = RecordingMetrics()
    source = FakeImageSource({"registry.test/app:1": debian_image(app_layer())})
    submitter = ImageScanSubmitter(scans, RecordingQueue(), clock, sync_budget=0, metrics=metrics)
    runner = ImageScanRunner(
        scans, source, TarLayerCataloger(), InMemoryInventoryCache(), VulnerabilityMatcher(store), store, clock,
        lease_seconds=LEASE, max_attempts=3, tmp_dir=None, metrics=metrics,
    )  # fmt: skip
    await runner.run((await submitter.submit(principal, "registry.test/app:1", None)).id)
    source.fail_with = ImageNotFound("registry.test/app:1: manifest unknown")
    await runner.run((await submitter.submit(principal, "registry.test/app:1", None)).id)
    assert metrics.scan_requests == {
        ("docker", "miss", "free"): 2,
        ("docker", "completed", "free"): 1,
        ("docker", "failed", "free"): 1,
    }
    assert len(metrics.scan_durations["docker"]) == 2
    assert metrics.active_scans["docker"] == 0


async def test_a_dead_workers_scan_is_taken_again_after_its_lease(
    scans: InMemoryScans, store: InMemoryVulnerabilityStore, clock: FakeClock, principal: Principal
) -> None:
    image = debian_image()
    source = FakeImageSource({"registry.test/app:1": image})
    scan = await submit(scans, clock, principal, "registry.test/app:1")
    # A worker claims it and dies: the row says running, with a lease.
    assert await scans.claim(scan.id, now=clock.now(), lease_until=clock.now() + timedelta(seconds=LEASE))
    queue = RecordingQueue()
    sweeper = ScanSweeper(scans, queue, clock, queue_timeout=120, max_attempts=3)
    assert await sweeper.sweep() == 0  # lease still valid
    assert await runner_for(scans, source, store, clock).run(scan.id) is None  # nobody may take it yet
    clock.advance(LEASE + 1)
    assert await sweeper.sweep() == 1
    assert queue.enqueued == [scan.id]
    outcome = await runner_for(scans, source, store, clock).run(scan.id)
    assert outcome is not None
    assert outcome.status is ScanStatus.COMPLETED
    assert outcome.attempts == 2


async def test_a_queued_scan_whose_message_was_lost_is_queued_again(
    scans: InMemoryScans, clock: FakeClock, principal: Principal
) -> None:
    scan = await submit(scans, clock, principal, "registry.test/app:1")
    queue = RecordingQueue()
    sweeper = ScanSweeper(scans, queue, clock, queue_timeout=120, max_attempts=3)
    clock.advance(60)
    await sweeper.sweep()
    assert queue.enqueued == []
    clock.advance(61)
    await sweeper.sweep()
    assert queue.enqueued == [scan.id]


async def test_scans_whose_workers_keep_dying_end_failed(
    scans: InMemoryScans, clock: FakeClock, principal: Principal
) -> None:
    scan = await submit(scans, clock, principal, "registry.test/app:1")
    sweeper = ScanSweeper(scans, RecordingQueue(), clock, queue_timeout=120, max_attempts=2)
    for _ in range(2):
        assert await scans.claim(scan.id, now=clock.now(), lease_until=clock.now() + timedelta(seconds=LEASE))
        clock.advance(LEASE + 1)
    await sweeper.sweep()
    failed = await scans.get(scan.id)
    assert failed is not None
    assert failed.status is ScanStatus.FAILED
    assert "gave up after 2 attempts" in (failed.error or "")


async def test_the_lease_is_renewed_while_a_long_scan_runs(
    scans: InMemoryScans, store: InMemoryVulnerabilityStore, principal: Principal
) -> None:
    from secapi.domain.clock import SystemClock

    clock = SystemClock()
    source = FakeImageSource({"registry.test/slow:1": debian_image()})
    source.stall = 0.5
    queue = RecordingQueue()
    scan = await ImageScanSubmitter(scans, queue, clock, sync_budget=0).submit(principal, "registry.test/slow:1", None)
    runner = runner_for(scans, source, store, clock, lease=0.3)  # type: ignore[arg-type]
    task = asyncio.create_task(runner.run(scan.id))
    await asyncio.sleep(0.05)
    first_lease = (await scans.get(scan.id)).lease_expires_at  # type: ignore[union-attr]
    await asyncio.sleep(0.35)
    running = await scans.get(scan.id)
    assert running is not None
    assert running.status is ScanStatus.RUNNING
    assert first_lease is not None
    assert running.lease_expires_at is not None
    assert running.lease_expires_at > first_lease  # renewed, so no sweeper would take it
    done = await task
    assert done is not None
    assert done.status is ScanStatus.COMPLETED


def test_equivalent_references_give_one_input_hash() -> None:
    from secapi.domain.caching import canonical_hash as input_hash
    from secapi.domain.image_scan_keys import image_input

    hashes = {
        input_hash(image_input(parse_image_reference(text), DEFAULT_PLATFORM).identity())
        for text in ("nginx", "docker.io/library/nginx:latest", "index.docker.io/library/nginx", "library/nginx:latest")
    }
    assert len(hashes) == 1
