"""Uploaded archives: the `ArchiveScans` use case charges and records them through the pipeline and hands the
upload to its `ArchiveRuns` port; `InProcessArchiveRuns` runs them here, deletes the file, stops at shutdown."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from secapi.adapters.memory.metrics import RecordingMetrics
from secapi.adapters.memory.popular import InMemoryPopularInputs
from secapi.adapters.memory.rate_limiter import InMemoryRateLimiter
from secapi.adapters.memory.scan_cache import InMemoryScanCache
from secapi.adapters.memory.single_flight import InMemorySingleFlight
from secapi.adapters.memory.versions import InMemoryVersionSource
from secapi.adapters.registry.archive import ArchiveImageSource
from secapi.adapters.registry.archive_runs import InProcessArchiveRuns
from secapi.adapters.registry.scratch import ScratchBudget
from secapi.domain.errors import InvalidInput
from secapi.domain.images import ImageSource
from secapi.domain.model import Principal, ScanStatus
from secapi.domain.ports import StoredArchive
from secapi.domain.rate_limits import QuotaLedger
from secapi.domain.scan_inputs import ArchiveImageInput
from secapi.domain.services.archive_scans import ArchiveScans
from secapi.domain.services.quotas import QuotaService
from secapi.domain.services.result_cache import CacheStatus, ResultCache

from support.fakes import FakeClock, InMemoryScans, InMemoryVulnerabilityStore


class RecordingRuns:
    """`ArchiveRuns` that notes what it was asked; a started run finishes at once, doing nothing."""

    def __init__(self) -> None:
        self.started: list[tuple[uuid.UUID, StoredArchive]] = []
        self.waited: list[tuple[uuid.UUID, float]] = []
        self.discarded: list[StoredArchive] = []

    def start(self, scan_id: uuid.UUID, archive: StoredArchive) -> None:
        self.started.append((scan_id, archive))

    async def wait(self, scan_id: uuid.UUID, seconds: float) -> None:
        self.waited.append((scan_id, seconds))

    async def discard(self, archive: StoredArchive) -> None:
        self.discarded.append(archive)


class NoDurableCounters:
    async def increment(self, user_id: uuid.UUID, quota: str, bucket: int, amount: int) -> None:
        return None

    async def buckets(self, user_id: uuid.UUID, quota: str, since: int) -> dict[int, int]:
        return {}

    async def take(self, user_id: uuid.UUID, quota: str) -> dict[int, int]:
        return {}


class World:
    def __init__(self, store: InMemoryVulnerabilityStore, clock: FakeClock) -> None:
        self.scans = InMemoryScans()
        self.runs = RecordingRuns()
        self.metrics = RecordingMetrics()
        self.limiter = InMemoryRateLimiter(clock)
        results = ResultCache(
            InMemoryScanCache(clock),
            InMemoryVersionSource(store, clock=clock),
            InMemorySingleFlight(),
            InMemoryPopularInputs(),
            clock,
            follower_wait=5.0,
            metrics=self.metrics,
        )
        quota = QuotaService(self.limiter, NoDurableCounters(), QuotaLedger(), clock, fail_open=True)
        self.archives = ArchiveScans(
            self.scans, clock, results, self.runs, sync_budget=1.5, quota=quota, recorder=None, metrics=self.metrics
        )


@pytest.fixture
def world(store: InMemoryVulnerabilityStore, clock: FakeClock) -> World:
    return World(store, clock)


def upload(name: str = "app.tar") -> StoredArchive:
    return StoredArchive(path=Path("/nonexistent") / name, filename=name, sha256="ab" * 32, size=1234)


async def test_an_upload_is_charged_recorded_and_run_here_every_time(world: World, principal: Principal) -> None:
    archive = upload()
    first = await world.archives.scan(principal, archive, image=None, platform="linux/arm64")
    second = await world.archives.scan(principal, archive, image=None, platform="linux/arm64")

    assert first.scan.status is ScanStatus.QUEUED
    assert first.cache is None
    assert first.scan.input_data == ArchiveImageInput(
        image="archive.invalid/upload:latest",
        platform="linux/arm64",
        archive="app.tar",
        archive_sha256="ab" * 32,
        archive_size="1234",
    )
    assert first.scan.input_hash == second.scan.input_hash
    # Never looked up: the identical second upload runs (and is charged) again.
    assert world.runs.started == [(first.scan.id, archive), (second.scan.id, archive)]
    assert world.runs.waited == [(first.scan.id, 1.5), (second.scan.id, 1.5)]
    assert world.runs.discarded == []
    assert set(world.limiter.consumed[principal.user_id].values()) == {2}
    assert set(world.scans.rows) == {first.scan.id, second.scan.id}
    assert world.metrics.scan_requests == {("docker", "miss", "free"): 2}
    assert world.archives.cache_status(first.scan) is CacheStatus.MISS


async def test_a_bypass_is_marked_on_the_row_and_counted(world: World, principal: Principal) -> None:
    outcome = await world.archives.scan(principal, upload(), image="app:1", platform=None, bypass_cache=True)
    assert outcome.scan.input_data.bypasses_cache
    assert world.archives.cache_status(outcome.scan) is CacheStatus.BYPASS
    assert world.metrics.scan_requests == {("docker", "bypass", "free"): 1}


@pytest.mark.parametrize(
    ("name", "platform"), [("app.tar", "not a platform"), ("a\x00.tar", None)], ids=["platform", "nul"]
)
async def test_a_refused_upload_is_deleted_and_costs_nothing(
    world: World, principal: Principal, name: str, platform: str | None
) -> None:
    archive = upload(name)
    with pytest.raises(InvalidInput):
        await world.archives.scan(principal, archive, image=None, platform=platform)
    assert world.runs.discarded == [archive]
    assert world.runs.started == []
    assert world.scans.rows == {}
    assert not any(world.limiter.consumed.get(principal.user_id, {}).values())


async def test_in_process_runs_scan_the_upload_delete_it_and_stop_at_shutdown(tmp_path: Path) -> None:
    ran: list[tuple[uuid.UUID, ImageSource]] = []
    release = asyncio.Event()

    async def job(scan_id: uuid.UUID, source: ImageSource) -> None:
        ran.append((scan_id, source))
        await release.wait()

    runs = InProcessArchiveRuns(
        job, ScratchBudget(1 << 20), scratch_dir=None, max_layer_bytes=1 << 20, max_layers=5, scratch_max_bytes=1 << 20
    )
    done, stopped = tmp_path / "done.tar", tmp_path / "stopped.tar"
    for path in (done, stopped):
        path.write_bytes(b"tar")
    first, second = uuid.uuid4(), uuid.uuid4()
    runs.start(first, StoredArchive(path=done, filename="done.tar", sha256="0" * 64, size=3))
    await runs.wait(first, 0.05)  # the wait ends, the run goes on
    assert [scan_id for scan_id, _ in ran] == [first]
    assert isinstance(ran[0][1], ArchiveImageSource)
    assert done.exists()
    assert runs.running == 1
    release.set()
    await runs.wait(first, 5)
    assert not done.exists()
    assert runs.running == 0

    release.clear()
    runs.start(second, StoredArchive(path=stopped, filename="stopped.tar", sha256="1" * 64, size=3))
    await asyncio.sleep(0)
    await runs.cancel_all()
    assert not stopped.exists()
    assert runs.running == 0
