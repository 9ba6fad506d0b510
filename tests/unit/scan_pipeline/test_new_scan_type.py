"""A new scan type is a strategy: this test-only one goes through the whole pipeline with no other change.

`PackageListScan` scans a list of packages the caller names (a plausible future
type, kept in tests only). Nothing in `src/` knows it: the shared `ScanPipeline`
gives it the cache, the quota, single flight, recording and the metrics.
`QueuedPackageListScan` is the same type declared queued: `ScanPipeline.submit`
answers it from the cache or queues it, and a worker computes it once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import cast

import msgspec
import pytest

from secapi.adapters.memory.metrics import RecordingMetrics
from secapi.adapters.memory.popular import InMemoryPopularInputs
from secapi.adapters.memory.rate_limiter import InMemoryRateLimiter
from secapi.adapters.memory.scan_cache import InMemoryScanCache
from secapi.adapters.memory.single_flight import InMemorySingleFlight
from secapi.adapters.memory.versions import InMemoryVersionSource
from secapi.domain.caching import cache_key, canonical_hash
from secapi.domain.errors import InvalidInput
from secapi.domain.findings import ScanResult, Timings, severity_counts
from secapi.domain.model import Principal, Scan, ScanStatus, ScanType
from secapi.domain.packages import Package
from secapi.domain.rate_limits import QuotaLedger
from secapi.domain.scan_inputs import ScanInput
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.quotas import QuotaService
from secapi.domain.services.result_cache import CacheStatus, ResultCache
from secapi.domain.services.scan_pipeline import ScanOutcome, ScanPipeline, ScanSubject
from secapi.domain.services.scan_recorder import ScanRecorder
from secapi.domain.tiers import Tier

from support.fakes import FakeClock, InMemoryScans, InMemoryVulnerabilityStore, RecordingQueue

# A real new type adds a `ScanType` member; an enum cannot grow in a test, so the value stands in for one.
PACKAGES = cast(ScanType, "packages")

FLASK = (Package(name="flask", version="2.2.4", ecosystem="PyPI"),)


class PackageListInput(ScanInput, frozen=True, kw_only=True):
    """What a package-list scan keeps: how many packages were named (the list is the identity's digest)."""

    packages: int


class PackageListScan:
    """Test-only scan type: packages named by the caller, shared (coordinates are public), matched inline."""

    scan_type = PACKAGES
    shared = True
    input_errors: tuple[type[Exception], ...] = ()

    def __init__(self, matcher: VulnerabilityMatcher, *, gate: asyncio.Event | None = None) -> None:
        self._matcher = matcher
        self._gate = gate
        self.runs = 0

    def subject(self, scan_input: Sequence[Package]) -> ScanSubject:
        if not scan_input:
            raise InvalidInput("name at least one package", field="packages")
        names = sorted(f"{p.ecosystem}/{p.name}@{p.version}" for p in scan_input)
        digest = hashlib.sha256("\n".join(names).encode()).hexdigest()
        return ScanSubject(identity={"packages_sha256": digest}, kept=PackageListInput(packages=len(names)))

    async def run(self, scan_input: Sequence[Package], subject: ScanSubject, version: int) -> ScanResult:
        self.runs += 1
        if self._gate is not None:
            await self._gate.wait()  # held open so concurrent identical requests overlap
        started = time.perf_counter()
        assessment = await self._matcher.assess(scan_input)
        matched = time.perf_counter()
        return ScanResult(
            scan_type="packages",
            target=f"{len(scan_input)} packages",
            ecosystems=tuple(sorted({p.ecosystem for p in scan_input})),
            packages=tuple(scan_input),
            unscannable=(),
            vulnerabilities=assessment.vulnerabilities,
            counts=severity_counts(assessment.vulnerabilities),
            vulndb_version=version,
            timings=Timings.between(started, started, matched),
        )


class QueuedPackageListScan:
    """The same test-only type declared queued: answered from the cache or handed to a worker."""

    scan_type = PACKAGES

    def __init__(self, inline: PackageListScan, *, refused: frozenset[str] = frozenset()) -> None:
        self.inline = inline
        self._refused = refused

    def subject(self, scan_input: Sequence[Package]) -> ScanSubject:
        return self.inline.subject(scan_input)

    def shared(self, scan_input: Sequence[Package]) -> bool:
        return True

    async def cache_parts(self, scan_input: Sequence[Package], subject: ScanSubject) -> dict[str, str] | None:
        return subject.identity  # known before the run (an image's would need its digest)

    async def admit(self, scan_input: Sequence[Package]) -> Exception | None:
        refused = sorted(p.ecosystem for p in scan_input if p.ecosystem in self._refused)
        return InvalidInput(f"{refused[0]} is not scanned here", field="packages") if refused else None

    def bypassing(self, kept: ScanInput) -> ScanInput:
        return kept


async def work(
    world: World, strategy: QueuedPackageListScan, queue: RecordingQueue, scan_input: Sequence[Package], tier: Tier
) -> int:
    """A worker: claims each queued scan and computes its result once into the cache, as the image runner does."""
    done = 0
    version = await world.results.current_version()
    for scan_id in queue.enqueued:
        queued = await world.scans.get(scan_id)
        assert queued is not None
        now = world.clock.now()
        claimed = await world.scans.claim(scan_id, now=now, lease_until=now + timedelta(minutes=5))
        assert claimed is not None
        subject = strategy.subject(scan_input)
        key = cache_key(str(strategy.scan_type), subject.identity, tenant=None)

        async def compute(claimed: Scan = claimed, subject: ScanSubject = subject) -> tuple[Scan, object]:
            result = await strategy.inline.run(scan_input, subject, version)
            scan = claimed.completed(result, world.clock.now())
            await world.scans.update(scan)
            return scan, scan.result

        await world.results.compute_once(
            key,
            str(strategy.scan_type),
            subject.identity,
            compute,
            version=version,
            tier=tier,
            bypass=claimed.input_data.bypasses_cache,
        )
        done += 1
    queue.enqueued.clear()
    return done


class Archive:
    """Where recorded cache-hit scans land."""

    def __init__(self) -> None:
        self.rows: list[Scan] = []

    async def add_many(self, scans: Sequence[tuple[Scan, bytes]]) -> None:
        self.rows.extend(scan for scan, _raw in scans)


class DurableCounters:
    """The durable quota store, in memory (unused while the limiter is up)."""

    async def increment(self, user_id: uuid.UUID, quota: str, bucket: int, amount: int) -> None:
        return None

    async def buckets(self, user_id: uuid.UUID, quota: str, since: int) -> dict[int, int]:
        return {}

    async def take(self, user_id: uuid.UUID, quota: str) -> dict[int, int]:
        return {}


class World:
    """The pipeline over in-memory adapters, and what each of them saw."""

    def __init__(self, store: InMemoryVulnerabilityStore, clock: FakeClock) -> None:
        self.metrics = RecordingMetrics()
        self.limiter = InMemoryRateLimiter(clock)
        self.scans = InMemoryScans()
        self.archive = Archive()
        self.recorder = ScanRecorder(self.archive, max_buffered=100)
        results = ResultCache(
            InMemoryScanCache(clock),
            InMemoryVersionSource(store, clock=clock),
            InMemorySingleFlight(),
            InMemoryPopularInputs(),
            clock,
            follower_wait=5.0,
            metrics=self.metrics,
        )
        self.clock = clock
        self.results = results
        quota = QuotaService(self.limiter, DurableCounters(), QuotaLedger(), clock, fail_open=True)
        self.pipeline = ScanPipeline(results, self.scans, clock, quota, self.recorder, self.metrics)


def status(outcome: ScanOutcome) -> CacheStatus | None:
    """`X-Cache-Status` of an answer."""
    return outcome.cache.status if outcome.cache is not None else None


@pytest.fixture
def world(store: InMemoryVulnerabilityStore, clock: FakeClock) -> World:
    return World(store, clock)


async def test_a_second_identical_request_is_a_hit_charged_nothing_and_recorded(
    world: World, store: InMemoryVulnerabilityStore, principal: Principal
) -> None:
    strategy = PackageListScan(VulnerabilityMatcher(store))
    first = await world.pipeline.scan(principal, strategy, FLASK)
    charged = dict(world.limiter.consumed[principal.user_id])
    second = await world.pipeline.scan(principal, strategy, FLASK)

    assert status(first) is CacheStatus.MISS
    assert status(second) is CacheStatus.HIT
    assert strategy.runs == 1
    assert second.raw_result == first.raw_result
    assert first.scan.result is not None
    assert first.scan.result.vulnerabilities  # flask 2.2.4 is vulnerable
    assert charged
    assert all(units == 1 for units in charged.values())  # the run took one unit of each window
    assert world.limiter.consumed[principal.user_id] == charged  # the hit took none
    assert list(world.scans.rows) == [first.scan.id]  # the run's row, written at once
    assert world.recorder.pending == 0  # the hit's row, written before the hit was answered
    assert [row.id for row in world.archive.rows] == [second.scan.id]
    assert world.archive.rows[0].input_data == PackageListInput(packages=1)
    assert world.metrics.scan_requests == {
        ("packages", "miss", "free"): 1,
        ("packages", "completed", "free"): 1,
        ("packages", "hit", "free"): 1,
    }
    assert world.metrics.cache_hits["packages"] == 1
    assert world.metrics.cache_misses["packages"] == 1
    assert world.metrics.active_scans["packages"] == 0


async def test_concurrent_identical_requests_run_once_and_are_charged_once(
    world: World, store: InMemoryVulnerabilityStore, principal: Principal
) -> None:
    gate = asyncio.Event()
    strategy = PackageListScan(VulnerabilityMatcher(store), gate=gate)
    requests = [asyncio.create_task(world.pipeline.scan(principal, strategy, FLASK)) for _ in range(5)]
    await asyncio.sleep(0.05)  # all five are in: one leads, four follow
    gate.set()
    outcomes = await asyncio.gather(*requests)

    assert strategy.runs == 1
    statuses = sorted(status(o) for o in outcomes)
    assert statuses == [CacheStatus.HIT] * 4 + [CacheStatus.MISS]
    assert len({o.raw_result for o in outcomes}) == 1
    assert all(units == 1 for units in world.limiter.consumed[principal.user_id].values())
    assert world.metrics.scan_requests[("packages", "miss", "free")] == 1
    assert world.metrics.scan_requests[("packages", "hit", "free")] == 4


async def test_a_shared_type_serves_other_tenants_and_a_bypass_runs_again(
    world: World, store: InMemoryVulnerabilityStore, principal: Principal, clock: FakeClock
) -> None:
    strategy = PackageListScan(VulnerabilityMatcher(store))
    other = Principal(user=dataclasses.replace(principal.user, id=uuid.uuid4()), key_id=uuid.uuid4())
    await world.pipeline.scan(principal, strategy, FLASK)
    shared = await world.pipeline.scan(other, strategy, FLASK)
    private = await world.pipeline.scan(other, strategy, FLASK, shared=False)
    fresh = await world.pipeline.scan(principal, strategy, FLASK, bypass_cache=True)

    assert status(shared) is CacheStatus.HIT
    assert status(private) is CacheStatus.MISS  # its own key, per tenant
    assert status(fresh) is CacheStatus.BYPASS
    assert strategy.runs == 3


async def test_invalid_input_is_refused_before_the_cache_and_the_quota(
    world: World, store: InMemoryVulnerabilityStore, principal: Principal
) -> None:
    with pytest.raises(InvalidInput):
        await world.pipeline.scan(principal, PackageListScan(VulnerabilityMatcher(store)), ())
    assert not world.limiter.consumed[principal.user_id]
    assert not world.metrics.events


async def test_a_queued_type_is_queued_charged_run_by_a_worker_and_a_hit_after(
    world: World, store: InMemoryVulnerabilityStore, principal: Principal
) -> None:
    strategy = QueuedPackageListScan(PackageListScan(VulnerabilityMatcher(store)))
    queue = RecordingQueue()
    first = await world.pipeline.submit(principal, strategy, FLASK, queue, wait_budget=0)
    charged = dict(world.limiter.consumed[principal.user_id])
    assert first.scan.status is ScanStatus.QUEUED
    assert first.cache is None
    assert queue.enqueued == [first.scan.id]
    assert first.scan.input_hash == canonical_hash(strategy.subject(FLASK).identity)
    assert charged
    assert all(units == 1 for units in charged.values())

    assert await work(world, strategy, queue, FLASK, principal.user.tier) == 1
    finished = await world.scans.get(first.scan.id)
    assert finished is not None
    assert finished.status is ScanStatus.COMPLETED
    assert finished.result is not None
    assert finished.result.vulnerabilities

    second = await world.pipeline.submit(principal, strategy, FLASK, queue, wait_budget=0)
    assert status(second) is CacheStatus.HIT
    assert second.raw_result is not None
    assert second.raw_result == msgspec.json.encode(finished.result)  # the worker's result, as stored
    assert not queue.enqueued  # nothing queued for a hit
    assert world.limiter.consumed[principal.user_id] == charged  # and nothing charged
    assert strategy.inline.runs == 1

    fresh = await world.pipeline.submit(principal, strategy, FLASK, queue, wait_budget=0, bypass_cache=True)
    assert fresh.scan.status is ScanStatus.QUEUED
    assert queue.enqueued == [fresh.scan.id]


async def test_a_queued_type_refused_by_admit_is_recorded_failed_never_queued_or_charged(
    world: World, store: InMemoryVulnerabilityStore, principal: Principal
) -> None:
    strategy = QueuedPackageListScan(PackageListScan(VulnerabilityMatcher(store)), refused=frozenset({"PyPI"}))
    queue = RecordingQueue()
    outcome = await world.pipeline.submit(principal, strategy, FLASK, queue, wait_budget=0)

    assert outcome.scan.status is ScanStatus.FAILED
    assert outcome.scan.error == "PyPI is not scanned here"
    assert await world.scans.get(outcome.scan.id) == outcome.scan
    assert not queue.enqueued
    assert not world.limiter.consumed[principal.user_id]
