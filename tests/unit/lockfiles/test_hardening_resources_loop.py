"""A large lockfile is parsed and matched without holding the event loop; a small one stays inline."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence

from secapi.adapters.lockfiles.reader import RegistryLockfileReader
from secapi.adapters.memory.metrics import RecordingMetrics
from secapi.adapters.memory.popular import InMemoryPopularInputs
from secapi.adapters.memory.scan_cache import InMemoryScanCache
from secapi.adapters.memory.single_flight import InMemorySingleFlight
from secapi.adapters.memory.versions import InMemoryVersionSource
from secapi.domain.lockfiles import ParsedLockfile
from secapi.domain.model import Principal, Scan
from secapi.domain.services.dependency_scans import DependencyScanService, LockfileInput, LockfileScan
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.result_cache import ResultCache
from secapi.domain.services.scan_pipeline import NoQuota, ScanPipeline
from secapi.domain.services.scan_recorder import ScanRecorder

from support.fakes import FakeClock, InMemoryScans, InMemoryVulnerabilityStore

LINES = 100_000
STALL_BOUND = 0.3
"""Seconds: generous on a 2-core VM (the stall was 0.05 s there idle, 0.3 s with three CPU hogs running;
parsing 100,000 lines on the loop alone took 0.5 s idle). On a busier machine the bound grows with the
parse's own duration, which an old-style parse on the loop stalls for at least."""


def big_requirements(lines: int = LINES) -> str:
    pins = (f"package-{n}=={n % 97}.{n % 13}.{n % 7}" for n in range(lines - 1))
    return "\n".join(("flask==2.2.4", *pins)) + "\n"


class ThreadNotingReader(RegistryLockfileReader):
    """The real reader, noting which thread each parse ran in."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[int] = []
        self.seconds = 0.0

    def parse(self, filename: str, content: str, companions: Mapping[str, str] | None = None) -> ParsedLockfile:
        self.threads.append(threading.get_ident())
        started = time.perf_counter()
        try:
            return super().parse(filename, content, companions)
        finally:
            self.seconds += time.perf_counter() - started


class Archive:
    async def add_many(self, scans: Sequence[tuple[Scan, bytes]]) -> None:
        return None


def service(store: InMemoryVulnerabilityStore, clock: FakeClock, reader: ThreadNotingReader) -> DependencyScanService:
    metrics = RecordingMetrics()
    results = ResultCache(
        InMemoryScanCache(clock),
        InMemoryVersionSource(store, clock=clock),
        InMemorySingleFlight(),
        InMemoryPopularInputs(),
        clock,
        follower_wait=1.0,
        metrics=metrics,
    )
    pipeline = ScanPipeline(
        results, InMemoryScans(), clock, NoQuota(), ScanRecorder(Archive(), max_buffered=100), metrics
    )  # quotas are not what is measured here
    return DependencyScanService(LockfileScan(reader, VulnerabilityMatcher(store)), pipeline)


async def _longest_stall(stop: asyncio.Event) -> float:
    """The longest time between two wake-ups of a coroutine asking to sleep 5 ms."""
    longest = 0.0
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        longest = max(longest, time.perf_counter() - started - 0.005)
    return longest


async def test_a_large_lockfile_scan_leaves_the_event_loop_free(
    store: InMemoryVulnerabilityStore, clock: FakeClock, principal: Principal
) -> None:
    reader = ThreadNotingReader()
    scans = service(store, clock, reader)
    lockfile = LockfileInput(filename="requirements.txt", content=big_requirements())
    stop = asyncio.Event()
    monitor = asyncio.create_task(_longest_stall(stop))
    await asyncio.sleep(0.02)
    outcome = await scans.scan(principal, lockfile)
    stop.set()
    longest = await monitor
    assert outcome.scan.result is not None
    assert len(outcome.scan.result.packages) == LINES
    assert reader.threads != [threading.get_ident()], "the large lockfile was parsed on the event loop's thread"
    bound = max(STALL_BOUND, reader.seconds / 2)
    assert longest < bound, f"the event loop stalled for {longest:.3f} s (parsing took {reader.seconds:.3f} s)"


async def test_a_small_lockfile_is_parsed_inline_without_a_thread_hop(
    store: InMemoryVulnerabilityStore, clock: FakeClock, principal: Principal
) -> None:
    reader = ThreadNotingReader()
    scans = service(store, clock, reader)
    outcome = await scans.scan(principal, LockfileInput(filename="requirements.txt", content="flask==2.2.4\n"))
    assert outcome.scan.result is not None
    assert reader.threads == [threading.get_ident()]
