"""Domain services report what happened to the `MetricsSink`: recorded by the in-memory fake, asserted on."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest

from secapi.adapters.lockfiles.reader import RegistryLockfileReader
from secapi.adapters.memory.metrics import RecordingMetrics
from secapi.adapters.memory.popular import InMemoryPopularInputs
from secapi.adapters.memory.rate_limiter import InMemoryRateLimiter
from secapi.adapters.memory.scan_cache import InMemoryScanCache
from secapi.adapters.memory.single_flight import InMemorySingleFlight
from secapi.adapters.memory.versions import InMemoryVersionSource
from secapi.domain.caching import CacheUnavailable
from secapi.domain.errors import VulnDbEmpty
from secapi.domain.lockfiles import MalformedLockfile
from secapi.domain.model import Principal, Scan
from secapi.domain.rate_limits import QuotaLedger, RateLimitExceeded, RateLimitUnavailable
from secapi.domain.services.dependency_scans import DependencyScanService, LockfileInput, LockfileScan
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.quotas import QuotaService
from secapi.domain.services.result_cache import ResultCache
from secapi.domain.services.scan_pipeline import ScanPipeline
from secapi.domain.services.scan_recorder import ScanRecorder

from support.fakes import FakeClock, InMemoryScans, InMemoryVulnerabilityStore

FLASK = LockfileInput(filename="requirements.txt", content="flask==2.2.4\n")


class DurableCounters:
    """The durable quota store, in memory."""

    def __init__(self) -> None:
        self.rows: dict[tuple[uuid.UUID, str, int], int] = {}

    async def increment(self, user_id: uuid.UUID, quota: str, bucket: int, amount: int) -> None:
        self.rows[(user_id, quota, bucket)] = self.rows.get((user_id, quota, bucket), 0) + amount

    async def buckets(self, user_id: uuid.UUID, quota: str, since: int) -> dict[int, int]:
        return {b: n for (u, q, b), n in self.rows.items() if u == user_id and q == quota and b >= since}

    async def take(self, user_id: uuid.UUID, quota: str) -> dict[int, int]:
        taken = {b: n for (u, q, b), n in self.rows.items() if u == user_id and q == quota}
        for bucket in taken:
            del self.rows[(user_id, quota, bucket)]
        return taken


class Archive:
    async def add_many(self, scans: Sequence[tuple[Scan, bytes]]) -> None:
        return None


class DownCache(InMemoryScanCache):
    """A cache whose backend is unreachable."""

    async def get_scan_result(self, cache_key: str) -> None:
        raise CacheUnavailable("connection refused")


class DownLimiter(InMemoryRateLimiter):
    """A limiter whose backend is unreachable."""

    async def check_rate_limit(self, *args: object) -> object:  # type: ignore[override]
        raise RateLimitUnavailable("connection refused")


@pytest.fixture
def metrics() -> RecordingMetrics:
    return RecordingMetrics()


def quotas(clock: FakeClock, metrics: RecordingMetrics, limiter: InMemoryRateLimiter | None = None) -> QuotaService:
    return QuotaService(
        limiter or InMemoryRateLimiter(clock), DurableCounters(), QuotaLedger(), clock, fail_open=True, metrics=metrics
    )


def service(
    store: InMemoryVulnerabilityStore,
    clock: FakeClock,
    metrics: RecordingMetrics,
    cache: InMemoryScanCache | None = None,
    limiter: InMemoryRateLimiter | None = None,
) -> DependencyScanService:
    results = ResultCache(
        cache or InMemoryScanCache(clock),
        InMemoryVersionSource(store, clock=clock),
        InMemorySingleFlight(),
        InMemoryPopularInputs(),
        clock,
        follower_wait=1.0,
        metrics=metrics,
    )
    pipeline = ScanPipeline(
        results,
        InMemoryScans(),
        clock,
        quotas(clock, metrics, limiter),
        ScanRecorder(Archive(), max_buffered=100),
        metrics,
    )
    return DependencyScanService(LockfileScan(RegistryLockfileReader(), VulnerabilityMatcher(store)), pipeline)


async def test_a_miss_then_a_hit_count_requests_runs_lookups_and_durations(
    store: InMemoryVulnerabilityStore, clock: FakeClock, metrics: RecordingMetrics, principal: Principal
) -> None:
    scans = service(store, clock, metrics)
    await scans.scan(principal, FLASK)
    await scans.scan(principal, FLASK)
    assert metrics.scan_requests == {
        ("dependencies", "miss", "free"): 1,
        ("dependencies", "completed", "free"): 1,
        ("dependencies", "hit", "free"): 1,
    }
    assert metrics.cache_misses["dependencies"] == 1
    assert metrics.cache_hits["dependencies"] == 1
    assert len(metrics.scan_durations["dependencies"]) == 2  # the run and the hit's answer
    assert metrics.active_scans["dependencies"] == 0
    assert [e[0] for e in metrics.events] == [
        "cache_lookup", "scan_started", "scan_finished", "scan_requested", "cache_lookup", "scan_requested",
    ]  # fmt: skip


async def test_a_bypass_runs_without_a_lookup(
    store: InMemoryVulnerabilityStore, clock: FakeClock, metrics: RecordingMetrics, principal: Principal
) -> None:
    await service(store, clock, metrics).scan(principal, FLASK, bypass_cache=True)
    assert metrics.scan_requests == {("dependencies", "bypass", "free"): 1, ("dependencies", "completed", "free"): 1}
    assert not metrics.cache_hits
    assert not metrics.cache_misses


async def test_a_scan_over_quota_is_rejected_and_counted_by_tier_and_endpoint(
    store: InMemoryVulnerabilityStore, clock: FakeClock, metrics: RecordingMetrics, principal: Principal
) -> None:
    scans = service(store, clock, metrics)
    for n in range(10):  # the free tier's scans per hour
        await scans.scan(principal, LockfileInput(filename="requirements.txt", content=f"flask==2.2.{n}\n"))
    with pytest.raises(RateLimitExceeded):
        await scans.scan(principal, LockfileInput(filename="requirements.txt", content="flask==2.3.0\n"))
    assert metrics.scan_requests[("dependencies", "rejected", "free")] == 1
    assert metrics.scan_requests[("dependencies", "miss", "free")] == 10
    assert metrics.rate_limited == {("free", "scan/dependencies"): 1}


async def test_a_malformed_lockfile_is_a_miss_whose_scan_failed(
    store: InMemoryVulnerabilityStore, clock: FakeClock, metrics: RecordingMetrics, principal: Principal
) -> None:
    with pytest.raises(MalformedLockfile):
        await service(store, clock, metrics).scan(principal, LockfileInput(filename="package-lock.json", content="{"))
    assert metrics.scan_requests == {("dependencies", "miss", "free"): 1, ("dependencies", "failed", "free"): 1}
    assert metrics.active_scans["dependencies"] == 0


async def test_an_unreachable_cache_is_reported_and_counted_as_a_miss(
    store: InMemoryVulnerabilityStore, clock: FakeClock, metrics: RecordingMetrics, principal: Principal
) -> None:
    outcome = await service(store, clock, metrics, cache=DownCache(clock)).scan(principal, FLASK)
    assert outcome.scan.result is not None  # the scan still ran
    assert metrics.cache_unavailable_by_operation["lookup"] == 1
    assert metrics.cache_misses["dependencies"] == 1


async def test_the_per_minute_window_reports_its_route_and_an_unreachable_limiter(
    clock: FakeClock, metrics: RecordingMetrics, principal: Principal
) -> None:
    gate = quotas(clock, metrics)
    for _ in range(20):
        await gate.check_request(principal, "/api/v1/scans")
    with pytest.raises(RateLimitExceeded):
        await gate.check_request(principal, "/api/v1/scans")
    assert metrics.rate_limited == {("free", "/api/v1/scans"): 1}
    await quotas(clock, metrics, DownLimiter(clock)).check_request(principal, "/api/v1/scans")  # fail open
    assert metrics.limiter_unavailable == 1


async def test_an_empty_database_refuses_the_scan_before_the_cache_and_the_quota(
    clock: FakeClock, metrics: RecordingMetrics, principal: Principal
) -> None:
    limiter = InMemoryRateLimiter(clock)
    scans = service(InMemoryVulnerabilityStore(), clock, metrics, limiter=limiter)
    with pytest.raises(VulnDbEmpty):
        await scans.scan(principal, FLASK)
    assert limiter.stored_buckets == 0  # nothing charged
    assert not metrics.cache_misses
    assert not metrics.scan_requests
