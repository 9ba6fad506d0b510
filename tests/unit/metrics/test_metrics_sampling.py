"""Scrape-time samples: readiness per dependency, vulnerability database version and age, scan backlog."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from secapi.adapters.memory.metrics import RecordingMetrics
from secapi.adapters.osv.reader import SAMPLE_DIR, iter_records
from secapi.domain.errors import DependencyUnavailable
from secapi.domain.services.health import ReadinessService
from secapi.domain.services.metrics_sampling import MetricsSampler
from secapi.domain.services.vulndb_import import VulnDbImporter
from secapi.domain.vulndb_sync_ports import LAST_FULL_SUCCESS, SyncState

from support.fakes import FakeClock, InMemoryVulnerabilityStore
from support.sync_fakes import InMemorySyncStates


class Probe:
    def __init__(self, name: str, *, down: bool = False, hang: float = 0.0) -> None:
        self.name = name
        self.down = down
        self.hang = hang

    async def check(self) -> None:
        await asyncio.sleep(self.hang)
        if self.down:
            raise DependencyUnavailable(f"{self.name} is unreachable")


class Backlog:
    def __init__(self, queued: int) -> None:
        self.queued = queued

    async def queued_count(self) -> int:
        return self.queued


async def test_a_sample_reports_dependencies_vulndb_age_and_backlog() -> None:
    metrics, store = RecordingMetrics(), InMemoryVulnerabilityStore()
    await VulnDbImporter(store).run(iter_records(SAMPLE_DIR), source="sample")
    updated_at = (await store.current_version()).updated_at
    assert updated_at is not None
    clock = FakeClock(updated_at + timedelta(hours=2))
    readiness = ReadinessService([Probe("database"), Probe("redis", down=True)], metrics)
    await MetricsSampler(readiness, store, Backlog(3), clock, metrics, timeout=1.0).sample()
    assert metrics.dependencies == {"database": True, "redis": False}
    assert metrics.queued_scans == 3
    assert metrics.vulndb is not None
    assert metrics.vulndb.version == 1
    assert metrics.vulndb.advisories > 0
    assert metrics.vulndb.age_seconds == 7200


async def test_an_empty_database_has_no_age_and_a_hanging_probe_does_not_hold_the_scrape() -> None:
    clock, metrics = FakeClock(), RecordingMetrics()
    readiness = ReadinessService([Probe("redis", hang=30)], metrics)
    sampler = MetricsSampler(readiness, InMemoryVulnerabilityStore(), Backlog(0), clock, metrics, timeout=0.2)
    started = time.perf_counter()
    await sampler.sample()
    assert time.perf_counter() - started < 2
    assert metrics.vulndb is not None
    assert metrics.vulndb.version == 0
    assert metrics.vulndb.age_seconds is None
    assert metrics.queued_scans == 0
    assert "redis" not in metrics.dependencies  # unknown, not guessed


async def test_the_last_full_sync_comes_from_the_stored_state_not_the_process() -> None:
    clock, metrics, states = FakeClock(), RecordingMetrics(), InMemorySyncStates()
    readiness = ReadinessService([Probe("database")], metrics)
    sampler = MetricsSampler(
        readiness, InMemoryVulnerabilityStore(), Backlog(0), clock, metrics, timeout=1.0, sync_states=states
    )
    await sampler.sample()
    assert metrics.sync_last_success is None  # never synced: the gauge is left at 0
    assert not [event for event in metrics.events if event[0] == "vulndb_sync_sampled"]
    # Another process (a worker) stored the end of its sync run; this one never ran a sync.
    synced_at = datetime(2026, 12, 4, 6, 41, 12, tzinfo=UTC)
    await states.save([SyncState(LAST_FULL_SUCCESS, synced_at)])
    await sampler.sample()
    assert metrics.sync_last_success == synced_at.timestamp()


async def test_an_unreachable_state_store_keeps_the_last_sample() -> None:
    class Unreachable(InMemorySyncStates):
        async def load(self, resources: Collection[str]) -> dict[str, SyncState]:
            raise DependencyUnavailable("database unreachable")

    clock, metrics = FakeClock(), RecordingMetrics()
    metrics.vulndb_sync_sampled(1000.0)
    readiness = ReadinessService([], metrics)
    sampler = MetricsSampler(
        readiness, InMemoryVulnerabilityStore(), Backlog(2), clock, metrics, timeout=1.0, sync_states=Unreachable()
    )
    await sampler.sample()
    assert metrics.sync_last_success == 1000.0
    assert metrics.queued_scans == 2  # the rest was still sampled
